"""Scheduling a review: schedule, reschedule, cancel (HackSoft Django-Styleguide's services).

Split from ``reviews.services``, which runs and ends the review. Permission
checks are not made here; callers ask ``reviews.permissions``. Errors are
``django.core.exceptions.ValidationError`` keyed by field (nothing is saved
then).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from postmortems import services as pm_services
from postmortems.models import PostMortem
from reviews import selectors
from reviews.guards import (
    locked_postmortem,
    locked_review,
    readiness_messages,
    require_active,
    require_open,
    require_readers,
)
from reviews.models import Review, ReviewStepTime

#: A review may be scheduled this far in the past (a meeting that is starting now).
SCHEDULE_GRACE = dt.timedelta(minutes=15)
#: ... and at most this far ahead.
SCHEDULE_HORIZON = dt.timedelta(days=366)


def _check_scheduled_at(scheduled_at: dt.datetime, *, now: dt.datetime) -> None:
    if timezone.is_naive(scheduled_at):
        raise ValidationError({"scheduled_at": "Give a time with a time zone."})
    if scheduled_at < now - SCHEDULE_GRACE:
        raise ValidationError({"scheduled_at": "The review cannot be scheduled in the past."})
    if scheduled_at > now + SCHEDULE_HORIZON:
        raise ValidationError({"scheduled_at": "Schedule the review within a year."})


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
    require_active(facilitator, "facilitator")
    require_active(note_taker, "note_taker")
    invitees = list(invitees)
    for person in invitees:
        require_active(person, "invitees")
    with transaction.atomic():
        pm = locked_postmortem(postmortem.pk)
        if pm.status not in (PostMortem.Status.DRAFT, PostMortem.Status.IN_REVIEW):
            raise ValidationError({"postmortem": f"{pm.key} is already {pm.get_status_display().lower()}."})
        if Review.objects.filter(postmortem=pm, status__in=Review.OPEN_STATUSES).exists():
            raise ValidationError({"postmortem": f"{pm.key} already has a scheduled review."})
        failing = readiness_messages(pm)
        if failing:
            raise ValidationError({"readiness": failing})
        require_readers(pm, note_taker=note_taker, invitees=invitees)
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
        locked = locked_review(review.pk)
        if locked.status != Review.Status.SCHEDULED:
            raise ValidationError({"status": "Only a scheduled review can be rescheduled."})
        if "scheduled_at" in data:
            _check_scheduled_at(data["scheduled_at"], now=timezone.now())
        for name in ("facilitator", "note_taker"):
            if name in data:
                require_active(data[name], name)
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
                require_active(person, "invitees")
            locked.invitees.set(invitees)
        if "facilitator" in data and locked.postmortem.facilitator_id != locked.facilitator_id:
            pm = locked_postmortem(locked.postmortem_id)
            pm_services.postmortem_save(user=user, postmortem=pm, fields={"facilitator": locked.facilitator})
    return locked


def review_cancel(*, review: Review, user) -> Review:
    """Cancel a scheduled (or running) review; the post-mortem keeps its status.

    Raises:
        ValidationError: on ``status`` when the review has ended or is cancelled.
    """
    with transaction.atomic():
        locked = locked_review(review.pk)
        require_open(locked)
        now = timezone.now()
        ReviewStepTime.objects.filter(review=locked, ended_at__isnull=True).update(ended_at=now)
        locked.status = Review.Status.CANCELLED
        locked.sequence += 1
        locked.revision += 1
        locked.save()
    return locked
