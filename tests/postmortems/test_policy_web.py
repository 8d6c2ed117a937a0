"""Issue 9 on the HTML pages: who may read, change and delete a post-mortem.

The policy table runs every postmortems HTML route for five people — anonymous,
an outsider, a team member, an author from another team and an admin — on an
organisation document and on a restricted one, and checks the status code and
that a refused request changed nothing. The rules themselves live in
``postmortems.access``; these tests check that every page obeys them.
"""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from postmortems import services
from postmortems.models import ActionItem, FindingWaiver, PostMortem, TeamMembership
from tests.factories import (
    ActionItemFactory,
    PostMortemFactory,
    TeamFactory,
    TeamMembershipFactory,
    UserFactory,
)
from tests.postmortems.test_views_edit import form_values, put

LOGIN = "/accounts/login/"
ROLES = ("anonymous", "outsider", "member", "author", "admin")
DOCS = ("organisation", "restricted")

SECRET = "Zanzibar credential leak"
SECRET_WORD = "zanzibar"


@pytest.fixture
def people(db):
    """The cast: ``member`` belongs to the document's team, ``author`` wrote it
    but belongs to another team, ``outsider`` has no part in it, ``owner`` owns
    its action item and nothing else."""
    team = TeamFactory(slug="security", name="Security")
    other = TeamFactory(slug="web", name="Web")
    member = UserFactory(username="mia")
    TeamMembershipFactory(team=team, user=member, role=TeamMembership.Role.MEMBER)
    author = UserFactory(username="arthur")
    TeamMembershipFactory(team=other, user=author)
    return {
        "team": team,
        "outsider": UserFactory(username="oscar"),
        "member": member,
        "author": author,
        "admin": UserFactory(username="ada", is_staff=True),
        "owner": UserFactory(username="olivia"),
    }


def _doc(people, visibility: str, **overrides) -> PostMortem:
    fields = {
        "team": people["team"],
        "authors": [people["author"]],
        "visibility": visibility,
        "title": SECRET if visibility == "restricted" else "Checkout slowdown",
        "why_it_happened": "The on-call forgot to renew the certificate.",
    }
    fields.update(overrides)
    pm = PostMortemFactory(**fields)
    ActionItemFactory(postmortem=pm, owner=people["owner"], text="Alert on certificate expiry")
    return pm


def _client(client, people, role: str):
    if role != "anonymous":
        client.force_login(people[role])
    return client


def _snapshot(pm: PostMortem) -> tuple:
    stored = PostMortem.all_objects.get(pk=pm.pk)
    items = tuple(ActionItem.all_objects.filter(postmortem=pm).values_list("status", flat=True))
    return (
        stored.version,
        stored.title,
        stored.status,
        stored.deleted_at,
        items,
        FindingWaiver.objects.count(),
    )


# --- the table ----------------------------------------------------------------------------------

# Expected status per (route, role); the organisation and restricted columns differ
# only for the outsider, who must get 404 on a restricted document (never 403).
OK_FOR_READERS = {"anonymous": 302, "outsider": 200, "member": 200, "author": 200, "admin": 200}
EDITORS_ONLY = {"anonymous": 302, "outsider": 403, "member": 200, "author": 200, "admin": 200}
# The document is a draft: its authors may delete it, a plain member may not.
DELETERS_ONLY = {"anonymous": 302, "outsider": 403, "member": 403, "author": 200, "admin": 200}


def _with_post_ok(table: dict[str, int], ok: int) -> dict[str, int]:
    return {role: ok if status == 200 else status for role, status in table.items()}


