"""The optimistic-locking contract of the API ("No lost edits", issue 9): ``ETag``
on reads, ``If-Match`` required on every update, 428 / 412 / 400 for a missing,
stale or unreadable one — and nothing saved then — plus soft delete and restore.
"""

from __future__ import annotations

import pytest
from django.db.models import F
from rest_framework.test import APIClient

from postmortems import services
from postmortems.api import conditional
from postmortems.api import views as api_views
from postmortems.models import ActionItem, PostMortem
from tests.factories import ActionItemFactory, PostMortemFactory, UserFactory

LIST = "/api/v1/postmortems/"
MISSING = "This update needs an If-Match header with the ETag from your last read."


def url(pm) -> str:
    return f"{LIST}{pm.pk}/"


def item_url(item) -> str:
    return f"/api/v1/action-items/{item.pk}/"


def stored(pm) -> dict:
    return PostMortem.all_objects.values("title", "version", "deleted_at", "visibility").get(pk=pm.pk)


def stored_item(item) -> dict:
    return ActionItem.all_objects.values("text", "status", "version", "completed_at").get(pk=item.pk)


@pytest.fixture
def pm(team, author):
    return PostMortemFactory(team=team, title="Old title", authors=[author])


@pytest.fixture
def item(pm, author):
    return ActionItemFactory(postmortem=pm, owner=author, text="Add a timeout test")


@pytest.fixture
def admin_api(db):
    client = APIClient()
    client.force_authenticate(UserFactory(username="root", is_staff=True))
    return client


# --- reading gives the ETag -----------------------------------------------------------


def test_reads_carry_a_strong_etag_equal_to_the_version(api, pm, item):
    PostMortem.objects.filter(pk=pm.pk).update(version=7)

    response = api.get(url(pm))
    item_response = api.get(item_url(item))

    assert response["ETag"] == '"7"' and response.json()["version"] == 7
    assert item_response["ETag"] == '"1"' and item_response.json()["version"] == 1


def test_create_needs_no_if_match_and_answers_with_the_etag(api, team):
    body = {
        "title": "Card payments failed",
        "team": "payments",
        "severity": "SEV2",
        "what_happened": "Payments failed.",
        "why_it_happened": "A default was removed.",
    }

    response = api.post(LIST, body, format="json")

    assert response.status_code == 201
    assert response["ETag"] == '"1"' == f'"{response.json()["version"]}"'


def test_the_etag_of_one_write_is_the_if_match_of_the_next_and_the_old_one_is_refused(api, pm):
    first = api.get(url(pm))["ETag"]

    changed = api.patch(url(pm), {"title": "Second"}, format="json", HTTP_IF_MATCH=first)
    again = api.patch(url(pm), {"title": "Third"}, format="json", HTTP_IF_MATCH=changed["ETag"])
    stale = api.patch(url(pm), {"title": "Lost"}, format="json", HTTP_IF_MATCH=first)

    assert (changed.status_code, changed["ETag"], changed.json()["version"]) == (200, '"2"', 2)
    assert (again.status_code, again["ETag"]) == (200, '"3"')
    assert stale.status_code == 412
    assert stored(pm)["title"] == "Third"


# --- PATCH of a post-mortem -------------------------------------------------------------


def test_patch_without_if_match_is_428_and_saves_nothing(api, pm):
    before = stored(pm)

    response = api.patch(url(pm), {"title": "New"}, format="json")

    assert response.status_code == 428
    assert response.json() == {"detail": MISSING}
    assert stored(pm) == before


def test_a_blank_if_match_counts_as_missing(api, pm):
    response = api.patch(url(pm), {"title": "New"}, format="json", HTTP_IF_MATCH="  ")

    assert response.status_code == 428
    assert stored(pm)["title"] == "Old title"


def test_stale_if_match_is_412_with_the_current_version_and_etag(api, pm):
    PostMortem.objects.filter(pk=pm.pk).update(version=5)
    before = stored(pm)

    response = api.patch(url(pm), {"title": "New"}, format="json", HTTP_IF_MATCH='"4"')

    assert response.status_code == 412
    body = response.json()
    assert set(body) == {"detail", "current_version"}
    assert "changed by someone else" in body["detail"]
    assert body["current_version"] == 5
    assert response["ETag"] == '"5"'
    assert stored(pm) == before


