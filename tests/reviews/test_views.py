"""The review pages: scheduling, the review-mode page and its form posts, the
invite, the pulse, the team page and the panel on the post-mortem page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from postmortems.models import ActionItem, PostMortem, TeamMembership
from reviews import services
from reviews.models import PulseResponse, Review, ReviewNote, TeamReviewSettings
from tests.factories import PostMortemFactory
from tests.reviews.conftest import soon


def review_url(review, action=""):
    return f"/reviews/{review.pk}/{action + '/' if action else ''}"


@pytest.fixture
def as_facilitator(facilitator):
    """A second browser (its own client), signed in as the review's facilitator."""
    browser = Client()
    browser.force_login(facilitator)
    return browser


# --- the post-mortem page -----------------------------------------------------------


def test_postmortem_page_offers_scheduling_to_an_author(web, ready_pm):
    page = web.get(ready_pm.get_absolute_url())
    assert page.status_code == 200
    assert f"/reviews/new/{ready_pm.key}/" in page.content.decode()


def test_postmortem_page_links_the_scheduled_review_and_later_the_pulse(web, scheduled_review, facilitator):
    pm = scheduled_review.postmortem
    body = web.get(pm.get_absolute_url()).content.decode()
    assert review_url(scheduled_review) in body and "Schedule the review" not in body
    services.review_start(review=scheduled_review, user=facilitator)
    ended = services.review_end(review=scheduled_review, user=facilitator, outcome="Done.")
    body = web.get(pm.get_absolute_url()).content.decode()
    assert review_url(scheduled_review, "pulse") in body
    services.pulse_submit(
        review=ended, user=facilitator, learned=4, come_again=True, what_should_change="Less slides"
    )
    body = web.get(pm.get_absolute_url()).content.decode()
    assert "Pulse after the review" in body and "Less slides" in body


# --- scheduling ------------------------------------------------------------------------


