"""Reads for reviews: who to invite, facilitator warnings, the clock, pulse results.

Nothing here writes (HackSoft Django-Styleguide's selectors).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Avg, Count, Prefetch, Q, QuerySet
from django.utils import timezone

from postmortems.access import visibility_q
from postmortems.models import ActionItem, PostMortem, Team, TimelineEntry
from reviews.agenda import agenda_from_minutes
from reviews.models import PulseResponse, Review, ReviewNote, ReviewStepTime, TeamReviewSettings

User = get_user_model()

# Usernames and first names shorter than this are too likely to be ordinary words.
_MIN_NAME_LENGTH = 3


# --- agenda ----------------------------------------------------------------------


def team_review_settings(team: Team) -> TeamReviewSettings:
    """The team's agenda settings, or an unsaved row with the defaults (never writes)."""
    found = TeamReviewSettings.objects.filter(team=team).first()
    return found or TeamReviewSettings(team=team)


def team_agenda(team: Team) -> list[dict]:
    """The agenda a review of ``team`` gets today: ``[{"step", "label", "minutes"}]``."""
    return agenda_from_minutes(team_review_settings(team).minutes())


# --- who to invite, and who should not facilitate -----------------------------------


def _name_patterns(user) -> list[re.Pattern]:
    """Ways a timeline names ``user``: ``@username`` or the username as a word
    (any case), the full name, or the capitalised first name as a word."""
    patterns: list[re.Pattern] = []
    username = user.get_username()
    if len(username) >= _MIN_NAME_LENGTH:
        patterns.append(re.compile(rf"(?<![\w@.-])@?{re.escape(username)}(?![\w-])", re.IGNORECASE))
    full = user.get_full_name().strip()
    if full and " " in full:
        patterns.append(re.compile(rf"\b{re.escape(full)}\b", re.IGNORECASE))
    first = (user.first_name or "").strip()
    if len(first) >= _MIN_NAME_LENGTH and first[:1].isupper():
        patterns.append(re.compile(rf"\b{re.escape(first)}\b"))
    return patterns


def is_named_in(user, texts: Iterable[str]) -> bool:
    """True when any of ``texts`` names ``user`` (see ``_name_patterns``)."""
    patterns = _name_patterns(user)
    return any(pattern.search(text) for text in texts for pattern in patterns)


def timeline_texts(pm: PostMortem) -> list[str]:
    """The texts of ``pm``'s timeline entries, in order (one query)."""
    return list(TimelineEntry.objects.filter(postmortem=pm).values_list("text", flat=True))


def people_named_in_timeline(pm: PostMortem) -> list:
    """Active users that ``pm``'s timeline names: members of any team plus the
    document's authors and action-item owners are the candidates (a timeline
    names people who worked the incident, wherever they sit)."""
    texts = timeline_texts(pm)
    if not texts:
        return []
    candidates = (
        User.objects.filter(is_active=True)
        .filter(
            Q(team_memberships__isnull=False) | Q(authored_postmortems=pm) | Q(action_items__postmortem=pm)
        )
        .distinct()
        .order_by("username")
    )
    return [user for user in candidates if is_named_in(user, texts)]


@dataclass
class InviteeSuggestion:
    """A person to invite and why: ``reasons`` from "author", "action-item owner",
    "named in the timeline"."""

    user: object
    reasons: list[str] = field(default_factory=list)


def invitee_suggestions(pm: PostMortem) -> list[InviteeSuggestion]:
    """Who should be at ``pm``'s review: its authors, its action items' owners and
    the people its timeline names, each once, in that order (then by username).

    Returns:
        ``InviteeSuggestion`` list; inactive users are left out.
    """
    found: dict[int, InviteeSuggestion] = {}

    def add(users: Iterable, reason: str) -> None:
        for user in users:
            if not user.is_active:
                continue
            suggestion = found.setdefault(user.pk, InviteeSuggestion(user))
            if reason not in suggestion.reasons:
                suggestion.reasons.append(reason)

    add(pm.authors.order_by("username"), "author")
    owner_ids = ActionItem.objects.filter(postmortem=pm).values("owner")
    add(User.objects.filter(pk__in=owner_ids).order_by("username"), "action-item owner")
    add(people_named_in_timeline(pm), "named in the timeline")
    return list(found.values())


