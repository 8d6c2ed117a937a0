"""Follow-up windows per team and severity, and the flags on pages and in the API.

The clock is frozen (time-machine) at Monday 2 March 2026, 08:00 UTC.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from followthrough import services
from followthrough.models import TeamFollowUpPolicy
from followthrough.windows import followup_window, item_past_window
from postmortems.models import ActionItem, PostMortem
from tests.factories import ActionItemFactory, PostMortemFactory

NOW = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
RESOLVED = dt.datetime(2026, 1, 15, 14, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _pm(team, severity="SEV2", resolved=RESOLVED, **kwargs):
    return PostMortemFactory(
        team=team,
        severity=severity,
        started_at=resolved - dt.timedelta(hours=2),
        detected_at=resolved - dt.timedelta(hours=2),
        mitigated_at=resolved - dt.timedelta(hours=1),
        resolved_at=resolved,
        **kwargs,
    )


@pytest.mark.parametrize(
    ("severity", "days"), [("SEV1", 28), ("SEV2", 28), ("SEV3", 56), ("SEV4", 56), ("", 56)]
)
def test_default_windows_are_four_weeks_for_sev1_and_sev2_and_eight_otherwise(team, severity, days):
    window = followup_window(_pm(team, severity=severity))

    assert (window.days, window.anchor_source) == (days, "resolved")
    assert window.ends == dt.date(2026, 1, 15) + dt.timedelta(days=days)


def test_without_a_resolution_time_the_window_starts_when_the_document_was_created(team):
    pm = PostMortemFactory(
        team=team, severity="SEV1", started_at=None, detected_at=None, mitigated_at=None, resolved_at=None
    )

    window = followup_window(pm)

    assert (window.anchor_source, window.ends) == ("created", dt.date(2026, 3, 30))


def test_a_review_date_wins_when_the_model_has_one(team):
    pm = _pm(team)
    pm.reviewed_at = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)

    window = followup_window(pm)

    assert (window.anchor_source, window.ends) == ("reviewed", dt.date(2026, 3, 1))


def test_a_team_sets_its_own_windows(team):
    services.policy_update(team=team, data={"window_days_sev2": 14, "window_days_unrated": 90})

    assert followup_window(_pm(team, severity="SEV2")).ends == dt.date(2026, 1, 29)
    assert followup_window(_pm(team, severity="")).ends == dt.date(2026, 4, 15)


def test_open_items_past_the_window_are_flagged_and_closed_ones_are_not(team):
    pm = _pm(team, severity="SEV1")  # window ended 12 Feb 2026
    late = ActionItemFactory(postmortem=pm)
    started = ActionItemFactory(postmortem=pm, status=ActionItem.Status.IN_PROGRESS)
    done = ActionItemFactory(postmortem=pm, status=ActionItem.Status.DONE)

    assert [item_past_window(i) for i in (late, started, done)] == [True, True, False]
    assert item_past_window(late, today=dt.date(2026, 2, 12)) is False  # the last day is inside


def test_reading_a_window_never_creates_a_policy_row(team, web):
    pm = _pm(team)
    ActionItemFactory(postmortem=pm)

    web.get(pm.get_absolute_url())
    web.get(reverse("postmortems:list"))

    assert TeamFollowUpPolicy.objects.count() == 0


# --- pages ---------------------------------------------------------------------------------


def test_the_postmortem_page_shows_the_window_and_flags_late_items(team, author, web):
    pm = _pm(team, severity="SEV1")
    late = ActionItemFactory(postmortem=pm, owner=author, due_date=dt.date(2026, 2, 10))
    ActionItemFactory(postmortem=pm, owner=author, status=ActionItem.Status.DONE)

    html = web.get(pm.get_absolute_url()).content.decode()

    assert "1 action item past the follow-up window" in html
    assert 'done by <time datetime="2026-02-12">12 Feb 2026</time>' in html
    assert "28 days after resolution" in html
    assert html.count(">Past window<") == 1
    assert f'id="{late.key}"' in html
    assert reverse("followthrough:team_policy", kwargs={"slug": team.slug}) in html


def test_an_item_due_after_the_window_is_pointed_out(team, author, web):
    pm = _pm(team, resolved=dt.datetime(2026, 2, 20, tzinfo=dt.UTC))  # window ends 20 Mar
    ActionItemFactory(postmortem=pm, owner=author, due_date=dt.date(2026, 5, 1))

    html = web.get(pm.get_absolute_url()).content.decode()

    assert "after window (20 Mar)" in html
    assert "past the follow-up window" not in html


def test_the_list_page_flags_postmortems_with_late_items(team, web):
    late_pm = _pm(team, severity="SEV1", title="Late one")
    ActionItemFactory.create_batch(2, postmortem=late_pm)
    fine_pm = _pm(team, severity="SEV1", resolved=dt.datetime(2026, 2, 25, tzinfo=dt.UTC), title="Fine one")
    ActionItemFactory(postmortem=fine_pm)

    html = web.get(reverse("postmortems:list")).content.decode()

    assert html.count("past follow-up window</span>") == 1
    assert "2 past follow-up window" in html


def test_the_list_page_query_count_does_not_grow_with_flagged_rows(team, web, django_assert_max_num_queries):
    def make(n):
        for _ in range(n):
            ActionItemFactory(postmortem=_pm(team, severity="SEV1"))

    make(2)
    with CaptureQueriesContext(connection) as few:
        web.get(reverse("postmortems:list"))
    make(20)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = web.get(reverse("postmortems:list")).content.decode()
    assert html.count("1 past follow-up window") == 22


def test_my_action_items_show_the_window(author, team, web):
    ActionItemFactory(postmortem=_pm(team, severity="SEV1"), owner=author)
    ActionItemFactory(postmortem=_pm(team, resolved=dt.datetime(2026, 2, 25, tzinfo=dt.UTC)), owner=author)

    html = web.get(reverse("postmortems:my_action_items")).content.decode()

    assert ">Past window<" in html
    assert "window 25 Mar 2026" in html


# --- API ------------------------------------------------------------------------------------


def test_action_items_in_the_api_carry_the_window_and_the_flag(api, team):
    late = ActionItemFactory(postmortem=_pm(team, severity="SEV1"))

    body = api.get(f"/api/v1/action-items/{late.pk}/").json()

    assert (body["followup_due"], body["past_followup_window"]) == ("2026-02-12", True)


def test_the_action_item_list_query_count_does_not_grow(api, team, django_assert_max_num_queries):
    ActionItemFactory.create_batch(3, postmortem=_pm(team))
    with django_assert_max_num_queries(2):
        api.get("/api/v1/action-items/")
    for severity in ("SEV1", "SEV3", ""):
        services.policy_get_or_create(team=team)
        ActionItemFactory.create_batch(6, postmortem=_pm(team, severity=severity))
    with django_assert_max_num_queries(2):
        results = api.get("/api/v1/action-items/").json()["results"]
    assert len(results) == 20
    assert {r["past_followup_window"] for r in results} == {True, False}


def test_postmortems_in_the_api_count_items_past_the_window(api, team):
    pm = _pm(team, severity="SEV1")
    ActionItemFactory.create_batch(2, postmortem=pm)
    ActionItemFactory(postmortem=pm, status=ActionItem.Status.DONE)

    listed = api.get("/api/v1/postmortems/").json()["results"][0]
    detail = api.get(f"/api/v1/postmortems/{pm.pk}/").json()

    assert listed["action_items_past_window"] == 2
    assert (detail["action_items_past_window"], detail["followup_due"]) == (2, "2026-02-12")
    assert [i["past_followup_window"] for i in detail["action_items"]] == [True, True, False]


def test_the_postmortem_list_query_count_does_not_grow(api, team, django_assert_max_num_queries):
    for _ in range(3):
        ActionItemFactory(postmortem=_pm(team, severity="SEV1"))
    with CaptureQueriesContext(connection) as few:
        api.get("/api/v1/postmortems/")
    services.policy_get_or_create(team=team)
    for _ in range(15):
        ActionItemFactory(postmortem=_pm(team, severity="SEV1"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        results = api.get("/api/v1/postmortems/").json()["results"]
    assert [r["action_items_past_window"] for r in results] == [1] * 18


def test_the_fields_are_read_only(api, team):
    item = ActionItemFactory(postmortem=_pm(team))

    response = api.patch(
        f"/api/v1/action-items/{item.pk}/",
        {"followup_due": "2030-01-01", "past_followup_window": False, "text": "Renamed"},
        format="json",
        HTTP_IF_MATCH="*",
    )

    assert response.status_code == 200
    assert response.json()["followup_due"] == "2026-02-12"
    assert ActionItem.objects.get(pk=item.pk).text == "Renamed"
    assert PostMortem.objects.count() == 1
