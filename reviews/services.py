"""Writes for running and ending a review, and the pulse afterwards (HackSoft
Django-Styleguide's services). Scheduling is in ``reviews.scheduling``, the
owners' e-mailed summaries in ``reviews.summaries``, the shared checks and row
locks in ``reviews.guards``.

Every change to the post-mortem made during a review goes through
``postmortems.services`` (``postmortem_save``, ``finding_waive``), always with
a copy of the document read *after* its row is locked: ``postmortem_save``
saves the whole instance it is given, so a copy read earlier could write back
text someone else has changed since.

Permission checks are not made here; callers ask ``reviews.permissions``.
Errors are ``django.core.exceptions.ValidationError`` keyed by field (nothing
is saved then), and ``SectionConflict`` for an edit made on a stale copy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from postmortems import services as pm_services
from postmortems.models import ActionItem, ContributingFactor, DeclinedChange, FindingWaiver, PostMortem, Team
from postmortems.onepager import SECTION_FIELDS, SECTION_TITLES
from reviews import selectors
from reviews.guards import (
    bump,
    locked_postmortem,
    locked_review,
    readiness_messages,
    require_active,
    require_open,
    require_running,
)
from reviews.models import (
    PulseResponse,
    Review,
    ReviewNote,
    ReviewOwnerNotice,
    ReviewStepTime,
    TeamReviewSettings,
)
from reviews.summaries import CLOSED_ITEM_STATUSES, enqueue_owner_summary

MAX_OUTCOME_CHARS = 4000
MAX_NOTE_CHARS = 1000
MAX_PULSE_CHANGE_CHARS = 2000


class SectionConflict(Exception):
    """A section edit was made on a copy someone else has changed since (optimistic locking).

    Nothing was saved. Show both texts and let the person choose.

    Attributes:
        section: the section field name, e.g. ``"why_it_happened"``.
        yours: the text the caller tried to save.
        theirs: the text stored now.
        current_version: the post-mortem's version now (int); send it back to
            save ``yours`` over ``theirs`` on purpose.
    """

    def __init__(self, *, section: str, yours: str, theirs: str, current_version: int):
        super().__init__(
            f"{SECTION_TITLES.get(section, section)} was changed by someone else "
            f"(now version {current_version})."
        )
        self.section = section
        self.yours = yours
        self.theirs = theirs
        self.current_version = current_version


# --- helpers -----------------------------------------------------------------------

# --- helpers -----------------------------------------------------------------------


def _normalise_newlines(text: str) -> str:
    # Browsers send textareas with CRLF; stored Markdown uses LF.
    return (text or "").replace("\r\n", "\n").replace("\r", "\n")


# --- running the review -------------------------------------------------------------


def review_start(*, review: Review, user, now: dt.datetime | None = None) -> Review:
    """Start the meeting: status "running", the clock starts at the first step.

    Starting a review that already runs changes nothing (a second screen's
    click, a double submit).

    Raises:
        ValidationError: on ``status`` when the review has ended or is cancelled.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = locked_review(review.pk)
        if locked.status == Review.Status.RUNNING:
            return locked
        require_open(locked)
        if not locked.agenda:
            raise ValidationError({"agenda": "The review has no agenda."})
        locked.status = Review.Status.RUNNING
        locked.started_at = now
        locked.current_step = 0
        locked.step_started_at = now
        locked.revision += 1
        locked.save()
        ReviewStepTime.objects.create(
            review=locked,
            index=0,
            step=locked.agenda[0]["step"],
            planned_minutes=locked.agenda[0]["minutes"],
            started_at=now,
        )
    return locked


