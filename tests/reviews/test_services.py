"""Scheduling (``reviews.scheduling``), running and ending a review (``reviews.services``)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from postmortems import services as pm_services
from postmortems.models import ActionItem, PostMortem
from postmortems.readiness import readiness_check
from reviews import scheduling, services
from reviews.models import (
    PulseResponse,
    Review,
    ReviewNote,
    ReviewOwnerNotice,
    ReviewStepTime,
    TeamReviewSettings,
)
from tests.factories import PostMortemFactory, UserFactory
from tests.reviews.conftest import soon

# --- scheduling ----------------------------------------------------------------------


def test_fixture_postmortem_passes_the_readiness_check(ready_pm):
    assert readiness_check(ready_pm).passed, readiness_check(ready_pm).as_dict()


def test_scheduling_moves_a_draft_to_review_and_sets_the_facilitator(scheduled_review, ready_pm, facilitator):
    ready_pm.refresh_from_db()
    assert scheduled_review.status == Review.Status.SCHEDULED
    assert ready_pm.status == PostMortem.Status.IN_REVIEW
    assert ready_pm.facilitator_id == facilitator.pk
    assert [s["minutes"] for s in scheduled_review.agenda] == [3, 12, 7, 6, 2]
    assert scheduled_review.planned_minutes == 30
    assert {u.username for u in scheduled_review.invitees.all()} == {"alice", "bob"}


def test_scheduling_takes_the_team_agenda_at_that_moment(ready_pm, author, facilitator, team):
    services.team_agenda_update(team=team, minutes={"timeline": 20, "wrapup": 5})
    review = scheduling.review_schedule(
        user=author, postmortem=ready_pm, scheduled_at=soon(), facilitator=facilitator
    )
    assert [s["minutes"] for s in review.agenda] == [3, 20, 7, 6, 5]
    services.team_agenda_update(team=team, minutes={"timeline": 10})
    review.refresh_from_db()
    assert review.planned_minutes == 41  # the snapshot does not move


def test_scheduling_is_refused_until_the_readiness_check_passes(team, author, facilitator):
    pm = PostMortemFactory(team=team, authors=[author])  # no timeline, factors or action items
    with pytest.raises(ValidationError) as caught:
        scheduling.review_schedule(user=author, postmortem=pm, scheduled_at=soon(), facilitator=facilitator)
    assert "readiness" in caught.value.message_dict
    assert any("timeline" in m for m in caught.value.message_dict["readiness"])
    pm.refresh_from_db()
    assert pm.status == PostMortem.Status.DRAFT and pm.facilitator_id is None
    assert not Review.objects.exists()


def test_a_second_open_review_is_refused(scheduled_review, ready_pm, author, facilitator):
    with pytest.raises(ValidationError) as caught:
        scheduling.review_schedule(
            user=author, postmortem=ready_pm, scheduled_at=soon(), facilitator=facilitator
        )
    assert "already has a scheduled review" in caught.value.message_dict["postmortem"][0]
    assert Review.objects.count() == 1


def test_a_cancelled_review_can_be_scheduled_again(scheduled_review, ready_pm, author, facilitator):
    scheduling.review_cancel(review=scheduled_review, user=facilitator)
    again = scheduling.review_schedule(
        user=author, postmortem=ready_pm, scheduled_at=soon(), facilitator=facilitator
    )
    assert again.pk != scheduled_review.pk
    assert Review.objects.filter(status="scheduled").count() == 1


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (dt.timedelta(hours=-2), "past"),
        (dt.timedelta(days=400), "within a year"),
    ],
)
def test_scheduling_refuses_times_out_of_range(ready_pm, author, facilitator, when, message):
    with pytest.raises(ValidationError) as caught:
        scheduling.review_schedule(
            user=author, postmortem=ready_pm, scheduled_at=timezone.now() + when, facilitator=facilitator
        )
    assert message in caught.value.message_dict["scheduled_at"][0]
    assert not Review.objects.exists()


def test_a_reviewed_postmortem_cannot_be_scheduled(team, author, teammate, facilitator):
    from tests.reviews.conftest import make_ready_postmortem

    pm = make_ready_postmortem(team=team, authors=[author], owners=[teammate], status="reviewed")
    with pytest.raises(ValidationError) as caught:
        scheduling.review_schedule(user=author, postmortem=pm, scheduled_at=soon(), facilitator=facilitator)
    assert "already reviewed" in caught.value.message_dict["postmortem"][0]


def test_an_inactive_facilitator_is_refused(ready_pm, author):
    gone = UserFactory(username="gone", is_active=False)
    with pytest.raises(ValidationError) as caught:
        scheduling.review_schedule(user=author, postmortem=ready_pm, scheduled_at=soon(), facilitator=gone)
    assert "facilitator" in caught.value.message_dict


def test_reschedule_bumps_the_invite_sequence_only_when_time_or_place_change(
    scheduled_review, facilitator, author
):
    later = scheduled_review.scheduled_at + dt.timedelta(days=1)
    review = scheduling.review_reschedule(
        review=scheduled_review, user=facilitator, data={"scheduled_at": later}
    )
    assert review.sequence == 1 and review.scheduled_at == later
    review = scheduling.review_reschedule(review=review, user=facilitator, data={"invitees": [author]})
    assert review.sequence == 1
    assert [u.username for u in review.invitees.all()] == ["alice"]


# --- running ------------------------------------------------------------------------


def test_start_stores_the_clock_and_is_idempotent(scheduled_review, facilitator):
    review = services.review_start(review=scheduled_review, user=facilitator)
    first_start = review.started_at
    again = services.review_start(review=review, user=facilitator)
    assert again.started_at == first_start
    assert review.status == Review.Status.RUNNING and review.current_step == 0
    assert ReviewStepTime.objects.filter(review=review).count() == 1


def test_next_step_from_two_screens_advances_once(running_review, facilitator):
    t0 = running_review.started_at
    services.review_next_step(
        review=running_review, user=facilitator, from_step=0, now=t0 + dt.timedelta(minutes=4)
    )
    review = services.review_next_step(
        review=running_review, user=facilitator, from_step=0, now=t0 + dt.timedelta(minutes=4, seconds=1)
    )
    assert review.current_step == 1
    times = list(ReviewStepTime.objects.filter(review=review).order_by("index"))
    assert [(t.step, t.seconds) for t in times] == [("frame", 240), ("timeline", None)]


def test_the_last_step_cannot_be_passed(running_review, facilitator):
    for step in range(4):
        services.review_next_step(review=running_review, user=facilitator, from_step=step)
    with pytest.raises(ValidationError) as caught:
        services.review_next_step(review=running_review, user=facilitator, from_step=4)
    assert "end the review" in caught.value.message_dict["from_step"][0]
    assert Review.objects.get(pk=running_review.pk).current_step == 4


# --- section editing and optimistic locking ----------------------------------------------


def test_section_save_with_the_current_version(running_review, facilitator, ready_pm):
    version = PostMortem.objects.get(pk=ready_pm.pk).version
    pm = services.review_section_save(
        review=running_review,
        user=facilitator,
        section="why_it_happened",
        text="New text\r\nline 2",
        version=version,
    )
    assert pm.version == version + 1
    assert PostMortem.objects.get(pk=ready_pm.pk).why_it_happened == "New text\nline 2"
    assert Review.objects.get(pk=running_review.pk).revision > running_review.revision


def test_a_stale_edit_of_the_same_section_is_a_conflict_with_both_texts(
    running_review, facilitator, note_taker, ready_pm
):
    read = PostMortem.objects.get(pk=ready_pm.pk)
    services.review_section_save(
        review=running_review,
        user=note_taker,
        section="why_it_happened",
        text="Theirs: the parser fell back to zero.",
        version=read.version,
        base_text=read.why_it_happened,
    )
    with pytest.raises(services.SectionConflict) as caught:
        services.review_section_save(
            review=running_review,
            user=facilitator,
            section="why_it_happened",
            text="Mine: the config was not validated.",
            version=read.version,
            base_text=read.why_it_happened,
        )
    conflict = caught.value
    assert conflict.yours == "Mine: the config was not validated."
    assert conflict.theirs == "Theirs: the parser fell back to zero."
    assert conflict.current_version == read.version + 1
    assert PostMortem.objects.get(pk=ready_pm.pk).why_it_happened == "Theirs: the parser fell back to zero."


def test_a_stale_edit_goes_ahead_when_only_other_parts_changed(
    running_review, facilitator, teammate, ready_pm
):
    read = PostMortem.objects.get(pk=ready_pm.pk)
    services.review_action_item_add(
        review=running_review,
        user=facilitator,
        text="Add a canary stage for config rollouts",
        owner=teammate,
        due_date=timezone.localdate() + dt.timedelta(days=10),
        kind="process",
    )
    pm = services.review_section_save(
        review=running_review,
        user=facilitator,
        section="what_happened",
        text="Rewritten in the room.",
        version=read.version,
        base_text=read.what_happened,
    )
    assert pm.what_happened == "Rewritten in the room."
    assert pm.action_items.count() == 4


def test_a_stale_edit_without_the_text_read_is_a_conflict(running_review, facilitator, teammate, ready_pm):
    read = PostMortem.objects.get(pk=ready_pm.pk)
    services.review_factor_set(
        review=running_review, user=facilitator, factor=_factor("monitoring-gap"), tagged=True
    )
    with pytest.raises(services.SectionConflict):
        services.review_section_save(
            review=running_review, user=facilitator, section="what_happened", text="x", version=read.version
        )
    assert PostMortem.objects.get(pk=ready_pm.pk).what_happened == read.what_happened


def test_section_save_refuses_unknown_sections_and_closed_reviews(ended_review, facilitator, ready_pm):
    with pytest.raises(ValidationError) as caught:
        services.review_section_save(
            review=ended_review, user=facilitator, section="title", text="x", version=1
        )
    assert "section" in caught.value.message_dict
    pm = PostMortem.objects.get(pk=ready_pm.pk)
    with pytest.raises(ValidationError) as caught:
        services.review_section_save(
            review=ended_review, user=facilitator, section="what_happened", text="x", version=pm.version
        )
    assert "status" in caught.value.message_dict
    assert PostMortem.objects.get(pk=ready_pm.pk).what_happened == pm.what_happened


def _factor(slug):
    from tests.factories import factor

    return factor(slug)


# --- quick-adds, notes, attendance ------------------------------------------------------


def test_quick_add_appends_an_item_keeps_the_others_and_tells_the_owner(
    running_review, facilitator, ready_pm, django_capture_on_commit_callbacks
):
    owner = UserFactory(username="oona")
    before = list(ActionItem.objects.filter(postmortem=ready_pm).values_list("pk", "text", "status"))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        item = services.review_action_item_add(
            review=running_review,
            user=facilitator,
            text="Stage config rollouts through a canary",
            owner=owner,
            due_date=timezone.localdate() + dt.timedelta(days=21),
            kind="process",
        )
    after = list(
        ActionItem.objects.filter(postmortem=ready_pm).exclude(pk=item.pk).values_list("pk", "text", "status")
    )
    assert sorted(after) == sorted(before)
    assert item.owner == owner and item.kind == "process" and item.status == "open"
    assert [m.to for m in mail.outbox if item.key in m.subject] == [["oona@example.com"]]


def test_quick_add_from_a_stale_copy_loses_no_item(running_review, facilitator, teammate, ready_pm):
    stale = Review.objects.get(pk=running_review.pk)  # both screens hold this copy
    due = timezone.localdate() + dt.timedelta(days=7)
    services.review_action_item_add(
        review=stale, user=facilitator, text="First", owner=teammate, due_date=due
    )
    services.review_action_item_add(
        review=stale, user=facilitator, text="Second", owner=teammate, due_date=due
    )
    texts = set(ActionItem.objects.filter(postmortem=ready_pm).values_list("text", flat=True))
    assert {"First", "Second"} <= texts and len(texts) == 5


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"text": "  "}, "text"),
        ({"due_date": "today"}, "due_date"),
        ({"kind": "wish"}, "kind"),
        ({"owner": None}, "owner"),
    ],
)
def test_quick_add_refuses_bad_items_and_saves_nothing(
    running_review, facilitator, teammate, ready_pm, changes, field
):
    values = {
        "text": "Add a test",
        "owner": teammate,
        "due_date": timezone.localdate() + dt.timedelta(days=3),
        "kind": "test",
    }
    values.update(changes)
    if values["due_date"] == "today":
        values["due_date"] = timezone.localdate()
    version = PostMortem.objects.get(pk=ready_pm.pk).version
    with pytest.raises(ValidationError) as caught:
        services.review_action_item_add(review=running_review, user=facilitator, **values)
    assert field in caught.value.message_dict
    assert ActionItem.objects.filter(postmortem=ready_pm).count() == 3
    assert PostMortem.objects.get(pk=ready_pm.pk).version == version


def test_declined_change_and_factor_tagging(running_review, facilitator, ready_pm):
    change = services.review_declined_change_add(
        review=running_review, user=facilitator, text="Freeze deploys", rationale="The day did not matter."
    )
    assert change.postmortem_id == ready_pm.pk and ready_pm.declined_changes.count() == 2
    with pytest.raises(ValidationError) as caught:
        services.review_declined_change_add(review=running_review, user=facilitator, text="x", rationale=" ")
    assert "rationale" in caught.value.message_dict
    factors = services.review_factor_set(
        review=running_review, user=facilitator, factor=_factor("monitoring-gap"), tagged=True
    )
    assert "monitoring-gap" in [f.slug for f in factors]
    factors = services.review_factor_set(
        review=running_review, user=facilitator, factor=_factor("config-change"), tagged=False
    )
    assert sorted(f.slug for f in factors) == ["missing-test", "monitoring-gap"]


def test_notes_carry_the_step_and_can_be_closed_or_removed(running_review, note_taker):
    services.review_next_step(review=running_review, user=note_taker, from_step=0)
    idea = services.review_note_add(
        review=running_review, user=note_taker, kind="parking_lot", text="Config diff bot"
    )
    decision = services.review_note_add(
        review=running_review, user=note_taker, kind="decision", text="Canary config"
    )
    assert (idea.step, decision.step) == ("timeline", "timeline")
    services.review_note_update(note=idea, user=note_taker, done=True)
    services.review_note_delete(note=decision, user=note_taker)
    assert list(ReviewNote.objects.values_list("text", "done")) == [("Config diff bot", True)]
    with pytest.raises(ValidationError) as caught:
        services.review_note_add(review=running_review, user=note_taker, kind="rumour", text="")
    assert set(caught.value.message_dict) == {"kind", "text"}


def test_attendance_replaces_or_adds(running_review, facilitator, author, teammate):
    people = services.review_attendance_set(review=running_review, user=facilitator, attendees=[author])
    assert [p.username for p in people] == ["alice"]
    people = services.review_attendance_set(
        review=running_review, user=facilitator, attendees=[teammate], replace=False
    )
    assert [p.username for p in people] == ["alice", "bob"]
    people = services.review_attendee_remove(review=running_review, user=facilitator, attendee=author)
    assert [p.username for p in people] == ["bob"]


# --- ending ---------------------------------------------------------------------------


def test_end_moves_the_postmortem_to_reviewed_and_stores_the_duration(
    running_review, facilitator, ready_pm, django_capture_on_commit_callbacks
):
    later = running_review.started_at + dt.timedelta(minutes=31, seconds=5)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        review = services.review_end(
            review=running_review, user=facilitator, outcome=" Agreed three changes. ", now=later
        )
    summaries = [c for c in callbacks if "enqueue_owner_summary" in c.__qualname__]
    assert len(summaries) == 2  # one summary per owner, enqueued after commit
    assert review.status == Review.Status.ENDED
    assert review.actual_seconds == 31 * 60 + 5
    assert review.outcome == "Agreed three changes."
    assert PostMortem.objects.get(pk=ready_pm.pk).status == PostMortem.Status.REVIEWED
    assert not ReviewStepTime.objects.filter(review=review, ended_at__isnull=True).exists()
    notices = ReviewOwnerNotice.objects.filter(review=review)
    assert sorted(n.owner.username for n in notices) == ["alice", "bob"]
    assert all(n.sent_at for n in notices)
    summaries = sorted((m.to[0], m.subject) for m in mail.outbox)
    assert [to for to, _ in summaries] == ["alice@example.com", "bob@example.com"]
    bob = next(m for m in mail.outbox if m.to == ["bob@example.com"])
    assert "Add a contract test" in bob.body and "Agreed three changes." in bob.body
    assert "Add a schema check" not in bob.body  # alice's item


def test_end_requires_the_readiness_check_to_pass_again(running_review, facilitator, ready_pm):
    pm = PostMortem.objects.get(pk=ready_pm.pk)
    services.review_section_save(
        review=running_review,
        user=facilitator,
        section="why_it_happened",
        text="Bob forgot to run the migration.",
        version=pm.version,
    )
    with pytest.raises(ValidationError) as caught:
        services.review_end(review=running_review, user=facilitator, outcome="Done.")
    assert any("blame" in m for m in caught.value.message_dict["readiness"])
    review = Review.objects.get(pk=running_review.pk)
    assert review.status == Review.Status.RUNNING and review.outcome == ""
    assert PostMortem.objects.get(pk=ready_pm.pk).status == PostMortem.Status.IN_REVIEW
    assert not ReviewOwnerNotice.objects.exists()
    # Waiving the finding (a quoted chat message, say) lets the review end.
    finding = "Bob forgot"
    services.review_finding_waive(
        review=running_review,
        user=facilitator,
        section="why_it_happened",
        rule="blame",
        excerpt=finding,
        reason="Quoted.",
    )
    services.review_end(review=running_review, user=facilitator, outcome="Done.")
    assert PostMortem.objects.get(pk=ready_pm.pk).status == PostMortem.Status.REVIEWED


@pytest.mark.parametrize("outcome", ["", "   ", "x" * 4001])
def test_end_needs_an_outcome(running_review, facilitator, outcome):
    with pytest.raises(ValidationError) as caught:
        services.review_end(review=running_review, user=facilitator, outcome=outcome)
    assert "outcome" in caught.value.message_dict
    assert Review.objects.get(pk=running_review.pk).status == Review.Status.RUNNING


def test_only_a_running_review_can_end(scheduled_review, facilitator):
    with pytest.raises(ValidationError) as caught:
        services.review_end(review=scheduled_review, user=facilitator, outcome="Done.")
    assert "status" in caught.value.message_dict


# --- pulse and agenda ---------------------------------------------------------------------


def test_pulse_once_per_person(ended_review, author):
    answer = services.pulse_submit(
        review=ended_review, user=author, learned=4, come_again=True, what_should_change="More time"
    )
    assert (answer.learned, answer.come_again) == (4, True)
    with pytest.raises(ValidationError) as caught:
        services.pulse_submit(review=ended_review, user=author, learned=2, come_again=False)
    assert "respondent" in caught.value.message_dict
    assert PulseResponse.objects.get().learned == 4


@pytest.mark.parametrize("learned", [0, 6, "4", True, None])
def test_pulse_refuses_scores_outside_1_to_5(ended_review, author, learned):
    with pytest.raises(ValidationError) as caught:
        services.pulse_submit(review=ended_review, user=author, learned=learned, come_again=True)
    assert "learned" in caught.value.message_dict
    assert not PulseResponse.objects.exists()


def test_pulse_waits_for_the_end(running_review, author):
    with pytest.raises(ValidationError) as caught:
        services.pulse_submit(review=running_review, user=author, learned=3, come_again=True)
    assert "status" in caught.value.message_dict


def test_team_agenda_update_checks_the_range(team):
    row = services.team_agenda_update(team=team, minutes={"frame": 5})
    assert row.total_minutes == 32
    with pytest.raises(ValidationError) as caught:
        services.team_agenda_update(team=team, minutes={"timeline": 0})
    assert "minutes_timeline" in caught.value.message_dict
    with pytest.raises(ValidationError):
        services.team_agenda_update(team=team, minutes={"coffee": 5})
    assert TeamReviewSettings.objects.get(team=team).minutes()["timeline"] == 12


def test_the_postmortem_write_path_keeps_its_own_readiness_gate(ready_pm, author):
    """Scheduling relies on ``postmortem_save``; the draft gate still holds for other callers."""
    ActionItem.objects.filter(postmortem=ready_pm).delete()
    with pytest.raises(ValidationError):
        pm_services.postmortem_save(user=author, postmortem=ready_pm, fields={"status": "in_review"})


def test_declining_an_item_moves_it_to_the_declined_changes(running_review, facilitator, ready_pm):
    item = ActionItem.objects.filter(postmortem=ready_pm).first()
    change = services.review_action_item_decline(
        review=running_review, user=facilitator, item=item, rationale="Covered by the schema check."
    )
    assert (change.text, change.rationale) == (item.text, "Covered by the schema check.")
    assert not ActionItem.objects.filter(pk=item.pk).exists()
    assert ready_pm.action_items.count() == 2 and ready_pm.declined_changes.count() == 2
    other = ActionItem.objects.filter(postmortem=ready_pm).first()
    with pytest.raises(ValidationError) as caught:
        services.review_action_item_decline(
            review=running_review, user=facilitator, item=other, rationale=" "
        )
    assert "rationale" in caught.value.message_dict
    assert ActionItem.objects.filter(pk=other.pk).exists()


def test_declining_an_item_of_another_postmortem_is_refused(
    running_review, facilitator, team, author, teammate
):
    from tests.reviews.conftest import make_ready_postmortem

    elsewhere = make_ready_postmortem(team=team, authors=[author], owners=[teammate])
    item = elsewhere.action_items.first()
    with pytest.raises(ValidationError) as caught:
        services.review_action_item_decline(
            review=running_review, user=facilitator, item=item, rationale="No."
        )
    assert "item" in caught.value.message_dict
    assert ActionItem.objects.filter(pk=item.pk).exists()


def test_a_restricted_postmortem_is_reviewed_only_with_people_who_may_read_it(
    ready_pm, author, teammate, facilitator, note_taker, outsider
):
    ready_pm.visibility = PostMortem.Visibility.RESTRICTED
    ready_pm.save(update_fields=["visibility"])
    with pytest.raises(ValidationError) as caught:
        scheduling.review_schedule(
            user=author,
            postmortem=ready_pm,
            scheduled_at=soon(),
            facilitator=facilitator,
            note_taker=note_taker,
            invitees=[teammate, outsider],
        )
    errors = caught.value.message_dict
    assert "nina cannot read" in errors["note_taker"][0]
    assert "mallory" in errors["invitees"][0] and "bob" not in errors["invitees"][0]
    assert not Review.objects.exists()
    # Named readers may be invited; the facilitator becomes the document's facilitator.
    ready_pm.restricted_to.add(note_taker, outsider)
    review = scheduling.review_schedule(
        user=author,
        postmortem=ready_pm,
        scheduled_at=soon(),
        facilitator=facilitator,
        note_taker=note_taker,
        invitees=[teammate, outsider],
    )
    assert set(review.invitees.values_list("username", flat=True)) == {"bob", "mallory"}
