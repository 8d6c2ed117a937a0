"""Template helpers of the review pages.

``{% load review_tags %}`` then:

* ``seconds|review_clock_text`` — ``754`` → ``"12:34"`` (``"-1:05"`` when negative);
* ``seconds|review_duration`` — ``1305`` → ``"21 min 45 s"``;
* ``{% review_panel pm as panel %}`` — what the post-mortem page shows about its
  reviews (see ``review_panel``).
"""

from __future__ import annotations

from django import template

from postmortems.models import PostMortem
from reviews import permissions, selectors
from reviews.models import PulseResponse, Review

register = template.Library()


@register.filter
def review_clock_text(seconds) -> str:
    """Whole seconds as ``m:ss`` (or ``h:mm:ss`` from an hour); "" for None."""
    if seconds is None or seconds == "":
        return ""
    seconds = int(seconds)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}:{minutes:02d}:{secs:02d}"
    return f"{sign}{minutes}:{secs:02d}"


@register.filter
def review_duration(seconds) -> str:
    """Whole seconds as words: ``1305`` → ``"21 min 45 s"``, ``3720`` → ``"1 h 2 min"``; "" for None."""
    if seconds is None or seconds == "":
        return ""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def _known_readiness(context) -> bool | None:
    """The readiness the page already computed (drafts, for their authors), or None:
    the panel never runs the check itself, the scheduling page does."""
    aids = context.get("writing_aids") or {}
    readiness = aids.get("readiness") if isinstance(aids, dict) else None
    return None if readiness is None else readiness.passed


@register.simple_tag(takes_context=True)
def review_panel(context, pm: PostMortem) -> dict:
    """What the post-mortem page says about reviews: one query, two when the
    user may schedule and is not an author, two more once a review has ended.

    Returns:
        ``{"reviews": [Review, ...] (newest first), "open": Review|None,
        "can_schedule": bool, "ready": bool|None (None when not asked),
        "pulse": PulseSummary|None (None without answers), "can_answer": [Review]
        (ended reviews whose pulse the user may still answer)}``
    """
    user = context.get("user")
    reviews = list(
        Review.objects.filter(postmortem=pm)
        .select_related("facilitator", "note_taker")
        .order_by("-scheduled_at", "-id")
    )
    open_review = next((r for r in reviews if r.is_open), None)
    can_schedule = (
        open_review is None
        and pm.status in (PostMortem.Status.DRAFT, PostMortem.Status.IN_REVIEW)
        and permissions.can_schedule(user, pm)
    )
    ended = [r for r in reviews if r.status == Review.Status.ENDED]
    pulse = selectors.pulse_for_postmortem(pm) if ended else None
    answered = (
        set(
            PulseResponse.objects.filter(
                review__in=ended, respondent_id=getattr(user, "pk", None)
            ).values_list("review_id", flat=True)
        )
        if ended
        else set()
    )
    return {
        "reviews": reviews,
        "open": open_review,
        "can_schedule": can_schedule,
        "ready": _known_readiness(context) if can_schedule else None,
        "pulse": pulse if pulse and pulse.responses else None,
        "can_answer": [r for r in ended if r.pk not in answered and permissions.can_answer_pulse(user, r)],
    }