@pytest.mark.parametrize(
    "header, status",
    [
        ('"1"', 200),
        ("*", 200),
        ('"9", "1"', 200),
        ('"9",,"1" ,', 200),
        ('W/"1"', 412),  # weak tags never match (strong comparison)
        ('W/"1", "9"', 412),
        ('"01"', 412),  # opaque tags compare as strings
        ('""', 412),
        ("1", 400),  # not quoted
        ('"1', 400),
        ('"1" "2"', 400),
        ('*, "1"', 400),
        ("garbage", 400),
        (",", 400),
    ],
)
def test_if_match_forms(api, pm, header, status):
    before = stored(pm)

    response = api.patch(url(pm), {"title": "New"}, format="json", HTTP_IF_MATCH=header)

    assert response.status_code == status, response.json()
    if status == 200:
        assert stored(pm)["title"] == "New" and response["ETag"] == '"2"'
    else:
        assert stored(pm) == before
        assert response.json()["detail"]
    if status == 400:
        assert "If-Match" in response.json()["detail"]


def test_permission_and_visibility_come_before_the_precondition(pm, outsider):
    client = APIClient()
    client.force_authenticate(outsider)
    before = stored(pm)

    assert client.patch(url(pm), {"title": "x"}, format="json").status_code == 403  # not 428
    assert client.patch(url(pm), {"title": "x"}, format="json", HTTP_IF_MATCH='"9"').status_code == 403
    PostMortem.objects.filter(pk=pm.pk).update(visibility="restricted")
    assert client.patch(url(pm), {"title": "x"}, format="json").status_code == 404
    assert stored(pm) == {**before, "visibility": "restricted"}


def test_the_precondition_comes_before_the_body_is_validated(api, pm):
    response = api.patch(url(pm), {"severity": "SEV9"}, format="json", HTTP_IF_MATCH='"3"')

    assert response.status_code == 412
    assert api.patch(url(pm), {"severity": "SEV9"}, format="json").status_code == 428


def _bump_after_the_check(monkeypatch, model, pk):
    """Make another writer save between the If-Match check and the write."""
    original = api_views.required_version

    def check_then_lose_the_race(request, current_version):
        expected = original(request, current_version)
        model.all_objects.filter(pk=pk).update(version=F("version") + 1)
        return expected

    monkeypatch.setattr(api_views, "required_version", check_then_lose_the_race)


