"""The API's policy table: every post-mortem route × (anonymous, outsider, member,
author, admin) × (organisation document, restricted document) → status, with
the database checked after every refused write; and the leak test — a restricted
document's title, key and rows never reach an outsider through lists, search,
counts or related fields (issue 9; ``postmortems.access`` holds the rules).

The people: ``bob`` is a member of the document's team, ``carla`` wrote both
documents but is not in the team (author rights alone), ``mallory`` is an
outsider and ``root`` an admin. Both documents are drafts, so their authors may
delete them.
"""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from postmortems import services
from postmortems.models import ActionItem, FindingWaiver, PostMortem
from tests.factories import (
    ActionItemFactory,
    DeclinedChangeFactory,
    FixPullRequestFactory,
    PostMortemFactory,
    ServiceFactory,
    TeamFactory,
    TeamMembershipFactory,
    TimelineEntryFactory,
    UserFactory,
    factor,
)

ACTORS = ("anonymous", "outsider", "member", "author", "admin")
DOCS = ("organisation", "restricted")
SECRET = "Zanzibar"  # appears only in the restricted document and its rows


@pytest.fixture
def world(db):
    """The people (by role) and the two documents (by visibility), each with rows."""
    team = TeamFactory(slug="payments", name="Payments")
    ServiceFactory(slug="checkout", team=team)
    people = {
        "member": UserFactory(username="bob"),
        "author": UserFactory(username="carla"),
        "outsider": UserFactory(username="mallory"),
        "admin": UserFactory(username="root", is_staff=True),
    }
    TeamMembershipFactory(team=team, user=people["member"])
    owner = UserFactory(username="olga")
    docs = {
        "organisation": PostMortemFactory(
            team=team,
            title="Checkout outage after a config push",
            authors=[people["author"]],
            factors=[factor("config-change")],
        ),
        "restricted": PostMortemFactory(
            team=team,
            title=f"{SECRET} vault credentials exposed",
            what_happened=f"The {SECRET} vault token leaked into a checkout log.",
            authors=[people["author"]],
            visibility=PostMortem.Visibility.RESTRICTED,
            factors=[factor("config-change"), factor("expired-credential")],
        ),
    }
    for name, pm in docs.items():
        word = SECRET if name == "restricted" else "Checkout"
        item = ActionItemFactory(postmortem=pm, owner=owner, text=f"Rotate the {word} token weekly")
        TimelineEntryFactory(postmortem=pm, text=f"{word} alert fired")
        DeclinedChangeFactory(postmortem=pm, text=f"Drop the {word} cache", rationale="Not the cause.")
        FixPullRequestFactory(postmortem=pm, action_item=item, title=f"{word} fix")
    return people, docs


def client_for(people, actor: str) -> APIClient:
    client = APIClient()
    if actor != "anonymous":
        client.force_authenticate(people[actor])
    return client


def etag(pm) -> str:
    return f'"{PostMortem.all_objects.get(pk=pm.pk).version}"'


def state(pm) -> tuple:
    """Everything a refused write must leave as it was."""
    row = PostMortem.all_objects.values("title", "version", "deleted_at", "visibility").get(pk=pm.pk)
    items = list(ActionItem.all_objects.filter(postmortem=pm).values("text", "status", "version"))
    return row, items, FindingWaiver.objects.filter(postmortem=pm).count()


# --- the routes of one document ---------------------------------------------------------

BASE = "/api/v1/postmortems/"


def _item(pm) -> ActionItem:
    return ActionItem.all_objects.filter(postmortem=pm).get()


def _waiver_body() -> dict:
    return {"section": "what_happened", "rule": "blame", "excerpt": "leaked", "reason": "A quoted log line."}


ROUTES = {
    "GET detail": lambda c, pm: c.get(f"{BASE}{pm.pk}/"),
    "PATCH detail": lambda c, pm: c.patch(
        f"{BASE}{pm.pk}/", {"title": "Renamed"}, format="json", HTTP_IF_MATCH=etag(pm)
    ),
    "DELETE detail": lambda c, pm: c.delete(f"{BASE}{pm.pk}/", HTTP_IF_MATCH=etag(pm)),
    "GET readiness": lambda c, pm: c.get(f"{BASE}{pm.pk}/readiness/"),
    "POST waivers": lambda c, pm: c.post(f"{BASE}{pm.pk}/waivers/", _waiver_body(), format="json"),
    "GET action item": lambda c, pm: c.get(f"/api/v1/action-items/{_item(pm).pk}/"),
    "PATCH action item": lambda c, pm: c.patch(
        f"/api/v1/action-items/{_item(pm).pk}/",
        {"text": "Rotate every token daily"},
        format="json",
        HTTP_IF_MATCH=f'"{_item(pm).version}"',
    ),
}

