"""History and undo (issue 9): revisions with who and when, the history page,
comparing two revisions, restoring one, and who may do each."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from postmortems import restore, revisions, services
from postmortems.models import ActionItem, DeclinedChange, PostMortem, TeamMembership
from tests.factories import TeamMembershipFactory, UserFactory, factor

pytestmark = pytest.mark.django_db

DUE = dt.date(2031, 3, 1)


def _item(owner, text="Add a contract test for the payment timeout", **extra):
    return {"text": text, "kind": "test", "owner": owner, "due_date": DUE, **extra}


def make_doc(user, team, *, enforce_readiness=True, **fields):
    """A post-mortem written through the service (revision 1), with a timeline,
    two action items, a declined change and two factors (not ready for review:
    two sections and an action item short)."""
    started = timezone.now() - dt.timedelta(days=2)
    values = {
        "title": "Checkout 500s after config push",
        "team": team,
        "severity": "SEV2",
        "started_at": started,
        "what_happened": "Checkout failed.\nFor 40 minutes.\nAbout 12% of requests.",
        "why_it_happened": "A config push removed the payment timeout default.",
        "factors": [factor("config-change"), factor("missing-test")],
        **fields,
    }
    return services.postmortem_save(
        user=user,
        fields=values,
        timeline=[{"at": started, "text": "Error-rate alert fired"}],
        action_items=[_item(user), _item(user, "Alert on checkout 5xx above 2%")],
        declined_changes=[{"text": "Freeze Friday deploys", "rationale": "Not tied to the day."}],
        enforce_readiness=enforce_readiness,
    )


def history_url(pm):
    return reverse("postmortems:history", kwargs={"key": pm.key})


def compare_url(pm, old, new):
    return reverse("postmortems:history_compare", kwargs={"key": pm.key}) + f"?from={old}&to={new}"


def restore_url(pm, history_id):
    return reverse("postmortems:history_restore", kwargs={"key": pm.key, "history_id": history_id})


def history_ids(pm):
    return [rev.history_id for rev in revisions.revision_list(pm)]


def _rows(pm, related_name):
    return list(getattr(pm, related_name).order_by("id"))


# --- recording ----------------------------------------------------------------------


def test_every_kind_of_change_is_recorded_with_who_and_when(team, author, teammate, client):
    lead = UserFactory(username="lena", first_name="", last_name="")
    TeamMembershipFactory(team=team, user=lead, role=TeamMembership.Role.LEAD)
    admin = UserFactory(username="root", is_staff=True)
    before = timezone.now()
    pm = make_doc(author, team)
    first, second = _rows(pm, "action_items")

    # An edit of the document by a teammate.
    services.postmortem_save(user=teammate, postmortem=pm, fields={"title": "Checkout 500s (config)"})
    # A status change outside a document save ("My action items").
    services.action_item_set_status(item=ActionItem.objects.get(pk=first.pk), status="done", user=teammate)
    # A declined change edited through a save.
    change = pm.declined_changes.get()
    services.postmortem_save(
        user=author,
        postmortem=pm,
        fields={},
        declined_changes=[{"id": change.pk, "text": change.text, "rationale": "Deploy day did not matter."}],
    )
    services.postmortem_delete(user=lead, postmortem=pm)
    services.postmortem_restore(user=admin, postmortem=PostMortem.all_objects.get(pk=pm.pk))

    listed = revisions.revision_list(pm)
    assert [(r.number, r.user, r.reason) for r in listed] == [
        (1, author, "created"),
        (2, teammate, ""),
        (3, author, ""),
        (4, lead, "deleted"),
        (5, admin, "restored after deletion"),
    ]
    assert all(before <= r.date <= timezone.now() for r in listed)
    status_change = ActionItem.history.filter(id=first.pk).order_by("-history_id").first()
    assert status_change.history_user == teammate and status_change.status == "done"
    declined = DeclinedChange.history.filter(id=change.pk).order_by("-history_id").first()
    assert declined.history_user == author and declined.rationale == "Deploy day did not matter."

    client.force_login(author)
    response = client.get(history_url(pm))
    assert response.status_code == 200
    body = response.content.decode()
    # Newest first, with reasons and summaries.
    assert body.index("Revision 5") < body.index("Revision 4") < body.index("Revision 1")
    assert "restored after deletion" in body and "deleted" in body
    assert "title" in body  # revision 2's summary
    assert "declined changes: 1 changed" in body
    # The status change is its own entry, by the teammate who made it.
    assert f"AI-{first.pk}" in body
    assert "Open</del> → <ins>Done" in body
    assert f"by {teammate.get_full_name()}" in body
    # Rows written by a document save are listed under that revision.
    assert f"AI-{second.pk}</strong>" in body


def test_history_page_pairs_radio_buttons_and_links(web, author, team):
    pm = make_doc(author, team)
    services.postmortem_save(user=author, postmortem=pm, fields={"severity": "SEV1"})
    first, second = history_ids(pm)
    body = web.get(history_url(pm)).content.decode()
    assert f'name="from" value="{first}" aria-label="Compare from revision 1" checked' in body
    assert f'name="to" value="{second}" aria-label="Compare to revision 2" checked' in body
    assert f"?from={first}&amp;to={second}" in body  # "changes" link of revision 2
    assert restore_url(pm, first) in body  # the author may edit
    assert restore_url(pm, second) not in body  # the current revision has no restore link
    assert "severity" in body


def test_history_page_query_count_does_not_grow_with_revisions(
    web, author, team, django_assert_max_num_queries
):
    pm = make_doc(author, team)
    for n in range(12):
        services.postmortem_save(
            user=author,
            postmortem=pm,
            fields={"title": f"Checkout 500s, take {n}"},
            action_items=[{"id": item.pk, **_item(author, item.text)} for item in pm.action_items.all()],
        )
    with django_assert_max_num_queries(12):  # 9 today: session, user, document, names
        response = web.get(history_url(pm))
    assert response.status_code == 200
    assert "Revision 13" in response.content.decode()


# --- compare ------------------------------------------------------------------------


def test_compare_shows_fields_sections_relations_and_rows(web, author, teammate, team):
    pm = make_doc(author, team)
    first_item, second_item = _rows(pm, "action_items")
    services.postmortem_save(
        user=teammate,
        postmortem=pm,
        fields={
            "title": "Checkout 500s after a config push",
            "status": "draft",
            "facilitator": teammate,
            "why_it_happened": "A config push removed the payment timeout default <script>alert(1)</script>.",
            "factors": [factor("config-change"), factor("review-gap")],
            "authors": [author, teammate],
        },
        action_items=[{"id": first_item.pk, **_item(teammate, first_item.text)}],
    )
    old, new = history_ids(pm)
    response = web.get(compare_url(pm, old, new))
    assert response.status_code == 200
    body = response.content.decode()
    # Scalar fields before → after, people by name.
    assert "<del>Checkout 500s after config push</del>" in body
    assert "<ins>Checkout 500s after a config push</ins>" in body
    assert f"<ins>{teammate.get_full_name()}</ins>" in body  # facilitator
    # The section as a word diff, escaped: the script never reaches the page as HTML.
    assert "<ins> &lt;script&gt;alert(1)&lt;/script&gt;</ins>" in body
    assert "<script>alert(1)</script>" not in body
    # Factors by name, authors by name.
    assert "+ Review gap" in body and "− Missing test" in body
    assert f"+ {teammate.get_full_name()}" in body
    # Rows: one action item removed, the other changed owner.
    assert f"AI-{second_item.pk}" in body and "removed" in body
    assert f"owner: <del>{author.get_full_name()}</del> → <ins>{teammate.get_full_name()}</ins>" in body
    # The older revision is always "before", whichever order was asked for.
    swapped = web.get(compare_url(pm, new, old)).content.decode()
    assert "Revision 1 → revision 2" in swapped


def test_text_diff_marks_changed_words_and_skips_unchanged_lines():
    old = "\n".join(f"line {n}" for n in range(1, 21))
    new = old.replace("line 10", "line ten") + "\nline 21"
    lines = revisions.text_diff(old, new, context=1)
    kinds = [line.kind for line in lines]
    assert kinds == ["skip", "equal", "change", "equal", "skip", "equal", "insert"]
    change = lines[2]
    assert change.segments == [("equal", "line "), ("delete", "10"), ("insert", "ten")]
    assert revisions.text_diff("same", "same") == []


def test_compare_identical_and_same_revision(web, author, team):
    pm = make_doc(author, team)
    (only,) = history_ids(pm)
    body = web.get(compare_url(pm, only, only)).content.decode()
    assert "You picked the same revision twice" in body
    assert "No differences" in body


# --- restore ------------------------------------------------------------------------


def test_restore_brings_back_title_section_deleted_item_and_factors(web, author, team):
    pm = make_doc(author, team)
    kept, deleted = _rows(pm, "action_items")
    services.postmortem_save(
        user=author,
        postmortem=pm,
        fields={
            "title": "Something else",
            "why_it_happened": "Rewritten.",
            "factors": [factor("capacity")],
        },
        action_items=[{"id": kept.pk, **_item(author, kept.text)}],
        timeline=[],
    )
    assert not ActionItem.objects.filter(pk=deleted.pk).exists()
    first = history_ids(pm)[0]
    pm.refresh_from_db()
    old_history = list(PostMortem.history.filter(id=pm.pk).values_list("history_id", "title"))

    confirm = web.get(restore_url(pm, first))
    assert confirm.status_code == 200
    assert "Restore this revision" in confirm.content.decode()
    assert f'name="version" value="{pm.version}"' in confirm.content.decode()
    assert PostMortem.history.filter(id=pm.pk).count() == 2  # GET writes nothing

    response = web.post(restore_url(pm, first), {"version": pm.version})
    assert response.status_code == 302 and response.url == history_url(pm)
    pm.refresh_from_db()
    assert pm.title == "Checkout 500s after config push"
    assert pm.why_it_happened == "A config push removed the payment timeout default."
    assert sorted(pm.factors.values_list("slug", flat=True)) == ["config-change", "missing-test"]
    assert pm.timeline.get().text == "Error-rate alert fired"
    items = _rows(pm, "action_items")
    assert [i.text for i in items] == [kept.text, deleted.text]
    assert items[0].pk == kept.pk  # a row that still exists keeps its id
    assert items[1].pk != deleted.pk  # a deleted one comes back as a new row
    # A new revision; the old ones are untouched.
    listed = revisions.revision_list(pm)
    assert len(listed) == 3
    assert listed[-1].reason == "restored revision 1" and listed[-1].user == author
    still = PostMortem.history.filter(id=pm.pk, history_id__in=[h for h, _ in old_history])
    assert sorted(still.values_list("history_id", "title")) == sorted(old_history)
    assert "revision 1 restored (now revision 3)" in web.get(history_url(pm)).content.decode()


def test_stale_restore_is_refused_and_writes_nothing(web, author, teammate, team):
    pm = make_doc(author, team)
    services.postmortem_save(user=author, postmortem=pm, fields={"title": "Second title"})
    first = history_ids(pm)[0]
    seen = PostMortem.objects.get(pk=pm.pk).version
    # Someone else saves after the confirmation page was shown.
    services.postmortem_save(user=teammate, postmortem=pm, fields={"title": "Third title"})

    response = web.post(restore_url(pm, first), {"version": seen})
    assert response.status_code == 409
    assert "changed by someone else" in response.content.decode()
    pm.refresh_from_db()
    assert pm.title == "Third title"
    assert len(history_ids(pm)) == 3
    # The page is redrawn against the current version, ready to confirm again.
    assert f'name="version" value="{pm.version}"' in response.content.decode()


def test_a_restore_confirmed_before_an_item_changed_on_its_own_is_refused(web, author, teammate, team):
    pm = make_doc(author, team)
    services.postmortem_save(user=author, postmortem=pm, fields={"title": "Second title"})
    first = history_ids(pm)[0]
    seen = PostMortem.objects.get(pk=pm.pk).version
    item = pm.action_items.order_by("id").first()
    # After the confirmation page was shown, the owner marks an item done.
    services.action_item_set_status(item=item, status="done", user=teammate)

    response = web.post(restore_url(pm, first), {"version": seen})

    assert response.status_code == 409
    assert ActionItem.objects.get(pk=item.pk).status == "done"
    assert PostMortem.objects.get(pk=pm.pk).title == "Second title"
    assert len(history_ids(pm)) == 2


def test_restore_without_version_is_a_400(web, author, team):
    pm = make_doc(author, team)
    services.postmortem_save(user=author, postmortem=pm, fields={"title": "Second title"})
    for data in ({}, {"version": "abc"}, {"version": ""}):
        response = web.post(restore_url(pm, history_ids(pm)[0]), data)
        assert response.status_code == 400
        assert "nothing was restored" in response.content.decode()
    assert PostMortem.objects.get(pk=pm.pk).title == "Second title"


def test_restore_refuses_when_an_owner_no_longer_exists(web, author, team):
    gone = UserFactory(username="gone")
    pm = make_doc(author, team)
    items = [{"id": i.pk, **_item(author, i.text)} for i in pm.action_items.all()]
    services.postmortem_save(
        user=author, postmortem=pm, fields={}, action_items=[*items, _item(gone, "Owned by gone")]
    )
    with_gone = history_ids(pm)[-1]
    services.postmortem_save(user=author, postmortem=pm, fields={"title": "Later"}, action_items=items)
    get_user_model().objects.filter(pk=gone.pk).delete()
    pm.refresh_from_db()

    response = web.post(restore_url(pm, with_gone), {"version": pm.version})
    assert response.status_code == 400
    assert "its owner&#x27;s account no longer exists" in response.content.decode()
    pm.refresh_from_db()
    assert pm.title == "Later"
    assert len(history_ids(pm)) == 3


def test_restoring_an_in_review_revision_onto_a_draft_skips_the_readiness_gate(web, author, team):
    # Revision 1 was "in review" (an import, say); the document went back to draft.
    # Checking readiness again would refuse it (two sections are missing).
    pm = make_doc(author, team, status="in_review", enforce_readiness=False)
    services.postmortem_save(user=author, postmortem=pm, fields={"status": "draft", "title": "Reworked"})
    pm.refresh_from_db()
    response = web.post(restore_url(pm, history_ids(pm)[0]), {"version": pm.version})
    assert response.status_code == 302
    pm.refresh_from_db()
    assert pm.status == "in_review" and pm.title == "Checkout 500s after config push"


def test_a_partial_restore_meets_the_readiness_gate(web, author, team):
    pm = make_doc(author, team, status="in_review", enforce_readiness=False)
    services.postmortem_save(user=author, postmortem=pm, fields={"status": "draft", "title": "Reworked"})
    first = history_ids(pm)[0]
    # A record without a snapshot (a plain save()): only its columns can come back,
    # a mix this document never was, so the gate applies as to any edit.
    PostMortem.history.filter(history_id=first).update(related={})
    plan = restore.restore_plan(pm, revisions.revision_get(pm, first))
    assert plan.exact is False and plan.action_items is None and "factors" not in plan.fields
    pm.refresh_from_db()
    response = web.post(restore_url(pm, first), {"version": pm.version})
    assert response.status_code == 400
    assert "Not ready for review" in response.content.decode()
    pm.refresh_from_db()
    assert pm.status == "draft" and pm.title == "Reworked"


# --- who may see and do what --------------------------------------------------------------


@pytest.fixture
def people(team, author, teammate, outsider):
    return {
        "anonymous": None,
        "outsider": outsider,
        "member": teammate,
        "author": author,
        "named": UserFactory(username="nadia"),
        "admin": UserFactory(username="root", is_staff=True),
    }


def _doc_for(people, visibility):
    writer = people["author"]
    # The author writes for their own team; "member" is in that team.
    pm = make_doc(writer, writer.teams.get(), visibility=visibility)
    pm.restricted_to.add(people["named"])
    services.postmortem_save(user=writer, postmortem=pm, fields={"title": "A later title"})
    pm.refresh_from_db()
    return pm


# who → (reads history/compare, may restore) for each visibility; None = login redirect.
POLICY = {
    "organisation": {
        "anonymous": None,
        "outsider": (200, 403),
        "named": (200, 403),
        "member": (200, 302),
        "author": (200, 302),
        "admin": (200, 302),
    },
    "restricted": {
        "anonymous": None,
        "outsider": (404, 404),
        "named": (200, 403),
        "member": (200, 302),
        "author": (200, 302),
        "admin": (200, 302),
    },
}


@pytest.mark.parametrize("visibility", sorted(POLICY))
@pytest.mark.parametrize("who", sorted(POLICY["organisation"]))
def test_permission_table(client, people, visibility, who):
    pm = _doc_for(people, visibility)
    first, second = history_ids(pm)
    if people[who] is not None:
        client.force_login(people[who])
    expected = POLICY[visibility][who]
    responses = {
        "history": client.get(history_url(pm)),
        "compare": client.get(compare_url(pm, first, second)),
        "restore_get": client.get(restore_url(pm, first)),
        "restore_post": client.post(restore_url(pm, first), {"version": pm.version}),
    }
    if expected is None:
        for response in responses.values():
            assert response.status_code == 302 and "/login" in response.url
        assert PostMortem.objects.get(pk=pm.pk).title == "A later title"
        return
    reads, restores = expected
    assert responses["history"].status_code == reads
    assert responses["compare"].status_code == reads
    assert responses["restore_get"].status_code == (200 if restores == 302 else restores)
    assert responses["restore_post"].status_code == restores
    restored = PostMortem.objects.get(pk=pm.pk).title == "Checkout 500s after config push"
    assert restored is (restores == 302)
    if reads == 404:
        # Nothing about the document leaks into the answer.
        for response in responses.values():
            assert "A later title" not in response.content.decode()


def test_deleted_document_history_is_gone(web, author, team):
    admin = UserFactory(username="root", is_staff=True)
    pm = make_doc(author, team)
    first = history_ids(pm)[0]
    services.postmortem_delete(user=admin, postmortem=pm)
    web.force_login(admin)
    assert web.get(history_url(pm)).status_code == 404
    assert web.get(compare_url(pm, first, first)).status_code == 404
    assert web.get(restore_url(pm, first)).status_code == 404
    assert web.post(restore_url(pm, first), {"version": 99}).status_code == 404


# --- bad input -------------------------------------------------------------------------


def test_unknown_or_foreign_revision_is_404(web, author, team):
    pm = make_doc(author, team)
    other = make_doc(author, team, title="Another incident")
    (mine,) = history_ids(pm)
    (theirs,) = history_ids(other)
    for url in (
        compare_url(pm, mine, 10**9),
        compare_url(pm, mine, theirs),
        restore_url(pm, 10**9),
        restore_url(pm, theirs),
    ):
        assert web.get(url).status_code == 404, url
    assert web.post(restore_url(pm, theirs), {"version": pm.version}).status_code == 404
    assert PostMortem.objects.get(pk=pm.pk).title == "Checkout 500s after config push"
    assert web.get("/postmortems/PM-x/history/").status_code == 404
    assert web.get("/postmortems/PM-999999999/history/").status_code == 404


@pytest.mark.parametrize("query", ["", "?from=1", "?to=1", "?from=&to=", "?from=a&to=b", "?from=-1&to=2"])
def test_compare_without_two_revisions_is_a_friendly_400(web, author, team, query):
    pm = make_doc(author, team)
    response = web.get(reverse("postmortems:history_compare", kwargs={"key": pm.key}) + query)
    assert response.status_code == 400
    assert "Pick two revisions to compare" in response.content.decode()


def test_history_routes_refuse_other_methods(web, author, team):
    pm = make_doc(author, team)
    assert web.post(history_url(pm)).status_code == 405
    assert web.post(compare_url(pm, 1, 1)).status_code == 405


def test_restore_plan_reuses_rows_that_still_exist(author, team):
    pm = make_doc(author, team)
    entry = pm.timeline.get()
    change = pm.declined_changes.get()
    services.postmortem_save(user=author, postmortem=pm, fields={"title": "Later"}, declined_changes=[])
    plan = restore.restore_plan(pm, revisions.revision_list(pm)[0])
    assert plan.exact is True and plan.notes == []
    assert plan.timeline[0]["id"] == entry.pk  # unchanged since: kept
    assert "id" not in plan.declined_changes[0]  # deleted since: created again
    assert plan.declined_changes[0]["text"] == change.text
    assert {row.get("id") for row in plan.action_items} == set(pm.action_items.values_list("pk", flat=True))


def test_restore_leaves_out_a_deleted_author_and_says_so(web, author, team):
    guest = UserFactory(username="guest")
    pm = make_doc(author, team, authors=[author, guest])
    services.postmortem_save(user=author, postmortem=pm, fields={"authors": [author], "title": "Later"})
    get_user_model().objects.filter(pk=guest.pk).delete()
    pm.refresh_from_db()
    response = web.post(restore_url(pm, history_ids(pm)[0]), {"version": pm.version}, follow=True)
    assert response.status_code == 200
    assert "1 of the authors no longer exist and were left out." in response.content.decode()
    pm.refresh_from_db()
    assert pm.title == "Checkout 500s after config push"
    assert list(pm.authors.all()) == [author]


def test_the_restricted_past_of_a_document_opened_later_stays_hidden_from_outsiders(client, team, author):
    reader = UserFactory(username="rita", first_name="Rita", last_name="Reader")
    outsider = UserFactory(username="otto")
    pm = services.postmortem_save(
        user=author,
        fields={
            "title": "Key leak",
            "team": team,
            "severity": "SEV2",
            "what_happened": "SECRET-IP 10.1.2.3 was exposed.",
            "visibility": "restricted",
            "restricted_to": [reader],
        },
    )
    services.postmortem_save(
        user=author,
        postmortem=pm,
        fields={"what_happened": "A key was exposed.", "visibility": "organisation", "restricted_to": []},
    )
    first, last = (
        PostMortem.history.filter(id=pm.pk).order_by("history_id").values_list("history_id", flat=True)
    )

    client.force_login(outsider)
    page = client.get(f"/postmortems/{pm.key}/history/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "SECRET-IP" not in html and "Rita" not in html and 'id="restricted-past"' in html
    compare = client.get(f"/postmortems/{pm.key}/history/compare/", {"from": first, "to": last})
    assert compare.status_code == 404
    # Restoring is for editors (403 first, whatever the revision), and editors see it all.
    assert client.get(f"/postmortems/{pm.key}/history/{first}/restore/").status_code == 403

    client.force_login(author)  # the team sees its whole history
    compare = client.get(f"/postmortems/{pm.key}/history/compare/", {"from": first, "to": last})
    assert compare.status_code == 200
    assert "SECRET-IP" in compare.content.decode()
