"""Issue 9: every insights figure counts only what the viewer may read, and never
a deleted post-mortem — on the pages, in the CSV, in the API, and through the cache.

G (Platform, SEV2, February, service gateway, factor config-change; items j1
open and overdue, j2 done on time) is made *restricted*: Carol (Platform) and
Alice (G's facilitator) read it, Mallory (no team) does not. The numbers with G
are the hand-computed ones of conftest.py; without it they lose G's row.
"""

from __future__ import annotations

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.test import Client

from insights import selectors
from insights.selectors.scope import ADMIN_AUDIENCE, NOBODY_AUDIENCE, ORGANISATION_AUDIENCE
from postmortems.models import PostMortem
from postmortems.services import postmortem_delete
from tests.factories import ActionItemFactory, UserFactory
from tests.insights.conftest import NOW, at

RANGE = {"from": "2026-01-01", "to": "2026-06-15"}
FEBRUARY = 1  # row index of February in the per-month figures


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def restricted(org):
    """G restricted (without signals: no cache is involved where this is used)."""
    PostMortem.objects.filter(pk=org.pms.G.pk).update(visibility=PostMortem.Visibility.RESTRICTED)
    return org


@pytest.fixture
def admin(db):
    return UserFactory(username="root", is_staff=True)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _figure(response, slug):
    return next(f for f in response.context["figures"] if f.slug == slug)


def _month_totals(response):
    return [row[-1].value for row in _figure(response, "severity-by-month").table.rows]


def _org_numbers(response) -> dict:
    """What G changes on the organisation page, read from the rendered figures."""
    heat = _figure(response, "factors-by-quarter").table.rows
    config = next(row for row in heat if row[0].value == "config-change")
    follow = {t["label"]: t for t in _figure(response, "follow-through").tiles}
    services = [row[0].value for row in _figure(response, "durations-by-service").table.rows]
    teams = {row[0].value: row[1].value for row in _figure(response, "teams").table.rows}
    return {
        "months": _month_totals(response),
        "config_q1": config[1].value,
        "completion": follow["Completion rate"]["detail"],
        "overdue": follow["Overdue"]["value"],
        "gateway": "gateway" in services,
        "platform_postmortems": teams["platform"],
    }


WITH_G = {
    "months": [2, 1, 1, 1, 0, 1],
    "config_q1": 3,
    "completion": "2 of 7 on time",
    "overdue": 3,
    "gateway": True,
    "platform_postmortems": 2,
}
WITHOUT_G = {
    "months": [2, 0, 1, 1, 0, 1],
    "config_q1": 2,
    "completion": "1 of 5 on time",
    "overdue": 2,
    "gateway": False,
    "platform_postmortems": 1,
}


# --- who is in which audience ---------------------------------------------------------------------


def test_audiences(restricted, scope, outsider, admin):
    org = restricted
    assert scope(viewer=outsider).audience == ORGANISATION_AUDIENCE
    assert scope(viewer=org.bob).audience == ORGANISATION_AUDIENCE  # Payments reads no restricted doc
    assert scope(viewer=org.carol).audience == f"user:{org.carol.pk}"  # G's team
    assert scope(viewer=org.alice).audience == f"user:{org.alice.pk}"  # G's facilitator
    assert scope(viewer=admin).audience == ADMIN_AUDIENCE
    nobody = selectors.InsightsScope(start=NOW.date(), end=NOW.date(), now=NOW, viewer=AnonymousUser())
    assert nobody.audience == NOBODY_AUDIENCE
    assert selectors.undated_postmortems(nobody) == 0
    assert selectors.follow_through(nobody)["open"] == 0


# --- selectors --------------------------------------------------------------------------------------