def facilitator_warnings(pm: PostMortem, facilitator) -> list[str]:
    """Why ``facilitator`` may be a poor choice for ``pm``'s review (empty: none).

    A facilitator should be a neutral party who did not work the incident, so
    they can ask the naive questions and keep the frame blameless (Etsy,
    "Debriefing Facilitation Guide"; Google SRE book, ch. 15).

    Returns:
        Messages: when they are an author, when the timeline names them, when
        they own an action item.
    """
    if facilitator is None:
        return []
    name = facilitator.get_full_name() or facilitator.get_username()
    warnings: list[str] = []
    if pm.authors.filter(pk=facilitator.pk).exists():
        warnings.append(f"{name} is an author of {pm.key}; a facilitator should not have written it.")
    if is_named_in(facilitator, timeline_texts(pm)):
        warnings.append(
            f"{name} is named in the timeline; a facilitator should not have worked the incident."
        )
    if ActionItem.objects.filter(postmortem=pm, owner=facilitator).exists():
        warnings.append(f"{name} owns an action item of {pm.key}.")
    return warnings


# --- the review page and its clock ----------------------------------------------------


def readable_reviews_q(user, prefix: str = "") -> Q:
    """Reviews ``user`` may see: those of live post-mortems they may read.

    A review belongs to its post-mortem: its page, notes, clock, invite and
    pulse answers are as private as the document (``postmortems.access``), and
    vanish with it when it is soft-deleted. ``prefix`` is the lookup path from
    the queried model to the review (``"review__"`` for pulse answers).
    """
    return Q(**{f"{prefix}postmortem__deleted_at__isnull": True}) & visibility_q(
        user, prefix=f"{prefix}postmortem__"
    )


def review_detail(*, user) -> QuerySet[Review]:
    """The reviews ``user`` may see, with what the review page and the API detail show."""
    return (
        Review.objects.filter(readable_reviews_q(user))
        .select_related(
            "postmortem", "postmortem__team", "facilitator", "note_taker", "created_by", "ended_by"
        )
        .prefetch_related(
            "invitees",
            "attendees",
            Prefetch("notes", queryset=ReviewNote.objects.select_related("created_by")),
            Prefetch("step_times", queryset=ReviewStepTime.objects.order_by("index")),
        )
    )


def review_list(*, user) -> QuerySet[Review]:
    """The reviews ``user`` may see, for lists: the post-mortem, its team and the people prefetched."""
    return (
        Review.objects.filter(readable_reviews_q(user))
        .select_related("postmortem", "postmortem__team", "facilitator", "note_taker")
        .prefetch_related("invitees")
    )


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def review_clock(review: Review, *, now: dt.datetime | None = None) -> dict:
    """Everything a screen needs to draw the countdowns, computed from stored times.

    Every screen draws the same clock because the times come from the server:
    the step's start (``step_started_at``), the meeting's start and the agenda's
    minutes. Screens correct for their own clock with ``server_now``.

    Returns:
        ``{"status", "revision", "postmortem_version", "server_now",
        "current_step" (index|None), "step" (key|None), "step_label",
        "step_started_at", "step_ends_at", "step_remaining_seconds",
        "meeting_started_at", "meeting_ends_at", "meeting_remaining_seconds",
        "planned_minutes", "elapsed_seconds", "is_last_step",
        "steps": [{"index", "step", "label", "minutes", "state": "done"|"current"|"next",
        "started_at", "ended_at", "seconds"}]}``; times ISO 8601, remaining
        seconds negative when over time, None before the start.
    """
    now = now or timezone.now()
    times = {t.index: t for t in review.step_times.all()}
    steps = []
    for index, entry in enumerate(review.agenda):
        logged = times.get(index)
        if review.current_step is None or index > review.current_step:
            state = "next"
        elif index == review.current_step and review.status == Review.Status.RUNNING:
            state = "current"
        else:
            state = "done"
        steps.append(
            {
                "index": index,
                "step": entry["step"],
                "label": entry["label"],
                "minutes": int(entry["minutes"]),
                "state": state,
                "started_at": _iso(logged.started_at if logged else None),
                "ended_at": _iso(logged.ended_at if logged else None),
                "seconds": logged.seconds if logged else None,
            }
        )
    current = review.current
    running = review.status == Review.Status.RUNNING
    step_ends = meeting_ends = None
    if running and current and review.step_started_at:
        step_ends = review.step_started_at + dt.timedelta(minutes=int(current["minutes"]))
    if review.started_at:
        meeting_ends = review.started_at + dt.timedelta(minutes=review.planned_minutes)
    end_of_clock = review.ended_at if review.ended_at else now
    return {
        "status": review.status,
        "revision": review.revision,
        "postmortem_version": review.postmortem.version,
        "server_now": now.isoformat(),
        "current_step": review.current_step,
        "step": current["step"] if current else None,
        "step_label": current["label"] if current else None,
        "step_started_at": _iso(review.step_started_at if running else None),
        "step_ends_at": _iso(step_ends),
        "step_remaining_seconds": int((step_ends - now).total_seconds()) if step_ends else None,
        "meeting_started_at": _iso(review.started_at),
        "meeting_ends_at": _iso(meeting_ends),
        "meeting_remaining_seconds": int((meeting_ends - now).total_seconds())
        if running and meeting_ends
        else None,
        "planned_minutes": review.planned_minutes,
        "elapsed_seconds": int((end_of_clock - review.started_at).total_seconds())
        if review.started_at
        else None,
        "is_last_step": review.is_last_step,
        "steps": steps,
    }