def review_next_step(*, review: Review, user, from_step: int, now: dt.datetime | None = None) -> Review:
    """Move the agenda from step ``from_step`` to the next one.

    ``from_step`` is the step the caller's screen showed: when another screen
    moved on already, nothing changes (two clicks on two screens advance once).

    Returns:
        The review as stored now.

    Raises:
        ValidationError: on ``status`` when the review is not running, on
            ``from_step`` at the last step (end the review instead).
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = locked_review(review.pk)
        require_running(locked)
        if from_step != locked.current_step:
            return locked
        if locked.is_last_step:
            raise ValidationError({"from_step": "This is the last step: end the review."})
        ReviewStepTime.objects.filter(review=locked, index=locked.current_step).update(ended_at=now)
        locked.current_step += 1
        locked.step_started_at = now
        locked.revision += 1
        locked.save()
        entry = locked.agenda[locked.current_step]
        ReviewStepTime.objects.create(
            review=locked,
            index=locked.current_step,
            step=entry["step"],
            planned_minutes=entry["minutes"],
            started_at=now,
        )
    return locked


def review_section_save(
    *,
    review: Review,
    user,
    section: str,
    text: str,
    version: int,
    base_text: str | None = None,
) -> PostMortem:
    """Save one section of the post-mortem from the review page.

    Optimistic locking per section: ``version`` is the post-mortem version the
    editor read. If the document has changed since, the save still goes ahead
    when ``base_text`` (the section as the editor read it) equals the stored
    section, because then only *other* parts changed (an action item added on
    another screen, say). Otherwise ``SectionConflict`` carries both texts and
    nothing is saved: a section is never overwritten silently.

    Args:
        section: one of ``postmortems.onepager.SECTION_FIELDS``.
        text: the new Markdown (CRLF is stored as LF).
        version: the ``PostMortem.version`` the editor read.
        base_text: the section's text when the editor read it; None means
            "any change since ``version`` is a conflict".

    Returns:
        The saved post-mortem (its new ``version``).

    Raises:
        ValidationError: unknown section, text too long, review closed.
        SectionConflict: the section changed since ``version``.
    """
    if section not in SECTION_FIELDS:
        raise ValidationError(
            {"section": f"Unknown section {section!r}; expected one of {', '.join(SECTION_FIELDS)}."}
        )
    text = _normalise_newlines(text)
    if len(text) > settings.KB_MAX_SECTION_CHARS:
        raise ValidationError(
            {"text": f"A section holds at most {settings.KB_MAX_SECTION_CHARS} characters."}
        )
    with transaction.atomic():
        locked = locked_review(review.pk)
        require_open(locked)
        pm = locked_postmortem(locked.postmortem_id)
        stored = getattr(pm, section) or ""
        if pm.version != version:
            unchanged = base_text is not None and _normalise_newlines(base_text) == _normalise_newlines(
                stored
            )
            if not unchanged and _normalise_newlines(stored) != text:
                raise SectionConflict(section=section, yours=text, theirs=stored, current_version=pm.version)
        pm = pm_services.postmortem_save(
            user=user, postmortem=pm, fields={section: text}, expected_version=pm.version
        )
        bump(locked)
    return pm


def _action_item_rows(pm: PostMortem) -> list[dict[str, Any]]:
    """The document's action items as rows that keep them unchanged in ``postmortem_save``."""
    return [
        {"id": pk, "status": status}
        for pk, status in pm.action_items.order_by("id").values_list("pk", "status")
    ]


def review_action_item_add(
    *, review: Review, user, text: str, owner, due_date: dt.date, kind: str = ActionItem.Kind.CODE
) -> ActionItem:
    """Quick-add an action item to the post-mortem under review.

    The item is appended through ``postmortem_save`` with the document's row
    locked while its current items are read, so two screens adding at once
    both keep their item. The new owner is e-mailed after commit (the existing
    ``postmortems.notify_action_item_owner`` path).

    Args:
        text: what will change (≤ 500 characters).
        owner: an active user.
        due_date: a date after today (the readiness check wants future dates).
        kind: one of ``ActionItem.Kind``.

    Returns:
        The new ``ActionItem``.

    Raises:
        ValidationError: keyed ``text``, ``owner``, ``due_date``, ``kind``, or
            ``status`` (review closed); nothing is saved.
    """
    errors: dict[str, str] = {}
    text = (text or "").strip()
    if not text:
        errors["text"] = "Say what will change."
    if owner is None:
        errors["owner"] = "Every action item needs an owner."
    elif not owner.is_active:
        errors["owner"] = f"{owner.get_username()} is not an active user."
    if due_date is None:
        errors["due_date"] = "Every action item needs a due date."
    elif due_date <= timezone.localdate():
        errors["due_date"] = "The due date must be after today."
    if kind not in ActionItem.Kind.values:
        errors["kind"] = f"Unknown kind {kind!r}."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = locked_review(review.pk)
        require_open(locked)
        pm = locked_postmortem(locked.postmortem_id)
        rows = _action_item_rows(pm)
        before = {row["id"] for row in rows}
        rows.append(
            {
                "text": text,
                "kind": kind,
                "owner": owner,
                "due_date": due_date,
                "status": ActionItem.Status.OPEN,
            }
        )
        pm_services.postmortem_save(user=user, postmortem=pm, fields={}, action_items=rows)
        item = ActionItem.objects.filter(postmortem=pm).exclude(pk__in=before).select_related("owner").get()
        bump(locked)
    return item