ROUTES = {
    # name: (method, url builder, expected statuses on an organisation document)
    "detail": ("get", lambda pm, item: f"/postmortems/{pm.key}/", OK_FOR_READERS),
    "export": ("get", lambda pm, item: f"/postmortems/{pm.key}/export.md", OK_FOR_READERS),
    "edit": ("get", lambda pm, item: f"/postmortems/{pm.key}/edit/", EDITORS_ONLY),
    # An empty edit POST is invalid: editors get the form back with errors (200).
    "edit-post": ("post", lambda pm, item: f"/postmortems/{pm.key}/edit/", EDITORS_ONLY),
    "delete": ("get", lambda pm, item: f"/postmortems/{pm.key}/delete/", DELETERS_ONLY),
    "delete-post": (
        "post",
        lambda pm, item: f"/postmortems/{pm.key}/delete/",
        _with_post_ok(DELETERS_ONLY, 302),
    ),
    "waive-post": (
        "post",
        lambda pm, item: f"/postmortems/{pm.key}/waivers/",
        _with_post_ok(EDITORS_ONLY, 302),
    ),
    "review-post": (
        "post",
        lambda pm, item: f"/postmortems/{pm.key}/review/",
        _with_post_ok(EDITORS_ONLY, 302),
    ),
    "item-status-post": (
        "post",
        lambda pm, item: f"/postmortems/action-items/{item.pk}/status/",
        _with_post_ok(EDITORS_ONLY, 302),
    ),
}


def _data(route: str, pm: PostMortem, item: ActionItem, people) -> dict:
    if route == "waive-post":
        return {
            "section": "why_it_happened",
            "rule": "blame",
            "excerpt": "on-call forgot",
            "reason": "Quoted from the chat log.",
        }
    if route == "item-status-post":
        return {f"ai{item.pk}-status": "in_progress", f"ai{item.pk}-not_doing_reason": ""}
    return {}


def _expected(route: str, role: str, doc: str) -> int:
    expected = ROUTES[route][2][role]
    if doc == "restricted" and role == "outsider":
        return 404
    return expected


@pytest.mark.parametrize("doc", DOCS)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", list(ROUTES))
def test_policy_table(client, people, route, role, doc):
    pm = _doc(people, doc)
    item = pm.action_items.get()
    method, url_for, _ = ROUTES[route]
    before = _snapshot(pm)
    response = getattr(_client(client, people, role), method)(
        url_for(pm, item), _data(route, pm, item, people)
    )
    expected = _expected(route, role, doc)
    assert response.status_code == expected, (route, role, doc)
    body = response.content.decode(errors="replace")
    if role == "anonymous":
        assert response["Location"].startswith(f"{LOGIN}?next=")
    if expected in (403, 404):
        assert _snapshot(pm) == before, "a refused request changed something"
        if doc == "restricted" or expected == 404:
            assert SECRET not in body
    if expected == 403:
        assert "not change it" in body  # the friendly page, not a bare "403 Forbidden"
    if expected in (200, 302) and role != "anonymous":
        # The empty edit POST is invalid and the blaming draft is not ready for
        # review: those two change nothing even when allowed.
        changed = _snapshot(pm) != before
        assert changed is (route in ("delete-post", "waive-post", "item-status-post")), (route, role, doc)


@pytest.mark.parametrize("role", ROLES)
def test_every_list_route_needs_a_login_and_answers_readers(client, people, role):
    _doc(people, "organisation")
    client = _client(client, people, role)
    for url in (
        reverse("postmortems:list"),
        reverse("postmortems:list") + "?q=checkout",
        reverse("postmortems:my_action_items"),
        reverse("postmortems:create"),
    ):
        response = client.get(url)
        assert response.status_code == (302 if role == "anonymous" else 200), (url, role)
    lint = client.post(reverse("postmortems:lint"), {"text": "We forgot.", "section": "what_happened"})
    assert lint.status_code == (302 if role == "anonymous" else 200)


def test_the_owner_of_an_item_may_change_its_status_without_editing_the_document(client, people):
    pm = _doc(people, "organisation")
    item = pm.action_items.get()
    client.force_login(people["owner"])
    assert client.get(f"/postmortems/{pm.key}/edit/").status_code == 403
    response = client.post(f"/postmortems/action-items/{item.pk}/status/", {f"ai{item.pk}-status": "done"})
    assert response.status_code == 302 and response["Location"] == reverse("postmortems:my_action_items")
    item.refresh_from_db()
    assert item.status == ActionItem.Status.DONE


