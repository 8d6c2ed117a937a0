"""Two detection runs at once produce one open proposal (PostgreSQL).

Both runs are held at a barrier after each has read "no open proposal for this
pattern", so both really try to insert one; the conditional unique constraint
lets one row through and the other run adds its evidence to that row.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from patterns import detection
from patterns.models import DoDProposal, ProposalEvidence
from tests.factories import TeamFactory
from tests.patterns.conftest import day, pm_at

pytestmark = [
    # The flush after each test empties the taxonomy; tests/conftest.py re-seeds it.
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: concurrent transactions (SQLite serialises writers, so no race to test)",
    ),
]


def run_in_parallel(function, n: int = 2, timeout: float = 30) -> list:
    results: list = [None] * n
    errors: list = []

    def worker(index: int) -> None:
        try:
            results[index] = function()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not errors, errors
    return results


@pytest.fixture
def race(monkeypatch):
    """``race(name)`` arms a barrier: every run from then on waits right after
    its first call of ``detection.<name>`` until the other run got there too."""

    def arm(name: str) -> None:
        barrier = threading.Barrier(2, timeout=20)
        original = getattr(detection, name)
        waited = threading.local()

        def held(*args, **kwargs):
            found = original(*args, **kwargs)
            if not getattr(waited, "done", False):
                waited.done = True
                barrier.wait()
            return found

        monkeypatch.setattr(detection, name, held)

    return arm


@pytest.mark.parametrize("round_", range(3))
def test_two_detection_runs_at_once_open_one_proposal(race, round_):
    team = TeamFactory(slug=f"payments-{round_}")
    other = TeamFactory(slug=f"search-{round_}")
    for d in (0, 30, 60):
        pm_at(team, day(d), "config-change")
    pm_at(other, day(10), "config-change")
    # Both runs have read "no open proposal" before either inserts one.
    race("_open_proposals")

    reports = run_in_parallel(detection.detect_patterns)

    team_open = DoDProposal.objects.filter(status="open", team=team, factor__slug="config-change")
    org_open = DoDProposal.objects.filter(status="open", scope="org", factor__slug="config-change")
    assert team_open.count() == 1 and org_open.count() == 1
    assert ProposalEvidence.objects.filter(proposal=team_open.get()).count() == 3
    assert ProposalEvidence.objects.filter(proposal=org_open.get()).count() == 4
    # Both runs report the same proposals.
    ids = [sorted(f.proposal_id for f in report.findings) for report in reports]
    assert ids[0] == ids[1] == sorted([team_open.get().pk, org_open.get().pk])


@pytest.mark.parametrize("round_", range(3))
def test_two_runs_adding_the_same_new_evidence_add_it_once(race, round_):
    team = TeamFactory(slug=f"payments-{round_}")
    for d in (0, 30, 60):
        pm_at(team, day(d), "config-change")
    detection.detect_patterns(team=team)
    late = pm_at(team, day(80), "config-change")
    # Both runs are inside their transaction before either locks the open proposal.
    race("dod_coverage")

    reports = run_in_parallel(lambda: detection.detect_patterns(team=team))

    proposal = DoDProposal.objects.get(status="open", team=team)
    assert proposal.evidence.count() == 4
    assert proposal.evidence.filter(postmortem=late).count() == 1
    # The lock made the second run wait and then find the evidence already there.
    assert sorted(report.findings[0].outcome for report in reports) == ["extended", "unchanged"]
