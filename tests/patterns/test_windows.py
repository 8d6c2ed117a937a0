"""The recurrence rule on its own (no database): K incidents inside a half-open
window of W days, counted once per incident, organisation-wide from 2+ teams."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from patterns.conf import Thresholds
from patterns.incidents import normalise_source_url, source_collection
from patterns.windows import Incident, dedupe, find_recurrence

RULE = Thresholds(min_incidents=3, window_days=90)
T0 = dt.datetime(2024, 1, 1, 0, 0, tzinfo=dt.UTC)


def incidents(*offsets: dt.timedelta, team: int = 1, first_id: int = 1) -> list[Incident]:
    return [Incident.of(T0 + offset, first_id + n, team) for n, offset in enumerate(offsets)]


def days(n: float) -> dt.timedelta:
    return dt.timedelta(days=n)


def test_exactly_k_incidents_inside_the_window_recur():
    found = find_recurrence(incidents(days(0), days(30), days(60)), RULE)
    assert found is not None
    assert [i.postmortem_id for i in found.members] == [1, 2, 3]
    assert (found.window_start, found.window_end, found.window_size) == (T0, T0 + days(60), 3)


def test_k_minus_one_incidents_do_not_recur():
    assert find_recurrence(incidents(days(0), days(30)), RULE) is None


def test_k_incidents_spread_wider_than_the_window_do_not_recur():
    assert find_recurrence(incidents(days(0), days(50), days(100)), RULE) is None


def test_the_window_is_half_open_an_incident_exactly_w_days_later_is_outside():
    exactly = incidents(days(0), days(45), days(90))
    assert find_recurrence(exactly, RULE) is None


def test_an_incident_one_microsecond_inside_the_window_counts():
    just_inside = incidents(days(0), days(45), days(90) - dt.timedelta(microseconds=1))
    found = find_recurrence(just_inside, RULE)
    assert found is not None and found.window_size == 3


def test_calendar_example_1_january_and_1_april_are_not_in_one_90_day_window():
    # 2023 is not a leap year: 1 Jan → 1 Apr is exactly 90 days.
    start = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
    rows = [
        Incident.of(start, 1, 1),
        Incident.of(dt.datetime(2023, 2, 15, tzinfo=dt.UTC), 2, 1),
        Incident.of(dt.datetime(2023, 4, 1, tzinfo=dt.UTC), 3, 1),
    ]
    assert find_recurrence(rows, RULE) is None
    rows[2] = Incident.of(dt.datetime(2023, 3, 31, 23, 59, tzinfo=dt.UTC), 3, 1)
    assert find_recurrence(rows, RULE) is not None


def test_time_zones_do_not_move_an_incident_in_or_out_of_a_window():
    # Written in Kiritimati (UTC+14) and on Baker Island (UTC-12); compared as instants.
    plus14, minus12 = ZoneInfo("Pacific/Kiritimati"), ZoneInfo("Etc/GMT+12")
    first = dt.datetime(2024, 1, 1, 0, 0, tzinfo=plus14)  # 2023-12-31 10:00 UTC
    second = dt.datetime(2024, 2, 1, 0, 0, tzinfo=minus12)
    # The window ends (exclusive) 90 days later: 2024-03-30 10:00 UTC (2024 is a leap year).
    # 30 March 00:00 at UTC-12 is 12:00 UTC: outside, although the wall-clock
    # dates (1 January, 30 March) are only 89 days apart.
    late = dt.datetime(2024, 3, 30, 0, 0, tzinfo=minus12)
    assert late.date() - first.date() == days(89)
    rows = [Incident.of(first, 1, 1), Incident.of(second, 2, 1), Incident.of(late, 3, 1)]
    assert find_recurrence(rows, RULE) is None
    # 29 March 21:59 at UTC-12 is 30 March 09:59 UTC: inside.
    rows[2] = Incident.of(dt.datetime(2024, 3, 29, 21, 59, tzinfo=minus12), 3, 1)
    assert find_recurrence(rows, RULE) is not None
    # The same instant written in any zone gives the same answer.
    rows = [Incident.of(i.started_at.astimezone(dt.UTC), i.postmortem_id, 1) for i in rows]
    assert find_recurrence(rows, RULE) is not None


def test_duplicates_across_corpora_count_once():
    icco = normalise_source_url("https://www.Example.com/outage/")
    danluu = normalise_source_url("https://web.archive.org/web/2019/http://example.com/outage#summary")
    assert icco == danluu == "example.com/outage"
    rows = [
        Incident.of(T0, 1, 1, icco, "icco"),
        Incident.of(T0 + dt.timedelta(hours=23, minutes=59), 2, 2, danluu, "issre22"),
        Incident.of(T0 + days(10), 3, 1, "example.com/other", "icco"),
    ]
    kept = dedupe(rows)
    assert [i.postmortem_id for i in kept] == [1, 3]  # the earliest copy stands for the incident
    assert find_recurrence(kept, RULE) is None  # two incidents, not three


def test_copies_must_start_within_24_hours():
    rows = [
        Incident.of(T0, 1, 1, "x.example/a", "icco"),
        Incident.of(T0 + days(1), 2, 1, "x.example/a", "issre22"),
    ]
    assert [i.postmortem_id for i in dedupe(rows)] == [1, 2]


def test_one_url_holding_several_incidents_of_one_collection_is_several_incidents():
    # A provider's status-history page, or one PDF of many root-cause analyses:
    # in one collection, two records are two incidents even on the same day.
    page = "status.example.com/history"
    rows = [Incident.of(T0 + days(d), n, 1, page, "issre22") for n, d in enumerate((0, 0.1, 2), start=1)]
    kept = dedupe(rows)
    assert [i.postmortem_id for i in kept] == [1, 2, 3]
    assert find_recurrence(kept, RULE) is not None


def test_post_mortems_written_in_the_app_with_one_url_on_one_day_are_one_incident():
    rows = [
        Incident.of(T0, 1, 1, "status.example.com/i/7"),
        Incident.of(T0 + days(0.2), 2, 2, "status.example.com/i/7"),
    ]
    assert [i.postmortem_id for i in dedupe(rows)] == [1]


def test_dedupe_keeps_the_earliest_copy_and_the_lowest_id_on_a_tie():
    rows = [
        Incident.of(T0 + days(0.5), 5, 1, "k", "a"),
        Incident.of(T0, 9, 1, "k", "b"),
        Incident.of(T0, 7, 2, "k", "c"),
    ]
    assert dedupe(rows) == [Incident.of(T0, 7, 2, "k", "c")]


def test_post_mortems_without_a_url_are_never_merged():
    rows = [Incident.of(T0, 1, 1), Incident.of(T0, 2, 1)]
    assert dedupe(rows) == rows


def test_source_collection_is_the_external_id_prefix():
    assert source_collection(postmortem_id=4, external_id="issre22-aws-1") == "issre22"
    assert source_collection(postmortem_id=4, external_id="") == "pm:4"


def test_members_are_every_incident_of_any_qualifying_window():
    # 0, 10, 20 qualify; 200 is alone; 300, 310, 320, 330 qualify again.
    rows = incidents(days(0), days(10), days(20), days(200), days(300), days(310), days(320), days(330))
    found = find_recurrence(rows, RULE)
    assert [i.postmortem_id for i in found.members] == [1, 2, 3, 5, 6, 7, 8]
    assert (found.window_start, found.window_end, found.window_size) == (T0 + days(300), T0 + days(330), 4)


def test_an_incident_that_only_bridges_two_short_windows_is_a_member_when_a_window_holds_k():
    rows = incidents(days(0), days(80), days(160))  # every pair of neighbours < 90 days, no three
    assert find_recurrence(rows, RULE) is None
    rows = incidents(days(0), days(80), days(85), days(160))
    found = find_recurrence(rows, RULE)
    assert [i.postmortem_id for i in found.members] == [1, 2, 3, 4]  # (0,80,85) and (80,85,160)


@pytest.mark.parametrize(
    ("k", "w", "expected"), [(2, 11, True), (2, 10, False), (4, 365, False), (3, 21, True)]
)
def test_per_team_thresholds_change_the_answer(k, w, expected):
    rows = incidents(days(0), days(10), days(20))
    assert (find_recurrence(rows, Thresholds(min_incidents=k, window_days=w)) is not None) is expected


def test_org_wide_rule_needs_incidents_from_two_teams():
    org = Thresholds(min_incidents=3, window_days=90, min_teams=2)
    one_team = incidents(days(0), days(10), days(20), team=1)
    assert find_recurrence(one_team, org) is None
    two_teams = incidents(days(0), days(10), team=1) + incidents(days(20), team=2, first_id=3)
    found = find_recurrence(sorted(two_teams, key=lambda i: i.started_at), org)
    assert found is not None and {i.team_id for i in found.members} == {1, 2}


def test_org_wide_the_second_team_must_be_inside_the_same_window():
    org = Thresholds(min_incidents=3, window_days=90, min_teams=2)
    rows = incidents(days(0), days(10), days(20), team=1) + incidents(days(95), team=2, first_id=4)
    found = find_recurrence(sorted(rows, key=lambda i: i.started_at), org)
    # (10, 20, 95) spans 85 days and holds both teams; day 0 is outside it.
    assert [i.postmortem_id for i in found.members] == [2, 3, 4]
    rows = incidents(days(0), days(10), days(20), team=1) + incidents(days(111), team=2, first_id=4)
    assert find_recurrence(sorted(rows, key=lambda i: i.started_at), org) is None


def brute_force_members(rows: list[Incident], rule: Thresholds) -> list[int]:
    """Reference: every incident inside some window [t, t + W) anchored at an
    incident that holds K incidents from ``min_teams`` teams (O(n²), written
    independently of ``find_recurrence``)."""
    width = dt.timedelta(days=rule.window_days)
    members: set[int] = set()
    for anchor in rows:
        inside = [r for r in rows if anchor.started_at <= r.started_at < anchor.started_at + width]
        if len(inside) >= rule.min_incidents and len({r.team_id for r in inside}) >= rule.min_teams:
            members.update(r.postmortem_id for r in inside)
    return sorted(members)


@pytest.mark.parametrize("seed", range(60))
def test_matches_a_brute_force_reference_on_random_incidents(seed):
    import random

    rng = random.Random(seed)
    rule = Thresholds(
        min_incidents=rng.randint(2, 4), window_days=rng.choice([7, 30, 90]), min_teams=rng.choice([1, 2])
    )
    rows = dedupe(
        Incident.of(T0 + dt.timedelta(hours=rng.randint(0, 24 * 365)), n, rng.randint(1, 3))
        for n in range(rng.randint(0, 40))
    )
    found = find_recurrence(rows, rule)
    assert (sorted(i.postmortem_id for i in found.members) if found else []) == brute_force_members(
        rows, rule
    )
    if found:
        window = [r for r in rows if found.window_start <= r.started_at <= found.window_end]
        assert len(window) == found.window_size >= rule.min_incidents
        assert found.window_end - found.window_start < dt.timedelta(days=rule.window_days)
        assert found.window_end == found.members[-1].started_at
        assert list(found.members) == sorted(found.members, key=lambda i: (i.start_us, i.postmortem_id))
