"""No lost edits under load (RELIABILITY.md T15 and T27, issue 9).

Eight writer threads do read (ETag) → PATCH with If-Match → on 412 read again,
against gunicorn (2 gthread workers × 4 threads) on PostgreSQL, for 5 s in the
normal suite and 30 s in ``make verify``; once on two post-mortems (each write
appends a line with its token to ``what_happened``) and once on three action
items (each write moves the status on and sets the text to its token).

Pass: 0 × 5xx, 0 transport errors, 0 × 428 (every write sent If-Match), every
acknowledged token in the final state (post-mortems) or in the item's history at
the version the write produced (action items), the final version = 1 + the
acknowledged writes, and each acknowledged write made exactly the version after
the one it read. The 412s are the conflicts the lock caught.

Skipped on SQLite: there a single file lock serialises all writers, so the
interleavings this test is about cannot happen; the point is PostgreSQL with
several gunicorn processes.
"""

from __future__ import annotations

import pytest
from django.db import connection

from postmortems.models import ActionItem, PostMortem
from tests.factories import (
    ActionItemFactory,
    PostMortemFactory,
    TeamFactory,
    TeamMembershipFactory,
    UserFactory,
)
from tests.reliability import report, writers

WRITERS = 8


def _seconds() -> float:
    return 30.0 if report.full_run() else 5.0


@pytest.fixture
def organisation(transactional_db):
    """A team lead with a token and two post-mortems with three action items each."""
    from rest_framework.authtoken.models import Token

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite's file lock serialises every writer (see module docstring)")
    team = TeamFactory(slug="payments")
    lead = UserFactory(username="lead")
    TeamMembershipFactory(team=team, user=lead, role="lead")
    documents = [PostMortemFactory(team=team, authors=[lead]) for _ in range(2)]
    items = [
        ActionItemFactory(postmortem=documents[0], owner=lead, text=f"Add a contract test {n}")
        for n in range(3)
    ]
    return {"token": Token.objects.create(user=lead).key, "documents": documents, "items": items}


def _check(outcome: writers.Outcome) -> None:
    """The response counts every run must meet (see module docstring)."""
    assert outcome.errors == 0, outcome.examples
    assert outcome.responses["5xx"] == 0, outcome.examples
    assert outcome.responses["428"] == 0, outcome.examples
    assert outcome.responses["4xx other"] == 0, outcome.examples
    assert outcome.acks, "no write was acknowledged"
    assert outcome.requests == outcome.reads + outcome.writes


def _versions_chain(acks: list[writers.Ack], target: int) -> list[writers.Ack]:
    """The acks of one target, checked to have read the versions 1, 2, …, n: every
    acknowledged write was based on a different version, so none overwrote another
    unseen (two writes based on the same read would be a lost update).

    (The version in a PATCH answer may be later than the one the write made: the
    view answers with a fresh read, which can include a write committed right after.)
    """
    mine = sorted((a for a in acks if a.target == target), key=lambda a: a.read_version)
    assert [a.read_version for a in mine] == list(range(1, len(mine) + 1))
    assert all(a.new_version > a.read_version for a in mine)
    return mine


def _figures(outcome: writers.Outcome, targets: int, lost: int) -> list[list[object]]:
    return [
        ["writers × seconds", f"{WRITERS} × {outcome.seconds:.0f}"],
        ["objects written concurrently", targets],
        ["requests (GET + PATCH)", f"{outcome.requests} ({outcome.reads} + {outcome.writes})"],
        ["2xx", outcome.responses["2xx"]],
        ["acknowledged writes", len(outcome.acks)],
        ["412 (conflict detected, writer re-read and retried)", outcome.responses["412"]],
        ["428 (If-Match missing)", outcome.responses["428"]],
        ["other 4xx", outcome.responses["4xx other"]],
        ["5xx", outcome.responses["5xx"]],
        ["transport errors", outcome.errors],
        ["lost updates", lost],
        ["PATCH p95 (ms)", f"{outcome.p95_write_ms():.0f}"],
        ["machine's 1-min load average at the start (2 CPUs)", f"{outcome.load_average:.1f}"],
    ]


def test_concurrent_post_mortem_edits_lose_nothing(organisation):
    paths = [f"/api/v1/postmortems/{pm.pk}/" for pm in organisation["documents"]]
    with writers.serve(token=organisation["token"]) as port:
        outcome = writers.hammer(
            port=port,
            token=organisation["token"],
            paths=paths,
            change=writers.append_to_text("what_happened"),
            writers=WRITERS,
            seconds=_seconds(),
        )
    _check(outcome)
    lost = 0
    for pm in organisation["documents"]:
        mine = _versions_chain(outcome.acks, pm.pk)
        stored = PostMortem.objects.get(pk=pm.pk)
        assert stored.version == 1 + len(mine)
        missing = [a.token for a in mine if f"load token {a.token}\n" not in stored.what_happened + "\n"]
        lost += len(missing)
        assert not missing, f"acknowledged but lost: {missing}"
        # Exactly the acknowledged lines were added, nothing else.
        assert stored.what_happened.count("- load token ") == len(mine)
    report.record(
        f"Concurrent post-mortem edits (T15, {report.engine()})",
        report.table(["figure", "value"], _figures(outcome, len(paths), lost))
        + "\n\nEach writer: GET → PATCH `what_happened` (its token appended as a line) with "
        "`If-Match` → on 412 read again. gunicorn 2 gthread workers × 4 threads on 127.0.0.1, "
        "throttling off. Checked afterwards: every acknowledged token is in the document, the "
        "version is 1 + the acknowledged writes, and the acknowledged writes read the versions "
        "1, 2, …, n (no two were based on the same read). Command: `make verify` "
        "(tests/reliability/test_concurrent_writers.py).",
    )


def test_concurrent_action_item_status_changes_lose_nothing(organisation):
    items = organisation["items"]
    paths = [f"/api/v1/action-items/{item.pk}/" for item in items]
    with writers.serve(token=organisation["token"]) as port:
        outcome = writers.hammer(
            port=port,
            token=organisation["token"],
            paths=paths,
            change=writers.move_action_item("Add a contract test"),
            writers=WRITERS,
            seconds=_seconds(),
        )
    _check(outcome)
    lost = 0
    for item in items:
        mine = _versions_chain(outcome.acks, item.pk)
        stored = ActionItem.objects.get(pk=item.pk)
        assert stored.version == 1 + len(mine)
        # The revision each write made: its token, at the version after the one it read.
        history = dict(item.history.filter(version__gt=1).values_list("text", "version"))
        missing = [
            a.token for a in mine if history.get(f"Add a contract test [{a.token}]") != a.read_version + 1
        ]
        lost += len(missing)
        assert not missing, f"acknowledged but not in the history at its version: {missing}"
        # The status walked open → in progress → done → open, one step per write.
        statuses = list(item.history.order_by("version").values_list("status", flat=True))
        assert all(writers.NEXT_STATUS[a] == b for a, b in zip(statuses, statuses[1:], strict=False))
        if mine:
            assert stored.text.endswith(f"[{mine[-1].token}]")
    report.record(
        f"Concurrent action-item status changes (T15, {report.engine()})",
        report.table(["figure", "value"], _figures(outcome, len(paths), lost))
        + "\n\nEach writer: GET → PATCH `status` (open → in progress → done → open) and `text` "
        "(its token) with `If-Match` → on 412 read again. Checked afterwards: each acknowledged "
        "token is in the item's history at the version after the one its write read, the status history "
        "steps one move per version, and the version is 1 + the acknowledged writes. Command: "
        "`make verify` (tests/reliability/test_concurrent_writers.py).",
    )