# route → actor → (status on the organisation document, status on the restricted one)
READ = {
    "anonymous": (401, 401),
    "outsider": (200, 404),
    "member": (200, 200),
    "author": (200, 200),
    "admin": (200, 200),
}
EDIT = {
    "anonymous": (401, 401),
    "outsider": (403, 404),
    "member": (200, 200),
    "author": (200, 200),
    "admin": (200, 200),
}
EXPECTED = {
    "GET detail": READ,
    "PATCH detail": EDIT,
    # Delete: admins, the team's leads, and the authors of a draft; bob is a plain member.
    "DELETE detail": {
        "anonymous": (401, 401),
        "outsider": (403, 404),
        "member": (403, 403),
        "author": (204, 204),
        "admin": (204, 204),
    },
    "GET readiness": READ,
    # Waive a language finding: whoever may change the document (writing_aids.may_review_language).
    "POST waivers": {
        "anonymous": (401, 401),
        "outsider": (403, 404),
        "member": (201, 201),
        "author": (201, 201),
        "admin": (201, 201),
    },
    "GET action item": READ,
    "PATCH action item": EDIT,
}

CASES = [
    pytest.param(route, actor, doc, EXPECTED[route][actor][DOCS.index(doc)], id=f"{route}-{actor}-{doc}")
    for route in ROUTES
    for actor in ACTORS
    for doc in DOCS
]


@pytest.mark.parametrize("route, actor, doc, expected", CASES)
def test_policy_table(world, route, actor, doc, expected):
    people, docs = world
    pm = docs[doc]
    before = state(pm)

    response = ROUTES[route](client_for(people, actor), pm)

    assert response.status_code == expected, response.content
    if expected >= 400:
        assert state(pm) == before  # a refused request changes nothing
        body = response.content.decode()
        if expected == 404:
            assert SECRET not in body and pm.title not in body
    elif route == "PATCH detail":
        assert PostMortem.objects.get(pk=pm.pk).title == "Renamed"
    elif route == "DELETE detail":
        assert PostMortem.all_objects.get(pk=pm.pk).deleted_at is not None
        assert not PostMortem.objects.filter(pk=pm.pk).exists()
    elif route == "POST waivers":
        assert FindingWaiver.objects.filter(postmortem=pm).count() == 1
    elif route == "PATCH action item":
        assert _item(pm).text == "Rotate every token daily"
    elif route == "GET detail":
        assert response.json()["title"] == pm.title


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("doc", DOCS)
def test_restore_is_for_admins_only_and_a_404_for_everyone_else(world, actor, doc):
    people, docs = world
    pm = docs[doc]
    services.postmortem_delete(user=people["admin"], postmortem=pm)
    before = state(pm)

    response = client_for(people, actor).post(f"{BASE}{pm.pk}/restore/", HTTP_IF_MATCH=etag(pm))

    expected = {"anonymous": 401, "admin": 200}.get(actor, 404)
    assert response.status_code == expected
    if actor == "admin":
        assert PostMortem.objects.filter(pk=pm.pk).exists()
        assert response.json()["title"] == pm.title
        assert response["ETag"] == etag(pm)
    else:
        assert state(pm) == before
        assert pm.title not in response.content.decode()


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("doc", DOCS)
def test_a_deleted_document_is_a_404_on_every_route_even_for_its_author_and_admins(world, actor, doc):
    people, docs = world
    pm = docs[doc]
    services.postmortem_delete(user=people["admin"], postmortem=pm)
    before = state(pm)
    client = client_for(people, actor)

    for route in ROUTES:
        response = ROUTES[route](client, pm)
        assert response.status_code == (401 if actor == "anonymous" else 404), route
    assert state(pm) == before


LIST_ROUTES = [
    "/api/v1/postmortems/",
    "/api/v1/postmortems/?q=token",
    "/api/v1/action-items/",
    "/api/v1/factors/",
    "/api/v1/factors/config-change/",
    "/api/v1/teams/",
    "/api/v1/teams/payments/",
    "/api/v1/services/",
    "/api/v1/services/checkout/",
]


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("url", LIST_ROUTES)
def test_lists_and_catalogue_are_for_signed_in_users(world, actor, url):
    people, _ = world

    response = client_for(people, actor).get(url)

    assert response.status_code == (401 if actor == "anonymous" else 200)


@pytest.mark.parametrize("actor", ACTORS)
def test_the_language_check_is_for_signed_in_users(world, actor):
    people, _ = world

    response = client_for(people, actor).post("/api/v1/lint/", {"text": "The on-call forgot."}, format="json")

    assert response.status_code == (401 if actor == "anonymous" else 200)


