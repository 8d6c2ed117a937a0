"""``import_postmortems``: bad records, idempotency, --team, users, exit status."""

from __future__ import annotations

import datetime as dt
import textwrap
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from postmortems.exchange.importer import ImportSetupError, import_paths
from postmortems.models import ActionItem, PostMortem, Service, Team
from tests.factories import PostMortemFactory, UserFactory
from tests.postmortems.exchange.conftest import danluu_record, icco_record, issre_record, jsonl, write

pytestmark = pytest.mark.django_db

User = get_user_model()


ONE_PAGER = textwrap.dedent(
    """\
    ---
    title: Checkout errors {external_id}
    team: {team}
    services: [checkout]
    severity: SEV2
    status: published
    started_at: 2024-03-01T10:00:00Z
    factors: [{factors}]
    authors: [{owner}]
    external_id: {external_id}
    {extra_front}
    ---

    ## What happened

    Checkout failed.

    ### Timeline

    - 2024-03-01 10:02 UTC — Alert fired

    ## Why it happened

    A default was removed.

    ## What we change

    - [ ] Add a contract test (owner: {owner}, due: {due}, kind: test)
    - [x] Restore the default (owner: {owner}, due: 2024-03-02)
    {extra_body}
    ## What we don't change

    - Freeze deploys (why: not tied to the day)
    """
)
"""A one-pager; line 22 is '## Why it happened', lines 28-29 are the action items."""


def one_pager(
    external_id: str = "INC-1",
    *,
    team: str = "payments",
    owner: str = "alice",
    due: str = "2024-03-15",
    factors: str = "config-change",
    extra_front: str = "",
    extra_body: str = "",
) -> str:
    return ONE_PAGER.format(
        external_id=external_id,
        team=team,
        owner=owner,
        due=due,
        factors=factors,
        extra_front=extra_front,
        extra_body=extra_body,
    )


# --- bad records --------------------------------------------------------------------


def test_bad_jsonl_lines_are_reported_with_line_numbers_and_good_lines_import(tmp_path, run_import):
    survivor = PostMortemFactory(title="Stored before the import", external_id="keep-me")
    path = write(
        tmp_path,
        "corpus.jsonl",
        jsonl(
            icco_record(),
            '{"id": "broken", "summary": "no closing brace"',
            danluu_record(),
            icco_record(id="icco-bad-date", date="2021-13-45", extra={}),
            issre_record(),
            {"title": "no id", "summary": "x"},
        ),
    )
    out, err = run_import(path)

    assert f"{path}:2: broken JSON" in err
    assert f"{path}:4: date: not an ISO date (YYYY-MM-DD): '2021-13-45'" in err
    assert f"{path}:6: missing 'id'" in err
    assert "created 3, updated 0, unchanged 0, skipped (bad) 3" in out
    assert set(PostMortem.objects.values_list("external_id", flat=True)) == {
        "keep-me",
        "icco-test-0001",
        "danluu-test-0001",
        "issre22-test-0001",
    }
    survivor.refresh_from_db()
    assert survivor.title == "Stored before the import"


def test_bad_markdown_files_are_reported_with_file_and_line_and_good_ones_import(
    tmp_path, run_import, author
):
    survivor = PostMortemFactory(title="Stored before the import", external_id="keep-me")
    write(tmp_path, "good.md", one_pager("INC-1"))
    write(tmp_path, "bad-yaml.md", "---\ntitle: T\nteam: [payments\nseverity: SEV2\n---\n")
    write(tmp_path, "no-title.md", "---\nteam: payments\n---\n## What happened\n")
    write(tmp_path, "heading.md", one_pager("INC-3").replace("## Why it happened", "## Root cause"))
    write(tmp_path, "due.md", one_pager("INC-4", due="2024-02-30"))
    write(tmp_path, "owner.md", one_pager("INC-5", owner="nobody", team="brand-new-team"))
    write(tmp_path, "factor.md", one_pager("INC-6", factors="config-change, human-error"))
    write(tmp_path, "severity.md", one_pager("INC-7").replace("severity: SEV2", "severity: SEV9"))
    write(tmp_path, "started.md", one_pager("INC-8").replace("2024-03-01T10:00:00Z", "01/03/2024"))

    out, err = run_import(tmp_path)

    problems = sorted(line for line in err.splitlines() if line)
    assert len(problems) == 8, err
    assert f"{tmp_path / 'bad-yaml.md'}:4: invalid YAML in the front matter" in err
    assert f"{tmp_path / 'no-title.md'}:1: front matter: 'title' is missing" in err
    assert f"{tmp_path / 'heading.md'}:22: unknown section heading '## Root cause'" in err
    assert f"{tmp_path / 'due.md'}:28: action item due date: bad date '2024-02-30'" in err
    assert f"{tmp_path / 'owner.md'}:9: unknown user 'nobody' (author)" in err
    assert f"{tmp_path / 'factor.md'}:8: unknown contributing factor(s) 'human-error'" in err
    assert f"{tmp_path / 'severity.md'}:5: severity: Value 'SEV9' is not a valid choice." in err
    assert f"{tmp_path / 'started.md'}:7: started_at: bad date-time '01/03/2024'" in err
    assert "created 1, updated 0, unchanged 0, skipped (bad) 8" in out

    assert list(PostMortem.objects.exclude(pk=survivor.pk).values_list("external_id", flat=True)) == ["INC-1"]
    survivor.refresh_from_db()
    assert survivor.title == "Stored before the import"
    # The rejected record's team was created inside its transaction and rolled back.
    assert not Team.objects.filter(slug="brand-new-team").exists()