def test_an_editor_changing_someone_elses_item_goes_back_to_the_document(client, people):
    pm = _doc(people, "restricted")
    item = pm.action_items.get()
    client.force_login(people["member"])
    url = f"/postmortems/action-items/{item.pk}/status/"
    bad = client.post(url, {f"ai{item.pk}-status": "not_doing", f"ai{item.pk}-not_doing_reason": ""})
    assert bad.status_code == 302 and bad["Location"] == f"{pm.get_absolute_url()}#{item.key}"
    assert "was not changed" in [str(m) for m in get_messages(bad.wsgi_request)][0]
    item.refresh_from_db()
    assert item.status == ActionItem.Status.OPEN
    good = client.post(url, {f"ai{item.pk}-status": "done"})
    assert good.status_code == 302
    item.refresh_from_db()
    assert item.status == ActionItem.Status.DONE


# --- nothing leaks through lists, search, counts ------------------------------------------------


def _list(client, **params):
    response = client.get(reverse("postmortems:list"), params)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(
    ("role", "sees"),
    [("outsider", False), ("member", True), ("author", True), ("admin", True), ("reader", True)],
)
def test_a_restricted_title_appears_in_lists_search_and_counts_only_for_its_readers(
    client, people, role, sees
):
    restricted = _doc(people, "restricted", what_happened="The zanzibar token was exposed.")
    _doc(people, "organisation", what_happened="Checkout was slow; zanzibar cache misses.")
    if role == "reader":
        people["reader"] = UserFactory(username="rita")
        restricted.restricted_to.add(people["reader"])
    client.force_login(people[role])

    full = _list(client)
    search = _list(client, q=SECRET_WORD)
    by_title = _list(client, q="credential leak")
    by_team = _list(client, team="security")
    for html in (full, search, by_title, by_team):
        assert (SECRET in html) is sees
        assert (restricted.key in html) is sees
    count = "2 post-mortems" if sees else "1 post-mortem"
    assert count in full and count in search
    assert ("1 post-mortem found" in by_title) is sees
    assert ("No results for" in by_title) is not sees
    assert ("Restricted" in full) is sees  # the badge, for those who see it
    # the snippet of the visible organisation document is there for everyone
    assert "<mark>" in search.lower()


def test_the_empty_list_does_not_reveal_that_restricted_documents_exist(client, people):
    _doc(people, "restricted")
    client.force_login(people["outsider"])
    html = _list(client)
    assert "No post-mortems yet — write the first one" in html
    assert "0 post-mortems" in html and SECRET not in html


def test_my_action_items_show_restricted_documents_to_their_owners_and_hide_deleted(client, people):
    # Owning an action item makes its document readable (postmortems.access):
    # work handed to someone comes with the document that explains it.
    restricted = _doc(people, "restricted")
    visible = _doc(people, "organisation")
    gone = _doc(people, "organisation", title="Deleted incident")
    services.postmortem_delete(user=people["admin"], postmortem=gone)
    client.force_login(people["owner"])
    html = client.get(reverse("postmortems:my_action_items")).content.decode()
    assert visible.key in html
    assert restricted.key in html
    assert client.get(f"/postmortems/{restricted.key}/").status_code == 200
    assert client.get(f"/postmortems/{restricted.key}/edit/").status_code == 403
    assert gone.key not in html and "Deleted incident" not in html


