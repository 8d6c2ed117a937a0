"""REST API: the post-mortem list — filters, full-text search, ordering, pagination
and query counts. Search tests must pass on SQLite (FTS5) and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from postmortems import services
from postmortems.models import ActionItem, PostMortem
from tests.factories import (
    ActionItemFactory,
    PostMortemFactory,
    ServiceFactory,
    TeamFactory,
    factor,
)

LIST = "/api/v1/postmortems/"


def titles(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["title"] for row in response.json()["results"]]


def at(day: int) -> dt.datetime:
    return dt.datetime(2024, 3, day, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def catalogue(team):
    """Three post-mortems that differ in every filtered attribute."""
    search = TeamFactory(slug="search", name="Search")
    checkout = ServiceFactory(slug="checkout", team=team)
    index = ServiceFactory(slug="indexer", team=search)
    PostMortemFactory(
        title="Alpha",
        team=team,
        severity="SEV1",
        status="published",
        started_at=at(1),
        services=[checkout],
        factors=[factor("config-change")],
    )
    PostMortemFactory(
        title="Bravo",
        team=search,
        severity="SEV2",
        status="draft",
        started_at=at(10),
        services=[index],
        factors=[factor("retry-storm"), factor("config-change")],
    )
    PostMortemFactory(
        title="Charlie",
        team=search,
        severity="SEV3",
        status="in_review",
        started_at=at(20),
        services=[index, checkout],
        factors=[factor("retry-storm")],
    )


def test_list_rows_have_the_summary_shape(api, team):
    pm = PostMortemFactory(
        team=team, factors=[factor("retry-storm")], services=[ServiceFactory(slug="checkout", team=team)]
    )
    ActionItemFactory(postmortem=pm)
    ActionItemFactory(postmortem=pm, status=ActionItem.Status.IN_PROGRESS)
    ActionItemFactory(postmortem=pm, status=ActionItem.Status.DONE)

    response = api.get(LIST)

    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert row["id"] == pm.pk and row["key"] == pm.key
    assert row["url"] == f"http://testserver/api/v1/postmortems/{pm.pk}/"
    assert (row["team"], row["services"], row["factors"]) == ("payments", ["checkout"], ["retry-storm"])
    assert (row["action_items_open"], row["action_items_total"]) == (2, 3)
    assert (row["snippet"], row["search_rank"]) == (None, None)
    assert {"severity", "status", "started_at", "created_at", "updated_at"} <= set(row)
    assert "what_happened" not in row


def test_list_is_newest_first_by_default(api, catalogue):
    assert titles(api.get(LIST)) == ["Charlie", "Bravo", "Alpha"]


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"team": "payments"}, ["Alpha"]),
        ({"team": ["payments", "search"]}, ["Charlie", "Bravo", "Alpha"]),
        ({"severity": "SEV2"}, ["Bravo"]),
        ({"severity": ["SEV1", "SEV3"]}, ["Charlie", "Alpha"]),
        ({"status": "in_review"}, ["Charlie"]),
        ({"factor": "config-change"}, ["Bravo", "Alpha"]),
        ({"factor": ["config-change", "retry-storm"]}, ["Charlie", "Bravo", "Alpha"]),
        ({"service": "checkout"}, ["Charlie", "Alpha"]),
        ({"service": "indexer", "factor": "retry-storm"}, ["Charlie", "Bravo"]),
        ({"started_from": "2024-03-10"}, ["Charlie", "Bravo"]),
        ({"started_to": "2024-03-10"}, ["Bravo", "Alpha"]),
        ({"started_from": "2024-03-02", "started_to": "2024-03-19"}, ["Bravo"]),
        ({"team": "search", "severity": "SEV3"}, ["Charlie"]),
    ],
)
def test_list_filters(api, catalogue, params, expected):
    assert titles(api.get(LIST, params)) == expected


@pytest.mark.parametrize(
    "params",
    [
        {"severity": "SEV9"},
        {"team": "nope"},
        {"factor": "human-error"},
        {"started_from": "last week"},
        {"ordering": "search_body"},
        {"q": "x" * 201},
    ],
)
def test_list_rejects_bad_filter_values(api, catalogue, params):
    response = api.get(LIST, params)

    assert response.status_code == 400
    assert set(params) <= set(response.json())


@pytest.mark.parametrize(
    "ordering, expected",
    [
        ("title", ["Alpha", "Bravo", "Charlie"]),
        ("-title", ["Charlie", "Bravo", "Alpha"]),
        ("started_at", ["Alpha", "Bravo", "Charlie"]),
        ("-severity", ["Charlie", "Bravo", "Alpha"]),
    ],
)
def test_list_ordering(api, catalogue, ordering, expected):
    assert titles(api.get(LIST, {"ordering": ordering})) == expected


def test_filters_do_not_inflate_action_item_counts(api, catalogue):
    charlie = PostMortem.objects.get(title="Charlie")
    ActionItemFactory.create_batch(2, postmortem=charlie)

    response = api.get(LIST, {"service": ["checkout", "indexer"], "factor": "retry-storm"})

    rows = {row["title"]: row for row in response.json()["results"]}
    assert (rows["Charlie"]["action_items_open"], rows["Charlie"]["action_items_total"]) == (2, 2)


# --- search -------------------------------------------------------------------------


@pytest.fixture
def searchable(team):
    """Two documents about a resolver (one in its title too) and one unrelated."""
    in_title = PostMortemFactory(
        team=team,
        title="Resolver outage",
        started_at=at(1),
        what_happened="The resolver cache expired & requests <b>failed</b>.",
    )
    in_body = PostMortemFactory(
        team=team,
        title="Checkout errors",
        started_at=at(15),
        what_happened="Checkout timed out because the resolver was slow.",
    )
    PostMortemFactory(
        team=team, title="Disk full", started_at=at(20), what_happened="The log disk filled up."
    )
    for pm in PostMortem.objects.all():
        services.postmortem_reindex(pm)
    return in_title, in_body


def test_search_ranks_matches_and_highlights_them(api, searchable):
    in_title, in_body = searchable

    response = api.get(LIST, {"q": "resolver"})

    assert titles(response) == ["Resolver outage", "Checkout errors"]
    first, second = response.json()["results"]
    assert first["search_rank"] > second["search_rank"] > 0
    assert "<mark>resolver</mark>" in first["snippet"].lower()
    assert "<mark>resolver</mark>" in second["snippet"].lower()


def test_search_snippet_escapes_document_text(api, searchable):
    response = api.get(LIST, {"q": "cache expired"})

    (row,) = response.json()["results"]
    snippet = row["snippet"]
    assert "<mark>" in snippet
    assert "<b>" not in snippet
    assert "&amp;" in snippet


def test_search_combines_with_filters_and_ordering(api, searchable):
    assert titles(api.get(LIST, {"q": "resolver", "severity": "SEV2", "ordering": "title"})) == [
        "Checkout errors",
        "Resolver outage",
    ]
    assert titles(api.get(LIST, {"q": "resolver", "severity": "SEV1"})) == []


def test_search_without_matches_is_an_empty_page(api, searchable):
    response = api.get(LIST, {"q": "kubernetes"})

    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_search_finds_action_item_text(api, team):
    pm = PostMortemFactory(team=team, title="Quiet title")
    services.postmortem_save(
        user=None,
        postmortem=pm,
        fields={},
        action_items=[
            {
                "text": "Rotate the kafka credentials",
                "owner": ActionItemFactory().owner,
                "due_date": dt.date(2030, 1, 1),
            }
        ],
    )

    response = api.get(LIST, {"q": "kafka"})

    assert titles(response) == ["Quiet title"]
    assert "<mark>kafka</mark>" in response.json()["results"][0]["snippet"].lower()


# --- pagination ---------------------------------------------------------------------


def test_page_size_is_chosen_by_the_client(api, catalogue):
    response = api.get(LIST, {"page_size": 2})

    data = response.json()
    assert data["count"] == 3 and len(data["results"]) == 2
    assert "page=2" in data["next"]
    assert titles(api.get(data["next"])) == ["Alpha"]


def test_page_size_is_capped_at_100(api, team):
    PostMortem.objects.bulk_create(
        PostMortem(title=f"PM {n}", team=team, severity="SEV4") for n in range(101)
    )

    data = api.get(LIST, {"page_size": 1000}).json()

    assert data["count"] == 101
    assert len(data["results"]) == 100


# --- query counts -------------------------------------------------------------------


def _make_postmortems(team, count: int) -> None:
    checkout = ServiceFactory(slug="checkout", team=team)
    factors = [factor("retry-storm"), factor("config-change")]
    for n in range(count):
        pm = PostMortemFactory(
            team=team, what_happened=f"The resolver broke, case {n}.", services=[checkout], factors=factors
        )
        services.postmortem_reindex(pm)
        ActionItemFactory.create_batch(2, postmortem=pm)


def _count_queries(api, params) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = api.get(LIST, {"page_size": 100, **params})
    assert response.status_code == 200
    return len(queries), len(response.json()["results"])


@pytest.mark.parametrize("params", [{}, {"q": "resolver"}, {"factor": "retry-storm"}])
def test_list_query_count_does_not_grow_with_rows(api, team, params, django_assert_max_num_queries):
    _make_postmortems(team, 5)
    few, shown = _count_queries(api, params)
    assert shown == 5

    _make_postmortems(team, 20)
    # A search on PostgreSQL ranks its candidates in one statement of its own
    # first (postmortems/search.py); the page and the count then look ids up.
    ranking = 1 if "q" in params and connection.vendor == "postgresql" else 0
    with django_assert_max_num_queries(6 + ranking):
        many, shown = _count_queries(api, params)

    assert shown == 25
    assert many == few


def test_list_dates_are_iso_8601(api, team):
    PostMortemFactory(team=team, started_at=timezone.make_aware(dt.datetime(2024, 5, 1, 8, 30)))

    (row,) = api.get(LIST).json()["results"]

    assert row["started_at"] == "2024-05-01T08:30:00Z"


# --- search combined with filters (q is applied after the field filters) ------------


def test_a_team_filter_finds_its_match_beyond_the_organisations_newest_candidates(api, team, monkeypatch):
    from postmortems import search

    start = timezone.make_aware(dt.datetime(2024, 1, 1))
    ours = PostMortemFactory(team=team, title="Quokka replication lag", started_at=start)
    other = TeamFactory()
    for n in range(1, 4):  # newer matches in another team
        PostMortemFactory(team=other, title=f"Quokka outage {n}", started_at=start + dt.timedelta(days=n))
    monkeypatch.setattr(search, "RANK_CANDIDATES", 2)

    body = api.get(LIST, {"q": "quokka", "team": team.slug}).json()

    assert [row["id"] for row in body["results"]] == [ours.pk]
    assert body["count"] == 1


def test_search_with_a_distinct_filter_and_an_explicit_ordering(api, team):
    checkout = ServiceFactory(team=team, slug="checkout")
    start = timezone.make_aware(dt.datetime(2024, 1, 1))
    titles = ["Wombat cache stampede", "A wombat in the title", "Zebra and wombat"]
    for n, title in enumerate(titles):
        pm = PostMortemFactory(
            team=team, title=title, started_at=start + dt.timedelta(days=n), services=[checkout]
        )
        services.postmortem_reindex(pm)
    PostMortemFactory(team=team, title="Wombat elsewhere")  # no checkout service

    ranked = api.get(LIST, {"q": "wombat", "service": "checkout"}).json()
    by_title = api.get(LIST, {"q": "wombat", "service": "checkout", "ordering": "title"}).json()

    assert ranked["count"] == by_title["count"] == 3
    assert all(row["search_rank"] is not None for row in ranked["results"])
    assert [row["title"] for row in by_title["results"]] == sorted(titles)


def test_an_empty_model_filter_is_skipped_without_compiling_a_query(db, django_assert_num_queries):
    """django-filter cleans an absent team/service/factor filter to ``queryset.none()``;
    ``PostMortemFilter`` skips it by ``query.is_empty()`` instead of evaluating it."""
    from postmortems.filters import _unset
    from postmortems.models import Team

    with django_assert_num_queries(0):
        assert _unset(Team.objects.none()) is True
        assert _unset(Team.objects.filter(slug="payments")) is False
        assert _unset([]) is False
        assert _unset(None) is False
