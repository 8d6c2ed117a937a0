"""Pattern detection against the database: proposals opened once, extended with
new evidence, suppressed after a decision until new evidence arrives, "DoD item
not working", organisation-wide, per-team thresholds, duplicates and undated
post-mortems."""

from __future__ import annotations

import pytest

from patterns.detection import Outcome, detect_patterns
from patterns.models import DoDProposal, PatternSettings, ProposalEvidence, Scope
from patterns.services import proposal_accept, proposal_reject
from postmortems.models import ContributingFactor
from tests.factories import ActionItemFactory, TeamFactory, factor
from tests.patterns.conftest import day, pm_at

pytestmark = pytest.mark.django_db


def open_proposals(**filters):
    return DoDProposal.objects.filter(status="open", **filters)


def evidence_ids(proposal) -> list[int]:
    return list(proposal.evidence.order_by("started_at").values_list("postmortem_id", flat=True))


def test_three_postmortems_with_one_factor_in_90_days_open_one_proposal(team):
    pms = [pm_at(team, day(d), "config-change") for d in (0, 30, 60)]
    ActionItemFactory(postmortem=pms[2], text="Add a schema check for payment config", kind="check")

    report = detect_patterns()

    proposal = open_proposals().get()
    assert (proposal.scope, proposal.team, proposal.factor.slug) == (Scope.TEAM, team, "config-change")
    assert proposal.kind == DoDProposal.Kind.NEW_ITEM
    assert evidence_ids(proposal) == [pm.pk for pm in pms]
    assert (proposal.window_start, proposal.window_end) == (day(0), day(60))
    assert (proposal.min_incidents, proposal.window_days, proposal.min_teams) == (3, 90, 1)
    suggested = factor("config-change").suggested_dod_item.rstrip(".")
    assert proposal.suggested_text == f"{suggested}. For example: add a schema check for payment config."
    assert [(f.outcome, f.factor_slug, f.team_slug) for f in report.findings] == [
        (Outcome.OPENED, "config-change", "payments")
    ]


def test_k_minus_one_postmortems_open_nothing(team):
    pm_at(team, day(0), "config-change")
    pm_at(team, day(30), "config-change")
    report = detect_patterns()
    assert report.findings == [] and not DoDProposal.objects.exists()


def test_a_factor_seen_once_opens_nothing_while_a_recurring_one_does(team):
    pm_at(team, day(0), "config-change", "time-handling")
    pm_at(team, day(5), "config-change")
    pm_at(team, day(9), "config-change", "capacity")
    detect_patterns()
    assert list(DoDProposal.objects.values_list("factor__slug", flat=True)) == ["config-change"]


def test_running_again_changes_nothing(team):
    for d in (0, 30, 60):
        pm_at(team, day(d), "config-change")
    detect_patterns()
    before = list(ProposalEvidence.objects.values_list("pk", "proposal_id", "postmortem_id"))

    report = detect_patterns()

    assert [f.outcome for f in report.findings] == [Outcome.UNCHANGED]
    assert DoDProposal.objects.count() == 1
    assert list(ProposalEvidence.objects.values_list("pk", "proposal_id", "postmortem_id")) == before


def test_a_new_incident_is_added_to_the_open_proposal_not_a_second_one(team):
    for d in (0, 30, 60):
        pm_at(team, day(d), "config-change")
    detect_patterns()
    late = pm_at(team, day(100), "config-change")

    report = detect_patterns()

    proposal = open_proposals().get()
    assert late.pk in evidence_ids(proposal) and len(evidence_ids(proposal)) == 4
    assert [(f.outcome, f.new_evidence) for f in report.findings] == [(Outcome.EXTENDED, 1)]


def test_post_mortems_without_a_start_time_are_not_counted(team):
    pm_at(team, day(0), "config-change")
    pm_at(team, day(1), "config-change")
    pm_at(team, None, "config-change")
    pm_at(team, None, "config-change")

    report = detect_patterns()

    assert not DoDProposal.objects.exists()
    assert report.undated == 2
    assert "2 post-mortem(s) without a start time not counted" in report.summary_line()


def test_the_same_incident_imported_twice_counts_once(team):
    icco = pm_at(
        team,
        day(0),
        "config-change",
        source_url="https://status.example.com/incidents/7/",
        external_id="icco-7",
    )
    pm_at(
        team,
        day(0.5),
        "config-change",
        source_url="https://web.archive.org/web/2020/http://www.status.example.com/incidents/7",
        external_id="issre22-7",
    )
    pm_at(
        team,
        day(20),
        "config-change",
        source_url="https://status.example.com/incidents/9",
        external_id="icco-9",
    )

    detect_patterns()
    assert not DoDProposal.objects.exists()  # two incidents, not three

    pm_at(team, day(40), "config-change")
    detect_patterns()
    proposal = open_proposals().get()
    assert proposal.evidence.count() == 3
    assert icco.pk in evidence_ids(proposal)  # the earliest copy is the evidence


def test_records_of_one_collection_sharing_a_url_are_distinct_incidents(team):
    for n, d in enumerate((0, 0.2, 30)):
        pm_at(
            team,
            day(d),
            "config-change",
            source_url="https://status.example.com/history",
            external_id=f"issre22-{n}",
        )
    detect_patterns()
    assert open_proposals().get().evidence.count() == 3


