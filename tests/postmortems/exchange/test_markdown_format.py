"""Parsing and rendering the Markdown one-pager."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from postmortems.exchange.document import RecordError
from postmortems.exchange.markdown_format import parse_markdown, render_postmortem_markdown
from postmortems.services import postmortem_save
from tests.factories import factor

UTC = dt.UTC

DOCUMENT = textwrap.dedent(
    """\
    ---
    title: "Checkout errors: the payment timeout vanished"
    team: payments
    services: [checkout, payments-api]
    severity: sev2
    status: in review
    started_at: 2024-03-01T10:00:00Z
    detected_at: 2024-03-01 10:07:00
    mitigated_at: '2024-03-01T12:40:00+02:00'
    resolved_at: 2024-03-02
    factors: config-change, missing-test
    authors: [alice, bob]
    facilitator: carol
    source_url: https://wiki.example/pm/17
    ---

    # Checkout errors

    ## What happened

    Checkout returned **HTTP 500**.

    ### Timeline

    - 2024-03-01 10:02 UTC — Error-rate alert fired (evidence: https://grafana.example/d/1)
    - 2024-03-01 12:05 +02:00 - Rolled back
    - 2024-03-01 10:30:15 UTC — Incident declared

    ## Why it happened

    The default was removed.

    ## What we change

    Validate configuration.

    - [ ] Add a contract test (for the timeout) (owner: alice, due: 2024-03-15, kind: test, ticket: https://jira.example/PAY-1)
    - [x] Restore the default (owner: bob, due: 2024-03-02, completed: 2024-03-02T09:00:00Z)
    - [ ] Alert on config drift (owner: alice, due: 2024-04-01, kind: check, status: in_progress)
    - [ ] Rewrite it (owner: bob, due: 2024-06-01, status: not_doing, reason: too big, for now, see (AI-1))
    - [ ] A plain checklist line stays in the body

    ### Fix pull requests

    - https://github.com/acme/shop/pull/12 — Restore timeout (v2) (state: merged, item: 2)
    - https://github.com/acme/shop/pull/13 (state: closed)

    ## What we don't change

    - Freeze Friday deploys (why: the fault was not tied to the day, so (really) no)
    """
)


def test_parse_reads_front_matter_sections_and_rows():
    doc = parse_markdown(DOCUMENT, default_external_id="md:sample")

    assert doc.external_id == "md:sample"
    assert doc.title == "Checkout errors: the payment timeout vanished"
    assert doc.team == "payments" and doc.services == ["checkout", "payments-api"]
    assert doc.severity == "SEV2" and doc.status == "in_review"
    assert doc.started_at == dt.datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert doc.detected_at == dt.datetime(2024, 3, 1, 10, 7, tzinfo=UTC)  # naive → UTC
    assert doc.mitigated_at == dt.datetime(2024, 3, 1, 10, 40, tzinfo=UTC)
    assert doc.resolved_at == dt.datetime(2024, 3, 2, 0, 0, tzinfo=UTC)
    assert doc.factors == ["config-change", "missing-test"]
    assert doc.authors == ["alice", "bob"] and doc.facilitator == "carol"
    assert doc.source_url == "https://wiki.example/pm/17"

    assert doc.what_happened == "Checkout returned **HTTP 500**."
    assert doc.why_it_happened == "The default was removed."
    assert doc.what_we_change == "Validate configuration.\n\n- [ ] A plain checklist line stays in the body"
    assert doc.what_we_dont_change == ""

    assert [(t.at, t.text, t.evidence_url, t.line) for t in doc.timeline] == [
        (
            dt.datetime(2024, 3, 1, 10, 2, tzinfo=UTC),
            "Error-rate alert fired",
            "https://grafana.example/d/1",
            25,
        ),
        (dt.datetime(2024, 3, 1, 10, 5, tzinfo=UTC), "Rolled back", "", 26),
        (dt.datetime(2024, 3, 1, 10, 30, 15, tzinfo=UTC), "Incident declared", "", 27),
    ]
    first, done, in_progress, not_doing = doc.action_items
    assert (first.text, first.owner, first.due_date, first.kind, first.status, first.ticket_url) == (
        "Add a contract test (for the timeout)",
        "alice",
        dt.date(2024, 3, 15),
        "test",
        "open",
        "https://jira.example/PAY-1",
    )
    assert (done.status, done.kind, done.completed_at) == (
        "done",
        "code",
        dt.datetime(2024, 3, 2, 9, 0, tzinfo=UTC),
    )
    assert (in_progress.kind, in_progress.status) == ("check", "in_progress")
    assert not_doing.status == "not_doing"
    assert not_doing.not_doing_reason == "too big, for now, see (AI-1)"
    assert [(p.url, p.title, p.state, p.item) for p in doc.fix_prs] == [
        ("https://github.com/acme/shop/pull/12", "Restore timeout (v2)", "merged", 2),
        ("https://github.com/acme/shop/pull/13", "", "closed", None),
    ]
    assert [(d.text, d.rationale) for d in doc.declined_changes] == [
        ("Freeze Friday deploys", "the fault was not tied to the day, so (really) no")
    ]


def test_missing_status_means_published_and_external_id_comes_from_front_matter():
    text = "---\ntitle: T\nteam: ops\nexternal_id: INC-9\n---\n## What happened\nx\n"
    doc = parse_markdown(text, default_external_id="md:file")
    assert doc.status == "published" and doc.external_id == "INC-9" and doc.what_happened == "x"


def test_team_may_be_left_out_when_the_caller_assigns_it():
    doc = parse_markdown("---\ntitle: T\n---\n", default_external_id="md:x", team_required=False)
    assert doc.team == ""


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("# no front matter\n", 1, "no YAML front matter"),
        ("---\ntitle: T\nteam: ops\n", 1, "not closed"),
        ("---\ntitle: T\nteam: [ops\nseverity: SEV2\n---\n", 4, "invalid YAML"),
        ("---\nteam: ops\n---\n", 1, "'title' is missing"),
        ("---\ntitle: T\n---\n", 1, "'team' is missing"),
        ("---\ntitle: T\nteam: ops\nsevrity: SEV1\n---\n", 4, "unknown front-matter key 'sevrity'"),
        ("---\ntitle: T\nteam: ops\nstarted_at: yesterday\n---\n", 4, "started_at: bad date-time"),
        (
            "---\ntitle: T\nteam: ops\n---\n## What happened\n## Lessons learned\n",
            6,
            "unknown section heading",
        ),
        ("---\ntitle: T\nteam: ops\n---\n## What happened\n## What happened\n", 6, "appears twice"),
        ("---\ntitle: T\nteam: ops\n---\nIntro\n## What happened\n", 5, "text before the first"),
        (
            "---\ntitle: T\nteam: ops\n---\n## What happened\n### Timeline\n- 2024-02-30 10:00 UTC — x\n",
            7,
            "bad date or time",
        ),
        (
            "---\ntitle: T\nteam: ops\n---\n## What happened\n### Timeline\n- 2024-02-01 at noon: x\n",
            7,
            "bad timeline line",
        ),
        (
            "---\ntitle: T\nteam: ops\n---\n## What we change\n- [ ] Fix (owner: al, due: 2024-02-30)\n",
            6,
            "bad date '2024-02-30'",
        ),
        (
            "---\ntitle: T\nteam: ops\n---\n## What we change\n- [ ] Fix (due: 2024-02-01)\n",
            6,
            "'owner' is missing",
        ),
        (
            "---\ntitle: T\nteam: ops\n---\n## What we change\n"
            "- [ ] Fix (owner: al, due: 2024-02-01, size: L)\n",
            6,
            "unknown attribute",
        ),
        (
            "---\ntitle: T\nteam: ops\n---\n## What we change\n"
            "- [x] Fix (owner: al, due: 2024-02-01, status: not_doing, reason: no)\n",
            6,
            "[x] means done",
        ),
        (
            "---\ntitle: T\nteam: ops\n---\n## What we change\n### Fix pull requests\n"
            "- https://github.com/a/b/pull/1 (state: merged, item: 3)\n",
            7,
            "item 3 does not exist",
        ),
        (
            "---\ntitle: T\nteam: ops\n---\n## What we change\n### Fix pull requests\n"
            "- https://github.com/a/b/pull/1 (state: draft)\n",
            7,
            "unknown state",
        ),
    ],
)
def test_bad_documents_raise_record_errors_at_the_right_line(text, line, message):
    with pytest.raises(RecordError) as caught:
        parse_markdown(text, default_external_id="md:bad")
    assert message in caught.value.message
    assert caught.value.line == line


def test_heading_match_tolerates_case_and_curly_apostrophe():
    text = "---\ntitle: T\nteam: ops\n---\n## what we don’t change\n- Keep it (why: fine)\n"
    doc = parse_markdown(text, default_external_id="md:x")
    assert [(d.text, d.rationale) for d in doc.declined_changes] == [("Keep it", "fine")]


@pytest.mark.django_db
def test_render_writes_the_documented_format(team, author, teammate):
    pm = postmortem_save(
        enforce_readiness=False,
        user=author,
        fields={
            "title": "Checkout errors",
            "team": team,
            "severity": "SEV2",
            "status": "published",
            "started_at": dt.datetime(2024, 3, 1, 10, 0, tzinfo=UTC),
            "what_happened": "Checkout failed.\n## Not a section\n### Timeline",
            "what_we_change": "- [ ] Looks like an item (owner: x, due: 2024-01-01)",
            "what_we_dont_change": "- Not declined (why: body text)",
            "factors": [factor("config-change")],
            "authors": [author],
            "facilitator": teammate,
        },
        timeline=[
            {
                "at": dt.datetime(2024, 3, 1, 10, 2, tzinfo=UTC),
                "text": "Alert fired",
                "evidence_url": "https://grafana.example/d/1",
            }
        ],
        action_items=[
            {
                "text": "Add a test",
                "kind": "test",
                "owner": teammate,
                "due_date": dt.date(2024, 3, 15),
                "status": "open",
            }
        ],
        declined_changes=[{"text": "Freeze deploys", "rationale": "not tied to the day, so no"}],
        fix_prs=[{"url": "https://github.com/acme/shop/pull/12", "title": "Fix", "state": "merged"}],
    )
    text = render_postmortem_markdown(pm)

    assert text.startswith("---\ntitle: Checkout errors\nteam: payments\nservices: []\nseverity: SEV2\n")
    assert f"external_id: {pm.key}\n" in text  # no external id of its own
    assert "started_at: '2024-03-01T10:00:00Z'\n" in text
    assert "factors: [config-change]\nauthors: [alice]\nfacilitator: bob\n" in text
    assert (
        "\n# Checkout errors\n\n## What happened\n\nCheckout failed.\n\\## Not a section\n\\### Timeline\n"
        in text
    )
    assert (
        "### Timeline\n\n- 2024-03-01 10:02 UTC — Alert fired (evidence: https://grafana.example/d/1)\n"
        in text
    )
    assert "\\- [ ] Looks like an item (owner: x, due: 2024-01-01)\n" in text
    assert "- [ ] Add a test (owner: bob, due: 2024-03-15, kind: test)\n" in text
    assert "### Fix pull requests\n\n- https://github.com/acme/shop/pull/12 — Fix (state: merged)\n" in text
    assert "\\- Not declined (why: body text)\n" in text
    assert text.endswith("- Freeze deploys (why: not tied to the day, so no)\n")

    back = parse_markdown(text, default_external_id="md:x")
    assert back.what_happened == pm.what_happened
    assert back.what_we_change == pm.what_we_change
    assert back.what_we_dont_change == pm.what_we_dont_change
    assert [i.text for i in back.action_items] == ["Add a test"]
    assert [d.text for d in back.declined_changes] == ["Freeze deploys"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        "## Impact\nline",
        "\\## already escaped once",
        "\\\\## escaped twice",
        "### Timeline\n- 2024-01-01 10:00 UTC — not an entry",
        "### Fix pull requests\n- https://github.com/a/b/pull/1 (state: open)",
        "- [ ] item (owner: a, due: 2024-01-01)\n- [x] done (owner: b, due: 2024-01-02)",
        "- Keep (why: reasons)",
        "trailing spaces for a hard break  \nnext line",
    ],
)
def test_bodies_that_look_like_structure_survive_render_and_parse(body, team, author):
    fields = {
        name: body for name in ("what_happened", "why_it_happened", "what_we_change", "what_we_dont_change")
    }
    pm = postmortem_save(user=author, fields={"title": "T", "team": team, **fields}, enforce_readiness=False)
    doc = parse_markdown(render_postmortem_markdown(pm), default_external_id="md:x")
    for name in fields:
        assert getattr(doc, name) == body, name
    assert doc.timeline == [] and doc.action_items == [] and doc.fix_prs == []
    assert doc.declined_changes == []


def test_fix_pull_request_lines_accept_angle_brackets_and_an_en_dash():
    text = (
        "---\ntitle: T\nteam: ops\n---\n## What we change\n"
        "- [ ] Fix it (owner: al, due: 2024-02-01)\n### Fix pull requests\n"
        "- <https://gitlab.example/g/r/-/merge_requests/4> – Patch (item: 1)\n"
    )
    doc = parse_markdown(text, default_external_id="md:x")
    assert [(p.url, p.title, p.state, p.item) for p in doc.fix_prs] == [
        ("https://gitlab.example/g/r/-/merge_requests/4", "Patch", "open", 1)
    ]