def open_review_for(pm: PostMortem) -> Review | None:
    """``pm``'s scheduled or running review, if any."""
    return Review.objects.filter(postmortem=pm, status__in=Review.OPEN_STATUSES).first()


# --- pulse results ----------------------------------------------------------------


@dataclass
class PulseSummary:
    """Pulse results over some reviews.

    Attributes:
        responses: how many answers.
        reviews: how many reviews had at least one answer.
        learned_average: mean of "learned something" (1–5), None without answers.
        learned_counts: answers per score, ``{1: n, ..., 5: n}``.
        come_again: how many would come to another review.
        come_again_share: ``come_again / responses`` (0–1), None without answers.
        changes: the non-blank "what should change" answers, newest first
            (at most ``max_changes``).
    """

    responses: int = 0
    reviews: int = 0
    learned_average: float | None = None
    learned_counts: dict[int, int] = field(default_factory=dict)
    come_again: int = 0
    come_again_share: float | None = None
    changes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "responses": self.responses,
            "reviews": self.reviews,
            "learned_average": self.learned_average,
            "learned_counts": {str(k): v for k, v in self.learned_counts.items()},
            "come_again": self.come_again,
            "come_again_share": self.come_again_share,
            "changes": self.changes,
        }


def pulse_summary(responses: QuerySet[PulseResponse], *, max_changes: int = 20) -> PulseSummary:
    """Summarise pulse answers (three queries whatever their number).

    Args:
        responses: the answers to summarise (e.g. of one post-mortem's reviews).
        max_changes: how many free-text answers to return.
    """
    totals = responses.aggregate(
        n=Count("pk"),
        reviews=Count("review", distinct=True),
        avg=Avg("learned"),
        again=Count("pk", filter=Q(come_again=True)),
    )
    n = totals["n"] or 0
    counts = {score: 0 for score in range(1, 6)}
    for row in responses.order_by().values("learned").annotate(c=Count("pk")):
        counts[row["learned"]] = row["c"]
    changes = list(
        responses.exclude(what_should_change="")
        .order_by("-created_at", "-id")
        .values_list("what_should_change", flat=True)[:max_changes]
    )
    return PulseSummary(
        responses=n,
        reviews=totals["reviews"] or 0,
        learned_average=round(float(totals["avg"]), 2) if totals["avg"] is not None else None,
        learned_counts=counts,
        come_again=totals["again"] or 0,
        come_again_share=round((totals["again"] or 0) / n, 3) if n else None,
        changes=changes,
    )


def pulse_for_postmortem(pm: PostMortem) -> PulseSummary:
    """Pulse results of every review of ``pm``."""
    return pulse_summary(PulseResponse.objects.filter(review__postmortem=pm))


def pulse_for_team(team: Team, *, user) -> PulseSummary:
    """Pulse results of the reviews of ``team``'s post-mortems that ``user`` may read
    (the free-text answers of a restricted document's review stay with its readers)."""
    return pulse_summary(
        PulseResponse.objects.filter(review__postmortem__team=team).filter(
            readable_reviews_q(user, prefix="review__")
        )
    )


def team_reviews(team: Team, *, user) -> QuerySet[Review]:
    """``team``'s reviews that ``user`` may see, newest first, with pulse counts (``pulse_count``)."""
    return (
        review_list(user=user)
        .filter(postmortem__team=team)
        .annotate(pulse_count=Count("pulses"))
        .order_by("-scheduled_at", "-id")
    )
