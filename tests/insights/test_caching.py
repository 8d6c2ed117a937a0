"""Computed figures are kept for a few minutes, and a failing cache never fails a page."""

from __future__ import annotations

import pytest
import time_machine
from django.core.cache import cache

from postmortems.models import PostMortem
from tests.factories import PostMortemFactory
from tests.insights.conftest import NOW, at

RANGE = {"from": "2026-01-01", "to": "2026-06-15"}


@pytest.fixture
def keeping(settings):
    settings.INSIGHTS_CACHE_SECONDS = 300
    cache.clear()
    with time_machine.travel(NOW, tick=False):
        yield
    cache.clear()


def _total(response, slug="severity-by-month"):
    figure = next(f for f in response.context["figures"] if f.slug == slug)
    return sum(row[-1].value for row in figure.table.rows)


def test_figures_are_kept_per_range_and_team(web, org, keeping):
    first = web.get("/insights/", RANGE)
    PostMortemFactory(team=org.payments, started_at=at(2026, 3, 3))

    again = web.get("/insights/", RANGE)
    other_range = web.get("/insights/", {**RANGE, "from": "2026-01-02"})
    team = web.get("/insights/teams/payments/", RANGE)

    assert _total(first) == _total(again) == 6  # kept: the new post-mortem is not in yet
    assert _total(other_range) == 7
    assert _total(team) == 5
    assert first.context["computed_at"] == again.context["computed_at"]
    assert b"figures as of 12:00" in again.content
    assert PostMortem.objects.count() == 9


def test_the_api_keeps_figures_too_and_csv_matches_the_page(web, api, org, keeping):
    assert api.get("/api/v1/insights/", RANGE).json()["teams"][0]["postmortems"] == 4
    web.get("/insights/", RANGE)
    PostMortemFactory(team=org.payments, started_at=at(2026, 3, 3))

    assert api.get("/api/v1/insights/", RANGE).json()["teams"][0]["postmortems"] == 4
    csv_text = web.get("/insights/csv/teams.csv", RANGE).content.decode()
    assert csv_text.splitlines()[1].startswith("payments,4,")


def test_a_failing_cache_does_not_fail_the_page(web, org, keeping, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get", broken)
    monkeypatch.setattr(cache, "set", broken)

    response = web.get("/insights/", RANGE)

    assert response.status_code == 200
    assert _total(response) == 6
    assert "insights cache unavailable" in caplog.text


def test_page_api_and_csv_share_the_kept_numbers(web, api, org, keeping, django_assert_max_num_queries):
    web.get("/insights/", RANGE)

    # Session, user, the teams of the filter (and on PostgreSQL the SET LOCAL of
    # tuned_reads with its savepoint): no figure query.
    with django_assert_max_num_queries(6):
        assert api.get("/api/v1/insights/", RANGE).status_code == 200
    with django_assert_max_num_queries(6):
        assert web.get("/insights/csv/factors-by-quarter.csv", RANGE).status_code == 200
