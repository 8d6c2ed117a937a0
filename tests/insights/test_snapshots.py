"""Issue 7: the default organisation page reads figures precomputed in the
background (``insights.snapshots``), equal to the live ones, never stale in a
way that leaks a restricted or deleted post-mortem (issue 9), and computed live
when there is no fresh snapshot.

The fixture organisation is conftest.py's; the default range at NOW (2026-06-15)
is 2025-07-01 … 2026-06-15. G (Platform, with the gateway service) is the
document that gets restricted or deleted.
"""

from __future__ import annotations

import datetime as dt
import pickle

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from insights import snapshots
from insights.caching import COMPUTED_AT
from insights.models import FiguresSnapshot, SnapshotEpoch
from insights.selectors.scope import ADMIN_AUDIENCE, ORGANISATION_AUDIENCE
from insights.tasks import refresh_snapshots
from postmortems.models import PostMortem
from postmortems.services import postmortem_delete
from tests.factories import UserFactory
from tests.insights.conftest import NOW


@pytest.fixture(autouse=True)
def frozen(settings):
    settings.INSIGHTS_SNAPSHOT_SECONDS = 300
    cache.clear()
    with time_machine.travel(NOW, tick=False):
        yield
    cache.clear()


@pytest.fixture
def admin(db):
    return UserFactory(username="root", is_staff=True)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _data(row: FiguresSnapshot) -> dict:
    return pickle.loads(bytes(row.data))  # noqa: S301 - written by the test just before


def _tables(response) -> dict:
    """Every figure's tiles and table cells, as plain values (what the reader sees)."""
    out = {}
    for figure in response.context["figures"]:
        rows = (
            [[getattr(cell, "value", cell) for cell in row] for row in figure.table.rows]
            if figure.table
            else []
        )
        out[figure.slug] = (repr(figure.tiles), rows)
    return out


def _shows_g(response) -> dict:
    """What G changes on the default page: the gateway service's row and Platform's count."""
    figures = {f.slug: f for f in response.context["figures"]}
    services = [row[0].value for row in figures["durations-by-service"].table.rows]
    teams = {row[0].value: row[1].value for row in figures["teams"].table.rows}
    return {"gateway": "gateway" in services, "platform_postmortems": teams["platform"]}


def _restrict_g(org) -> None:
    g = PostMortem.objects.get(pk=org.pms.G.pk)
    g.visibility = PostMortem.Visibility.RESTRICTED
    g.save()


# --- the task -----------------------------------------------------------------------------------------


def test_the_snapshot_equals_the_live_figures_for_both_audiences(org, outsider, admin):
    clients = {ORGANISATION_AUDIENCE: _client(outsider), ADMIN_AUDIENCE: _client(admin)}
    live = {audience: c.get("/insights/") for audience, c in clients.items()}
    live_api = {audience: c.get("/api/v1/insights/").json() for audience, c in clients.items()}

    result = refresh_snapshots.apply().get()  # run here, whatever the broker

    assert result["stored"] == [ORGANISATION_AUDIENCE, ADMIN_AUDIENCE] and result["skipped"] is False
    assert FiguresSnapshot.objects.count() == 2
    for audience, client in clients.items():
        page = client.get("/insights/")
        assert page.status_code == 200
        assert page.context["from_snapshot"] is True
        assert live[audience].context["from_snapshot"] is False
        assert _tables(page) == _tables(live[audience])
        assert client.get("/api/v1/insights/").json() == live_api[audience]
    row = FiguresSnapshot.objects.get(audience=ORGANISATION_AUDIENCE)
    assert row.computed_at == NOW and row.day == NOW.date()
    assert _data(row)[COMPUTED_AT] == NOW


def test_refreshing_twice_changes_nothing(org):
    first = snapshots.refresh()
    rows = {r.key: (r.audience, r.computed_at, _data(r)) for r in FiguresSnapshot.objects.all()}

    second = snapshots.refresh()

    assert first.stored == second.stored == (ORGANISATION_AUDIENCE, ADMIN_AUDIENCE)
    again = {r.key: (r.audience, r.computed_at, _data(r)) for r in FiguresSnapshot.objects.all()}
    assert again == rows
    assert FiguresSnapshot.objects.count() == 2