def test_a_writer_who_saves_between_check_and_write_makes_it_a_412(api, pm, monkeypatch):
    _bump_after_the_check(monkeypatch, PostMortem, pm.pk)

    response = api.patch(url(pm), {"title": "Lost race"}, format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 412
    assert response.json()["current_version"] == 2 and response["ETag"] == '"2"'
    assert stored(pm)["title"] == "Old title"


def test_patch_of_a_deleted_post_mortem_is_404_and_changes_nothing(api, pm, author):
    services.postmortem_delete(user=author, postmortem=pm)  # a draft: its author may delete it
    before = stored(pm)

    for header in (f'"{before["version"]}"', "*", '"1"'):
        response = api.patch(url(pm), {"title": "Back from the dead"}, format="json", HTTP_IF_MATCH=header)
        assert response.status_code == 404
    assert stored(pm) == before


# --- visibility through the API -------------------------------------------------------------


def test_visibility_and_named_readers_are_written_and_shown(api, pm, outsider):
    other = UserFactory(username="oscar")
    body = {"visibility": "restricted", "restricted_to": ["mallory"]}

    response = api.patch(url(pm), body, format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 200
    assert (response.json()["visibility"], response.json()["restricted_to"]) == ("restricted", ["mallory"])
    assert list(PostMortem.objects.get(pk=pm.pk).restricted_to.all()) == [outsider]
    for user, expected in ((outsider, 200), (other, 404)):
        client = APIClient()
        client.force_authenticate(user)
        assert client.get(url(pm)).status_code == expected


@pytest.mark.parametrize(
    "body, field",
    [
        ({"visibility": "secret"}, "visibility"),
        ({"visibility": ""}, "visibility"),
        ({"restricted_to": ["nobody"]}, "restricted_to"),
        ({"restricted_to": "mallory"}, "restricted_to"),
        ({"version": 99, "title": 5.5, "severity": []}, "severity"),
    ],
)
def test_bad_visibility_input_is_400_and_saves_nothing(api, pm, outsider, body, field):
    before = stored(pm)

    response = api.patch(url(pm), body, format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 400
    assert field in response.json()
    assert stored(pm) == before
    assert not pm.restricted_to.exists()


def test_version_is_read_only(api, pm):
    response = api.patch(url(pm), {"version": 42, "title": "New"}, format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 200
    assert stored(pm)["version"] == 2


# --- DELETE and restore ---------------------------------------------------------------------


def test_delete_is_soft_and_needs_if_match(api, pm, admin_api):
    assert api.delete(url(pm)).status_code == 428
    stale = api.delete(url(pm), HTTP_IF_MATCH='"7"')
    assert (stale.status_code, stale.json()["current_version"]) == (412, 1)
    assert stored(pm)["deleted_at"] is None

    response = api.delete(url(pm), HTTP_IF_MATCH='"1"')

    assert response.status_code == 204
    row = stored(pm)
    assert row["deleted_at"] is not None and row["version"] == 2
    assert PostMortem.all_objects.get(pk=pm.pk).deleted_by.username == "alice"
    assert api.get(url(pm)).status_code == 404
    assert admin_api.get(url(pm)).status_code == 404
    assert api.get(LIST).json()["count"] == 0
    assert api.delete(url(pm), HTTP_IF_MATCH='"2"').status_code == 404
    assert stored(pm) == row


def test_delete_losing_a_race_is_412_and_deletes_nothing(api, pm, monkeypatch):
    _bump_after_the_check(monkeypatch, PostMortem, pm.pk)

    response = api.delete(url(pm), HTTP_IF_MATCH='"1"')

    assert response.status_code == 412
    assert stored(pm)["deleted_at"] is None


def test_delete_with_a_malformed_if_match_is_400(api, pm):
    assert api.delete(url(pm), HTTP_IF_MATCH="1").status_code == 400
    assert stored(pm)["deleted_at"] is None


def test_a_published_document_is_not_deleted_by_its_author(api, pm):
    PostMortem.objects.filter(pk=pm.pk).update(status="published")

    response = api.delete(url(pm), HTTP_IF_MATCH="*")

    assert response.status_code == 403
    assert "admin" in response.json()["detail"]
    assert stored(pm)["deleted_at"] is None


def test_restore_brings_the_document_back(api, pm, admin_api):
    api.delete(url(pm), HTTP_IF_MATCH='"1"')
    restore = f"{url(pm)}restore/"

    missing = admin_api.post(restore)
    stale = admin_api.post(restore, HTTP_IF_MATCH='"1"')
    response = admin_api.post(restore, HTTP_IF_MATCH='"2"')

    assert (missing.status_code, stale.status_code) == (428, 412)
    assert stale.json()["current_version"] == 2
    assert response.status_code == 200
    assert (response.json()["id"], response["ETag"]) == (pm.pk, '"3"')
    assert stored(pm)["deleted_at"] is None
    assert api.get(url(pm)).status_code == 200


def test_restore_of_a_live_document_is_400_and_of_an_unknown_one_404(admin_api, pm):
    response = admin_api.post(f"{url(pm)}restore/", HTTP_IF_MATCH="*")

    assert response.status_code == 400
    assert "not deleted" in str(response.json())
    assert stored(pm)["version"] == 1
    assert admin_api.post(f"{LIST}999999/restore/", HTTP_IF_MATCH="*").status_code == 404


def test_restore_is_a_404_for_the_author_so_deleted_documents_do_not_leak(api, pm):
    api.delete(url(pm), HTTP_IF_MATCH='"1"')
    before = stored(pm)

    assert api.post(f"{url(pm)}restore/", HTTP_IF_MATCH="*").status_code == 404
    assert api.post(f"{LIST}999999/restore/", HTTP_IF_MATCH="*").status_code == 404
    assert stored(pm) == before


@pytest.mark.parametrize("pk", ["abc", "1.5", "99999999999999999999999"])
def test_odd_ids_are_404_not_500(api, pm, pk):
    assert api.get(f"{LIST}{pk}/").status_code == 404
    assert api.patch(f"{LIST}{pk}/", {"title": "x"}, format="json", HTTP_IF_MATCH="*").status_code == 404
    assert api.get(f"/api/v1/action-items/{pk}/").status_code == 404


# --- action items ---------------------------------------------------------------------------


def test_action_item_patch_needs_if_match(api, item):
    before = stored_item(item)

    missing = api.patch(item_url(item), {"status": "done"}, format="json")
    stale = api.patch(item_url(item), {"status": "done"}, format="json", HTTP_IF_MATCH='"5"')
    malformed = api.patch(item_url(item), {"status": "done"}, format="json", HTTP_IF_MATCH="1")

    assert (missing.status_code, missing.json()) == (428, {"detail": MISSING})
    assert (stale.status_code, stale.json()["current_version"], stale["ETag"]) == (412, 1, '"1"')
    assert malformed.status_code == 400
    assert stored_item(item) == before

    response = api.patch(item_url(item), {"status": "done"}, format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 200
    assert (response["ETag"], response.json()["version"]) == ('"2"', 2)
    assert stored_item(item)["status"] == "done"


def test_action_item_patch_losing_a_race_is_412(api, item, monkeypatch):
    _bump_after_the_check(monkeypatch, ActionItem, item.pk)

    response = api.patch(item_url(item), {"text": "Lost"}, format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 412
    assert response.json()["current_version"] == 2
    assert stored_item(item)["text"] == "Add a timeout test"


def test_a_document_patch_of_its_rows_moves_the_items_etag(api, pm, item):
    body = {"action_items": [{"id": item.pk, "text": "Reworded"}]}

    assert api.patch(url(pm), body, format="json", HTTP_IF_MATCH='"1"').status_code == 200
    stale = api.patch(item_url(item), {"status": "done"}, format="json", HTTP_IF_MATCH='"1"')

    assert stale.status_code == 412
    assert stored_item(item)["status"] == "open"


def test_an_item_patch_moves_the_documents_etag_so_a_stale_document_write_cannot_undo_it(api, pm, item):
    assert api.get(url(pm))["ETag"] == '"1"'

    done = api.patch(item_url(item), {"status": "done"}, format="json", HTTP_IF_MATCH='"1"')
    assert done.status_code == 200
    assert api.get(url(pm))["ETag"] == '"2"'
    body = {"action_items": [{"id": item.pk, "status": "open"}]}
    stale = api.patch(url(pm), body, format="json", HTTP_IF_MATCH='"1"')

    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2
    assert stored_item(item)["status"] == "done"
    assert stored(pm)["version"] == 2


@pytest.fixture
def owner_api(item, db):
    """The item's owner, who may read the document but is not one of its editors."""
    owner = UserFactory(username="olga")
    ActionItem.objects.filter(pk=item.pk).update(owner=owner)
    client = APIClient()
    client.force_authenticate(owner)
    return client


def test_the_owner_may_report_progress_on_their_item(owner_api, item):
    response = owner_api.patch(
        item_url(item),
        {"status": "not_doing", "not_doing_reason": "Service retired"},
        format="json",
        HTTP_IF_MATCH='"1"',
    )

    assert response.status_code == 200
    assert stored_item(item)["status"] == "not_doing"


@pytest.mark.parametrize("body", [{"text": "Rewritten"}, {"owner": "alice"}, {"due_date": "2031-01-01"}])
def test_the_owner_may_not_rewrite_reassign_or_redate_their_item(owner_api, item, body):
    before = stored_item(item)

    response = owner_api.patch(item_url(item), {**body, "status": "done"}, format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 403
    assert stored_item(item) == before


def test_someone_else_may_not_change_an_item(outsider, item):
    client = APIClient()
    client.force_authenticate(outsider)
    before = stored_item(item)

    response = client.patch(item_url(item), {"status": "done"}, format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 403
    assert stored_item(item) == before


# --- the If-Match parser itself ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value, tags",
    [
        (None, None),
        ("", None),
        ("*", ["*"]),
        ('"3"', ["3"]),
        ('"3", W/"4", "5"', ["3", "5"]),
        ('W/"3"', []),
    ],
)
def test_parse_if_match(value, tags):
    assert conditional.parse_if_match(value) == tags


@pytest.mark.parametrize("value", ["3", '"3', "W/3", '"a b"', '"3";"4"', "**"])
def test_parse_if_match_refuses_what_is_not_an_entity_tag_list(value):
    with pytest.raises(conditional.MalformedIfMatch):
        conditional.parse_if_match(value)
