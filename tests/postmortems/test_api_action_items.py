"""REST API: action items across post-mortems — list, filters, read and PATCH."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from postmortems.models import ActionItem
from tests.factories import ActionItemFactory, PostMortemFactory, TeamFactory

LIST = "/api/v1/action-items/"


def detail_url(item) -> str:
    return f"{LIST}{item.pk}/"


def etag(item) -> str:
    """The ETag a client would have read for ``item`` (its stored version, quoted)."""
    return f'"{ActionItem.all_objects.get(pk=item.pk).version}"'


def keys(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["key"] for row in response.json()["results"]]


@pytest.fixture
def items(team, author, teammate):
    """Alice owns an overdue and a done item; Bob owns one on another team's document."""
    today = timezone.localdate()
    pm = PostMortemFactory(team=team)
    other = PostMortemFactory(team=TeamFactory(slug="search"))
    overdue = ActionItemFactory(postmortem=pm, owner=author, due_date=today - dt.timedelta(days=3))
    done = ActionItemFactory(
        postmortem=pm,
        owner=author,
        status="done",
        kind="check",
        due_date=today - dt.timedelta(days=1),
        completed_at=timezone.now() - dt.timedelta(days=2),
    )
    bobs = ActionItemFactory(postmortem=other, owner=teammate, due_date=today + dt.timedelta(days=9))
    return overdue, done, bobs


def test_list_shows_items_with_their_postmortem(api, items):
    overdue, done, bobs = items

    response = api.get(LIST)

    assert keys(response) == [overdue.key, done.key, bobs.key]  # soonest due first
    row = response.json()["results"][0]
    assert row["postmortem"] == overdue.postmortem_id
    assert row["postmortem_key"] == f"PM-{overdue.postmortem_id}"
    assert (row["owner"], row["status"], row["is_overdue"]) == ("alice", "open", True)


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"mine": "true"}, [0, 1]),
        ({"mine": "false"}, [0, 1, 2]),
        ({"owner": "bob"}, [2]),
        ({"status": "done"}, [1]),
        ({"status": ["open", "in_progress"]}, [0, 2]),
        ({"kind": "check"}, [1]),
        ({"team": "search"}, [2]),
        ({"overdue": "true"}, [0]),
        ({"overdue": "false"}, [1, 2]),
        ({"mine": "true", "status": "open"}, [0]),
        ({"ordering": "-due_date"}, [2, 1, 0]),
    ],
)
def test_list_filters(api, items, params, expected):
    assert keys(api.get(LIST, params)) == [items[i].key for i in expected]


def test_list_filters_by_postmortem(api, items):
    assert keys(api.get(LIST, {"postmortem": items[2].postmortem_id})) == [items[2].key]


def test_mine_follows_the_signed_in_user(api, items, teammate):
    api.force_authenticate(teammate)

    assert keys(api.get(LIST, {"mine": "true"})) == [items[2].key]


def test_list_query_count_does_not_grow(api, team, django_assert_max_num_queries):
    ActionItemFactory.create_batch(3, postmortem=PostMortemFactory(team=team))
    with django_assert_max_num_queries(2):
        assert len(api.get(LIST).json()["results"]) == 3
    ActionItemFactory.create_batch(20, postmortem=PostMortemFactory(team=team))
    with django_assert_max_num_queries(2):
        assert len(api.get(LIST).json()["results"]) == 20


@pytest.mark.parametrize(
    "params",
    [{}, {"status": ["open", "in_progress"]}, {"owner": "alice", "kind": "test", "team": "payments"}],
)
def test_list_statements_read_no_long_text_and_add_no_distinct(api, items, params):
    """Filters on the item's own columns or foreign keys cannot repeat a row, so no
    ``SELECT DISTINCT`` over every column; the post-mortem's four sections and search
    text are not read for a page of items (both cost whole-table sorts at 100k)."""
    with CaptureQueriesContext(connection) as captured:
        response = api.get(LIST, params)

    assert response.status_code == 200
    statements = [q["sql"] for q in captured.captured_queries]
    assert statements and not any("DISTINCT" in sql for sql in statements)
    page = next(sql for sql in statements if '"postmortems_actionitem"."text"' in sql)
    for column in ("what_happened", "why_it_happened", "what_we_change", "search_body"):
        assert f'"postmortems_postmortem"."{column}"' not in page


def test_retrieve_an_item(api, items):
    response = api.get(detail_url(items[1]))

    assert response.status_code == 200
    data = response.json()
    assert (data["key"], data["status"], data["is_overdue"]) == (items[1].key, "done", False)
    assert data["completed_at"] is not None