# --- deleted documents vanish ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ["outsider", "member", "author", "admin"])
def test_a_deleted_document_vanishes_from_list_and_search_and_its_pages_are_404(client, people, role):
    pm = _doc(people, "organisation", title="Forgotten quokka outage", what_happened="quokka")
    services.postmortem_delete(user=people["admin"], postmortem=pm)
    client.force_login(people[role])
    for html in (_list(client), _list(client, q="quokka"), _list(client, team="security")):
        assert "Forgotten quokka outage" not in html and pm.key not in html
    for suffix in ("", "edit/", "export.md", "delete/"):
        assert client.get(f"/postmortems/{pm.key}/{suffix}").status_code == 404, suffix
    assert client.post(f"/postmortems/{pm.key}/review/").status_code == 404


# --- delete and restore -------------------------------------------------------------------------------


def test_the_delete_button_shows_only_for_who_may_delete(client, people):
    pm = _doc(people, "organisation")
    delete_url = f"/postmortems/{pm.key}/delete/"
    for role, shown in (("outsider", False), ("member", False), ("author", True), ("admin", True)):
        client.force_login(people[role])
        html = client.get(pm.get_absolute_url()).content.decode()
        assert (f'href="{delete_url}"' in html) is shown, role


def test_the_edit_button_shows_only_for_who_may_edit(client, people):
    pm = _doc(people, "organisation")
    for role, shown in (("outsider", False), ("member", True), ("author", True), ("admin", True)):
        client.force_login(people[role])
        html = client.get(pm.get_absolute_url()).content.decode()
        assert (f'href="/postmortems/{pm.key}/edit/"' in html) is shown, role


def test_a_team_lead_deletes_after_confirming_and_lands_on_the_list(client, people):
    lead = UserFactory(username="lena")
    TeamMembershipFactory(team=people["team"], user=lead, role=TeamMembership.Role.LEAD)
    pm = _doc(people, "restricted", status=PostMortem.Status.PUBLISHED)
    client.force_login(lead)
    confirm = client.get(f"/postmortems/{pm.key}/delete/")
    assert confirm.status_code == 200
    assert (
        f"Delete {pm.key}" in confirm.content.decode()
        and "an admin can restore it" in confirm.content.decode()
    )
    assert PostMortem.objects.filter(pk=pm.pk).exists()  # GET deletes nothing
    response = client.post(f"/postmortems/{pm.key}/delete/", follow=True)
    assert response.redirect_chain == [(reverse("postmortems:list"), 302)]
    assert f"{pm.key} “{SECRET}” was deleted" in response.content.decode()
    stored = PostMortem.all_objects.get(pk=pm.pk)
    assert stored.deleted_at is not None and stored.deleted_by == lead
    assert not PostMortem.objects.filter(pk=pm.pk).exists()


def test_an_author_may_not_delete_a_published_document(client, people):
    pm = _doc(people, "organisation", status=PostMortem.Status.PUBLISHED)
    client.force_login(people["author"])
    assert client.post(f"/postmortems/{pm.key}/delete/").status_code == 403
    assert PostMortem.objects.filter(pk=pm.pk).exists()


