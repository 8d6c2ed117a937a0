"""REST API: post-mortem create, read and PATCH, bad input, and who may call it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from postmortems.models import (
    ActionItem,
    DeclinedChange,
    FixPullRequest,
    PostMortem,
    TimelineEntry,
)
from tests.factories import (
    ActionItemFactory,
    DeclinedChangeFactory,
    FixPullRequestFactory,
    PostMortemFactory,
    ServiceFactory,
    TimelineEntryFactory,
    factor,
)

LIST = "/api/v1/postmortems/"


def detail_url(pm) -> str:
    return f"{LIST}{pm.pk}/"


def etag(pm) -> str:
    """The ETag a client would have read for ``pm`` (its stored version, quoted)."""
    return f'"{PostMortem.all_objects.get(pk=pm.pk).version}"'


def valid_body(**changes) -> dict:
    """A minimal valid create body for the ``payments`` team."""
    body = {
        "title": "Card payments failed after a config push",
        "team": "payments",
        "severity": "SEV2",
        "what_happened": "Card payments failed for 25 minutes.",
        "why_it_happened": "The payment timeout default was removed from the config.",
    }
    body.update(changes)
    return body


def row_counts() -> tuple[int, int, int, int, int]:
    return (
        PostMortem.objects.count(),
        ActionItem.objects.count(),
        TimelineEntry.objects.count(),
        DeclinedChange.objects.count(),
        FixPullRequest.objects.count(),
    )


# --- create -------------------------------------------------------------------------


def test_create_saves_the_document_with_its_rows_and_returns_the_detail(api, author, teammate):
    ServiceFactory(slug="checkout", team=author.teams.get())
    body = valid_body(
        services=["checkout"],
        factors=["config-change", "missing-test"],
        authors=["alice", "bob"],
        facilitator="bob",
        started_at="2024-03-01T10:00:00Z",
        detected_at="2024-03-01T10:07:00Z",
        mitigated_at="2024-03-01T10:40:00Z",
        resolved_at="2024-03-01T12:00:00Z",
        what_we_change="Validate the payment config schema in CI.",
        timeline=[{"at": "2024-03-01T10:07:00Z", "text": "Error-rate alert fired."}],
        action_items=[
            {"text": "Add a config schema test", "kind": "test", "owner": "bob", "due_date": "2030-01-31"},
        ],
        declined_changes=[{"text": "Freeze Friday deploys", "rationale": "Not tied to the day."}],
        fix_prs=[{"url": "https://github.com/acme/shop/pull/42", "title": "Restore default"}],
    )

    response = api.post(LIST, body, format="json")

    assert response.status_code == 201, response.json()
    data = response.json()
    pm = PostMortem.objects.get()
    assert data["id"] == pm.pk and data["key"] == f"PM-{pm.pk}"
    assert response["Location"] == data["url"]
    assert data["html_url"] == f"http://testserver/postmortems/PM-{pm.pk}/"
    assert (data["time_to_detect"], data["time_to_mitigate"], data["time_to_resolve"]) == (420, 2400, 7200)
    assert data["action_items"][0]["owner"] == "bob"
    assert data["fix_prs"][0]["repository"] == "acme/shop"
    assert data["fix_prs"][0]["number"] == 42
    # The database holds what was sent.
    assert pm.created_by == author
    assert pm.team.slug == "payments" and pm.severity == "SEV2"
    assert pm.facilitator == teammate
    assert sorted(pm.authors.values_list("username", flat=True)) == ["alice", "bob"]
    assert list(pm.services.values_list("slug", flat=True)) == ["checkout"]
    assert set(pm.factors.values_list("slug", flat=True)) == {"config-change", "missing-test"}
    assert pm.timeline.get().text == "Error-rate alert fired."
    item = pm.action_items.get()
    assert (item.owner, item.due_date, item.kind) == (teammate, dt.date(2030, 1, 31), "test")
    assert pm.declined_changes.get().rationale == "Not tied to the day."
    assert (pm.fix_prs.get().repository, pm.fix_prs.get().number) == ("acme/shop", 42)


def test_create_without_authors_makes_the_signed_in_user_the_author(api, author):
    response = api.post(LIST, valid_body(), format="json")

    assert response.status_code == 201
    assert response.json()["authors"] == ["alice"]
    assert list(PostMortem.objects.get().authors.all()) == [author]


def test_create_with_missing_fields_names_each_one_and_saves_nothing(api):
    response = api.post(LIST, {}, format="json")

    assert response.status_code == 400
    errors = response.json()
    assert {"title", "team", "severity", "what_happened", "why_it_happened"} <= set(errors)
    assert "needs this section" in errors["what_happened"][0]
    assert "needs this section" in errors["why_it_happened"][0]
    assert PostMortem.objects.count() == 0


@pytest.mark.parametrize("field", ["what_happened", "why_it_happened"])
@pytest.mark.parametrize("blank", ["", "   \n  "])
def test_create_rejects_a_blank_required_section(api, field, blank):
    response = api.post(LIST, valid_body(**{field: blank}), format="json")

    assert response.status_code == 400
    assert "needs this section" in response.json()[field][0]
    assert PostMortem.objects.count() == 0


def test_create_keeps_markdown_sections_verbatim(api):
    section = "    indented code block\n\n* a list\n"
    response = api.post(LIST, valid_body(what_happened=section), format="json")

    assert response.status_code == 201
    assert PostMortem.objects.get().what_happened == section


def test_section_longer_than_the_limit_is_rejected_with_the_limit(api):
    limit = settings.KB_MAX_SECTION_CHARS
    response = api.post(LIST, valid_body(what_we_change="x" * (limit + 1)), format="json")

    assert response.status_code == 400
    assert str(limit) in response.json()["what_we_change"][0]
    assert PostMortem.objects.count() == 0


def _item(**changes) -> dict:
    row = {"text": "Add a test", "owner": "alice", "due_date": "2030-01-31"}
    row.update(changes)
    return row


# (changes to a valid body, path to the error in the response)
BAD_CREATES = {
    "unknown team": ({"team": "nope"}, ["team"]),
    "unknown severity": ({"severity": "SEV5"}, ["severity"]),
    "blank severity": ({"severity": ""}, ["severity"]),
    "unknown status": ({"status": "done"}, ["status"]),
    "unknown factor slug": ({"factors": ["config-change", "human-error"]}, ["factors"]),
    "unknown service slug": ({"services": ["nope"]}, ["services"]),
    "unknown author": ({"authors": ["nobody"]}, ["authors"]),
    "unknown facilitator": ({"facilitator": "nobody"}, ["facilitator"]),
    "bad timestamp": ({"started_at": "yesterday"}, ["started_at"]),
    "detected before start": (
        {"started_at": "2024-03-01T10:00:00Z", "detected_at": "2024-03-01T09:00:00Z"},
        ["detected_at"],
    ),
    "unknown owner username": ({"action_items": [_item(owner="nobody")]}, ["action_items", "0", "owner"]),
    "bad due date format": (
        {"action_items": [_item(due_date="31/01/2030")]},
        ["action_items", "0", "due_date"],
    ),
    "action item without owner": (
        {"action_items": [{"text": "x", "due_date": "2030-01-31"}]},
        ["action_items", "0", "owner"],
    ),
    "unknown action item kind": ({"action_items": [_item(kind="wish")]}, ["action_items", "0", "kind"]),
    "issue url as fix pr": (
        {"fix_prs": [{"url": "https://github.com/acme/shop/issues/7"}]},
        ["fix_prs", "0", "url"],
    ),
    "not a url as fix pr": ({"fix_prs": [{"url": "acme/shop#7"}]}, ["fix_prs", "0", "url"]),
    "unknown action item on fix pr": (
        {"fix_prs": [{"url": "https://github.com/acme/shop/pull/7", "action_item": 999}]},
        ["fix_prs", "0", "action_item"],
    ),
    "declined change without rationale": (
        {"declined_changes": [{"text": "Freeze deploys", "rationale": ""}]},
        ["declined_changes", "0", "rationale"],
    ),
    "timeline entry without time": ({"timeline": [{"text": "alert"}]}, ["timeline", "0", "at"]),
    "row list that is not a list": ({"timeline": {"text": "alert"}}, ["timeline"]),
}


@pytest.mark.parametrize("changes, path", BAD_CREATES.values(), ids=BAD_CREATES.keys())
def test_create_rejects_bad_input_naming_the_field_and_saves_nothing(api, changes, path):
    response = api.post(LIST, valid_body(**changes), format="json")

    assert response.status_code == 400
    errors = response.json()
    for key in path:
        errors = errors[key]
    assert errors
    assert row_counts() == (0, 0, 0, 0, 0)


def test_not_doing_without_a_reason_is_rejected_and_nothing_saved(api):
    body = valid_body(action_items=[_item(status="not_doing")])

    response = api.post(LIST, body, format="json")

    assert response.status_code == 400
    assert "not_doing_reason" in response.json()["action_items"][0]
    assert row_counts() == (0, 0, 0, 0, 0)


def test_not_doing_with_a_reason_is_accepted(api):
    body = valid_body(action_items=[_item(status="not_doing", not_doing_reason="Service retired")])

    response = api.post(LIST, body, format="json")

    assert response.status_code == 201
    assert ActionItem.objects.get().not_doing_reason == "Service retired"


def test_external_id_is_set_by_imports_only_so_it_cannot_probe_hidden_documents(api, team):
    # A writable, unique external id would answer "already exists" for a restricted
    # or deleted document's id (an existence oracle, and a 500 for deleted ones).
    PostMortemFactory(team=team, external_id="gh-123", visibility="restricted")

    response = api.post(LIST, valid_body(external_id="gh-123"), format="json")

    assert response.status_code == 201
    assert response.json()["external_id"] == ""
    assert PostMortem.objects.filter(external_id="gh-123").count() == 1


# --- read ---------------------------------------------------------------------------


def test_detail_shows_the_whole_document(api, team, teammate):
    pm = PostMortemFactory(team=team, facilitator=teammate, factors=[factor("retry-storm")])
    item = ActionItemFactory(postmortem=pm, owner=teammate, due_date=dt.date(2000, 1, 1))
    TimelineEntryFactory(postmortem=pm)
    DeclinedChangeFactory(postmortem=pm)
    FixPullRequestFactory(postmortem=pm, action_item=item)

    response = api.get(detail_url(pm))

    assert response.status_code == 200
    data = response.json()
    assert data["facilitator"] == "bob" and data["factors"] == ["retry-storm"]
    assert data["what_happened"] == pm.what_happened
    assert data["time_to_detect"] == 7 * 60
    assert data["action_items"][0] == {
        "id": item.pk,
        "key": item.key,
        "text": item.text,
        "kind": "test",
        "owner": "bob",
        "due_date": "2000-01-01",
        "status": "open",
        "not_doing_reason": "",
        "ticket_url": "",
        "completed_at": None,
        "is_overdue": True,
        # SEV2: the follow-up window ends 28 days after resolution (followthrough).
        "followup_due": (timezone.localdate(pm.resolved_at) + dt.timedelta(days=28)).isoformat(),
        "past_followup_window": False,
        "version": 1,
    }
    assert (data["visibility"], data["restricted_to"], data["version"]) == ("organisation", [], 1)
    assert response["ETag"] == '"1"'
    assert data["fix_prs"][0]["action_item"] == item.pk
    assert data["declined_changes"][0]["rationale"]
    assert data["timeline"][0]["text"] == "Error-rate alert fired for checkout."


def test_detail_durations_are_null_when_a_time_is_unknown(api, team):
    pm = PostMortemFactory(team=team, started_at=None, detected_at=None, mitigated_at=None, resolved_at=None)

    data = api.get(detail_url(pm)).json()

    assert (data["time_to_detect"], data["time_to_mitigate"], data["time_to_resolve"]) == (None, None, None)


def test_unknown_postmortem_is_404(api, db):
    assert api.get(f"{LIST}999/").status_code == 404
    assert api.patch(f"{LIST}999/", {"title": "x"}, format="json").status_code == 404


def test_detail_query_count_does_not_grow_with_rows(api, team, django_assert_max_num_queries):
    pm = PostMortemFactory(team=team, factors=[factor("retry-storm"), factor("config-change")])
    for _ in range(6):
        item = ActionItemFactory(postmortem=pm)
        FixPullRequestFactory(postmortem=pm, action_item=item)
        TimelineEntryFactory(postmortem=pm)
        DeclinedChangeFactory(postmortem=pm)

    # postmortem (its visibility in the same query) + services, authors, factors,
    # named readers, timeline, declined, items, fix PRs, and the lint block (the
    # document's waivers and its action items' texts)
    with django_assert_max_num_queries(11):
        response = api.get(detail_url(pm))
    assert len(response.json()["action_items"]) == 6


# --- PATCH --------------------------------------------------------------------------


@pytest.fixture
def pm(team, author):
    pm = PostMortemFactory(team=team, title="Old title", authors=[author])
    TimelineEntryFactory(postmortem=pm, text="first alert")
    return pm


def test_patch_changes_only_the_given_fields_and_leaves_rows_alone(api, pm):
    item = ActionItemFactory(postmortem=pm)
    before = (pm.severity, pm.what_happened, list(pm.timeline.values_list("pk", flat=True)))

    response = api.patch(
        detail_url(pm), {"title": "New title", "severity": "SEV1"}, format="json", HTTP_IF_MATCH=etag(pm)
    )

    assert response.status_code == 200, response.json()
    assert response.json()["title"] == "New title"
    pm.refresh_from_db()
    assert (pm.title, pm.severity) == ("New title", "SEV1")
    before = ("SEV1", *before[1:])
    assert (pm.severity, pm.what_happened, list(pm.timeline.values_list("pk", flat=True))) == before
    assert list(pm.action_items.all()) == [item]


def test_patch_row_list_replaces_the_rows(api, pm, teammate):
    keep, drop = ActionItemFactory(postmortem=pm), ActionItemFactory(postmortem=pm)
    timeline_ids = list(pm.timeline.values_list("pk", flat=True))
    body = {
        "action_items": [
            {"id": keep.pk, "text": "Changed text", "status": "done"},
            {"text": "A brand new item", "owner": "bob", "due_date": "2031-05-01", "kind": "check"},
        ]
    }

    response = api.patch(detail_url(pm), body, format="json", HTTP_IF_MATCH=etag(pm))

    assert response.status_code == 200, response.json()
    assert [row["text"] for row in response.json()["action_items"]] == ["Changed text", "A brand new item"]
    keep.refresh_from_db()
    assert (keep.text, keep.status) == ("Changed text", "done")
    assert keep.completed_at is not None
    assert not ActionItem.objects.filter(pk=drop.pk).exists()
    new = pm.action_items.exclude(pk=keep.pk).get()
    assert (new.owner, new.kind, new.due_date) == (teammate, "check", dt.date(2031, 5, 1))
    assert list(pm.timeline.values_list("pk", flat=True)) == timeline_ids  # untouched


def test_patch_row_without_status_keeps_a_done_item_done(api, pm):
    done_at = timezone.now() - dt.timedelta(days=1)
    done = ActionItemFactory(postmortem=pm, status="done", completed_at=done_at)

    response = api.patch(
        detail_url(pm),
        {"action_items": [{"id": done.pk, "text": "Typo fixed"}]},
        format="json",
        HTTP_IF_MATCH=etag(pm),
    )

    assert response.status_code == 200
    done.refresh_from_db()
    assert (done.text, done.status, done.completed_at) == ("Typo fixed", "done", done_at)


def test_patch_rows_are_searchable_at_once(api, pm):
    body = {
        "action_items": [_item(text="Rotate the kafka credentials")],
        "timeline": [{"at": "2024-03-01T10:00:00Z", "text": "Zookeeper lost quorum"}],
    }

    response = api.patch(detail_url(pm), body, format="json", HTTP_IF_MATCH=etag(pm))

    assert response.status_code == 200
    pm.refresh_from_db()
    assert "kafka" in pm.search_body and "Zookeeper" in pm.search_body
    assert api.get(LIST, {"q": "kafka zookeeper"}).json()["count"] == 1


def test_patch_with_an_empty_list_deletes_those_rows(api, pm):
    DeclinedChangeFactory(postmortem=pm)

    response = api.patch(
        detail_url(pm), {"declined_changes": [], "timeline": []}, format="json", HTTP_IF_MATCH=etag(pm)
    )

    assert response.status_code == 200
    assert response.json()["declined_changes"] == [] and response.json()["timeline"] == []
    assert not pm.declined_changes.exists() and not pm.timeline.exists()


def test_patch_replaces_m2m_lists_by_slug_and_username(api, pm, teammate):
    pm.factors.set([factor("retry-storm")])

    response = api.patch(
        detail_url(pm),
        {"factors": ["config-change"], "authors": ["bob"]},
        format="json",
        HTTP_IF_MATCH=etag(pm),
    )

    assert response.status_code == 200
    assert list(pm.factors.values_list("slug", flat=True)) == ["config-change"]
    assert list(pm.authors.all()) == [teammate]


def test_patch_new_row_needs_its_required_fields(api, pm):
    response = api.patch(
        detail_url(pm), {"action_items": [{"text": "no owner"}]}, format="json", HTTP_IF_MATCH=etag(pm)
    )

    assert response.status_code == 400
    assert {"owner", "due_date"} <= set(response.json()["action_items"]["0"])
    assert not pm.action_items.exists()


def test_patch_cannot_update_a_row_of_another_postmortem(api, pm, team):
    foreign = ActionItemFactory(postmortem=PostMortemFactory(team=team), text="foreign")

    response = api.patch(
        detail_url(pm),
        {"action_items": [{"id": foreign.pk, "text": "hijacked"}]},
        format="json",
        HTTP_IF_MATCH=etag(pm),
    )

    assert response.status_code == 400
    assert "no such row" in response.json()["action_items"][0]
    foreign.refresh_from_db()
    assert foreign.text == "foreign" and foreign.postmortem_id != pm.pk


def test_fix_pr_may_link_an_action_item_of_the_same_postmortem(api, pm):
    item = ActionItemFactory(postmortem=pm)
    body = {"fix_prs": [{"url": "https://gitlab.com/acme/shop/-/merge_requests/9", "action_item": item.pk}]}

    response = api.patch(detail_url(pm), body, format="json", HTTP_IF_MATCH=etag(pm))

    assert response.status_code == 200, response.json()
    pr = pm.fix_prs.get()
    assert (pr.action_item, pr.repository, pr.number) == (item, "acme/shop", 9)
    assert response.json()["fix_prs"][0]["action_item"] == item.pk


def test_fix_pr_rejects_an_action_item_of_another_postmortem(api, pm, team):
    foreign = ActionItemFactory(postmortem=PostMortemFactory(team=team))
    body = {"fix_prs": [{"url": "https://github.com/acme/shop/pull/3", "action_item": foreign.pk}]}

    response = api.patch(detail_url(pm), body, format="json", HTTP_IF_MATCH=etag(pm))

    assert response.status_code == 400
    assert "same post-mortem" in response.json()["fix_prs"][0]
    assert not FixPullRequest.objects.exists()


def test_invalid_patch_saves_nothing(api, pm):
    item = ActionItemFactory(postmortem=pm, text="original")
    body = {
        "title": "Should not stick",
        "action_items": [{"id": item.pk, "text": "changed"}, _item(status="not_doing")],
    }

    response = api.patch(detail_url(pm), body, format="json", HTTP_IF_MATCH=etag(pm))

    assert response.status_code == 400
    pm.refresh_from_db()
    item.refresh_from_db()
    assert (pm.title, item.text) == ("Old title", "original")
    assert pm.action_items.count() == 1


def test_patch_rejects_blanking_a_required_section(api, pm):
    response = api.patch(detail_url(pm), {"why_it_happened": " "}, format="json", HTTP_IF_MATCH=etag(pm))

    assert response.status_code == 400
    assert "why_it_happened" in response.json()
    pm.refresh_from_db()
    assert pm.why_it_happened.strip()


def test_put_is_not_offered(api, pm):
    assert api.put(detail_url(pm), valid_body(), format="json", HTTP_IF_MATCH=etag(pm)).status_code == 405
    pm.refresh_from_db()
    assert pm.title == "Old title"


def test_a_signed_in_reader_who_may_not_edit_gets_403_and_nothing_changes(pm, outsider):
    client = APIClient()
    client.force_authenticate(outsider)

    response = client.patch(
        detail_url(pm), {"title": "Edited by an outsider"}, format="json", HTTP_IF_MATCH=etag(pm)
    )

    assert response.status_code == 403
    assert "authors" in response.json()["detail"]
    pm.refresh_from_db()
    assert (pm.title, pm.version) == ("Old title", 1)


def test_a_teammate_who_is_not_an_author_may_edit(pm, teammate):
    client = APIClient()
    client.force_authenticate(teammate)

    response = client.patch(
        detail_url(pm), {"title": "Edited by the team"}, format="json", HTTP_IF_MATCH=etag(pm)
    )

    assert response.status_code == 200
    assert PostMortem.objects.get(pk=pm.pk).title == "Edited by the team"


# --- authentication -----------------------------------------------------------------


@pytest.fixture
def some_rows(team):
    item = ActionItemFactory(postmortem=PostMortemFactory(team=team, title="Secret title"))
    ServiceFactory(slug="checkout", team=team)
    return item


READ_URLS = [
    "/api/v1/",
    LIST,
    "/api/v1/action-items/",
    "/api/v1/factors/",
    "/api/v1/factors/config-change/",
    "/api/v1/teams/",
    "/api/v1/teams/payments/",
    "/api/v1/services/",
    "/api/v1/services/checkout/",
]


@pytest.mark.parametrize("url", READ_URLS)
def test_anonymous_cannot_read(anon_api, some_rows, url):
    response = anon_api.get(url)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "Secret title" not in response.content.decode()


def test_anonymous_cannot_read_or_write_a_postmortem(anon_api, some_rows):
    pm = some_rows.postmortem

    assert anon_api.get(detail_url(pm)).status_code == 401
    assert anon_api.get(f"/api/v1/action-items/{some_rows.pk}/").status_code == 401
    assert anon_api.post(LIST, valid_body(), format="json").status_code == 401
    assert (
        anon_api.patch(detail_url(pm), {"title": "x"}, format="json", HTTP_IF_MATCH=etag(pm)).status_code
        == 401
    )
    assert (
        anon_api.patch(f"/api/v1/action-items/{some_rows.pk}/", {"status": "done"}, format="json").status_code
        == 401
    )
    pm.refresh_from_db()
    some_rows.refresh_from_db()
    assert (pm.title, some_rows.status) == ("Secret title", "open")
    assert PostMortem.objects.count() == 1


def test_token_authentication_works(author, some_rows):
    token = Token.objects.create(user=author)
    client = APIClient()

    read = client.get(LIST, HTTP_AUTHORIZATION=f"Token {token.key}")
    created = client.post(LIST, valid_body(), format="json", HTTP_AUTHORIZATION=f"Token {token.key}")

    assert read.status_code == 200 and read.json()["count"] == 1
    assert created.status_code == 201
    assert PostMortem.objects.get(pk=created.json()["id"]).created_by == author


def test_a_wrong_token_is_refused(some_rows):
    response = APIClient().get(LIST, HTTP_AUTHORIZATION="Token not-a-real-token")

    assert response.status_code == 401
    assert "Invalid token" in response.json()["detail"]
