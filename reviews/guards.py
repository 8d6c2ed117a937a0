"""Checks and row locks shared by the review writes (``reviews.scheduling``,
``reviews.services``).

Each ``require_*`` raises ``django.core.exceptions.ValidationError`` keyed by
field and saves nothing; each ``locked_*`` must be called inside a
transaction (it takes the row lock, ``SELECT ... FOR UPDATE``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import F

from postmortems.models import PostMortem
from postmortems.readiness import readiness_check
from reviews.models import Review


def locked_postmortem(pk: int) -> PostMortem:
    """The post-mortem, read fresh with its row locked (call inside a transaction)."""
    return PostMortem.objects.select_for_update().get(pk=pk)


def locked_review(pk: int) -> Review:
    """The review, read fresh with its row locked (call inside a transaction)."""
    return Review.objects.select_for_update().get(pk=pk)


def bump(review: Review) -> None:
    """Tell other screens the review changed (``revision`` + 1, in the database and on ``review``)."""
    Review.objects.filter(pk=review.pk).update(revision=F("revision") + 1)
    review.revision = Review.objects.filter(pk=review.pk).values_list("revision", flat=True).get()


def require_open(review: Review) -> None:
    """Raise ``ValidationError`` on ``status`` unless the review is scheduled or running."""
    if review.status not in Review.OPEN_STATUSES:
        raise ValidationError(
            {"status": f"This review is {review.get_status_display().lower()}; it can no longer be changed."}
        )


def require_running(review: Review) -> None:
    """Raise ``ValidationError`` on ``status`` unless the review is running."""
    if review.status != Review.Status.RUNNING:
        raise ValidationError(
            {"status": f"The review is not running (it is {review.get_status_display().lower()})."}
        )


def readiness_messages(pm: PostMortem) -> list[str]:
    """One line per failing readiness check (``postmortems.readiness``); empty when ready."""
    readiness = readiness_check(pm)
    return [f"{c.label}" + (f": {c.detail}" if c.detail else "") for c in readiness.failing]


def require_readers(pm: PostMortem, *, note_taker, invitees) -> None:
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


def require_active(user, field: str) -> None:
    """Raise ``ValidationError`` on ``field`` when ``user`` is given but deactivated."""
    if user is not None and not user.is_active:
        raise ValidationError({field: f"{user.get_username()} is not an active user."})