def test_a_team_can_set_its_own_thresholds(team, search_team):
    PatternSettings.objects.create(team=team, min_incidents=2, window_days=10)
    for t in (team, search_team):
        pm_at(t, day(0), "capacity")
        pm_at(t, day(9), "capacity")
        pm_at(t, day(15), "capacity")

    detect_patterns()

    # Payments: 2 in 10 days (day 0 and 9). Search: default 3 in 90 days.
    proposals = {p.team.slug: p for p in open_proposals(scope=Scope.TEAM)}
    assert set(proposals) == {"payments", "search"}
    assert (proposals["payments"].min_incidents, proposals["payments"].window_days) == (2, 10)
    assert len(evidence_ids(proposals["payments"])) == 3  # (0, 9) and (9, 15) both qualify
    assert (proposals["search"].min_incidents, proposals["search"].window_days) == (3, 90)


def test_a_stricter_team_threshold_opens_nothing(team):
    PatternSettings.objects.create(team=team, min_incidents=4, window_days=90)
    for d in (0, 10, 20):
        pm_at(team, day(d), "capacity")
    detect_patterns()
    assert not DoDProposal.objects.filter(scope=Scope.TEAM).exists()


def test_org_wide_needs_two_teams_inside_the_window(team, search_team):
    pm_at(team, day(0), "retry-storm")
    pm_at(team, day(10), "retry-storm")
    pm_at(search_team, day(200), "retry-storm")
    detect_patterns()
    assert not DoDProposal.objects.exists()

    pm_at(search_team, day(20), "retry-storm")
    detect_patterns()

    org = open_proposals(scope=Scope.ORG).get()
    assert org.team is None and org.factor.slug == "retry-storm" and org.min_teams == 2
    assert len(evidence_ids(org)) == 3
    assert not open_proposals(scope=Scope.TEAM).exists()  # neither team has 3 of its own


def test_dry_run_reports_but_writes_nothing(team):
    for d in (0, 30, 60):
        pm_at(team, day(d), "config-change")
    report = detect_patterns(dry_run=True)
    assert [(f.outcome, f.proposal_id) for f in report.findings] == [(Outcome.OPENED, None)]
    assert not DoDProposal.objects.exists() and not ProposalEvidence.objects.exists()


def test_detection_for_one_team_leaves_other_teams_and_the_org_alone(team, search_team):
    for t in (team, search_team):
        for d in (0, 30, 60):
            pm_at(t, day(d), "config-change")
    detect_patterns(team=search_team)
    assert list(DoDProposal.objects.values_list("scope", "team__slug")) == [("team", "search")]


def test_detection_limited_to_factors(team):
    for d in (0, 30, 60):
        pm_at(team, day(d), "config-change", "capacity")
    capacity = ContributingFactor.objects.get(slug="capacity")
    detect_patterns(team=team, factor_ids=[capacity.pk], include_org=True)
    assert list(DoDProposal.objects.values_list("factor__slug", flat=True)) == ["capacity"]


# --- decisions ---------------------------------------------------------------------------


def test_a_rejected_pattern_reopens_only_on_new_evidence(team, author):
    pms = [pm_at(team, day(d), "config-change") for d in (0, 30, 60)]
    detect_patterns()
    rejected = proposal_reject(
        proposal=open_proposals().get(), user=author, reason="Each change had its own cause."
    )

    again = detect_patterns()
    assert [f.outcome for f in again.findings] == [Outcome.SUPPRESSED]
    assert not open_proposals().exists()

    # Editing an evidence post-mortem is not new evidence either.
    pms[0].title = "Edited title"
    pms[0].save()
    detect_patterns()
    assert not open_proposals().exists()

    newcomer = pm_at(team, day(70), "config-change")
    report = detect_patterns()

    reopened = open_proposals().get()
    assert reopened.previous == rejected
    assert newcomer.pk in evidence_ids(reopened)
    assert [f.outcome for f in report.findings] == [Outcome.OPENED]


def test_accepting_adds_the_item_and_later_recurrences_mean_the_item_is_not_working(team, author):
    old = [pm_at(team, day(d), "config-change") for d in (0, 30, 60)]
    detect_patterns()
    accepted = proposal_accept(
        proposal=open_proposals().get(), user=author, text="Config changes pass a schema check."
    )
    item = accepted.dod_version.items.get()
    assert set(item.postmortems.all()) == set(old)

    # Incidents before the item was adopted are explained by it: nothing new.
    assert [f.outcome for f in detect_patterns().findings] == []
    assert not open_proposals().exists()

    adopted = item.adopted_at
    newer = [
        pm_at(team, adopted.replace(microsecond=0) + (day(d) - day(0)), "config-change") for d in (1, 20, 40)
    ]
    detect_patterns()

    not_working = open_proposals().get()
    assert not_working.kind == DoDProposal.Kind.ITEM_NOT_WORKING
    assert not_working.dod_item_uid == item.uid
    assert not_working.previous == accepted
    assert evidence_ids(not_working) == [pm.pk for pm in newer]
    assert not_working.suggested_text.startswith("Config changes pass a schema check")


def test_a_factor_with_few_incidents_after_the_item_was_adopted_is_fine(team, author):
    for d in (0, 30, 60):
        pm_at(team, day(d), "config-change")
    detect_patterns()
    accepted = proposal_accept(proposal=open_proposals().get(), user=author)
    adopted = accepted.dod_version.items.get().adopted_at
    pm_at(team, adopted + (day(1) - day(0)), "config-change")
    detect_patterns()
    assert not open_proposals().exists()


def test_other_teams_are_unaffected_by_one_teams_decision(team, author, search_team):
    for t in (team, search_team):
        for d in (0, 30, 60):
            pm_at(t, day(d), "config-change")
    other = TeamFactory(slug="mobile")
    pm_at(other, day(200), "config-change")
    detect_patterns()
    mine = open_proposals(team=team).get()
    proposal_reject(proposal=mine, user=author, reason="Not for us.")
    detect_patterns()
    assert open_proposals(team=search_team).count() == 1
    assert open_proposals(scope=Scope.ORG).count() == 1
