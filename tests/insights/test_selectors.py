"""Every insights figure against the hand-computed organisation of conftest.py."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction

from insights import selectors
from insights.db import grouped_stats
from insights.models import TeamTargets
from postmortems.models import ActionItem, PostMortem
from tests.factories import ActionItemFactory, PostMortemFactory, factor
from tests.insights.conftest import at

MONTHS = [dt.date(2026, m, 1) for m in range(1, 7)]


def _sev(row):
    return (row["SEV1"], row["SEV2"], row["SEV3"], row["SEV4"], row["unrated"], row["total"])


# --- post-mortems per month by severity --------------------------------------------------


def test_severity_by_month_counts_each_month_of_the_range_including_empty_ones(org, scope):
    rows = selectors.severity_by_month(scope())

    assert [row["month"] for row in rows] == MONTHS
    assert [_sev(row) for row in rows] == [
        (1, 1, 0, 0, 0, 2),  # January: A (SEV1), B (SEV2); F started in December
        (0, 1, 0, 0, 0, 1),  # February: G
        (0, 0, 1, 0, 0, 1),  # March: C
        (0, 0, 0, 0, 1, 1),  # April: D, no severity
        (0, 0, 0, 0, 0, 0),  # May: nothing
        (0, 0, 0, 1, 0, 1),  # June: H
    ]


def test_severity_by_month_of_one_team(org, scope):
    rows = selectors.severity_by_month(scope(org.platform))

    assert [row["total"] for row in rows] == [0, 1, 0, 0, 0, 1]


def test_a_team_with_no_incidents_has_zero_months(org, scope):
    rows = selectors.severity_by_month(scope(org.search))

    assert len(rows) == 6
    assert all(_sev(row) == (0, 0, 0, 0, 0, 0) for row in rows)


def test_undated_postmortems_are_counted_apart(org, scope):
    assert selectors.undated_postmortems(scope()) == 1  # E
    assert selectors.undated_postmortems(scope(org.platform)) == 0


# --- contributing factors per quarter --------------------------------------------------------


def test_factors_by_quarter_is_a_factor_by_quarter_matrix(org, scope):
    result = selectors.factors_by_quarter(scope())

    assert result["quarters"] == [dt.date(2026, 1, 1), dt.date(2026, 4, 1)]
    assert [(f["slug"], f["counts"], f["total"]) for f in result["factors"]] == [
        ("config-change", [3, 0], 3),  # A, B, G (F is before the range)
        ("missing-test", [1, 0], 1),
        ("retry-storm", [1, 0], 1),
    ]


def test_factors_by_quarter_starts_at_the_quarter_of_the_range_start(org, scope):
    result = selectors.factors_by_quarter(scope(start=dt.date(2026, 2, 14), end=dt.date(2026, 4, 30)))

    assert result["quarters"] == [dt.date(2026, 1, 1), dt.date(2026, 4, 1)]
    assert [(f["slug"], f["counts"]) for f in result["factors"]] == [
        ("config-change", [1, 0]),  # only G started on or after 02-14
        ("retry-storm", [1, 0]),
    ]


def test_factors_by_quarter_of_an_empty_team(org, scope):
    assert selectors.factors_by_quarter(scope(org.search))["factors"] == []


# --- time to detect / mitigate / resolve ------------------------------------------------------


def _durations(rows):
    return {
        row["service"]: (
            row["postmortems"],
            *[
                (row[m]["count"], row[m]["median_minutes"], row[m]["p90_minutes"])
                for m in ("detect", "mitigate", "resolve")
            ],
        )
        for row in rows
    }


EXPECTED_DURATIONS = {
    # detect [5, 10, 20]: median 10, p90 at rank 2.8 → 10 + 0.8 × 10 = 18;
    # mitigate [30, 60] → 45, 57; resolve [120, 240] → 180, 228 (C has neither).
    "checkout": (3, (3, 10.0, 18.0), (2, 45.0, 57.0), (2, 180.0, 228.0)),
    "payments-api": (1, (1, 5.0, 5.0), (0, None, None), (0, None, None)),
    "gateway": (1, (1, 30.0, 30.0), (1, 90.0, 90.0), (1, 300.0, 300.0)),
    # D and H have no service: detect [15, 40] → 27.5, 37.5; mitigate [50]; resolve [60, 60].
    None: (2, (2, 27.5, 37.5), (1, 50.0, 50.0), (2, 60.0, 60.0)),
}


def test_durations_per_service_are_median_and_p90_with_counts(org, scope):
    rows = selectors.durations_by_service(scope())

    assert _durations(rows) == EXPECTED_DURATIONS
    assert [row["service"] for row in rows] == ["checkout", "gateway", "payments-api", None]
    assert rows[-1]["name"] == "No service named"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="percentile_cont exists on PostgreSQL only")
def test_window_percentiles_agree_with_percentile_cont_on_postgresql(org, scope):
    by_window = selectors.durations_by_service(scope(), method="window")
    by_aggregate = selectors.durations_by_service(scope(), method="percentile_cont")

    assert _durations(by_window) == _durations(by_aggregate) == EXPECTED_DURATIONS


def test_durations_of_incidents_without_resolution_times_are_left_out(org, scope):
    rows = {row["service"]: row for row in selectors.durations_by_service(scope(org.payments))}

    # C (checkout, payments-api) has a detection time only.
    assert rows["payments-api"]["detect"]["count"] == 1
    assert rows["payments-api"]["resolve"] == {"count": 0, "median_minutes": None, "p90_minutes": None}


def test_durations_of_an_empty_team(org, scope):
    assert selectors.durations_by_service(scope(org.search)) == []


@pytest.mark.parametrize("values", [[7.0], [1.0, 2.0], [4.0, 1.0, 3.0, 2.0], [5.0] * 3 + [100.0] * 8])
def test_grouped_percentiles_match_linear_interpolation(db, team, values):
    """percentile_cont (Hyndman & Fan type 7) computed by hand, for both methods."""
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for seconds in values:
        PostMortemFactory(team=team, started_at=start, resolved_at=start + dt.timedelta(seconds=seconds))
    ordered = sorted(values)

    def type7(p):
        h = (len(ordered) - 1) * p
        low = int(h)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (h - low) * (ordered[high] - ordered[low])

    from insights.db import Percentiles, SecondsBetween

    methods = ["window"] + (["percentile_cont"] if connection.vendor == "postgresql" else [])
    for method in methods:
        stats = grouped_stats(
            PostMortem.objects.all(),
            group=None,
            percentiles={"ttr": Percentiles(SecondsBetween("started_at", "resolved_at"), (0.5, 0.9, 0.25))},
            method=method,
        )[None]
        assert stats["ttr_n"] == len(values)
        for p, key in ((0.5, "ttr_p50"), (0.9, "ttr_p90"), (0.25, "ttr_p25")):
            # julianday() differences on SQLite are exact to about 0.1 ms.
            assert stats[key] == pytest.approx(type7(p), abs=1e-3), (method, p)


# --- action-item follow-through ------------------------------------------------------------


def test_follow_through_of_the_organisation(org, scope):
    result = selectors.follow_through(scope())

    assert result == {
        "due": 7,  # i1 i2 i3 i7 i8 j1 j2 (i4 not doing; i5 i6 not yet due)
        "done_on_time": 2,  # i1, j2
        "completion_rate": round(2 / 7, 4),
        "open": 5,  # i3 i5 i6 i7 j1
        "overdue": 3,  # i3 i7 j1
        "median_open_age_days": 120.0,  # ages 101 101 120 145 155
        "closed": 3,  # i1 (19 d), i2 (25 d), j2 (14.479 d); i8 has no completion time
        "median_days_to_close": 19.0,
    }


def test_follow_through_per_team_includes_teams_without_items(org, scope):
    result = selectors.follow_through(scope(), by_team=True)

    assert result[org.payments.pk] == {
        "due": 5,
        "done_on_time": 1,
        "completion_rate": 0.2,
        "open": 4,
        "overdue": 2,
        "median_open_age_days": 123.0,  # (101 + 145) / 2
        "closed": 2,
        "median_days_to_close": 22.0,
    }
    assert result[org.platform.pk] == {
        "due": 2,
        "done_on_time": 1,
        "completion_rate": 0.5,
        "open": 1,
        "overdue": 1,
        "median_open_age_days": 120.0,
        "closed": 1,
        "median_days_to_close": 14.5,
    }
    assert result[org.search.pk] == {
        "due": 0,
        "done_on_time": 0,
        "completion_rate": None,
        "open": 0,
        "overdue": 0,
        "median_open_age_days": None,
        "closed": 0,
        "median_days_to_close": None,
    }


def test_follow_through_of_a_period_with_nothing_due(org, scope):
    result = selectors.follow_through(scope(start=dt.date(2026, 4, 2), end=dt.date(2026, 4, 30)))

    assert (result["due"], result["completion_rate"], result["closed"]) == (0, None, 0)
    assert result["open"] == 5  # open items are today's, whatever the range


def test_follow_through_by_month(org, scope):
    rows = selectors.follow_through_by_month(scope(org.payments))

    assert [(r["done_on_time"], r["done_late"], r["not_done"], r["not_doing"], r["due"]) for r in rows] == [
        (0, 0, 0, 0, 0),  # January
        (1, 1, 0, 0, 2),  # February: i1 on time, i2 late
        (0, 0, 1, 0, 1),  # March: i3 still open
        (0, 0, 0, 0, 0),  # April
        (0, 1, 0, 0, 1),  # May: i8 done, no completion time → not on time
        (0, 0, 1, 1, 1),  # June (up to 06-14): i7 open, i4 not doing; i6 is due today
    ]


def test_action_items_always_have_a_due_date(org):
    """The model requires ``due_date``, so "items without due dates" cannot exist and
    every item counts in the period of its due date."""
    with pytest.raises(IntegrityError), transaction.atomic():
        ActionItem.objects.filter(pk=org.items.i1.pk).update(due_date=None)


# --- review timeliness ------------------------------------------------------------------------


def test_review_timeliness_of_the_organisation(org, scope):
    result = selectors.review_timeliness(scope())

    assert "updated_at" in result["source"] and "proxy" in result["source"]
    assert result["rows"][None] == {
        "reviewed": 3,  # A 4.833 d, G 6 d, B 14 d
        "median_days": 6.0,
        "p90_days": 12.4,  # 6 + 0.8 × 8
        "within_target": 2,  # A, G
        "late": 2,  # B (reviewed late), D (not reviewed, target passed)
        "pending": 1,  # H
        "date_unknown": 0,
        "unresolved": 1,  # C
        "share_within_target": 0.5,
        "target_business_days": 5,
    }


def test_review_timeliness_per_team(org, scope):
    rows = selectors.review_timeliness(scope(), by="team")["rows"]

    assert rows[org.payments.pk] == {
        "reviewed": 2,
        "median_days": 9.4,
        "p90_days": 13.1,
        "within_target": 1,
        "late": 2,
        "pending": 0,
        "date_unknown": 0,
        "unresolved": 1,
        "share_within_target": 0.3333,
        "target_business_days": 5,
    }
    assert rows[org.platform.pk]["within_target"] == 1
    assert rows[org.platform.pk]["pending"] == 1
    assert rows[org.platform.pk]["share_within_target"] == 1.0
    assert rows[org.search.pk]["share_within_target"] is None
    assert rows[org.search.pk]["reviewed"] == 0


def test_imported_postmortems_have_no_proxy_review_date(org, scope):
    # G came from an import: its last edit is not its review.
    PostMortem.objects.filter(pk=org.pms.G.pk).update(external_id="corpus-1")

    row = selectors.review_timeliness(scope(), by="team")["rows"][org.platform.pk]

    assert (row["reviewed"], row["within_target"], row["late"], row["date_unknown"]) == (0, 0, 0, 1)
    assert row["share_within_target"] is None


def test_time_to_close_leaves_out_items_completed_before_they_were_created(org, scope):
    # j2 imported today, completed back on 03-01: no meaningful time to close.
    ActionItem.objects.filter(pk=org.items.j2.pk).update(created_at=at(2026, 6, 15))

    row = selectors.follow_through(scope(), by_team=True)[org.platform.pk]

    assert (row["closed"], row["median_days_to_close"], row["done_on_time"]) == (0, None, 1)


def test_review_target_is_the_teams_own(org, scope):
    # With 4 business days, G (reviewed on the 5th business day after a Saturday) is late.
    TeamTargets.objects.create(team=org.platform, review_target_business_days=4)

    rows = selectors.review_timeliness(scope(), by="team")["rows"]

    assert rows[org.platform.pk]["target_business_days"] == 4
    assert (rows[org.platform.pk]["within_target"], rows[org.platform.pk]["late"]) == (0, 1)
    assert rows[org.payments.pk]["within_target"] == 1
    assert selectors.review_timeliness(scope())["rows"][None]["target_business_days"] is None


def test_review_timeliness_by_month(org, scope):
    rows = selectors.review_timeliness(scope(), by="month")["rows"]

    assert list(rows) == MONTHS
    assert [(r["within_target"], r["late"], r["pending"]) for r in rows.values()] == [
        (1, 1, 0),
        (1, 0, 0),
        (0, 0, 0),  # C has no resolution
        (0, 1, 0),
        (0, 0, 0),
        (0, 0, 1),
    ]


def test_review_date_is_the_end_of_the_first_review_meeting(org, scope):
    pytest.importorskip("reviews.models")
    from reviews.models import Review

    assert "review meeting" in selectors.review_moment()[1]

    def meeting(pm, ended, status=Review.Status.ENDED):
        ended_fields = {"ended_at": ended, "actual_seconds": 1800, "outcome": "Done."} if ended else {}
        return Review.objects.create(
            postmortem=pm,
            status=status,
            scheduled_at=ended or at(2026, 6, 1),
            facilitator=org.alice,
            **ended_fields,
        )

    # B met on Monday 01-26 (within its target, instead of the 02-03 edit); a later
    # second meeting does not count. D (in review) met on 04-06: reviewed, within.
    meeting(org.pms.B, at(2026, 1, 26, 12))
    meeting(org.pms.B, at(2026, 5, 1, 12))
    meeting(org.pms.D, at(2026, 4, 6, 11))
    PostMortem.objects.filter(pk=org.pms.D.pk).update(status=PostMortem.Status.REVIEWED)  # as review_end does
    meeting(org.pms.H, None, Review.Status.SCHEDULED)

    rows = selectors.review_timeliness(scope(), by="team")["rows"]

    payments = rows[org.payments.pk]
    # A 4.833 d (proxy), B 6.0 d, D 4.0 d (resolved 04-02 11:00, met 04-06 11:00).
    assert (payments["reviewed"], payments["median_days"]) == (3, 4.8)
    assert (payments["within_target"], payments["late"], payments["pending"]) == (3, 0, 0)
    assert rows[org.platform.pk]["pending"] == 1  # H's meeting is only scheduled


@pytest.mark.parametrize(
    ("weekday", "target", "days"),
    [(1, 5, 7), (5, 5, 7), (6, 5, 6), (7, 5, 5), (3, 1, 1), (5, 1, 3), (1, 10, 14)],
)
def test_business_day_allowance(weekday, target, days):
    assert selectors.business_day_allowance(target)[weekday] == days


# --- quality budget ---------------------------------------------------------------------------


def test_quality_budget_per_team(org, scope):
    result = selectors.quality_budget(scope())

    assert result[org.payments.pk] == {
        "overdue": 2,
        "severe_overdue": 2,  # i3 (SEV2, 106 days) and i7 (SEV1, 14 days)
        "oldest_overdue_days": 106,
        "max_overdue": 20,
        "severe_grace_days": 7,
        "within": False,
    }
    assert result[org.platform.pk]["within"] is True  # j1: SEV2, 5 days past due
    assert result[org.platform.pk]["severe_overdue"] == 0
    assert result[org.search.pk] == {
        "overdue": 0,
        "severe_overdue": 0,
        "oldest_overdue_days": None,
        "max_overdue": 20,
        "severe_grace_days": 7,
        "within": True,
    }


def test_quality_budget_uses_the_teams_own_ceiling_and_grace(org, scope):
    TeamTargets.objects.create(team=org.platform, budget_max_overdue=0, budget_severe_grace_days=7)
    TeamTargets.objects.create(team=org.payments, budget_severe_grace_days=30)

    result = selectors.quality_budget(scope())

    assert (result[org.platform.pk]["overdue"], result[org.platform.pk]["within"]) == (1, False)
    assert result[org.payments.pk]["severe_overdue"] == 1  # only i3 is more than 30 days past due
    assert result[org.payments.pk]["within"] is False


def test_quality_budget_boundary_is_more_than_grace_days(db, team, author, now):
    pm = PostMortemFactory(team=team, severity=PostMortem.Severity.SEV1)
    ActionItemFactory(postmortem=pm, due_date=now.date() - dt.timedelta(days=7))
    scope = selectors.InsightsScope(start=now.date(), end=now.date(), now=now, viewer=author)

    row = selectors.quality_budget(scope)[team.pk]

    assert (row["overdue"], row["severe_overdue"], row["within"]) == (1, 0, True)


# --- team counts, Definition of Done, follow-up windows ------------------------------------------


def test_team_postmortem_counts(org, scope):
    counts = selectors.team_postmortem_counts(scope())

    assert counts[org.payments.pk] == {
        "postmortems": 4,
        "severe": 2,
        "SEV1": 1,
        "SEV2": 1,
        "SEV3": 1,
        "SEV4": 0,
        "unrated": 1,
    }
    assert counts[org.platform.pk] == {
        "postmortems": 2,
        "severe": 1,
        "SEV1": 0,
        "SEV2": 1,
        "SEV3": 0,
        "SEV4": 1,
        "unrated": 0,
    }
    assert org.search.pk not in counts


def test_followup_windows_agree_with_followthrough(org, scope):
    pytest.importorskip("followthrough.windows")
    from followthrough.models import TeamFollowUpPolicy
    from followthrough.windows import item_past_window

    TeamFollowUpPolicy.objects.create(team=org.platform, window_days_sev2=365)

    result = selectors.followup_windows(scope())

    assert result["available"] is True
    today = dt.date(2026, 6, 15)
    for team in (org.payments, org.platform, org.search):
        items = ActionItem.objects.filter(postmortem__team=team).select_related(
            "postmortem", "postmortem__team", "postmortem__team__followup_policy"
        )
        expected = sum(item_past_window(item, today) for item in items)
        assert result["rows"][team.pk]["open_past_window"] == expected
    assert result["rows"][org.payments.pk]["open_past_window"] == 4  # i3 i5 i6 i7
    assert result["rows"][org.platform.pk]["open_past_window"] == 0  # a 365-day window


def test_dod_activity_counts_versions_and_proposals(org, scope, now):
    pytest.importorskip("patterns.models")
    from patterns.models import DefinitionOfDone, DoDProposal, DoDVersion, Scope

    def day(y, m, d):
        return dt.datetime(y, m, d, tzinfo=dt.UTC)

    dod = DefinitionOfDone.objects.create(scope=Scope.TEAM, team=org.payments)
    org_dod = DefinitionOfDone.objects.create(scope=Scope.ORG)
    DoDVersion.objects.create(dod=dod, number=1, reason="first", created_at=day(2025, 11, 1))
    DoDVersion.objects.create(dod=dod, number=2, reason="retry storms", created_at=day(2026, 3, 1))
    DoDVersion.objects.create(dod=org_dod, number=1, reason="org", created_at=day(2026, 2, 1))
    window = {"min_incidents": 3, "window_days": 90, "window_start": now, "window_end": now}
    DoDProposal.objects.create(
        team=org.payments, factor=factor("retry-storm"), suggested_text="x", created_at=now, **window
    )
    DoDProposal.objects.create(
        team=org.payments,
        factor=factor("config-change"),
        suggested_text="y",
        status=DoDProposal.Status.REJECTED,
        reason="Covered by the config schema check.",
        decided_at=day(2026, 4, 1),
        created_at=day(2025, 10, 1),
        **window,
    )

    result = selectors.dod_activity(scope())

    assert result["available"] is True
    assert result["rows"][org.payments.pk] == {
        "versions_in_range": 1,
        "current_version": 2,
        "open_proposals": 1,
        "proposals_opened": 1,
        "accepted": 0,
        "rejected": 1,
    }
    assert result["rows"][None]["versions_in_range"] == 1
    assert result["rows"][org.search.pk]["current_version"] is None
    assert selectors.dod_activity(scope(org.search))["rows"].keys() == {None, org.search.pk}


# --- my work ------------------------------------------------------------------------------------


def test_my_work_lists_my_items_reviews_and_documents(org, scope):
    work = selectors.my_work(user=org.alice, scope=scope())

    assert [i.pk for i in work.overdue] == [org.items.i3.pk, org.items.i7.pk]
    assert [i.pk for i in work.open_items] == [org.items.i5.pk]
    assert work.counts == {
        "open": 3,
        "overdue": 2,
        "overdue_over_week": 2,
        "due_this_week": 0,
        "due_later": 1,
        "due": 3,  # i1 i3 i7
        "done_on_time": 1,
    }
    assert work.completion_rate == 0.3333
    assert [pm.pk for pm in work.facilitate] == [org.pms.D.pk, org.pms.C.pk]  # A and G are past review
    assert [pm.pk for pm in work.authored] == [org.pms.C.pk, org.pms.A.pk]  # E undated, F before the range
    assert work.authored_by_status == {"draft": 1, "in_review": 0, "reviewed": 0, "published": 1}


def test_my_work_of_someone_with_nothing(org, scope, outsider):
    work = selectors.my_work(user=outsider, scope=scope())

    assert (work.overdue, work.open_items, work.facilitate, work.authored) == ([], [], [], [])
    assert work.completion_rate is None
    assert set(work.counts.values()) == {0}


def test_my_work_team_filter(org, scope):
    work = selectors.my_work(user=org.alice, scope=scope(org.platform))

    assert [pm.pk for pm in work.facilitate] == []
    assert work.counts["open"] == 0


# --- SQL and Python agree ---------------------------------------------------------------------


def test_business_day_allowance_in_sql_matches_python(db, team):
    from django.db.models import Value

    monday = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
    for offset in range(7):
        resolved = monday + dt.timedelta(days=offset)
        PostMortemFactory(team=team, started_at=resolved - dt.timedelta(hours=2), resolved_at=resolved)

    for target in (1, 2, 5, 7, 10):
        rows = PostMortem.objects.annotate(
            allowed=selectors.business_day_allowance_expression("resolved_at", Value(target))
        ).values_list("resolved_at", "allowed")
        expected = selectors.business_day_allowance(target)
        assert {r.isoweekday(): a for r, a in rows} == expected, target


@pytest.mark.skipif(connection.vendor != "postgresql", reason="percentile_cont exists on PostgreSQL only")
def test_row_table_summaries_agree_between_methods_on_postgresql(org, scope):
    for by_team in (False, True):
        by_window = selectors.follow_through(scope(), by_team=by_team, method="window")
        assert by_window == selectors.follow_through(scope(), by_team=by_team, method="percentile_cont")
    for by in (None, "team", "month"):
        by_window = selectors.review_timeliness(scope(), by=by, method="window")
        assert by_window == selectors.review_timeliness(scope(), by=by, method="percentile_cont")


def test_organisation_row_comes_with_the_per_team_rows(org, scope):
    the_scope = scope()
    selectors.cached(the_scope, selectors.follow_through, by_team=True)
    selectors.cached(the_scope, selectors.review_timeliness, by="team")

    assert selectors.cached(the_scope, selectors.follow_through) == selectors.follow_through(scope())
    assert selectors.cached(the_scope, selectors.review_timeliness) == selectors.review_timeliness(scope())
