"""``export_postmortems`` writes organisation documents only, unless the operator
asks for restricted ones with ``--include-restricted``; deleted documents never
leave the database (issue 9)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from postmortems.models import PostMortem
from tests.factories import PostMortemFactory, TeamFactory

pytestmark = pytest.mark.django_db


def export(directory, *args) -> str:
    out = StringIO()
    call_command("export_postmortems", str(directory), *args, stdout=out)
    return out.getvalue()


def written(directory) -> set[str]:
    return {path.name for path in directory.glob("*.md")}


@pytest.fixture
def documents(team):
    open_pm = PostMortemFactory(team=team, title="Checkout outage")
    secret = PostMortemFactory(team=team, title="Vault token leaked", visibility="restricted")
    gone = PostMortemFactory(team=team, title="Deleted one")
    PostMortem.all_objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
    return open_pm, secret, gone


def test_by_default_only_organisation_documents_are_exported(tmp_path, documents):
    open_pm, secret, gone = documents

    out = export(tmp_path)

    assert written(tmp_path) == {f"{open_pm.key}.md"}
    assert "Exported 1 post-mortem(s)" in out
    assert "Left out 1 restricted post-mortem(s); --include-restricted exports them." in out
    assert "Vault token" not in "".join(p.read_text() for p in tmp_path.glob("*.md"))


def test_include_restricted_exports_them_too_but_never_deleted_ones(tmp_path, documents):
    open_pm, secret, gone = documents

    out = export(tmp_path, "--include-restricted")

    assert written(tmp_path) == {f"{open_pm.key}.md", f"{secret.key}.md"}
    assert "Vault token leaked" in (tmp_path / f"{secret.key}.md").read_text()
    assert "Exported 2 post-mortem(s)" in out
    assert "no access marking" in out


def test_asking_for_a_restricted_key_without_the_option_is_an_error_that_writes_nothing(tmp_path, documents):
    open_pm, secret, _ = documents

    with pytest.raises(CommandError, match="--include-restricted"):
        export(tmp_path, "--key", open_pm.key, secret.key)

    assert written(tmp_path) == set()
    export(tmp_path, "--key", secret.key, "--include-restricted")
    assert written(tmp_path) == {f"{secret.key}.md"}


def test_a_deleted_key_is_no_such_post_mortem(tmp_path, documents):
    *_, gone = documents

    with pytest.raises(CommandError, match=f"No such post-mortem: {gone.key}"):
        export(tmp_path, "--key", gone.key, "--include-restricted")


def test_the_left_out_count_follows_the_team_option(tmp_path, documents):
    other = TeamFactory(slug="search")
    PostMortemFactory(team=other, visibility="restricted")

    out = export(tmp_path, "--team", "search")

    assert written(tmp_path) == set()
    assert "Left out 1 restricted" in out