def test_outsider_selectors_leave_out_the_restricted_document(restricted, scope, outsider):
    org, s = restricted, scope(viewer=outsider)

    assert [m["total"] for m in selectors.severity_by_month(s)] == WITHOUT_G["months"]
    config = next(f for f in selectors.factors_by_quarter(s)["factors"] if f["slug"] == "config-change")
    assert config["counts"] == [2, 0]
    assert "gateway" not in [row["service"] for row in selectors.durations_by_service(s)]
    follow = selectors.follow_through(s)
    assert (follow["due"], follow["done_on_time"], follow["open"], follow["overdue"]) == (5, 1, 4, 2)
    per_team = selectors.follow_through(s, by_team=True)[org.platform.pk]
    assert (per_team["due"], per_team["open"], per_team["closed"]) == (0, 0, 0)
    assert selectors.team_postmortem_counts(s)[org.platform.pk]["postmortems"] == 1  # H only
    assert selectors.review_timeliness(s, by="team")["rows"][org.platform.pk]["reviewed"] == 0
    assert selectors.quality_budget(s)[org.platform.pk]["overdue"] == 0
    assert selectors.followup_windows(s)["rows"][org.platform.pk]["open_past_window"] == 0
    assert [m["due"] for m in selectors.follow_through_by_month(scope(org.platform, viewer=outsider))] == [
        0
    ] * 6


def test_member_selectors_include_the_restricted_document(restricted, scope):
    org = restricted
    for viewer in (org.carol, org.alice):
        s = scope(viewer=viewer)
        assert [m["total"] for m in selectors.severity_by_month(s)] == WITH_G["months"]
        follow = selectors.follow_through(s)
        assert (follow["due"], follow["done_on_time"], follow["open"], follow["overdue"]) == (7, 2, 5, 3)
        assert "gateway" in [row["service"] for row in selectors.durations_by_service(s)]


# --- pages, CSV, API --------------------------------------------------------------------------------


def test_outsider_organisation_page_csv_and_api_leave_out_the_restricted_document(restricted, outsider):
    client = _client(outsider)

    page = client.get("/insights/", RANGE)
    assert page.status_code == 200
    assert _org_numbers(page) == WITHOUT_G

    csv_lines = client.get("/insights/csv/severity-by-month.csv", RANGE).content.decode().splitlines()
    assert csv_lines[1 + FEBRUARY].endswith(",0")
    heat = client.get("/insights/csv/factors-by-quarter.csv", RANGE).content.decode()
    assert "config-change,2,0,2" in heat
    assert "gateway" not in client.get("/insights/csv/durations-by-service.csv", RANGE).content.decode()

    data = client.get("/api/v1/insights/", RANGE).json()
    assert [m["total"] for m in data["postmortems_by_month"]] == WITHOUT_G["months"]
    assert data["follow_through"]["due"] == 5
    assert data["follow_through"]["overdue"] == 2
    assert "gateway" not in [row["service"] for row in data["incident_durations"]]
    platform = next(t for t in data["teams"] if t["team"] == "platform")
    assert (platform["postmortems"], platform["follow_through"]["open"]) == (1, 0)


def test_outsider_team_page_and_action_item_list_leave_it_out(restricted, outsider):
    client = _client(outsider)

    team = client.get("/insights/teams/platform/", RANGE)
    assert _month_totals(team) == [0, 0, 0, 0, 0, 1]
    items = client.get("/insights/action-items/", {"team": "platform"})
    assert items.status_code == 200
    assert items.context["page"].paginator.count == 0
    assert (
        _client(restricted.carol)
        .get("/insights/action-items/", {"team": "platform"})
        .context["page"]
        .paginator.count
        == 2
    )


def test_member_pages_include_the_restricted_document(restricted):
    client = _client(restricted.carol)

    assert _org_numbers(client.get("/insights/", RANGE)) == WITH_G
    assert _month_totals(client.get("/insights/teams/platform/", RANGE)) == [0, 1, 0, 0, 0, 1]
    data = client.get("/api/v1/insights/", RANGE).json()
    assert data["follow_through"]["due"] == 7


def test_my_work_counts_items_i_own_on_a_restricted_document(restricted, outsider):
    # Owning an item on G lets Mallory read G (postmortems.access): the work
    # handed to her is listed and counted in her own figures.
    before = _client(outsider).get("/insights/me/", RANGE).context["work"].counts["open"]
    ActionItemFactory(postmortem=restricted.pms.G, owner=outsider, due_date=at(2026, 6, 1).date())

    page = _client(outsider).get("/insights/me/", RANGE)

    assert page.context["work"].counts["open"] == before + 1
    assert PostMortem.objects.visible_to(outsider).filter(pk=restricted.pms.G.pk).exists()