def test_a_new_day_replaces_yesterdays_rows(org):
    snapshots.refresh()
    with time_machine.travel(NOW + dt.timedelta(days=1), tick=False):
        snapshots.refresh()

    assert set(FiguresSnapshot.objects.values_list("day", flat=True)) == {NOW.date() + dt.timedelta(days=1)}


def test_snapshots_off_stores_nothing(org, settings):
    settings.INSIGHTS_SNAPSHOT_SECONDS = 0

    assert snapshots.refresh().stored == ()
    assert not FiguresSnapshot.objects.exists()


def test_the_beat_schedule_refreshes_every_five_minutes():
    entry = django_settings.CELERY_BEAT_SCHEDULE["insights-refresh-snapshots"]

    assert entry["task"] == "insights.refresh_snapshots" == refresh_snapshots.name
    assert entry["schedule"] == 300.0
    # The other apps' entries are still there (merged, not replaced).
    assert "followthrough-sweep" in django_settings.CELERY_BEAT_SCHEDULE


# --- the page reads it ----------------------------------------------------------------------------------


def test_the_page_reads_the_snapshot_without_figure_queries(org, outsider):
    client = _client(outsider)
    snapshots.refresh()

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/insights/")

    assert response.status_code == 200
    assert b"figures as of 12:00 (refreshed every 5 minutes)" in response.content
    sql = [q["sql"] for q in queries.captured_queries]
    read = next(i for i, q in enumerate(sql) if "insights_figuressnapshot" in q)
    # Before the snapshot row: session, user, the teams of the filter, the audience
    # check (one EXISTS). After it, nothing reads a post-mortem or an action item.
    assert not any("postmortems_actionitem" in q or "postmortems_postmortem" in q for q in sql[read:])
    assert len(queries.captured_queries) <= 8


def test_without_a_snapshot_the_page_is_computed_live(org, outsider):
    response = _client(outsider).get("/insights/")

    assert response.status_code == 200
    assert response.context["from_snapshot"] is False
    assert b"refreshed every" not in response.content
    assert _shows_g(response) == {"gateway": True, "platform_postmortems": 2}


def test_an_old_snapshot_is_not_shown(org, outsider):
    snapshots.refresh()

    with time_machine.travel(NOW + dt.timedelta(minutes=16), tick=False):
        response = _client(outsider).get("/insights/")

    assert response.context["from_snapshot"] is False
    assert b"refreshed every" not in response.content


def test_other_ranges_and_team_pages_are_computed_live(org, outsider):
    snapshots.refresh()
    client = _client(outsider)

    assert client.get("/insights/", {"from": "2026-01-01"}).context["from_snapshot"] is False
    assert client.get("/insights/teams/payments/").context["from_snapshot"] is False


# --- no leak through a snapshot --------------------------------------------------------------------------


def test_a_restricted_document_never_shows_through_a_snapshot(org, outsider, admin):
    snapshots.refresh()
    outsider_client = _client(outsider)
    assert _shows_g(outsider_client.get("/insights/")) == {"gateway": True, "platform_postmortems": 2}

    _restrict_g(org)

    assert not FiguresSnapshot.objects.exists()
    page = outsider_client.get("/insights/")
    assert page.context["from_snapshot"] is False
    assert _shows_g(page) == {"gateway": False, "platform_postmortems": 1}
    api = outsider_client.get("/api/v1/insights/").json()
    assert next(t for t in api["teams"] if t["team"] == "platform")["postmortems"] == 1

    # The next refresh: the outsider's snapshot leaves G out, the admins' counts it,
    # and G's facilitator (an audience of her own) is computed live with it.
    snapshots.refresh()
    page = outsider_client.get("/insights/")
    assert page.context["from_snapshot"] is True
    assert _shows_g(page) == {"gateway": False, "platform_postmortems": 1}
    admin_page = _client(admin).get("/insights/")
    assert admin_page.context["from_snapshot"] is True
    assert _shows_g(admin_page) == {"gateway": True, "platform_postmortems": 2}
    alice_page = _client(org.alice).get("/insights/")
    assert alice_page.context["from_snapshot"] is False
    assert _shows_g(alice_page) == {"gateway": True, "platform_postmortems": 2}