def test_schedule_page(web, ready_pm):
    page = web.get(f"/reviews/new/{ready_pm.key}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "author, action-item owner" in body  # alice is suggested, and why
    assert 'name="invitees"' in body


def test_schedule_page_shows_what_is_missing_when_not_ready(web, team, author, facilitator):
    pm = PostMortemFactory(team=team, authors=[author])
    page = web.get(f"/reviews/new/{pm.key}/")
    assert page.status_code == 200
    assert "Not ready for review yet" in page.content.decode()
    response = web.post(
        f"/reviews/new/{pm.key}/",
        {"scheduled_at": soon().strftime("%Y-%m-%dT%H:%M"), "facilitator": facilitator.pk},
    )
    assert response.status_code == 400
    assert not Review.objects.exists()


def test_scheduling_asks_to_confirm_a_facilitator_who_wrote_it(web, ready_pm, author, teammate):
    data = {
        "scheduled_at": soon().strftime("%Y-%m-%dT%H:%M"),
        "facilitator": author.pk,
        "invitees": [teammate.pk],
        "location": "Room 4",
    }
    page = web.post(f"/reviews/new/{ready_pm.key}/", data)
    assert page.status_code == 200
    assert "is an author" in page.content.decode()
    assert not Review.objects.exists()
    response = web.post(f"/reviews/new/{ready_pm.key}/", {**data, "accept_warnings": "on"})
    review = Review.objects.get()
    assert response.status_code == 302 and response["Location"] == review_url(review)
    assert review.facilitator == author and review.location == "Room 4"
    assert PostMortem.objects.get(pk=ready_pm.pk).status == "in_review"


@pytest.mark.parametrize(
    "changes",
    [{"scheduled_at": "soon"}, {"facilitator": "99999"}, {"scheduled_at": "2001-01-01T10:00"}],
)
def test_scheduling_bad_input_keeps_the_form_and_saves_nothing(web, ready_pm, facilitator, changes):
    data = {
        "scheduled_at": soon().strftime("%Y-%m-%dT%H:%M"),
        "facilitator": facilitator.pk,
        "location": "Room 9",
        **changes,
    }
    page = web.post(f"/reviews/new/{ready_pm.key}/", data)
    assert page.status_code == 400
    assert 'value="Room 9"' in page.content.decode()
    assert not Review.objects.exists()


def test_scheduling_is_refused_to_outsiders_and_anonymous(client, outsider, ready_pm):
    assert client.get(f"/reviews/new/{ready_pm.key}/").status_code == 302  # to the login page
    client.force_login(outsider)
    assert client.get(f"/reviews/new/{ready_pm.key}/").status_code == 403
    assert client.get("/reviews/new/PM-x/").status_code == 404


def test_change_and_cancel_the_schedule(as_facilitator, web, scheduled_review, facilitator, author):
    assert web.get(review_url(scheduled_review, "edit")).status_code == 403
    page = as_facilitator.get(review_url(scheduled_review, "edit"))
    assert page.status_code == 200
    later = timezone.localtime(scheduled_review.scheduled_at + dt.timedelta(days=1)).strftime(
        "%Y-%m-%dT%H:%M"
    )
    response = as_facilitator.post(
        review_url(scheduled_review, "edit"),
        {"scheduled_at": later, "facilitator": facilitator.pk, "invitees": [author.pk], "location": "Room 5"},
    )
    assert response.status_code == 302
    review = Review.objects.get(pk=scheduled_review.pk)
    assert (review.sequence, review.location) == (1, "Room 5")
    assert as_facilitator.post(review_url(scheduled_review, "edit"), {"cancel": "1"}).status_code == 302
    assert Review.objects.get(pk=scheduled_review.pk).status == "cancelled"


def test_invite_download(web, scheduled_review):
    response = web.get(f"/reviews/{scheduled_review.pk}/invite.ics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert f'filename="review-{scheduled_review.postmortem.key}.ics"' in response["Content-Disposition"]
    assert b"BEGIN:VEVENT\r\n" in response.content


# --- the review page --------------------------------------------------------------------


def test_review_page_for_the_facilitator_and_for_others(as_facilitator, web, running_review):
    page = as_facilitator.get(review_url(running_review))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="review-clock"' in body and 'data-action="next"' in body
    assert "Edit “What happened”" in body
    other = web.get(review_url(running_review)).content.decode()
    assert 'data-action="next"' not in other and "Edit “What happened”" not in other
    for step in ("timeline", "factors", "actions", "wrapup"):
        assert as_facilitator.get(review_url(running_review) + f"?view={step}").status_code == 200


def test_review_page_query_count_does_not_grow_with_notes(
    as_facilitator, running_review, note_taker, django_assert_max_num_queries
):
    as_facilitator.get(review_url(running_review))
    with django_assert_max_num_queries(80) as few:
        as_facilitator.get(review_url(running_review) + "?view=wrapup")
    for n in range(10):
        services.review_note_add(
            review=running_review, user=note_taker, kind="decision", text=f"Decision {n}"
        )
        services.review_note_add(review=running_review, user=note_taker, kind="parking_lot", text=f"Idea {n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        as_facilitator.get(review_url(running_review) + "?view=wrapup")


def test_anonymous_visitors_go_to_the_login_page(client, running_review):
    for path in ("", "pulse"):
        response = client.get(review_url(running_review, path))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    response = client.post(review_url(running_review, "next"), {"from_step": 0})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert Review.objects.get(pk=running_review.pk).current_step == 0


def test_only_the_facilitator_moves_the_agenda(web, as_facilitator, scheduled_review):
    assert web.post(review_url(scheduled_review, "start")).status_code == 403
    assert as_facilitator.post(review_url(scheduled_review, "start")).status_code == 302
    assert web.post(review_url(scheduled_review, "next"), {"from_step": 0}).status_code == 403
    assert as_facilitator.post(review_url(scheduled_review, "next"), {"from_step": 0}).status_code == 302
    assert (
        as_facilitator.post(review_url(scheduled_review, "next"), {"from_step": 0}).status_code == 302
    )  # stale: no-op
    assert Review.objects.get(pk=scheduled_review.pk).current_step == 1


def test_section_edit_conflict_shows_both_texts(as_facilitator, client, running_review, note_taker, ready_pm):
    read = PostMortem.objects.get(pk=ready_pm.pk)
    services.review_section_save(
        review=running_review,
        user=note_taker,
        section="why_it_happened",
        text="Their version of events.",
        version=read.version,
        base_text=read.why_it_happened,
    )
    response = as_facilitator.post(
        review_url(running_review, "sections/why_it_happened"),
        {
            "why_it_happened-text": "My version of events.",
            "why_it_happened-version": read.version,
            "why_it_happened-base_text": read.why_it_happened,
        },
    )
    assert response.status_code == 409
    body = response.content.decode()
    assert "My version of events." in body and "Their version of events." in body
    assert "Save my text over theirs" in body
    assert PostMortem.objects.get(pk=ready_pm.pk).why_it_happened == "Their version of events."


def test_section_edit_saves_and_bad_input_keeps_the_text(as_facilitator, running_review, ready_pm):
    read = PostMortem.objects.get(pk=ready_pm.pk)
    ok = as_facilitator.post(
        review_url(running_review, "sections/what_happened"),
        {"what_happened-text": "Edited in the room.", "what_happened-version": read.version},
    )
    assert ok.status_code == 302 and ok["Location"].endswith("#section-what_happened")
    assert PostMortem.objects.get(pk=ready_pm.pk).what_happened == "Edited in the room."
    bad = as_facilitator.post(
        review_url(running_review, "sections/what_happened"),
        {"what_happened-text": "Lost?", "what_happened-version": "x"},
    )
    assert bad.status_code == 400 and "Lost?" in bad.content.decode()
    assert as_facilitator.post(review_url(running_review, "sections/title"), {}).status_code == 404


def test_quick_add_and_bad_input(as_facilitator, web, running_review, ready_pm, teammate):
    due = (timezone.localdate() + dt.timedelta(days=7)).isoformat()
    data = {
        "item-text": "Canary config rollouts",
        "item-owner": teammate.pk,
        "item-due_date": due,
        "item-kind": "process",
    }
    assert web.post(review_url(running_review, "action-items"), data).status_code == 403
    response = as_facilitator.post(review_url(running_review, "action-items"), data)
    assert response.status_code == 302
    assert ActionItem.objects.filter(postmortem=ready_pm, text="Canary config rollouts").exists()
    past = {**data, "item-text": "Typed text stays", "item-due_date": "2001-01-01"}
    page = as_facilitator.post(review_url(running_review, "action-items"), past)
    assert page.status_code == 400
    body = page.content.decode()
    assert "Typed text stays" in body and "after today" in body
    assert ActionItem.objects.filter(postmortem=ready_pm).count() == 4


def test_notes_factors_attendance_and_waivers(as_facilitator, running_review, ready_pm, author, teammate):
    assert (
        as_facilitator.post(
            review_url(running_review, "notes"), {"parking-kind": "parking_lot", "parking-text": "Diff bot"}
        ).status_code
        == 302
    )
    assert (
        as_facilitator.post(
            review_url(running_review, "notes"), {"decision-kind": "decision", "decision-text": "Canary"}
        ).status_code
        == 302
    )
    assert (
        as_facilitator.post(
            review_url(running_review, "notes"), {"decision-kind": "decision", "decision-text": ""}
        ).status_code
        == 400
    )
    assert sorted(ReviewNote.objects.values_list("kind", "text")) == [
        ("decision", "Canary"),
        ("parking_lot", "Diff bot"),
    ]
    note = ReviewNote.objects.get(kind="parking_lot")
    assert (
        as_facilitator.post(review_url(running_review, f"notes/{note.pk}"), {"done": "on"}).status_code == 302
    )
    assert ReviewNote.objects.get(pk=note.pk).done is True
    assert (
        as_facilitator.post(
            review_url(running_review, "factors"), {"factor": "monitoring-gap", "tagged": "on"}
        ).status_code
        == 302
    )
    assert ready_pm.factors.filter(slug="monitoring-gap").exists()
    assert as_facilitator.post(review_url(running_review, "factors"), {"factor": "nope"}).status_code == 400
    assert (
        as_facilitator.post(
            review_url(running_review, "attendance"), {"attendees": [author.pk, teammate.pk]}
        ).status_code
        == 302
    )
    assert running_review.attendees.count() == 2
    assert (
        as_facilitator.post(review_url(running_review, "attendance"), {"attendees": ["x"]}).status_code == 400
    )
    assert running_review.attendees.count() == 2
    waive = {"section": "what_happened", "rule": "blame", "excerpt": "x forgot", "reason": "Quoted"}
    assert as_facilitator.post(review_url(running_review, "waivers"), waive).status_code == 302
    assert (
        as_facilitator.post(review_url(running_review, "waivers"), {**waive, "reason": ""}).status_code == 400
    )


def test_ending_from_the_page(as_facilitator, web, running_review, ready_pm):
    assert web.post(review_url(running_review, "end"), {"outcome": "Done."}).status_code == 403
    blank = as_facilitator.post(review_url(running_review, "end"), {"outcome": ""})
    assert blank.status_code == 400 and "Record the outcome" in blank.content.decode()
    response = as_facilitator.post(review_url(running_review, "end"), {"outcome": "Three changes agreed."})
    assert response.status_code == 302
    assert PostMortem.objects.get(pk=ready_pm.pk).status == "reviewed"
    summary = as_facilitator.get(review_url(running_review))
    assert summary.status_code == 200 and "Three changes agreed." in summary.content.decode()


def test_ending_is_refused_while_readiness_fails(as_facilitator, running_review, ready_pm):
    ActionItem.objects.filter(postmortem=ready_pm).first().delete()
    page = as_facilitator.post(review_url(running_review, "end"), {"outcome": "Done."})
    assert page.status_code == 400
    assert "Between 3 and 5 action items" in page.content.decode()
    assert Review.objects.get(pk=running_review.pk).status == "running"


# --- afterwards ----------------------------------------------------------------------------


def test_pulse_page(web, client, outsider, ended_review):
    page = web.get(review_url(ended_review, "pulse"))
    assert page.status_code == 200 and "Would you come to another review?" in page.content.decode()
    bad = web.post(review_url(ended_review, "pulse"), {"learned": "9", "come_again": "yes"})
    assert bad.status_code == 400 and not PulseResponse.objects.exists()
    ok = web.post(
        review_url(ended_review, "pulse"),
        {"learned": "4", "come_again": "no", "what_should_change": "Shorter"},
    )
    assert ok.status_code == 302
    again = web.post(review_url(ended_review, "pulse"), {"learned": "1", "come_again": "yes"})
    assert again.status_code == 200 and "you answered" in again.content.decode()
    assert list(PulseResponse.objects.values_list("learned", "come_again")) == [(4, False)]
    client.force_login(outsider)
    assert client.get(review_url(ended_review, "pulse")).status_code == 403


def test_team_page_and_agenda(web, team, author, ended_review):
    page = web.get(f"/reviews/teams/{team.slug}/")
    assert page.status_code == 200 and ended_review.postmortem.key in page.content.decode()
    data = {"frame": 5, "timeline": 12, "factors": 7, "actions": 6, "wrapup": 2}
    assert web.post(f"/reviews/teams/{team.slug}/", data).status_code == 403
    TeamMembership.objects.filter(team=team, user=author).update(role=TeamMembership.Role.LEAD)
    assert web.post(f"/reviews/teams/{team.slug}/", data).status_code == 302
    assert web.post(f"/reviews/teams/{team.slug}/", {**data, "timeline": 0}).status_code == 400
    assert TeamReviewSettings.objects.get(team=team).total_minutes == 32
    assert web.get("/reviews/teams/nope/").status_code == 404


def test_decline_an_action_item_from_the_page(as_facilitator, web, running_review, ready_pm):
    item = ActionItem.objects.filter(postmortem=ready_pm).first()
    path = review_url(running_review, f"action-items/{item.pk}/decline")
    assert web.post(path, {"rationale": "No."}).status_code == 403
    assert as_facilitator.post(path, {"rationale": ""}).status_code == 400
    assert as_facilitator.post(path, {"rationale": "Covered elsewhere."}).status_code == 302
    assert ready_pm.declined_changes.filter(text=item.text).exists()
    assert not ActionItem.objects.filter(pk=item.pk).exists()