def test_validation_error_on_a_row_is_reported_at_that_rows_line(tmp_path, run_import, author):
    text = one_pager("INC-1", extra_body="- [ ] Drop it (owner: alice, due: 2024-04-01, status: not_doing)\n")
    path = write(tmp_path, "reason.md", text)
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("import_postmortems", str(path), no_progress=True, stdout=out, stderr=err)
    assert f"{path}:30: action_items: Row 3: not_doing_reason:" in err.getvalue()
    assert "skipped (bad) 1" in out.getvalue()
    assert not PostMortem.objects.exists()


def test_unknown_owner_is_created_with_an_unusable_password_when_asked(tmp_path, run_import, team):
    path = write(tmp_path, "owner.md", one_pager("INC-5", owner="newcomer"))
    out, err = run_import(path, create_users=True)
    assert err == ""
    assert "created 1," in out and "Created 0 team(s), 1 service(s), 1 user(s)." in out
    newcomer = User.objects.get(username="newcomer")
    assert not newcomer.has_usable_password()
    pm = PostMortem.objects.get(external_id="INC-5")
    assert list(pm.authors.all()) == [newcomer]
    assert set(pm.action_items.values_list("owner__username", flat=True)) == {"newcomer"}


def test_markdown_import_creates_missing_teams_and_services(tmp_path, run_import, author):
    path = write(tmp_path, "new-team.md", one_pager("INC-2", team="Search Platform"))
    run_import(path)
    pm = PostMortem.objects.get(external_id="INC-2")
    assert (pm.team.slug, pm.team.name) == ("search-platform", "Search Platform")
    service = Service.objects.get(slug="checkout")
    assert service.team == pm.team and list(pm.services.all()) == [service]


def test_file_without_external_id_gets_one_from_its_name(tmp_path, run_import, author):
    path = write(tmp_path, "2024-checkout.md", one_pager("x").replace("external_id: x\n", ""))
    run_import(path)
    assert PostMortem.objects.filter(external_id="md:2024-checkout").exists()


def test_markdown_without_front_matter_in_a_directory_is_ignored_not_bad(tmp_path, run_import, author):
    write(tmp_path, "README.md", "# About these files\n")
    write(tmp_path, "sub/good.md", one_pager("INC-1"))
    out, err = run_import(tmp_path)
    assert err == ""
    assert "created 1," in out and "Ignored 1 Markdown file(s) without front matter" in out


# --- idempotency -----------------------------------------------------------------------


def test_reimporting_jsonl_updates_by_external_id_and_never_duplicates(tmp_path, run_import):
    path = write(tmp_path, "c.jsonl", jsonl(icco_record(), danluu_record()))
    run_import(path)
    ids = dict(PostMortem.objects.values_list("external_id", "pk"))

    out, _ = run_import(path)
    assert "created 0, updated 0, unchanged 2, skipped (bad) 0" in out

    changed = icco_record(title="Queue workers stalled (revised)")
    write(tmp_path, "c.jsonl", jsonl(changed, danluu_record()))
    out, _ = run_import(path)
    assert "created 0, updated 1, unchanged 1, skipped (bad) 0" in out
    assert dict(PostMortem.objects.values_list("external_id", "pk")) == ids
    assert PostMortem.objects.get(external_id="icco-test-0001").title == "Queue workers stalled (revised)"


def test_reimporting_markdown_replaces_rows_and_keeps_unchanged_action_items(tmp_path, run_import, author):
    path = write(tmp_path, "pm.md", one_pager("INC-1"))
    run_import(path)
    pm = PostMortem.objects.get(external_id="INC-1")
    kept = pm.action_items.get(text="Add a contract test")

    out, _ = run_import(path)
    assert "unchanged 1" in out

    edited = one_pager("INC-1").replace(
        "- [x] Restore the default (owner: alice, due: 2024-03-02)",
        "- [ ] Document the default (owner: alice, due: 2024-03-20, kind: documentation)",
    )
    write(tmp_path, "pm.md", edited)
    out, _ = run_import(path)
    assert "created 0, updated 1, unchanged 0" in out
    assert PostMortem.objects.count() == 1
    texts = list(pm.action_items.order_by("pk").values_list("text", flat=True))
    assert texts == ["Add a contract test", "Document the default"]
    assert pm.action_items.get(text="Add a contract test").pk == kept.pk  # key AI-n is stable
    assert not ActionItem.objects.filter(text="Restore the default").exists()
    pm.refresh_from_db()
    assert "Document the default" in pm.search_body