def test_marking_done_stamps_completed_at(api, items):
    overdue = items[0]

    response = api.patch(detail_url(overdue), {"status": "done"}, format="json", HTTP_IF_MATCH=etag(overdue))

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "done" and response.json()["is_overdue"] is False
    overdue.refresh_from_db()
    assert overdue.status == "done" and overdue.completed_at is not None


def test_reopening_clears_completed_at(api, items):
    done = items[1]

    response = api.patch(detail_url(done), {"status": "in_progress"}, format="json", HTTP_IF_MATCH=etag(done))

    assert response.status_code == 200
    done.refresh_from_db()
    assert (done.status, done.completed_at) == ("in_progress", None)


def test_not_doing_needs_a_reason(api, items):
    overdue = items[0]

    response = api.patch(
        detail_url(overdue), {"status": "not_doing"}, format="json", HTTP_IF_MATCH=etag(overdue)
    )

    assert response.status_code == 400
    assert "not_doing_reason" in response.json()
    overdue.refresh_from_db()
    assert overdue.status == "open"


def test_not_doing_with_a_reason_is_recorded(api, items):
    overdue = items[0]

    response = api.patch(
        detail_url(overdue),
        {"status": "not_doing", "not_doing_reason": "Service retired"},
        format="json",
        HTTP_IF_MATCH=etag(overdue),
    )

    assert response.status_code == 200
    overdue.refresh_from_db()
    assert (overdue.status, overdue.not_doing_reason) == ("not_doing", "Service retired")


def test_patch_other_fields_keeps_the_other_items_intact(api, items, teammate):
    overdue, done, _ = items
    done_at = done.completed_at

    response = api.patch(
        detail_url(overdue),
        {
            "text": "Add a resolver timeout alert",
            "owner": "bob",
            "due_date": "2031-01-02",
            "kind": "check",
            "ticket_url": "https://tracker.example.com/T-1",
        },
        format="json",
        HTTP_IF_MATCH=etag(overdue),
    )

    assert response.status_code == 200, response.json()
    assert response.json()["owner"] == "bob"
    overdue.refresh_from_db()
    assert (overdue.text, overdue.owner, overdue.due_date, overdue.kind) == (
        "Add a resolver timeout alert",
        teammate,
        dt.date(2031, 1, 2),
        "check",
    )
    assert overdue.ticket_url == "https://tracker.example.com/T-1"
    done.refresh_from_db()
    assert (done.status, done.completed_at) == ("done", done_at)
    assert ActionItem.objects.count() == 3


def test_changed_text_is_searchable_at_once(api, items):
    overdue = items[0]

    response = api.patch(
        detail_url(overdue), {"text": "Alert on resolver latency"}, format="json", HTTP_IF_MATCH=etag(overdue)
    )

    assert response.status_code == 200
    found = api.get("/api/v1/postmortems/", {"q": "resolver latency"}).json()["results"]
    assert [row["id"] for row in found] == [overdue.postmortem_id]


def test_patch_text_and_status_together(api, items):
    overdue = items[0]

    response = api.patch(
        detail_url(overdue), {"text": "Closed", "status": "done"}, format="json", HTTP_IF_MATCH=etag(overdue)
    )

    assert response.status_code == 200
    overdue.refresh_from_db()
    assert (overdue.text, overdue.status) == ("Closed", "done")
    assert overdue.completed_at is not None


@pytest.mark.parametrize(
    "body, field",
    [
        ({"owner": "nobody"}, "owner"),
        ({"due_date": "tomorrow"}, "due_date"),
        ({"status": "finished"}, "status"),
        ({"kind": "wish"}, "kind"),
        ({"text": ""}, "text"),
        ({"ticket_url": "not a url"}, "ticket_url"),
        ({"text": "x", "status": "not_doing"}, "not_doing_reason"),
    ],
)
def test_patch_rejects_bad_input_and_saves_nothing(api, items, body, field):
    overdue = items[0]
    before = ActionItem.objects.values().get(pk=overdue.pk)

    response = api.patch(detail_url(overdue), body, format="json", HTTP_IF_MATCH=etag(overdue))

    assert response.status_code == 400
    assert field in response.json()
    assert ActionItem.objects.values().get(pk=overdue.pk) == before


def test_items_are_not_created_or_deleted_here(api, items):
    assert api.post(LIST, {"text": "x"}, format="json").status_code == 405
    assert api.delete(detail_url(items[0])).status_code == 405
    assert api.put(detail_url(items[0]), {"text": "x"}, format="json").status_code == 405
    assert ActionItem.objects.count() == 3
