"""Writes for reviews (HackSoft Django-Styleguide's services).

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
import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from postmortems import services as pm_services
from postmortems.models import ActionItem, ContributingFactor, DeclinedChange, FindingWaiver, PostMortem, Team
from postmortems.onepager import SECTION_FIELDS, SECTION_TITLES
from postmortems.readiness import readiness_check
from reviews import selectors
from reviews.models import (
    PulseResponse,
    Review,
    ReviewNote,
    ReviewOwnerNotice,
    ReviewStepTime,
    TeamReviewSettings,
)

logger = logging.getLogger(__name__)

#: A review may be scheduled this far in the past (a meeting that is starting now).
SCHEDULE_GRACE = dt.timedelta(minutes=15)
#: ... and at most this far ahead.
SCHEDULE_HORIZON = dt.timedelta(days=366)
MAX_OUTCOME_CHARS = 4000
MAX_NOTE_CHARS = 1000
MAX_PULSE_CHANGE_CHARS = 2000
CLOSED_ITEM_STATUSES = (ActionItem.Status.DONE, ActionItem.Status.NOT_DOING)


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


def _locked_postmortem(pk: int) -> PostMortem:
    """The post-mortem, read fresh with its row locked (call inside a transaction)."""
    return PostMortem.objects.select_for_update().get(pk=pk)


def _locked_review(pk: int) -> Review:
    return Review.objects.select_for_update().get(pk=pk)


def _bump(review: Review) -> None:
    """Tell other screens the review changed (``revision`` + 1, in the database and on ``review``)."""
    Review.objects.filter(pk=review.pk).update(revision=F("revision") + 1)
    review.revision = Review.objects.filter(pk=review.pk).values_list("revision", flat=True).get()


def _require_open(review: Review) -> None:
    if review.status not in Review.OPEN_STATUSES:
        raise ValidationError(
            {"status": f"This review is {review.get_status_display().lower()}; it can no longer be changed."}
        )


def _require_running(review: Review) -> None:
    if review.status != Review.Status.RUNNING:
        raise ValidationError(
            {"status": f"The review is not running (it is {review.get_status_display().lower()})."}
        )


def _readiness_messages(pm: PostMortem) -> list[str]:
    readiness = readiness_check(pm)
    return [f"{c.label}" + (f": {c.detail}" if c.detail else "") for c in readiness.failing]


def _normalise_newlines(text: str) -> str:
    # Browsers send textareas with CRLF; stored Markdown uses LF.
    return (text or "").replace("\r\n", "\n").replace("\r", "\n")


def _require_readers(pm: PostMortem, *, note_taker, invitees) -> None:
    """The note-taker and invitees of a review must be able to read the document
    (``postmortems.access``): a restricted post-mortem's invitation names it.
    The facilitator becomes the document's facilitator, and so a reader.

    Raises:
        ValidationError: ``note_taker`` / ``invitees`` naming who cannot read it.
    """
    from postmortems import access

    errors: dict[str, list[str]] = {}
    if note_taker is not None and not access.can_view(note_taker, pm):
        errors["note_taker"] = [f"{note_taker.get_username()} cannot read this restricted post-mortem."]
    outsiders = [person.get_username() for person in invitees if not access.can_view(person, pm)]
    if outsiders:
        names = ", ".join(outsiders)
        errors["invitees"] = [
            f"{names} cannot read this restricted post-mortem; add them as named readers first."
        ]
    if errors:
        raise ValidationError(errors)


def _require_active(user, field: str) -> None:
    if user is not None and not user.is_active:
        raise ValidationError({field: f"{user.get_username()} is not an active user."})


def _check_scheduled_at(scheduled_at: dt.datetime, *, now: dt.datetime) -> None:
    if timezone.is_naive(scheduled_at):
        raise ValidationError({"scheduled_at": "Give a time with a time zone."})
    if scheduled_at < now - SCHEDULE_GRACE:
        raise ValidationError({"scheduled_at": "The review cannot be scheduled in the past."})
    if scheduled_at > now + SCHEDULE_HORIZON:
        raise ValidationError({"scheduled_at": "Schedule the review within a year."})


# --- scheduling ----------------------------------------------------------------------


def review_schedule(
    *,
    user,
    postmortem: PostMortem,
    scheduled_at: dt.datetime,
    facilitator,
    note_taker=None,
    invitees: Iterable = (),
    location: str = "",
) -> Review:
    """Schedule the review of a post-mortem that passes the readiness check.

    A draft moves to "in review" (through ``postmortems.services.postmortem_save``,
    whose own readiness gate applies too) and the review's facilitator becomes
    the post-mortem's facilitator. The agenda is the team's at this moment
    (``selectors.team_agenda``).

    Args:
        user: who schedules (recorded as ``created_by``).
        scheduled_at: aware datetime; at most 15 minutes in the past, at most a year ahead.
        facilitator, note_taker: users (note-taker optional).
        invitees: users to invite (``selectors.invitee_suggestions`` proposes them).
        location: a room or a video-call link (≤ 300 characters).

    Returns:
        The new ``Review`` (status "scheduled"). Facilitator warnings are not
        errors: read ``selectors.facilitator_warnings``.

    Raises:
        ValidationError: ``readiness`` (one message per failing check),
            ``postmortem`` (already reviewed or published, or a review is
            already scheduled), ``scheduled_at``, ``facilitator``, ``note_taker``,
            ``location``; nothing is saved.
    """
    now = timezone.now()
    _check_scheduled_at(scheduled_at, now=now)
    _require_active(facilitator, "facilitator")
    _require_active(note_taker, "note_taker")
    invitees = list(invitees)
    for person in invitees:
        _require_active(person, "invitees")
    with transaction.atomic():
        pm = _locked_postmortem(postmortem.pk)
        if pm.status not in (PostMortem.Status.DRAFT, PostMortem.Status.IN_REVIEW):
            raise ValidationError({"postmortem": f"{pm.key} is already {pm.get_status_display().lower()}."})
        if Review.objects.filter(postmortem=pm, status__in=Review.OPEN_STATUSES).exists():
            raise ValidationError({"postmortem": f"{pm.key} already has a scheduled review."})
        failing = _readiness_messages(pm)
        if failing:
            raise ValidationError({"readiness": failing})
        _require_readers(pm, note_taker=note_taker, invitees=invitees)
        changes: dict[str, Any] = {}
        if pm.status == PostMortem.Status.DRAFT:
            changes["status"] = PostMortem.Status.IN_REVIEW
        if pm.facilitator_id != facilitator.pk:
            changes["facilitator"] = facilitator
        if changes:
            pm = pm_services.postmortem_save(user=user, postmortem=pm, fields=changes)
        review = Review(
            postmortem=pm,
            scheduled_at=scheduled_at,
            location=(location or "").strip(),
            facilitator=facilitator,
            note_taker=note_taker,
            agenda=selectors.team_agenda(pm.team),
            created_by=user if getattr(user, "pk", None) else None,
        )
        review.full_clean(exclude=["postmortem", "facilitator", "note_taker", "agenda"])
        try:
            with transaction.atomic():
                review.save()
        except IntegrityError as exc:  # a second scheduler won the race
            raise ValidationError({"postmortem": f"{pm.key} already has a scheduled review."}) from exc
        review.invitees.set(invitees)
    return review


def review_reschedule(*, review: Review, user, data: dict[str, Any]) -> Review:
    """Change a scheduled review: any of ``scheduled_at``, ``location``,
    ``note_taker`` (a user or None), ``invitees`` (users), ``facilitator``.

    Bumps the invite's ``sequence`` when the time or place changes, so calendars
    replace the old invite (RFC 5545 §3.8.7.4).

    Raises:
        ValidationError: the review is not scheduled any more, or a value is invalid.
        ValueError: for an unknown key.
    """
    allowed = {"scheduled_at", "location", "note_taker", "invitees", "facilitator"}
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(f"Unknown review fields: {sorted(unknown)}")
    with transaction.atomic():
        locked = _locked_review(review.pk)
        if locked.status != Review.Status.SCHEDULED:
            raise ValidationError({"status": "Only a scheduled review can be rescheduled."})
        if "scheduled_at" in data:
            _check_scheduled_at(data["scheduled_at"], now=timezone.now())
        for name in ("facilitator", "note_taker"):
            if name in data:
                _require_active(data[name], name)
        if data.get("facilitator", locked.facilitator) is None:
            raise ValidationError({"facilitator": "A review needs a facilitator."})
        moved = False
        for name in ("scheduled_at", "location", "note_taker", "facilitator"):
            if name in data:
                value = (data[name] or "").strip() if name == "location" else data[name]
                moved |= name in ("scheduled_at", "location") and value != getattr(locked, name)
                setattr(locked, name, value)
        if moved:
            locked.sequence += 1
        locked.revision += 1
        locked.full_clean(exclude=["postmortem", "facilitator", "note_taker", "agenda"])
        locked.save()
        if "invitees" in data:
            invitees = list(data["invitees"])
            for person in invitees:
                _require_active(person, "invitees")
            locked.invitees.set(invitees)
        if "facilitator" in data and locked.postmortem.facilitator_id != locked.facilitator_id:
            pm = _locked_postmortem(locked.postmortem_id)
            pm_services.postmortem_save(user=user, postmortem=pm, fields={"facilitator": locked.facilitator})
    return locked


def review_cancel(*, review: Review, user) -> Review:
    """Cancel a scheduled (or running) review; the post-mortem keeps its status.

    Raises:
        ValidationError: on ``status`` when the review has ended or is cancelled.
    """
    with transaction.atomic():
        locked = _locked_review(review.pk)
        _require_open(locked)
        now = timezone.now()
        ReviewStepTime.objects.filter(review=locked, ended_at__isnull=True).update(ended_at=now)
        locked.status = Review.Status.CANCELLED
        locked.sequence += 1
        locked.revision += 1
        locked.save()
    return locked


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
        locked = _locked_review(review.pk)
        if locked.status == Review.Status.RUNNING:
            return locked
        _require_open(locked)
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
        locked = _locked_review(review.pk)
        _require_running(locked)
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
        locked = _locked_review(review.pk)
        _require_open(locked)
        pm = _locked_postmortem(locked.postmortem_id)
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
        _bump(locked)
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
        locked = _locked_review(review.pk)
        _require_open(locked)
        pm = _locked_postmortem(locked.postmortem_id)
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
        _bump(locked)
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
        locked = _locked_review(review.pk)
        _require_open(locked)
        pm = _locked_postmortem(locked.postmortem_id)
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
        _bump(locked)
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
        locked = _locked_review(review.pk)
        _require_open(locked)
        pm = _locked_postmortem(locked.postmortem_id)
        rows: list[dict[str, Any]] = [
            {"id": pk} for pk in pm.declined_changes.order_by("id").values_list("pk", flat=True)
        ]
        before = {row["id"] for row in rows}
        rows.append({"text": text.strip(), "rationale": rationale.strip()})
        pm_services.postmortem_save(user=user, postmortem=pm, fields={}, declined_changes=rows)
        change = DeclinedChange.objects.filter(postmortem=pm).exclude(pk__in=before).get()
        _bump(locked)
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
        locked = _locked_review(review.pk)
        _require_open(locked)
        pm = _locked_postmortem(locked.postmortem_id)
        current = list(pm.factors.all())
        has = any(f.pk == factor.pk for f in current)
        if tagged != has:
            new = [*current, factor] if tagged else [f for f in current if f.pk != factor.pk]
            pm_services.postmortem_save(user=user, postmortem=pm, fields={"factors": new})
            _bump(locked)
        return list(pm.factors.order_by("category", "name"))


def review_finding_waive(
    *, review: Review, user, section: str, rule: str, excerpt: str, reason: str
) -> FindingWaiver:
    """Mark a language finding intentional from the review page (``postmortems.services.finding_waive``).

    Raises:
        ValidationError: as ``finding_waive`` does, or on ``status``.
    """
    with transaction.atomic():
        locked = _locked_review(review.pk)
        _require_open(locked)
        waiver = pm_services.finding_waive(
            postmortem=locked.postmortem,
            user=user,
            section=section,
            rule=rule,
            excerpt=excerpt,
            reason=reason,
        )
        _bump(locked)
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
        locked = _locked_review(review.pk)
        _require_open(locked)
        current = locked.current
        note = ReviewNote.objects.create(
            review=locked,
            kind=kind,
            text=text,
            step=current["step"] if current and locked.status == Review.Status.RUNNING else "",
            created_by=user if getattr(user, "pk", None) else None,
        )
        _bump(locked)
    return note


def review_note_update(*, note: ReviewNote, user, done: bool) -> ReviewNote:
    """Mark a parking-lot idea dealt with (``done=True``) or open again.

    Raises:
        ValidationError: on ``status`` when the review is closed.
    """
    with transaction.atomic():
        locked = _locked_review(note.review_id)
        _require_open(locked)
        ReviewNote.objects.filter(pk=note.pk).update(done=bool(done))
        note.done = bool(done)
        _bump(locked)
    return note


def review_note_delete(*, note: ReviewNote, user) -> None:
    """Remove a note written by mistake.

    Raises:
        ValidationError: on ``status`` when the review is closed (the record stays).
    """
    with transaction.atomic():
        locked = _locked_review(note.review_id)
        _require_open(locked)
        note.delete()
        _bump(locked)


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
        _require_active(person, "attendees")
    with transaction.atomic():
        locked = _locked_review(review.pk)
        _require_open(locked)
        if replace:
            locked.attendees.set(attendees)
        else:
            locked.attendees.add(*attendees)
        _bump(locked)
        return list(locked.attendees.order_by("username"))


def review_attendee_remove(*, review: Review, user, attendee) -> list:
    """Take one person off the attendance list. Returns the attendees afterwards."""
    with transaction.atomic():
        locked = _locked_review(review.pk)
        _require_open(locked)
        locked.attendees.remove(attendee)
        _bump(locked)
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
        locked = _locked_review(review.pk)
        _require_running(locked)
        pm = _locked_postmortem(locked.postmortem_id)
        failing = _readiness_messages(pm)
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
            _enqueue_owner_summary(notice.pk)
    return locked


def _enqueue_owner_summary(notice_id: int) -> None:
    from reviews.tasks import send_owner_summary

    def enqueue() -> None:
        send_owner_summary.delay(notice_id)

    # robust=True: a broker outage must not fail the end of the review; the
    # notice row stays unsent and the sweep enqueues it again.
    transaction.on_commit(enqueue, robust=True)


def owner_summary_send(*, notice_id: int) -> bool:
    """E-mail one owner the summary of their open action items from a review.

    At most once: the notice is claimed with a conditional UPDATE (``sent_at``
    set only where it is still empty), and the claim and the send share one
    transaction, so a failed send rolls the claim back for the retry.

    Returns:
        True when an e-mail was sent; False when the notice is gone or already
        sent, the owner has no address, or they no longer own an open item.
    """
    with transaction.atomic():
        claimed = ReviewOwnerNotice.objects.filter(pk=notice_id, sent_at__isnull=True).update(
            sent_at=timezone.now()
        )
        if not claimed:
            return False
        notice = ReviewOwnerNotice.objects.select_related("owner", "review__postmortem").get(pk=notice_id)
        owner, review = notice.owner, notice.review
        pm = review.postmortem
        items = list(
            ActionItem.objects.filter(postmortem=pm, owner=owner)
            .exclude(status__in=CLOSED_ITEM_STATUSES)
            .order_by("due_date", "id")
        )
        if not owner.email or not items:
            logger.info("Review %s: no summary for %s (address or items missing)", review.pk, owner)
            return False
        context = {
            "owner": owner,
            "review": review,
            "pm": pm,
            "items": items,
            "added": [item for item in items if review.started_at and item.created_at >= review.started_at],
            "link": f"{settings.SITE_URL}{pm.get_absolute_url()}",
        }
        send_mail(
            subject=f"[{pm.key}] Your action items from the review of “{' '.join(pm.title.split())[:80]}”",
            message=render_to_string("reviews/email/owner_summary.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[owner.email],
        )
    return True


def owner_summaries_sweep(*, older_than_seconds: int | None = None) -> int:
    """Enqueue the summaries still unsent some time after their review ended
    (the broker was down at the end, say). Returns how many were enqueued."""
    grace = settings.SWEEP_GRACE_SECONDS if older_than_seconds is None else older_than_seconds
    cutoff = timezone.now() - dt.timedelta(seconds=grace)
    ids = list(
        ReviewOwnerNotice.objects.filter(sent_at__isnull=True, created_at__lte=cutoff).values_list(
            "pk", flat=True
        )[:500]
    )
    from reviews.tasks import send_owner_summary

    for notice_id in ids:
        send_owner_summary.delay(notice_id)
    return len(ids)


# --- the pulse afterwards, and the team's agenda ----------------------------------------


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