# --- deleted documents --------------------------------------------------------------------------------


def test_a_deleted_document_is_left_out_for_everyone_even_admins(org, admin, outsider):
    postmortem_delete(user=admin, postmortem=org.pms.A)  # January, SEV1; items i1, i2, i7

    for user in (admin, org.alice, outsider):
        client = _client(user)
        page = client.get("/insights/", RANGE)
        assert _month_totals(page)[0] == 1, user  # B only
        data = client.get("/api/v1/insights/", RANGE).json()
        assert data["postmortems_by_month"][0]["SEV1"] == 0
        assert (data["follow_through"]["due"], data["follow_through"]["done_on_time"]) == (4, 1)
        assert data["follow_through"]["open"] == 4  # i3, i5, i6, j1
        csv_text = client.get("/insights/csv/severity-by-month.csv", RANGE).content.decode()
        assert csv_text.splitlines()[1] == "2026-01,0,1,0,0,0,1"
    items = _client(admin).get("/insights/action-items/", {"team": "payments"})
    assert org.items.i1.pk not in [item.pk for item in items.context["items"]]
    work = _client(org.alice).get("/insights/me/", RANGE).context["work"]
    assert org.items.i7.pk not in [item.pk for item in work.overdue]
    assert PostMortem.all_objects.filter(pk=org.pms.A.pk).exists()  # soft: still there


# --- the cache ------------------------------------------------------------------------------------------


@pytest.fixture
def keeping(settings):
    settings.INSIGHTS_CACHE_SECONDS = 300
    cache.clear()
    yield
    cache.clear()


def test_the_cache_never_serves_a_members_or_admins_figures_to_an_outsider(
    restricted, admin, outsider, keeping
):
    carol, admin_client, outsider_client = _client(restricted.carol), _client(admin), _client(outsider)

    assert _org_numbers(carol.get("/insights/", RANGE)) == WITH_G
    assert _org_numbers(admin_client.get("/insights/", RANGE)) == WITH_G
    assert carol.get("/api/v1/insights/", RANGE).json()["follow_through"]["due"] == 7

    assert _org_numbers(outsider_client.get("/insights/", RANGE)) == WITHOUT_G
    assert outsider_client.get("/api/v1/insights/", RANGE).json()["follow_through"]["due"] == 5
    csv_text = outsider_client.get("/insights/csv/severity-by-month.csv", RANGE).content.decode()
    assert csv_text.splitlines()[1 + FEBRUARY].endswith(",0")
    # And the other way round: the outsiders' kept figures are not a member's.
    assert _org_numbers(carol.get("/insights/", RANGE)) == WITH_G
    assert _org_numbers(admin_client.get("/insights/", RANGE)) == WITH_G


def test_outsiders_share_one_kept_copy(org, outsider, keeping, django_assert_max_num_queries):
    _client(outsider).get("/insights/", RANGE)
    other = _client(UserFactory(username="trudy"))

    # Session, user, the teams of the filter, the audience check (and on
    # PostgreSQL tuned_reads): no figure query.
    with django_assert_max_num_queries(7):
        assert other.get("/api/v1/insights/", RANGE).status_code == 200


def test_kept_figures_are_forgotten_when_a_document_is_restricted_or_deleted(org, admin, outsider, keeping):
    client = _client(outsider)
    assert _org_numbers(client.get("/insights/", RANGE)) == WITH_G

    g = PostMortem.objects.get(pk=org.pms.G.pk)
    g.visibility = PostMortem.Visibility.RESTRICTED
    g.save()
    assert _org_numbers(client.get("/insights/", RANGE)) == WITHOUT_G

    postmortem_delete(user=admin, postmortem=org.pms.A)
    assert _month_totals(client.get("/insights/", RANGE))[0] == 1
    assert client.get("/api/v1/insights/", RANGE).json()["postmortems_by_month"][0]["SEV1"] == 0