def review_action_item_decline(*, review: Review, user, item: ActionItem, rationale: str) -> DeclinedChange:
    """Take an action item off the list on record: it becomes a declined change
    with the room's reason, in one ``postmortem_save`` (so the document never
    holds both, nor neither). For the room that ends with more items than the
    readiness check allows, or decides one is not worth doing.

    Raises:
        ValidationError: ``rationale`` blank, ``item`` of another post-mortem,
            ``status`` when the review is closed; nothing is saved.
    """
    rationale = (rationale or "").strip()
    if not rationale:
        raise ValidationError({"rationale": "Say why the item is declined; it is part of the record."})
    with transaction.atomic():
        locked = locked_review(review.pk)
        require_open(locked)
        pm = locked_postmortem(locked.postmortem_id)
        rows = _action_item_rows(pm)
        if item.pk not in {row["id"] for row in rows}:
            raise ValidationError({"item": "That action item is not part of this post-mortem."})
        declined: list[dict[str, Any]] = [
            {"id": pk} for pk in pm.declined_changes.order_by("id").values_list("pk", flat=True)
        ]
        before = {row["id"] for row in declined}
        declined.append({"text": item.text[:500], "rationale": rationale[:2000]})
        pm_services.postmortem_save(
            user=user,
            postmortem=pm,
            fields={},
            action_items=[row for row in rows if row["id"] != item.pk],
            declined_changes=declined,
        )
        change = DeclinedChange.objects.filter(postmortem=pm).exclude(pk__in=before).get()
        bump(locked)
    return change


def review_declined_change_add(*, review: Review, user, text: str, rationale: str) -> DeclinedChange:
    """Record a change the room considered and declined, with the reason.

    Raises:
        ValidationError: keyed ``text`` or ``rationale`` (both required), or ``status``.
    """
    errors = {}
    if not (text or "").strip():
        errors["text"] = "Say which change was declined."
    if not (rationale or "").strip():
        errors["rationale"] = "Say why it was declined; it is part of the record."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = locked_review(review.pk)
        require_open(locked)
        pm = locked_postmortem(locked.postmortem_id)
        rows: list[dict[str, Any]] = [
            {"id": pk} for pk in pm.declined_changes.order_by("id").values_list("pk", flat=True)
        ]
        before = {row["id"] for row in rows}
        rows.append({"text": text.strip(), "rationale": rationale.strip()})
        pm_services.postmortem_save(user=user, postmortem=pm, fields={}, declined_changes=rows)
        change = DeclinedChange.objects.filter(postmortem=pm).exclude(pk__in=before).get()
        bump(locked)
    return change


def review_factor_set(
    *, review: Review, user, factor: ContributingFactor, tagged: bool
) -> list[ContributingFactor]:
    """Tag (``tagged=True``) or untag a contributing factor on the post-mortem.

    Returns:
        The post-mortem's factors afterwards, ordered by category and name.

    Raises:
        ValidationError: on ``status`` when the review is closed.
    """
    with transaction.atomic():
        locked = locked_review(review.pk)
        require_open(locked)
        pm = locked_postmortem(locked.postmortem_id)
        current = list(pm.factors.all())
        has = any(f.pk == factor.pk for f in current)
        if tagged != has:
            new = [*current, factor] if tagged else [f for f in current if f.pk != factor.pk]
            pm_services.postmortem_save(user=user, postmortem=pm, fields={"factors": new})
            bump(locked)
        return list(pm.factors.order_by("category", "name"))


