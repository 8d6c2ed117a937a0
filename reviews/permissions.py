"""Who may do what with reviews: the one place these rules live.

Web pages and the API both ask these functions; nothing else decides.

* **Read** a review, its notes and pulse results: any signed-in user (the
  knowledge base is open inside the organisation).
* **Schedule** a review of a post-mortem: its authors, its facilitator, the
  team's leads, and staff.
* **Run** a review (start it, move the agenda on, end it) and change or cancel
  its schedule: the review's facilitator and staff. Google's SRE book (ch. 15)
  and Etsy's facilitation guide both give the meeting one facilitator; two
  people driving one clock is how a review loses its timebox.
* **Edit during the review** (sections, action items, declined changes,
  factors, notes, attendance, waivers): the facilitator, the note-taker and
  staff.
* **Answer the pulse**: once the review has ended, each invitee, attendee,
  the facilitator and the note-taker, once (a unique constraint holds it).
* **Change a team's agenda**: the team's leads and staff.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from postmortems.models import PostMortem, Team, TeamMembership
from reviews.models import Review

# What a refused person is told (web pages and API alike).
SCHEDULE_REFUSED = (
    "Only the post-mortem's authors, its facilitator, the team's leads or an admin can schedule its review."
)
RUN_REFUSED = "Only the review's facilitator (or an admin) can run this review or change its schedule."
EDIT_REFUSED = "Only the review's facilitator, its note-taker (or an admin) can change this review."
PULSE_REFUSED = "The pulse is for the review's invitees and attendees, once the review has ended."
AGENDA_REFUSED = "Only the team's leads (or an admin) can change its review agenda."


def _active(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_active", False))


def can_schedule(user, pm: PostMortem) -> bool:
    """May ``user`` schedule a review of ``pm``? Reads ``pm.authors`` (prefetch it)."""
    if not _active(user):
        return False
    if user.is_staff or pm.facilitator_id == user.pk:
        return True
    if any(author.pk == user.pk for author in pm.authors.all()):
        return True
    return TeamMembership.objects.filter(
        team_id=pm.team_id, user=user, role=TeamMembership.Role.LEAD
    ).exists()


def can_run(user, review: Review) -> bool:
    """May ``user`` start, move on, end, reschedule or cancel ``review``?"""
    return _active(user) and (user.is_staff or review.facilitator_id == user.pk)


def can_edit(user, review: Review) -> bool:
    """May ``user`` change the document and the notes through ``review``?"""
    if not _active(user):
        return False
    return user.is_staff or user.pk in (review.facilitator_id, review.note_taker_id)


def pulse_participant_ids(review: Review) -> set[int]:
    """Ids of the people who may answer ``review``'s pulse (two small queries)."""
    ids = set(review.invitees.values_list("pk", flat=True)) | set(
        review.attendees.values_list("pk", flat=True)
    )
    ids.add(review.facilitator_id)
    if review.note_taker_id:
        ids.add(review.note_taker_id)
    return ids


def can_answer_pulse(user, review: Review) -> bool:
    """May ``user`` answer ``review``'s pulse (ended, and they were invited or came)?

    Whether they already answered is the database's business (a unique constraint).
    """
    return _active(user) and review.status == Review.Status.ENDED and user.pk in pulse_participant_ids(review)


def can_edit_agenda(user, team: Team) -> bool:
    """May ``user`` change ``team``'s review agenda?"""
    if not _active(user):
        return False
    return (
        user.is_staff
        or TeamMembership.objects.filter(team=team, user=user, role=TeamMembership.Role.LEAD).exists()
    )


# The same rules as exceptions, for views and the API (DRF answers Django's
# PermissionDenied with 403 too).


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


def require_schedule(user, pm: PostMortem) -> None:
    """Raises PermissionDenied unless ``can_schedule``."""
    _require(can_schedule(user, pm), SCHEDULE_REFUSED)


def require_run(user, review: Review) -> None:
    """Raises PermissionDenied unless ``can_run``."""
    _require(can_run(user, review), RUN_REFUSED)


def require_edit(user, review: Review) -> None:
    """Raises PermissionDenied unless ``can_edit``."""
    _require(can_edit(user, review), EDIT_REFUSED)


def require_pulse(user, review: Review) -> None:
    """Raises PermissionDenied unless ``can_answer_pulse``."""
    _require(can_answer_pulse(user, review), PULSE_REFUSED)


def require_agenda(user, team: Team) -> None:
    """Raises PermissionDenied unless ``can_edit_agenda``."""
    _require(can_edit_agenda(user, team), AGENDA_REFUSED)
