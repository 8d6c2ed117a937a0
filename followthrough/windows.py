"""Follow-up windows: by when a post-mortem's action items should be done.

A window starts at the review and lasts the team's number of days for the
post-mortem's severity (``TeamFollowUpPolicy``; default 4 weeks for SEV1/SEV2,
8 weeks otherwise). An open action item is *past its window* when today is
after the window's last day.

There is no review record yet, so the anchor is, in order: a ``reviewed_at``
attribute when the post-mortem model grows one, else ``resolved_at`` (the
review follows resolution, usually within days, and it is a date the team
wrote down), else ``created_at`` (for documents without a resolution time).
Using the earliest defensible date errs on the side of flagging early.

Reads only: nothing here writes. A team without a policy row gets an unsaved
policy with the defaults; ``select_related("team__followup_policy")`` on the
caller's queryset avoids a query per row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone

from followthrough.models import TeamFollowUpPolicy
from postmortems.models import ActionItem, PostMortem, Team


@dataclass(frozen=True)
class FollowUpWindow:
    """The due window of one post-mortem's action items.

    Attributes:
        days: length of the window in days.
        anchor: the moment the window starts (aware datetime).
        anchor_source: "reviewed", "resolved" or "created".
        ends: the window's last day (a date in the server's time zone), inclusive.
    """

    days: int
    anchor: dt.datetime
    anchor_source: str
    ends: dt.date

    @property
    def weeks(self) -> float:
        return self.days / 7

    def passed(self, today: dt.date | None = None) -> bool:
        """True when ``today`` (default: today, server time zone) is after ``ends``."""
        return (today or timezone.localdate()) > self.ends


def policy_for_team(team: Team) -> TeamFollowUpPolicy:
    """The team's policy, or an unsaved one with the defaults (never writes)."""
    try:
        policy = team.followup_policy
    except ObjectDoesNotExist:
        policy = None
    return policy or TeamFollowUpPolicy(team=team)


def followup_window(pm: PostMortem) -> FollowUpWindow | None:
    """The follow-up window of ``pm`` (cached on the instance), or None before it is saved."""
    cached = getattr(pm, "_followup_window", None)
    if cached is not None:
        return cached
    reviewed = getattr(pm, "reviewed_at", None)
    if reviewed:
        anchor, source = reviewed, "reviewed"
    elif pm.resolved_at:
        anchor, source = pm.resolved_at, "resolved"
    elif pm.created_at:
        anchor, source = pm.created_at, "created"
    else:
        return None
    days = policy_for_team(pm.team).window_days(pm.severity or "")
    window = FollowUpWindow(
        days=days,
        anchor=anchor,
        anchor_source=source,
        ends=timezone.localdate(anchor) + dt.timedelta(days=days),
    )
    pm._followup_window = window
    return window


def item_followup_due(item: ActionItem) -> dt.date | None:
    """The last day of the item's follow-up window (its post-mortem's)."""
    window = followup_window(item.postmortem)
    return window.ends if window else None


def item_past_window(item: ActionItem, today: dt.date | None = None) -> bool:
    """True when the item is still open (open or in progress) and its window has passed."""
    if item.is_closed:
        return False
    window = followup_window(item.postmortem)
    return bool(window and window.passed(today))


def item_due_after_window(item: ActionItem) -> bool:
    """True when an open item's due date falls after its follow-up window."""
    due = item_followup_due(item)
    return bool(due and not item.is_closed and item.due_date > due)