# --- nothing of a restricted document reaches an outsider -----------------------------


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_an_outsider_never_sees_the_restricted_document_anywhere(world):
    people, docs = world
    hidden, shown = docs["restricted"], docs["organisation"]
    hidden_item = _item(hidden)
    client = client_for(people, "outsider")
    urls = [
        *LIST_ROUTES,
        f"/api/v1/postmortems/?q={SECRET}",
        f'/api/v1/postmortems/?q="{SECRET} vault"',
        "/api/v1/postmortems/?factor=expired-credential",
        "/api/v1/postmortems/?team=payments",
        f"/api/v1/action-items/?postmortem={hidden.pk}",
        "/api/v1/action-items/?owner=olga",
        "/api/v1/factors/?page_size=100",
        "/api/v1/factors/expired-credential/",
        f"{BASE}{shown.pk}/",
        f"{BASE}{shown.pk}/readiness/",
        f"/api/v1/action-items/{_item(shown).pk}/",
    ]

    bodies = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        bodies[url] = response.content.decode()

    for url, body in bodies.items():
        assert SECRET not in body, url
        assert hidden.title not in body, url
        assert f'"PM-{hidden.pk}"' not in body and f'"{hidden_item.key}"' not in body, url
    assert _ids(client.get(BASE)) == {shown.pk}
    assert json.loads(bodies[BASE])["count"] == 1
    assert json.loads(bodies[f"/api/v1/postmortems/?q={SECRET}"])["count"] == 0
    assert {row["postmortem"] for row in json.loads(bodies["/api/v1/action-items/"])["results"]} == {shown.pk}
    assert json.loads(bodies[f"/api/v1/action-items/?postmortem={hidden.pk}"])["count"] == 0
    # Counts: config-change tags both documents, expired-credential only the hidden one.
    assert json.loads(bodies["/api/v1/factors/config-change/"])["postmortem_count"] == 1
    assert json.loads(bodies["/api/v1/factors/expired-credential/"])["postmortem_count"] == 0


@pytest.mark.parametrize("actor", ["member", "author", "admin"])
def test_the_circle_sees_the_restricted_document_in_lists_search_and_counts(world, actor):
    people, docs = world
    client = client_for(people, actor)

    assert _ids(client.get(BASE)) == {docs["organisation"].pk, docs["restricted"].pk}
    found = client.get(BASE, {"q": SECRET}).json()
    assert [row["id"] for row in found["results"]] == [docs["restricted"].pk]
    assert SECRET in found["results"][0]["snippet"]
    assert client.get("/api/v1/factors/expired-credential/").json()["postmortem_count"] == 1
    assert client.get("/api/v1/factors/config-change/").json()["postmortem_count"] == 2
    assert len(client.get("/api/v1/action-items/").json()["results"]) == 2


def test_a_named_reader_sees_the_restricted_document_but_may_not_change_it(world):
    people, docs = world
    hidden = docs["restricted"]
    hidden.restricted_to.add(people["outsider"])
    client = client_for(people, "outsider")
    before = state(hidden)

    assert client.get(f"{BASE}{hidden.pk}/").status_code == 200
    assert hidden.pk in _ids(client.get(BASE))
    refused = client.patch(f"{BASE}{hidden.pk}/", {"title": "x"}, format="json", HTTP_IF_MATCH=etag(hidden))
    assert refused.status_code == 403
    assert state(hidden) == before


def test_deleted_documents_vanish_from_lists_search_and_counts_for_everyone(world):
    people, docs = world
    services.postmortem_delete(user=people["admin"], postmortem=docs["restricted"])
    client = client_for(people, "admin")

    assert _ids(client.get(BASE)) == {docs["organisation"].pk}
    assert client.get(BASE, {"q": SECRET}).json()["count"] == 0
    assert client.get("/api/v1/factors/expired-credential/").json()["postmortem_count"] == 0
    assert {row["postmortem"] for row in client.get("/api/v1/action-items/").json()["results"]} == {
        docs["organisation"].pk
    }


def test_a_fix_pr_cannot_point_at_an_action_item_of_a_document_the_writer_cannot_see(world):
    """An invisible item's id answers exactly like an id that was never used."""
    people, docs = world
    shown, hidden = docs["organisation"], docs["restricted"]
    writer = UserFactory(username="wendy")
    shown.authors.add(writer)  # may edit the organisation document, may not see the other
    client = client_for({"writer": writer}, "writer")
    before = list(shown.fix_prs.values("url", "action_item"))

    answers = []
    for item_id in (_item(hidden).pk, 999_999):
        body = {"fix_prs": [{"url": "https://github.com/acme/shop/pull/77", "action_item": item_id}]}
        response = client.patch(f"{BASE}{shown.pk}/", body, format="json", HTTP_IF_MATCH=etag(shown))
        assert response.status_code == 400
        answers.append(json.dumps(response.json()).replace(str(item_id), "<id>"))

    assert answers[0] == answers[1]
    assert list(shown.fix_prs.values("url", "action_item")) == before


def test_an_author_who_writes_themselves_out_of_a_document_gets_their_answer_then_a_404(world):
    people, docs = world
    pm = docs["organisation"]
    client = client_for(people, "author")  # an author, not in the team

    response = client.patch(
        f"{BASE}{pm.pk}/",
        {"authors": ["bob"], "visibility": "restricted"},
        format="json",
        HTTP_IF_MATCH=etag(pm),
    )

    assert response.status_code == 200
    assert (response.json()["authors"], response.json()["visibility"]) == (["bob"], "restricted")
    assert client.get(f"{BASE}{pm.pk}/").status_code == 404
    assert pm.pk not in _ids(client.get(BASE))