def test_a_deleted_document_never_shows_through_a_snapshot(org, admin, outsider):
    snapshots.refresh()

    postmortem_delete(user=admin, postmortem=PostMortem.objects.get(pk=org.pms.G.pk))

    for client in (_client(outsider), _client(admin)):
        page = client.get("/insights/")
        assert page.context["from_snapshot"] is False
        assert _shows_g(page) == {"gateway": False, "platform_postmortems": 1}


def test_a_restriction_during_a_refresh_keeps_nothing(org, outsider, monkeypatch):
    """The task read G as an organisation document; G was restricted before it stored."""
    compute = snapshots.compute
    calls = []

    def compute_then_restrict(audience, now=None):
        data = compute(audience, now)
        if not calls:
            _restrict_g(org)
        calls.append(audience)
        return data

    monkeypatch.setattr(snapshots, "compute", compute_then_restrict)

    result = snapshots.refresh()

    assert result.skipped is True and result.stored == ()
    assert not FiguresSnapshot.objects.exists()
    assert SnapshotEpoch.objects.get(pk=1).value >= 1
    page = _client(outsider).get("/insights/")
    assert page.context["from_snapshot"] is False
    assert _shows_g(page) == {"gateway": False, "platform_postmortems": 1}


# --- refresh after changes -------------------------------------------------------------------------------


@pytest.fixture
def enqueued(monkeypatch, settings):
    """Tasks sent to a broker (not eager); records ``refresh_snapshots.delay`` calls."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    calls = []
    monkeypatch.setattr(refresh_snapshots, "delay", lambda *a, **k: calls.append(1))
    return calls


def test_a_burst_of_saves_enqueues_one_refresh(org, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        pm = PostMortem.objects.get(pk=org.pms.A.pk)
        pm.title = "Renamed"
        pm.save()
    with django_capture_on_commit_callbacks(execute=True):
        item = org.pms.A.action_items.first()
        item.text = "Changed"
        item.save()
        pm.save()

    assert enqueued == [1]
    assert PostMortem.objects.get(pk=pm.pk).title == "Renamed"

    cache.delete(snapshots.PENDING_KEY)  # what the task does when it starts
    with django_capture_on_commit_callbacks(execute=True):
        pm.save()
    assert enqueued == [1, 1]


def test_a_restriction_enqueues_a_refresh_once_committed(org, enqueued, django_capture_on_commit_callbacks):
    snapshots.refresh()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _restrict_g(org)

    assert enqueued == [] and not FiguresSnapshot.objects.exists()
    for callback in callbacks:
        callback()
    assert enqueued == [1]


def test_eager_mode_does_not_compute_on_save(org, monkeypatch, settings, django_capture_on_commit_callbacks):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    calls = []
    monkeypatch.setattr(refresh_snapshots, "delay", lambda *a, **k: calls.append(1))

    with django_capture_on_commit_callbacks(execute=True):
        PostMortem.objects.get(pk=org.pms.A.pk).save()

    assert calls == [] and not FiguresSnapshot.objects.exists()


def test_a_broker_failure_never_fails_a_save(
    org, settings, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    settings.CELERY_TASK_ALWAYS_EAGER = False

    def down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(refresh_snapshots, "delay", down)
    with django_capture_on_commit_callbacks(execute=True):
        pm = PostMortem.objects.get(pk=org.pms.A.pk)
        pm.title = "Saved anyway"
        pm.save()

    assert PostMortem.objects.get(pk=pm.pk).title == "Saved anyway"
    assert "not enqueued" in caplog.text