def review_finding_waive(
    *, review: Review, user, section: str, rule: str, excerpt: str, reason: str
) -> FindingWaiver:
    """Mark a language finding intentional from the review page (``postmortems.services.finding_waive``).

    Raises:
        ValidationError: as ``finding_waive`` does, or on ``status``.
    """
    with transaction.atomic():
        locked = locked_review(review.pk)
        require_open(locked)
        waiver = pm_services.finding_waive(
            postmortem=locked.postmortem,
            user=user,
            section=section,
            rule=rule,
            excerpt=excerpt,
            reason=reason,
        )
        bump(locked)
    return waiver


def review_note_add(*, review: Review, user, kind: str, text: str) -> ReviewNote:
    """Add a decision or a parking-lot idea, stamped with the current agenda step.

    Raises:
        ValidationError: keyed ``kind``, ``text`` (1–1000 characters) or ``status``.
    """
    text = (text or "").strip()
    errors = {}
    if kind not in ReviewNote.Kind.values:
        errors["kind"] = f"Unknown kind {kind!r}; expected one of {', '.join(ReviewNote.Kind.values)}."
    if not text:
        errors["text"] = "Write the note."
    elif len(text) > MAX_NOTE_CHARS:
        errors["text"] = f"A note holds at most {MAX_NOTE_CHARS} characters."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = locked_review(review.pk)
        require_open(locked)
        current = locked.current
        note = ReviewNote.objects.create(
            review=locked,
            kind=kind,
            text=text,
            step=current["step"] if current and locked.status == Review.Status.RUNNING else "",
            created_by=user if getattr(user, "pk", None) else None,
        )
        bump(locked)
    return note


def review_note_update(*, note: ReviewNote, user, done: bool) -> ReviewNote:
    """Mark a parking-lot idea dealt with (``done=True``) or open again.

    Raises:
        ValidationError: on ``status`` when the review is closed.
    """
    with transaction.atomic():
        locked = locked_review(note.review_id)
        require_open(locked)
        ReviewNote.objects.filter(pk=note.pk).update(done=bool(done))
        note.done = bool(done)
        bump(locked)
    return note


def review_note_delete(*, note: ReviewNote, user) -> None:
    """Remove a note written by mistake.

    Raises:
        ValidationError: on ``status`` when the review is closed (the record stays).
    """
    with transaction.atomic():
        locked = locked_review(note.review_id)
        require_open(locked)
        note.delete()
        bump(locked)


def review_attendance_set(*, review: Review, user, attendees: Iterable, replace: bool = True) -> list:
    """Record who is in the room.

    Args:
        attendees: active users.
        replace: True sets the attendance to exactly ``attendees``; False adds them.

    Returns:
        The attendees afterwards, by username.

    Raises:
        ValidationError: on ``attendees`` for an inactive user, on ``status`` when closed.
    """
    attendees = list(attendees)
    for person in attendees:
        require_active(person, "attendees")
    with transaction.atomic():
        locked = locked_review(review.pk)
        require_open(locked)
        if replace:
            locked.attendees.set(attendees)
        else:
            locked.attendees.add(*attendees)
        bump(locked)
        return list(locked.attendees.order_by("username"))


def review_attendee_remove(*, review: Review, user, attendee) -> list:
    """Take one person off the attendance list. Returns the attendees afterwards."""
    with transaction.atomic():
        locked = locked_review(review.pk)
        require_open(locked)
        locked.attendees.remove(attendee)
        bump(locked)
        return list(locked.attendees.order_by("username"))


# --- ending the review ---------------------------------------------------------------


