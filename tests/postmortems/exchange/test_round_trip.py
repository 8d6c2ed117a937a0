"""Export → import keeps every field and row; ``export_postmortems`` options."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from postmortems.models import ActionItem, PostMortem
from postmortems.services import postmortem_save
from tests.factories import PostMortemFactory, ServiceFactory, TeamFactory, UserFactory, factor

pytestmark = pytest.mark.django_db

UTC = dt.UTC
AT = dt.datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


def build_rich_postmortem(*, team, author, teammate, external_id: str) -> PostMortem:
    """A post-mortem using every field, row kind, status and attribute the format has."""
    carol = UserFactory(username="carol")
    services = [ServiceFactory(slug="checkout", team=team), ServiceFactory(slug="payments-api", team=team)]
    pm = postmortem_save(
        enforce_readiness=False,
        user=author,
        fields={
            "title": "Checkout errors: the payment timeout vanished (again)",
            "team": team,
            "severity": "SEV2",
            "status": "reviewed",
            "started_at": AT,
            "detected_at": AT + dt.timedelta(minutes=7),
            "mitigated_at": AT + dt.timedelta(minutes=40, seconds=30),
            "resolved_at": AT + dt.timedelta(hours=2),
            "facilitator": carol,
            "what_happened": "Checkout returned **HTTP 500** for 12% of requests.\n\n"
            "## Impact (a heading inside the text)\n\n| a | b |\n|---|---|\n| 1 | 2 |",
            "why_it_happened": "A config change removed the default.\n\n- a list\n- of causes",
            "what_we_change": "We validate configuration.\n\n- [ ] a plain checklist line",
            "what_we_dont_change": "Some changes were rejected.\n\n- Looks declined (why: but is body text)",
            "source_url": "https://wiki.example/pm/17",
            "external_id": external_id,
            "services": services,
            "authors": [author, teammate],
            "factors": [factor("config-change"), factor("missing-test"), factor("monitoring-gap")],
        },
        timeline=[
            {
                "at": AT + dt.timedelta(minutes=2),
                "text": "Error-rate alert fired",
                "evidence_url": "https://grafana.example/d/1",
            },
            {"at": AT + dt.timedelta(minutes=7, seconds=15), "text": "On-call acknowledged (paged twice)"},
            {
                "at": AT + dt.timedelta(minutes=40, seconds=30, microseconds=250),
                "text": "Rolled back — recovered",
            },
        ],
        action_items=[
            {
                "text": "Add a contract test (timeout)",
                "kind": "test",
                "owner": author,
                "due_date": dt.date(2024, 3, 15),
                "status": "open",
                "ticket_url": "https://jira.example/PAY-1",
            },
            {
                "text": "Restore the default",
                "kind": "code",
                "owner": teammate,
                "due_date": dt.date(2024, 3, 2),
                "status": "done",
                "ticket_url": "https://jira.example/PAY-2",
                "completed_at": dt.datetime(2024, 3, 2, 9, 30, 12, 345678, tzinfo=UTC),
            },
            {
                "text": "Alert on config drift",
                "kind": "check",
                "owner": author,
                "due_date": dt.date(2024, 4, 1),
                "status": "in_progress",
            },
            {
                "text": "Write the runbook",
                "kind": "documentation",
                "owner": carol,
                "due_date": dt.date(2024, 4, 2),
                "status": "not_doing",
                "not_doing_reason": "covered by the platform team, for now, see (AI-1), and the wiki",
                "ticket_url": "https://jira.example/PAY-4",
            },
            {
                "text": "Review deploy checklist",
                "kind": "process",
                "owner": teammate,
                "due_date": dt.date(2024, 4, 3),
                "status": "open",
            },
        ],
        declined_changes=[
            {
                "text": "Freeze Friday deploys",
                "rationale": "the fault was not tied to the day, so (really) no",
            },
            {"text": "Rewrite the client", "rationale": "too big; the contract test covers it"},
        ],
        fix_prs=[
            {
                "url": "https://github.com/acme/shop/pull/12",
                "title": "Restore timeout — v2",
                "state": "merged",
            },
            {"url": "https://gitlab.example/g/r/-/merge_requests/4", "state": "closed"},
        ],
    )
    item = pm.action_items.get(text="Restore the default")
    postmortem_save(
        enforce_readiness=False,
        user=author,
        postmortem=pm,
        fields={},
        fix_prs=[
            {
                "id": pr.pk,
                "url": pr.url,
                "title": pr.title,
                "state": pr.state,
                "action_item": item if pr.number == 12 else None,
            }
            for pr in pm.fix_prs.all()
        ],
    )
    pm.refresh_from_db()
    return pm


def snapshot(pm: PostMortem) -> dict:
    """Every field and row of a post-mortem, without ids and storage timestamps.

    ``search_body`` is left out: it holds the action-item keys (``AI-<id>``), which
    differ when the rows are created again; the tests check it separately.
    """
    pm = PostMortem.objects.get(pk=pm.pk)
    return {
        "fields": {
            name: getattr(pm, name)
            for name in (
                "title",
                "severity",
                "status",
                "started_at",
                "detected_at",
                "mitigated_at",
                "resolved_at",
                "what_happened",
                "why_it_happened",
                "what_we_change",
                "what_we_dont_change",
                "source_url",
            )
        },
        "team": pm.team.slug,
        "facilitator": pm.facilitator.username if pm.facilitator else None,
        "services": sorted(pm.services.values_list("slug", flat=True)),
        "authors": sorted(pm.authors.values_list("username", flat=True)),
        "factors": sorted(pm.factors.values_list("slug", flat=True)),
        "timeline": list(pm.timeline.values_list("at", "text", "evidence_url")),
        "action_items": list(
            pm.action_items.values_list(
                "text",
                "kind",
                "owner__username",
                "due_date",
                "status",
                "not_doing_reason",
                "ticket_url",
                "completed_at",
            )
        ),
        "declined_changes": list(pm.declined_changes.values_list("text", "rationale")),
        "fix_prs": list(
            pm.fix_prs.values_list("url", "repository", "number", "title", "state", "action_item__text")
        ),
    }


def export(directory, *args) -> str:
    out = StringIO()
    call_command("export_postmortems", str(directory), *args, stdout=out)
    return out.getvalue()


def reimport(directory) -> str:
    out = StringIO()
    call_command("import_postmortems", str(directory), no_progress=True, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_export_then_import_into_a_fresh_state_loses_nothing(tmp_path, team, author, teammate):
    pm = build_rich_postmortem(team=team, author=author, teammate=teammate, external_id="INC-2024-017")
    before = snapshot(pm)
    assert len(before["action_items"]) == 5 and before["fix_prs"][0][-1] == "Restore the default"

    assert "Exported 1 post-mortem(s)" in export(tmp_path)
    PostMortem.objects.all().delete()
    out = reimport(tmp_path)

    assert "created 1, updated 0, unchanged 0, skipped (bad) 0" in out
    restored = PostMortem.objects.get(external_id="INC-2024-017")
    assert restored.pk != pm.pk
    assert snapshot(restored) == before
    assert "Write the runbook" in restored.search_body and "Freeze Friday deploys" in restored.search_body
    assert "unchanged 1" in reimport(tmp_path)


def test_export_of_a_document_without_external_id_reimports_into_the_same_document(
    tmp_path, team, author, teammate
):
    pm = build_rich_postmortem(team=team, author=author, teammate=teammate, external_id="")
    before = snapshot(pm)
    export(tmp_path)
    text = (tmp_path / f"{pm.key}.md").read_text()
    assert f"external_id: {pm.key}\n" in text

    # Edit the stored document; the re-import puts the exported state back.
    postmortem_save(
        user=author,
        postmortem=pm,
        fields={"title": "Edited"},
        action_items=[],
        fix_prs=[],
        enforce_readiness=False,
    )
    assert "created 0, updated 1," in reimport(tmp_path)

    assert PostMortem.objects.count() == 1
    pm.refresh_from_db()
    assert pm.external_id == ""
    assert snapshot(pm) == before


def test_reimport_of_an_unchanged_export_writes_nothing(tmp_path, team, author, teammate):
    pm = build_rich_postmortem(team=team, author=author, teammate=teammate, external_id="")
    keys = set(ActionItem.objects.values_list("pk", flat=True))
    updated_at = pm.updated_at
    export(tmp_path)
    assert "created 0, updated 0, unchanged 1" in reimport(tmp_path)
    pm.refresh_from_db()
    assert pm.updated_at == updated_at
    assert set(ActionItem.objects.values_list("pk", flat=True)) == keys


def test_export_team_and_key_options_select_documents(tmp_path, team):
    other = TeamFactory(slug="search")
    mine = PostMortemFactory(team=team)
    theirs = PostMortemFactory(team=other)
    third = PostMortemFactory(team=other)

    export(tmp_path / "team", "--team", "search")
    assert sorted(p.name for p in (tmp_path / "team").iterdir()) == sorted(
        [f"{theirs.key}.md", f"{third.key}.md"]
    )

    export(tmp_path / "keys", "--key", mine.key, third.key.lower())
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == sorted(
        [f"{mine.key}.md", f"{third.key}.md"]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--team", "nope"], "No team with slug 'nope'"),
        (["--key", "PM-999999"], "No such post-mortem: PM-999999"),
        (["--key", "AI-3"], "Not a post-mortem key: 'AI-3'"),
    ],
)
def test_export_rejects_unknown_team_and_keys(tmp_path, team, args, message):
    PostMortemFactory(team=team)
    with pytest.raises(CommandError, match=message):
        export(tmp_path / "out", *args)
    assert not (tmp_path / "out").exists()


def test_export_query_count_does_not_grow_with_the_number_of_documents(tmp_path, team, author, teammate):
    build_rich_postmortem(team=team, author=author, teammate=teammate, external_id="INC-1")
    with CaptureQueriesContext(connection) as one:
        export(tmp_path / "one")
    for n in range(3):
        PostMortemFactory(team=team, authors=[author], factors=[factor("code-change")], external_id=f"X-{n}")
    with CaptureQueriesContext(connection) as four:
        export(tmp_path / "four")
    assert len(list((tmp_path / "four").iterdir())) == 4
    assert len(four.captured_queries) == len(one.captured_queries)