def test_admin_lists_deleted_documents_and_restores_them(client, people):
    pm = _doc(people, "organisation", title="Bring me back")
    live = _doc(people, "organisation", title="Never deleted")
    services.postmortem_delete(user=people["admin"], postmortem=pm)
    people["admin"].is_superuser = True
    people["admin"].save()
    client.force_login(people["admin"])
    changelist = reverse("admin:postmortems_postmortem_changelist")
    deleted_only = client.get(changelist, {"deleted": "yes"}).content.decode()
    assert "Bring me back" in deleted_only and "Never deleted" not in deleted_only
    assert "Restore selected post-mortems" in client.get(changelist).content.decode()
    response = client.post(
        changelist,
        {"action": "restore_selected", "_selected_action": [str(pm.pk), str(live.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert f"Restored {pm.key}." in response.content.decode()
    assert PostMortem.objects.filter(pk=pm.pk).exists()
    assert "Bring me back" in _list(client)


# --- visibility controls in the form --------------------------------------------------------------


def _create_data(client, people, **values) -> dict:
    data = form_values(client.get(reverse("postmortems:create")))
    put(data, "title", "Leaked signing key")
    put(data, "team", str(people["team"].pk))
    put(data, "severity", "SEV1")
    put(data, "what_happened", "A signing key was pushed to a public repository.")
    put(data, "why_it_happened", "The pre-commit secret scan was not installed on CI runners.")
    for name, value in values.items():
        put(data, name, value)
    return data


def test_a_restricted_document_is_created_with_named_readers_and_shows_who_can_read_it(client, people):
    reader = UserFactory(username="rita", first_name="Rita", last_name="Reader")
    client.force_login(people["member"])
    page = client.get(reverse("postmortems:create")).content.decode()
    assert "Who can read this" in page and "Named readers" in page
    data = _create_data(client, people, visibility="restricted", restricted_to=[str(reader.pk)])
    response = client.post(reverse("postmortems:create"), data)
    assert response.status_code == 302
    pm = PostMortem.objects.get(title="Leaked signing key")
    assert pm.visibility == "restricted" and list(pm.restricted_to.all()) == [reader]
    html = client.get(pm.get_absolute_url()).content.decode()
    assert 'class="pill restricted"' in html and 'id="who-can-read"' in html
    assert "Rita Reader" in html and "Security team" in html
    assert "Restricted" in _list(client)
    client.force_login(reader)
    assert client.get(pm.get_absolute_url()).status_code == 200
    client.force_login(people["outsider"])
    assert client.get(pm.get_absolute_url()).status_code == 404


def test_an_unknown_visibility_is_a_form_error_and_saves_nothing(client, people):
    client.force_login(people["member"])
    data = _create_data(client, people, visibility="everyone-on-the-internet")
    response = client.post(reverse("postmortems:create"), data)
    assert response.status_code == 200
    assert "visibility" in response.context["form"].errors
    assert not PostMortem.objects.exists()


def test_an_editor_restricts_an_organisation_document_and_outsiders_lose_it(client, people):
    pm = _doc(people, "organisation")
    client.force_login(people["member"])
    url = f"/postmortems/{pm.key}/edit/"
    data = form_values(client.get(url))
    assert data["visibility"] == ["organisation"]
    put(data, "visibility", "restricted")
    assert client.post(url, data).status_code == 302
    client.force_login(people["outsider"])
    assert client.get(pm.get_absolute_url()).status_code == 404
    assert pm.title not in _list(client)


# --- no lost edits: the conflict page ------------------------------------------------------------


def test_the_second_of_two_concurrent_edits_gets_a_409_with_both_texts_and_nothing_is_lost(client, people):
    from django.test import Client

    pm = _doc(people, "organisation", what_happened="Checkout was slow.")
    url = f"/postmortems/{pm.key}/edit/"
    first, second = Client(), Client()
    first.force_login(people["author"])
    second.force_login(people["member"])
    first_data = form_values(first.get(url))
    second_data = form_values(second.get(url))
    assert first_data["version"] == second_data["version"] == [str(pm.version)]

    put(first_data, "what_happened", "Checkout was slow for 40 minutes <b>after</b> the deploy.")
    put(first_data, "title", "Checkout slowdown after deploy")
    assert first.post(url, first_data).status_code == 302

    put(second_data, "what_happened", "Checkout p99 went to 9 s <script>alert(1)</script>.")
    put(second_data, "why_it_happened", "A cache TTL was set to zero.")
    response = second.post(url, second_data)

    assert response.status_code == 409
    html = response.content.decode()
    assert "Someone else saved" in html
    assert "Your text" in html and "The current text" in html
    assert "Checkout p99 went to 9 s &lt;script&gt;alert(1)&lt;/script&gt;." in html
    assert "Checkout was slow for 40 minutes &lt;b&gt;after&lt;/b&gt; the deploy." in html
    assert "<script>alert(1)" not in html
    assert 'data-conflict-field="what_happened"' in html
    assert 'data-conflict-field="why_it_happened"' not in html  # only the second writer changed it
    stored = PostMortem.objects.get(pk=pm.pk)
    assert stored.what_happened == "Checkout was slow for 40 minutes <b>after</b> the deploy."
    assert stored.why_it_happened == "The on-call forgot to renew the certificate."
    assert stored.version == pm.version + 1

    # The form is re-filled: the second writer's texts, the first writer's title
    # (it did not clash) and the new version, so saving again merges.
    refill = form_values(response)
    assert refill["version"] == [str(stored.version)]
    assert refill["title"] == ["Checkout slowdown after deploy"]
    assert refill["what_happened"] == ["Checkout p99 went to 9 s <script>alert(1)</script>."]
    assert refill["why_it_happened"] == ["A cache TTL was set to zero."]
    put(refill, "what_happened", "Checkout was slow (p99 9 s) for 40 minutes after the deploy.")
    assert second.post(url, refill).status_code == 302
    merged = PostMortem.objects.get(pk=pm.pk)
    assert merged.title == "Checkout slowdown after deploy"
    assert merged.what_happened == "Checkout was slow (p99 9 s) for 40 minutes after the deploy."
    assert merged.why_it_happened == "A cache TTL was set to zero."


def test_a_race_inside_the_save_is_also_a_conflict(client, people, monkeypatch):
    pm = _doc(people, "organisation")
    client.force_login(people["member"])
    url = f"/postmortems/{pm.key}/edit/"
    data = form_values(client.get(url))
    put(data, "title", "Mine")

    def stale(**kwargs):
        raise services.StaleVersionError(pm.version + 1)

    monkeypatch.setattr("postmortems.services.postmortem_save", stale)
    response = client.post(url, data)
    assert response.status_code == 409
    assert PostMortem.objects.get(pk=pm.pk).title == pm.title


def _item_row(data: dict, item: ActionItem) -> str:
    """The formset prefix ("items-0-") of ``item``'s row in a posted edit form."""
    for name, values in data.items():
        if name.startswith("items-") and name.endswith("-id") and values == [str(item.pk)]:
            return name[: -len("id")]
    raise AssertionError(f"no row for {item.key}")


def _edit_then_owner_marks_done(client, people):
    """The member reads the edit page; then the owner marks the item done on its own.

    Returns ``(pm, item, url, form data as read, the item's row prefix)``."""
    pm = _doc(people, "organisation")
    item = pm.action_items.get()
    client.force_login(people["member"])
    url = f"/postmortems/{pm.key}/edit/"
    data = form_values(client.get(url))
    row = _item_row(data, item)
    assert data[row + "status"] == ["open"] and data[row + "version"] == [str(item.version)]
    fresh = ActionItem.objects.get(pk=item.pk)
    services.action_item_set_status(item=fresh, status="done", user=people["owner"])
    return pm, item, url, data, row


def test_an_item_changed_on_its_own_after_the_page_was_read_is_not_undone_by_the_edit(client, people):
    # The owner marks it done from "My action items" while the editor is typing.
    pm, item, url, data, row = _edit_then_owner_marks_done(client, people)
    put(data, "title", "Checkout slowdown (certificate)")
    response = client.post(url, data)

    assert response.status_code == 409
    html = response.content.decode()
    assert f"AI-{item.pk} status" in html  # listed as taken from the other save
    stored = PostMortem.objects.get(pk=pm.pk)
    assert stored.title == "Checkout slowdown"
    assert ActionItem.objects.get(pk=item.pk).status == "done"
    refill = form_values(response)
    assert refill[row + "status"] == ["done"]
    assert refill["title"] == ["Checkout slowdown (certificate)"]

    assert client.post(url, refill).status_code == 302
    assert PostMortem.objects.get(pk=pm.pk).title == "Checkout slowdown (certificate)"
    assert ActionItem.objects.get(pk=item.pk).status == "done"


def test_an_item_both_sides_changed_differently_is_shown_with_both_values(client, people):
    pm, item, url, data, row = _edit_then_owner_marks_done(client, people)
    put(data, row + "status", "in_progress")
    response = client.post(url, data)

    assert response.status_code == 409
    conflict = response.context["conflict"]
    both = [c for c in conflict.rows if c.label == f"AI-{item.pk} status"]
    assert [(c.mine, c.theirs) for c in both] == [(["In progress"], ["Done"])]
    assert "Your value is in the form below" in response.content.decode()
    assert ActionItem.objects.get(pk=item.pk).status == "done"
    refill = form_values(response)
    assert refill[row + "status"] == ["in_progress"]  # the user decides
    assert refill[row + "version"] == [str(ActionItem.objects.get(pk=item.pk).version)]


def test_a_tampered_item_version_is_a_form_error_not_a_500(client, people):
    pm = _doc(people, "organisation")
    client.force_login(people["member"])
    url = f"/postmortems/{pm.key}/edit/"
    data = form_values(client.get(url))
    put(data, _item_row(data, pm.action_items.get()) + "version", "abc")
    put(data, "title", "Changed")
    response = client.post(url, data)
    assert response.status_code == 200
    assert PostMortem.objects.get(pk=pm.pk).title == "Checkout slowdown"


@pytest.mark.parametrize("version", ["", "abc", "0", "-3"])
def test_an_edit_without_a_valid_version_is_refused_and_saves_nothing(client, people, version):
    pm = _doc(people, "organisation")
    client.force_login(people["member"])
    url = f"/postmortems/{pm.key}/edit/"
    data = form_values(client.get(url))
    put(data, "title", "Should not be saved")
    put(data, "version", version)
    response = client.post(url, data)
    assert response.status_code == 200
    assert "version" in response.context["form"].errors
    assert PostMortem.objects.get(pk=pm.pk).title == pm.title


def test_the_happened_before_panel_of_the_one_page_view_shows_only_readable_documents(client, people):
    # The panel is the patterns app's (factor_history_panel); the page hands it the reader.
    import datetime as dt

    from tests.factories import factor

    shared = [factor("config-change")]
    later = _doc(people, "organisation", factors=shared, title="Checkout certificate expiry")
    _doc(
        people,
        "restricted",
        factors=shared,
        started_at=later.started_at - dt.timedelta(days=30),
        what_happened="Checkout certificate expiry after a config change.",
    )
    client.force_login(people["outsider"])
    outsider_page = client.get(later.get_absolute_url()).content.decode()
    client.force_login(people["member"])
    member_page = client.get(later.get_absolute_url()).content.decode()
    assert SECRET not in outsider_page
    assert SECRET in member_page


def test_the_admin_change_page_of_a_deleted_document_shows_it_deleted_with_its_items(client, people):
    pm = _doc(people, "restricted")
    services.postmortem_delete(user=people["admin"], postmortem=pm)
    people["admin"].is_superuser = True
    people["admin"].save()
    client.force_login(people["admin"])
    response = client.get(reverse("admin:postmortems_postmortem_change", args=[pm.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Deleted at" in html or "deleted at" in html.lower()
    assert "Alert on certificate expiry" in html  # the item inline still lists its rows
    changelist = client.get(reverse("admin:postmortems_postmortem_changelist")).content.decode()
    assert SECRET in changelist and "by ada" in changelist


def test_only_admins_reach_the_restore_action(client, people):
    pm = _doc(people, "organisation")
    services.postmortem_delete(user=people["admin"], postmortem=pm)
    lead = UserFactory(username="lena", is_staff=False)
    TeamMembershipFactory(team=people["team"], user=lead, role=TeamMembership.Role.LEAD)
    client.force_login(lead)
    changelist = reverse("admin:postmortems_postmortem_changelist")
    response = client.post(changelist, {"action": "restore_selected", "_selected_action": [str(pm.pk)]})
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert not PostMortem.objects.filter(pk=pm.pk).exists()