def review_end(*, review: Review, user, outcome: str, now: dt.datetime | None = None) -> Review:
    """End a running review.

    The readiness check must pass again (the document changed during the
    meeting); then the post-mortem moves to "reviewed" through
    ``postmortem_save``, the outcome and the actual duration (start to now,
    seconds) are stored, the open step is closed, and one summary per owner of
    an open action item is recorded and sent after commit
    (``reviews.send_owner_summary``; the sweep re-sends what a broker outage
    left behind).

    Raises:
        ValidationError: ``status`` (not running), ``outcome`` (blank or longer
            than 4000 characters), ``readiness`` (one message per failing
            check); nothing is saved.
    """
    now = now or timezone.now()
    outcome = (outcome or "").strip()
    if not outcome:
        raise ValidationError({"outcome": "Record the outcome of the review."})
    if len(outcome) > MAX_OUTCOME_CHARS:
        raise ValidationError({"outcome": f"The outcome holds at most {MAX_OUTCOME_CHARS} characters."})
    with transaction.atomic():
        locked = locked_review(review.pk)
        require_running(locked)
        pm = locked_postmortem(locked.postmortem_id)
        failing = readiness_messages(pm)
        if failing:
            raise ValidationError({"readiness": failing})
        pm_services.postmortem_save(user=user, postmortem=pm, fields={"status": PostMortem.Status.REVIEWED})
        ReviewStepTime.objects.filter(review=locked, ended_at__isnull=True).update(ended_at=now)
        locked.status = Review.Status.ENDED
        locked.ended_at = now
        locked.actual_seconds = max(0, int((now - locked.started_at).total_seconds()))
        locked.outcome = outcome
        locked.ended_by = user if getattr(user, "pk", None) else None
        locked.revision += 1
        locked.save()
        owner_ids = (
            ActionItem.objects.filter(postmortem=pm)
            .exclude(status__in=CLOSED_ITEM_STATUSES)
            .order_by("owner_id")
            .values_list("owner_id", flat=True)
            .distinct()
        )
        notices = [
            ReviewOwnerNotice.objects.get_or_create(review=locked, owner_id=owner_id)[0]
            for owner_id in owner_ids
        ]
        for notice in notices:
            enqueue_owner_summary(notice.pk)
    return locked


def pulse_submit(
    *, review: Review, user, learned: int, come_again: bool, what_should_change: str = ""
) -> PulseResponse:
    """Record one person's answers to the review's three-question pulse.

    Args:
        learned: 1 (nothing) to 5 (a lot): "did you learn something that will change your work?"
        come_again: "would you come to another review?"
        what_should_change: free text, ≤ 2000 characters.

    Raises:
        ValidationError: ``status`` (the review has not ended), ``learned``,
            ``what_should_change``, or ``respondent`` when they already answered
            (the unique constraint decides, so two submits at once record one).
    """
    errors = {}
    if review.status != Review.Status.ENDED:
        errors["status"] = "The pulse opens when the review has ended."
    if not isinstance(learned, int) or isinstance(learned, bool) or not 1 <= learned <= 5:
        errors["learned"] = "Answer with a number from 1 to 5."
    what_should_change = (what_should_change or "").strip()
    if len(what_should_change) > MAX_PULSE_CHANGE_CHARS:
        errors["what_should_change"] = f"At most {MAX_PULSE_CHANGE_CHARS} characters."
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            return PulseResponse.objects.create(
                review=review,
                respondent=user,
                learned=learned,
                come_again=bool(come_again),
                what_should_change=what_should_change,
            )
    except IntegrityError as exc:
        raise ValidationError({"respondent": "You have already answered this review's pulse."}) from exc


def team_agenda_update(*, team: Team, minutes: dict[str, int]) -> TeamReviewSettings:
    """Set a team's minutes per agenda step (each 1–60). Steps left out keep their value.

    Raises:
        ValidationError: keyed ``minutes_<step>`` for a value out of range;
            ``minutes`` for an unknown step.
    """
    current = selectors.team_review_settings(team)
    unknown = set(minutes) - set(current.minutes())
    if unknown:
        raise ValidationError({"minutes": f"Unknown agenda steps: {', '.join(sorted(unknown))}."})
    for key, value in minutes.items():
        setattr(current, f"minutes_{key}", value)
    current.full_clean(exclude=["team"])
    with transaction.atomic():
        current.save()
    return current
