"""The reviews API under /api/v1/reviews/: every endpoint answers the right
people, refuses anonymous callers (401) and others (403), and turns bad input
into a clear 400 with nothing saved."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from postmortems.models import ActionItem, FindingWaiver, PostMortem, TeamMembership
from reviews import services
from reviews.models import PulseResponse, Review, ReviewNote, TeamReviewSettings
from tests.factories import PostMortemFactory, TeamMembershipFactory, UserFactory
from tests.reviews.conftest import api_client, make_ready_postmortem, soon

BASE = "/api/v1/reviews/"


def url(review, action=""):
    return f"{BASE}{review.pk}/{action + '/' if action else ''}"


# --- reading ------------------------------------------------------------------------


def test_list_and_detail(api, scheduled_review):
    response = api.get(BASE)
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["postmortem_key"] == scheduled_review.postmortem.key
    assert row["facilitator"] == "fran" and row["note_taker"] == "nina"
    assert row["planned_minutes"] == 30 and row["status"] == "scheduled"
    detail = api.get(url(scheduled_review)).json()
    assert detail["facilitator_warnings"] == []
    assert [s["step"] for s in detail["agenda"]] == ["frame", "timeline", "factors", "actions", "wrapup"]
    assert sorted(detail["invitees"]) == ["alice", "bob"]


def test_list_filters(api, scheduled_review, team):
    assert api.get(BASE, {"status": "ended"}).json()["count"] == 0
    assert api.get(BASE, {"status": "scheduled", "team": team.slug}).json()["count"] == 1
    assert api.get(BASE, {"postmortem": scheduled_review.postmortem_id}).json()["count"] == 1
    bad = api.get(BASE, {"status": "someday"})
    assert bad.status_code == 400 and "status" in bad.json()


def test_list_query_count_does_not_grow_with_rows(
    api, team, author, teammate, facilitator, django_assert_max_num_queries
):
    def add_reviews(n):
        for _ in range(n):
            pm = make_ready_postmortem(team=team, authors=[author], owners=[teammate])
            ActionItem.objects.filter(postmortem=pm).delete()
            review = Review.objects.create(
                postmortem=pm,
                scheduled_at=soon(),
                facilitator=facilitator,
                agenda=[{"step": "frame", "label": "Frame", "minutes": 3}],
            )
            review.invitees.set([author, teammate])

    add_reviews(2)
    with django_assert_max_num_queries(6) as few:
        assert api.get(BASE).status_code == 200
    add_reviews(8)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert api.get(BASE).json()["count"] == 10


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", BASE),
        ("post", BASE),
        ("get", f"{BASE}plan/?postmortem=1"),
        ("get", f"{BASE}pulse-summary/?team=payments"),
        ("get", f"{BASE}agendas/payments/"),
        ("patch", f"{BASE}agendas/payments/"),
    ],
)
def test_anonymous_callers_are_refused(anon_api, scheduled_review, method, path):
    response = getattr(anon_api, method)(path, {}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


@pytest.mark.parametrize(
    ("method", "action"),
    [
        ("get", ""),
        ("patch", ""),
        ("get", "ics"),
        ("get", "state"),
        ("post", "start"),
        ("post", "next"),
        ("post", "end"),
        ("post", "cancel"),
        ("post", "sections"),
        ("post", "action-items"),
        ("post", "declined-changes"),
        ("post", "factors"),
        ("post", "notes"),
        ("post", "attendance"),
        ("post", "waivers"),
        ("post", "pulse"),
    ],
)
def test_anonymous_callers_are_refused_on_every_review_route(anon_api, scheduled_review, method, action):
    response = getattr(anon_api, method)(url(scheduled_review, action), {}, format="json")
    assert response.status_code == 401
    assert Review.objects.get(pk=scheduled_review.pk).revision == scheduled_review.revision


# --- scheduling --------------------------------------------------------------------


def test_schedule_with_suggested_invitees(api, ready_pm, facilitator):
    body = {
        "postmortem": ready_pm.pk,
        "scheduled_at": soon().isoformat(),
        "facilitator": "fran",
        "note_taker": None,
    }
    response = api.post(BASE, body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert response["Location"] == data["url"]
    assert sorted(data["invitees"]) == ["alice", "bob"]
    assert data["facilitator_warnings"] == []
    assert PostMortem.objects.get(pk=ready_pm.pk).status == "in_review"


def test_schedule_warns_about_an_author_as_facilitator(api, ready_pm, facilitator):
    body = {
        "postmortem": ready_pm.pk,
        "scheduled_at": soon().isoformat(),
        "facilitator": "alice",
        "invitees": [],
    }
    response = api.post(BASE, body, format="json")
    assert response.status_code == 201
    assert "is an author" in response.json()["facilitator_warnings"][0]
    assert response.json()["invitees"] == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"facilitator": "nobody"}, "facilitator"),
        ({"facilitator": None}, "facilitator"),
        ({"scheduled_at": "next tuesday"}, "scheduled_at"),
        ({"scheduled_at": "2001-01-01T10:00:00Z"}, "scheduled_at"),
        ({"postmortem": 999999}, "postmortem"),
        ({"postmortem": "PM-1"}, "postmortem"),
        ({"invitees": ["alice", "nobody"]}, "invitees"),
        ({"location": "x" * 301}, "location"),
    ],
)
def test_schedule_bad_input_is_a_400_and_saves_nothing(api, ready_pm, facilitator, changes, field):
    body = {"postmortem": ready_pm.pk, "scheduled_at": soon().isoformat(), "facilitator": "fran", **changes}
    response = api.post(BASE, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Review.objects.exists()
    assert PostMortem.objects.get(pk=ready_pm.pk).status == "draft"


def test_schedule_is_refused_when_not_ready(api, team, author, facilitator):
    pm = PostMortemFactory(team=team, authors=[author])
    response = api.post(
        BASE, {"postmortem": pm.pk, "scheduled_at": soon().isoformat(), "facilitator": "fran"}, format="json"
    )
    assert response.status_code == 400
    assert any("timeline" in m for m in response.json()["readiness"])
    assert not Review.objects.exists()


def test_schedule_is_refused_to_people_outside_the_postmortem(outsider_api, ready_pm, facilitator):
    response = outsider_api.post(
        BASE,
        {"postmortem": ready_pm.pk, "scheduled_at": soon().isoformat(), "facilitator": "fran"},
        format="json",
    )
    assert response.status_code == 403
    assert not Review.objects.exists()


def test_a_team_lead_may_schedule(ready_pm, team, facilitator):
    lead = UserFactory(username="lena")
    TeamMembershipFactory(team=team, user=lead, role=TeamMembership.Role.LEAD)
    response = api_client(lead).post(
        BASE,
        {"postmortem": ready_pm.pk, "scheduled_at": soon().isoformat(), "facilitator": "fran"},
        format="json",
    )
    assert response.status_code == 201


def test_plan(api, ready_pm):
    response = api.get(f"{BASE}plan/", {"postmortem": ready_pm.pk, "facilitator": "bob"})
    assert response.status_code == 200
    data = response.json()
    assert data["ready"] is True and data["open_review"] is None
    assert [s["username"] for s in data["suggestions"]] == ["alice", "bob"]
    assert "owns an action item" in data["facilitator_warnings"][0]
    assert api.get(f"{BASE}plan/", {"postmortem": "x"}).status_code == 400
    assert api.get(f"{BASE}plan/", {"postmortem": ready_pm.pk, "facilitator": "nobody"}).status_code == 400
    assert api.get(f"{BASE}plan/", {"postmortem": 99999}).status_code == 404


def test_reschedule_is_for_the_facilitator(facilitator_api, api, scheduled_review):
    later = (scheduled_review.scheduled_at + dt.timedelta(days=2)).isoformat()
    refused = api.patch(url(scheduled_review), {"scheduled_at": later}, format="json")
    assert refused.status_code == 403
    response = facilitator_api.patch(
        url(scheduled_review), {"scheduled_at": later, "invitees": ["alice"]}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["sequence"] == 1 and response.json()["invitees"] == ["alice"]
    bad = facilitator_api.patch(url(scheduled_review), {"scheduled_at": "soon"}, format="json")
    assert bad.status_code == 400 and "scheduled_at" in bad.json()
    assert Review.objects.get(pk=scheduled_review.pk).sequence == 1


def test_invite_download(api, scheduled_review):
    response = api.get(url(scheduled_review, "ics"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.content.startswith(b"BEGIN:VCALENDAR\r\n")
    assert api.get(url(scheduled_review, "ics"), HTTP_ACCEPT="text/calendar").status_code == 200
    assert api.get(f"{BASE}999999/ics/").status_code == 404


def test_cancel_is_for_the_facilitator(api, facilitator_api, scheduled_review):
    assert api.post(url(scheduled_review, "cancel")).status_code == 403
    response = facilitator_api.post(url(scheduled_review, "cancel"))
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    again = facilitator_api.post(url(scheduled_review, "cancel"))
    assert again.status_code == 400 and "status" in again.json()


# --- running -------------------------------------------------------------------------


def test_only_the_facilitator_runs_the_review(api, note_taker_api, facilitator_api, scheduled_review):
    for client in (api, note_taker_api):
        assert client.post(url(scheduled_review, "start")).status_code == 403
    assert Review.objects.get(pk=scheduled_review.pk).status == "scheduled"
    response = facilitator_api.post(url(scheduled_review, "start"))
    assert response.status_code == 200 and response.json()["status"] == "running"
    assert (
        note_taker_api.post(url(scheduled_review, "next"), {"from_step": 0}, format="json").status_code == 403
    )
    response = facilitator_api.post(url(scheduled_review, "next"), {"from_step": 0}, format="json")
    assert response.json()["step"] == "timeline"
    stale = facilitator_api.post(url(scheduled_review, "next"), {"from_step": 0}, format="json")
    assert stale.status_code == 200 and stale.json()["current_step"] == 1
    state = api.get(url(scheduled_review, "state")).json()
    assert state["step"] == "timeline" and 0 < state["step_remaining_seconds"] <= 720


@pytest.mark.parametrize("body", [{}, {"from_step": "one"}, {"from_step": -1}])
def test_next_bad_input(facilitator_api, running_review, body):
    response = facilitator_api.post(url(running_review, "next"), body, format="json")
    assert response.status_code == 400 and "from_step" in response.json()
    assert Review.objects.get(pk=running_review.pk).current_step == 0


def test_end_through_the_api(
    api, facilitator_api, running_review, ready_pm, django_capture_on_commit_callbacks
):
    assert api.post(url(running_review, "end"), {"outcome": "x"}, format="json").status_code == 403
    blank = facilitator_api.post(url(running_review, "end"), {"outcome": ""}, format="json")
    assert blank.status_code == 400 and "outcome" in blank.json()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = facilitator_api.post(url(running_review, "end"), {"outcome": "Agreed."}, format="json")
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "ended" and data["outcome"] == "Agreed." and data["actual_seconds"] >= 0
    assert PostMortem.objects.get(pk=ready_pm.pk).status == "reviewed"
    assert len(mail.outbox) == 2


def test_end_is_refused_while_readiness_fails(facilitator_api, running_review, ready_pm):
    ActionItem.objects.filter(postmortem=ready_pm).first().delete()
    response = facilitator_api.post(url(running_review, "end"), {"outcome": "Done."}, format="json")
    assert response.status_code == 400
    assert any("action items" in m for m in response.json()["readiness"])
    assert Review.objects.get(pk=running_review.pk).status == "running"
    assert PostMortem.objects.get(pk=ready_pm.pk).status == "in_review"


# --- editing ------------------------------------------------------------------------


def test_section_edit_and_conflict(facilitator_api, note_taker_api, running_review, ready_pm):
    read = PostMortem.objects.get(pk=ready_pm.pk)
    body = {"section": "why_it_happened", "version": read.version, "base_text": read.why_it_happened}
    first = note_taker_api.post(url(running_review, "sections"), {**body, "text": "Theirs"}, format="json")
    assert first.status_code == 200 and first.json()["version"] == read.version + 1
    second = facilitator_api.post(url(running_review, "sections"), {**body, "text": "Mine"}, format="json")
    assert second.status_code == 409
    conflict = second.json()
    assert (conflict["yours"], conflict["theirs"], conflict["current_version"]) == (
        "Mine",
        "Theirs",
        read.version + 1,
    )
    assert PostMortem.objects.get(pk=ready_pm.pk).why_it_happened == "Theirs"
    overwrite = facilitator_api.post(
        url(running_review, "sections"),
        {**body, "text": "Mine", "version": conflict["current_version"], "base_text": conflict["theirs"]},
        format="json",
    )
    assert overwrite.status_code == 200
    assert PostMortem.objects.get(pk=ready_pm.pk).why_it_happened == "Mine"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"section": "title", "text": "x", "version": 1}, "section"),
        ({"section": "what_happened", "text": "x"}, "version"),
        ({"section": "what_happened", "text": 5, "version": "v"}, "version"),
        ({"section": "what_happened", "version": 1}, "text"),
        ({"section": "what_happened", "text": "x" * 20_001, "version": 1}, "text"),
    ],
)
def test_section_bad_input(facilitator_api, running_review, ready_pm, body, field):
    before = PostMortem.objects.get(pk=ready_pm.pk)
    response = facilitator_api.post(url(running_review, "sections"), body, format="json")
    assert response.status_code == 400 and field in response.json()
    after = PostMortem.objects.get(pk=ready_pm.pk)
    assert (after.version, after.what_happened) == (before.version, before.what_happened)


def test_outsiders_cannot_edit(outsider_api, api, running_review, ready_pm):
    version = PostMortem.objects.get(pk=ready_pm.pk).version
    for client in (outsider_api, api):  # an author who is not the facilitator or note-taker
        response = client.post(
            url(running_review, "sections"),
            {"section": "what_happened", "text": "x", "version": version},
            format="json",
        )
        assert response.status_code == 403
        assert (
            client.post(
                url(running_review, "notes"), {"kind": "decision", "text": "x"}, format="json"
            ).status_code
            == 403
        )
    assert PostMortem.objects.get(pk=ready_pm.pk).version == version
    assert not ReviewNote.objects.exists()


def test_quick_add_action_item(note_taker_api, running_review, ready_pm):
    due = (timezone.localdate() + dt.timedelta(days=9)).isoformat()
    response = note_taker_api.post(
        url(running_review, "action-items"),
        {"text": "Canary config rollouts", "owner": "bob", "due_date": due, "kind": "process"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["key"].startswith("AI-") and response.json()["owner"] == "bob"
    assert ActionItem.objects.filter(postmortem=ready_pm).count() == 4


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"owner": "nobody"}, "owner"),
        ({"due_date": "2001-01-01"}, "due_date"),
        ({"due_date": "tomorrow"}, "due_date"),
        ({"kind": "wish"}, "kind"),
        ({"text": ""}, "text"),
    ],
)
def test_quick_add_bad_input(note_taker_api, running_review, ready_pm, changes, field):
    due = (timezone.localdate() + dt.timedelta(days=9)).isoformat()
    body = {"text": "Canary config rollouts", "owner": "bob", "due_date": due, "kind": "process", **changes}
    response = note_taker_api.post(url(running_review, "action-items"), body, format="json")
    assert response.status_code == 400 and field in response.json()
    assert ActionItem.objects.filter(postmortem=ready_pm).count() == 3


def test_declined_changes_and_factors(facilitator_api, running_review, ready_pm):
    response = facilitator_api.post(
        url(running_review, "declined-changes"),
        {"text": "Freeze Fridays", "rationale": "Day did not matter"},
        format="json",
    )
    assert response.status_code == 201 and response.json()["text"] == "Freeze Fridays"
    bad = facilitator_api.post(url(running_review, "declined-changes"), {"text": "x"}, format="json")
    assert bad.status_code == 400 and "rationale" in bad.json()
    assert ready_pm.declined_changes.count() == 2
    tagged = facilitator_api.post(
        url(running_review, "factors"), {"factor": "monitoring-gap", "tagged": True}, format="json"
    )
    assert tagged.status_code == 200 and "monitoring-gap" in tagged.json()["factors"]
    unknown = facilitator_api.post(
        url(running_review, "factors"), {"factor": "human-error", "tagged": True}, format="json"
    )
    assert unknown.status_code == 400 and "factor" in unknown.json()
    assert ready_pm.factors.count() == 3


def test_notes(note_taker_api, facilitator_api, running_review, scheduled_review):
    created = note_taker_api.post(
        url(running_review, "notes"), {"kind": "parking_lot", "text": "Diff bot"}, format="json"
    )
    assert created.status_code == 201 and created.json()["step"] == "frame"
    note_id = created.json()["id"]
    done = facilitator_api.patch(f"{url(running_review, 'notes')}{note_id}/", {"done": True}, format="json")
    assert done.status_code == 200 and done.json()["done"] is True
    bad = facilitator_api.patch(f"{url(running_review, 'notes')}{note_id}/", {"done": "maybe"}, format="json")
    assert bad.status_code == 400
    assert (
        facilitator_api.post(
            url(running_review, "notes"), {"kind": "gossip", "text": "x"}, format="json"
        ).status_code
        == 400
    )
    assert facilitator_api.delete(f"{url(running_review, 'notes')}{note_id}/").status_code == 204
    assert facilitator_api.delete(f"{url(running_review, 'notes')}{note_id}/").status_code == 404
    assert not ReviewNote.objects.exists()


def test_attendance(note_taker_api, running_review):
    response = note_taker_api.post(
        url(running_review, "attendance"), {"attendees": ["alice", "bob"]}, format="json"
    )
    assert response.status_code == 200 and response.json()["attendees"] == ["alice", "bob"]
    bad = note_taker_api.post(
        url(running_review, "attendance"), {"attendees": ["alice", "nobody"]}, format="json"
    )
    assert bad.status_code == 400 and "attendees" in bad.json()
    assert sorted(running_review.attendees.values_list("username", flat=True)) == ["alice", "bob"]


def test_waivers(facilitator_api, running_review, ready_pm):
    body = {
        "section": "what_happened",
        "rule": "blame",
        "excerpt": "Bob forgot",
        "reason": "Quoted from chat",
    }
    response = facilitator_api.post(url(running_review, "waivers"), body, format="json")
    assert response.status_code == 201
    bad = facilitator_api.post(url(running_review, "waivers"), {**body, "reason": ""}, format="json")
    assert bad.status_code == 400 and "reason" in bad.json()
    assert FindingWaiver.objects.filter(postmortem=ready_pm).count() == 1


# --- afterwards ---------------------------------------------------------------------


def test_pulse_once_per_attendee(api, outsider_api, ended_review):
    body = {"learned": 4, "come_again": True, "what_should_change": "Start on time"}
    assert outsider_api.post(url(ended_review, "pulse"), body, format="json").status_code == 403
    response = api.post(url(ended_review, "pulse"), body, format="json")
    assert response.status_code == 201 and response.json()["respondent"] == "alice"
    again = api.post(url(ended_review, "pulse"), body, format="json")
    assert again.status_code == 400 and "respondent" in again.json()
    assert PulseResponse.objects.count() == 1


@pytest.mark.parametrize(
    "body", [{"learned": 0, "come_again": True}, {"learned": 3}, {"learned": "lots", "come_again": True}]
)
def test_pulse_bad_input(api, ended_review, body):
    response = api.post(url(ended_review, "pulse"), body, format="json")
    assert response.status_code == 400
    assert not PulseResponse.objects.exists()


def test_pulse_before_the_end_is_refused(api, running_review):
    assert (
        api.post(url(running_review, "pulse"), {"learned": 3, "come_again": True}, format="json").status_code
        == 403
    )


def test_pulse_summary(api, ended_review, team):
    services.pulse_submit(review=ended_review, user=ended_review.facilitator, learned=5, come_again=True)
    response = api.get(f"{BASE}pulse-summary/", {"team": team.slug})
    assert response.status_code == 200
    assert response.json()["responses"] == 1 and response.json()["learned_counts"]["5"] == 1
    by_pm = api.get(f"{BASE}pulse-summary/", {"postmortem": ended_review.postmortem_id}).json()
    assert by_pm["learned_average"] == 5.0
    assert api.get(f"{BASE}pulse-summary/").status_code == 400
    assert api.get(f"{BASE}pulse-summary/", {"team": "nope"}).status_code == 404


def test_team_agenda(api, team, author):
    response = api.get(f"{BASE}agendas/{team.slug}/")
    assert response.status_code == 200 and response.json()["total_minutes"] == 30
    refused = api.patch(f"{BASE}agendas/{team.slug}/", {"minutes": {"frame": 5}}, format="json")
    assert refused.status_code == 403
    TeamMembership.objects.filter(team=team, user=author).update(role=TeamMembership.Role.LEAD)
    ok = api.patch(f"{BASE}agendas/{team.slug}/", {"minutes": {"frame": 5}}, format="json")
    assert ok.status_code == 200 and ok.json()["total_minutes"] == 32
    for bad in ({"minutes": {"frame": 0}}, {"minutes": {"coffee": 5}}, {"minutes": "all"}, {}):
        response = api.patch(f"{BASE}agendas/{team.slug}/", bad, format="json")
        assert response.status_code == 400, bad
    assert TeamReviewSettings.objects.get(team=team).minutes_frame == 5


def test_decline_an_action_item(note_taker_api, api, running_review, ready_pm):
    item = ActionItem.objects.filter(postmortem=ready_pm).first()
    path = f"{url(running_review, 'action-items')}{item.pk}/decline/"
    assert api.post(path, {"rationale": "No."}, format="json").status_code == 403
    bad = note_taker_api.post(path, {"rationale": ""}, format="json")
    assert bad.status_code == 400 and "rationale" in bad.json()
    assert ActionItem.objects.filter(pk=item.pk).exists()
    response = note_taker_api.post(path, {"rationale": "Covered elsewhere."}, format="json")
    assert response.status_code == 201 and response.json()["rationale"] == "Covered elsewhere."
    assert note_taker_api.post(path, {"rationale": "Again"}, format="json").status_code == 404