# --- --team, --strict, exit status, progress ---------------------------------------------


def test_team_option_puts_every_record_under_that_team(tmp_path, run_import, team, author):
    write(tmp_path, "c.jsonl", jsonl(icco_record(), issre_record()))
    write(tmp_path, "pm.md", one_pager("INC-1", team="somebody-else"))
    out, err = run_import(tmp_path, team="payments")
    assert err == "" and "created 3," in out
    assert set(PostMortem.objects.values_list("team__slug", flat=True)) == {"payments"}
    assert not Team.objects.exclude(slug="payments").exists()


def test_team_option_must_name_an_existing_team(tmp_path):
    path = write(tmp_path, "c.jsonl", jsonl(icco_record()))
    with pytest.raises(CommandError, match="No team with slug 'nope'"):
        call_command("import_postmortems", str(path), team="nope", no_progress=True, stdout=StringIO())
    assert not PostMortem.objects.exists()


def test_missing_path_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="No such file or directory"):
        call_command("import_postmortems", str(tmp_path / "absent.jsonl"), stdout=StringIO())


def test_all_bad_records_exit_non_zero(tmp_path):
    path = write(tmp_path, "c.jsonl", "not json\n")
    err = StringIO()
    with pytest.raises(CommandError, match="1 bad record"):
        call_command("import_postmortems", str(path), no_progress=True, stdout=StringIO(), stderr=err)
    assert f"{path}:1: broken JSON" in err.getvalue()


def test_strict_exits_non_zero_on_any_bad_record_but_keeps_the_good_ones(tmp_path):
    path = write(tmp_path, "c.jsonl", jsonl(icco_record(), "not json"))
    with pytest.raises(CommandError, match="1 bad record"):
        call_command(
            "import_postmortems",
            str(path),
            no_progress=True,
            strict=True,
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert PostMortem.objects.filter(external_id="icco-test-0001").exists()


def test_summary_reports_elapsed_time_and_rate(tmp_path, run_import):
    out, _ = run_import(write(tmp_path, "c.jsonl", jsonl(icco_record())))
    assert "Imported 1 file(s): created 1, updated 0, unchanged 0, skipped (bad) 0 in " in out
    assert " records/s)." in out


def test_progress_bar_goes_to_stderr_unless_disabled(tmp_path, capsys):
    path = write(tmp_path, "c.jsonl", jsonl(icco_record()))
    call_command("import_postmortems", str(path), stdout=StringIO(), stderr=StringIO())
    assert "Importing" in capsys.readouterr().err
    call_command("import_postmortems", str(path), no_progress=True, stdout=StringIO(), stderr=StringIO())
    assert "Importing" not in capsys.readouterr().err


def test_import_paths_returns_a_report_for_other_code(tmp_path):
    path = write(tmp_path, "c.jsonl", jsonl(icco_record(), "[]"))
    report = import_paths([path], progress=False)
    assert (report.created, report.updated, report.unchanged, report.bad) == (1, 0, 0, 1)
    assert report.problems[0].line == 2 and "expected a JSON object" in report.problems[0].message
    with pytest.raises(ImportSetupError):
        import_paths([path], team_slug="missing", progress=False)


def test_fix_pull_request_is_tied_to_the_action_item_it_names(tmp_path, run_import, author):
    body = (
        "### Fix pull requests\n\n- https://github.com/acme/shop/pull/7 — Restore (state: merged, item: 2)\n"
    )
    path = write(tmp_path, "pr.md", one_pager("INC-1", extra_body=body))
    run_import(path)
    pr = PostMortem.objects.get(external_id="INC-1").fix_prs.get()
    assert (pr.repository, pr.number, pr.state) == ("acme/shop", 7, "merged")
    assert pr.action_item.text == "Restore the default"
    assert pr.action_item.completed_at is not None
    assert pr.action_item.due_date == dt.date(2024, 3, 2)


def test_pm_key_external_id_updates_the_document_it_came_from(tmp_path, run_import, team, author):
    own = PostMortemFactory(team=team, title="Old title", external_id="")
    text = one_pager(own.key).replace(f"Checkout errors {own.key}", "New title")
    run_import(write(tmp_path, "own.md", text))
    own.refresh_from_db()
    assert own.title == "New title" and own.external_id == ""
    assert PostMortem.objects.count() == 1


def test_pm_key_of_a_document_with_its_own_external_id_creates_a_new_one(tmp_path, run_import, team, author):
    other = PostMortemFactory(team=team, external_id="INC-77")
    run_import(write(tmp_path, "x.md", one_pager(other.key)))
    assert PostMortem.objects.filter(external_id=other.key).exists()
    other.refresh_from_db()
    assert other.external_id == "INC-77"


def test_owner_that_exists_is_used(tmp_path, run_import, team):
    owner = UserFactory(username="dora")
    run_import(write(tmp_path, "pm.md", one_pager("INC-1", owner="dora")))
    assert set(ActionItem.objects.values_list("owner", flat=True)) == {owner.pk}
