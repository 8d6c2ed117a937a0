"""Figures that depend on other apps, when they are installed: review meetings
(``reviews``), follow-up windows (``followthrough``) and Definition-of-Done
activity (``patterns``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.apps import apps
from django.db.models import Case, Count, F, Max, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce, TruncDate

from insights.db import DaysBetweenDates
from insights.selectors.scope import OPEN_STATUSES, SEVERITIES, InsightsScope
from postmortems.models import ActionItem, PostMortem


def reviews_available() -> bool:
    """True when the ``reviews`` app (review meetings) is installed and importable."""
    if not apps.is_installed("reviews"):
        return False
    try:
        import reviews.models  # noqa: F401
    except ImportError:  # pragma: no cover - installed but not importable
        return False
    return True


def followup_windows_available() -> bool:
    """True when the ``followthrough`` app (team follow-up policies) is installed."""
    if not apps.is_installed("followthrough"):
        return False
    try:
        import followthrough.models  # noqa: F401
    except ImportError:  # pragma: no cover - installed but not importable
        return False
    return True


def action_items_past_window(queryset: QuerySet[ActionItem], *, today: dt.date) -> QuerySet[ActionItem]:
    """Open items of ``queryset`` past their post-mortem's follow-up window.

    The same rule as ``followthrough.windows``, computed in the database: the
    window starts at the review (``reviewed_at`` when the model has it), else the
    resolution, else the creation of the post-mortem, and lasts the team's
    ``TeamFollowUpPolicy`` days for the severity (defaults: 28 for SEV1/SEV2, 56
    otherwise); an item is past it when ``today`` is after the window's last day.

    Raises:
        LookupError: when the followthrough app is not installed.
    """
    if not followup_windows_available():
        raise LookupError("followthrough is not installed")
    return (
        queryset.filter(status__in=OPEN_STATUSES)
        .alias(**window_aliases(today))
        .filter(ins_elapsed__gt=F("ins_window"))
    )


def window_aliases(today: dt.date) -> dict[str, Any]:
    """``ins_window`` (days of the item's follow-up window) and ``ins_elapsed`` (days
    from the window's start to ``today``), for an ActionItem queryset."""
    from followthrough.models import DEFAULT_UNRATED_WINDOW_DAYS, DEFAULT_WINDOW_DAYS

    policy = "postmortem__team__followup_policy__"
    window = Case(
        *[
            When(
                postmortem__severity=severity,
                then=Coalesce(
                    F(f"{policy}window_days_{severity.lower()}"), Value(DEFAULT_WINDOW_DAYS[severity])
                ),
            )
            for severity in SEVERITIES
        ],
        default=Coalesce(F(f"{policy}window_days_unrated"), Value(DEFAULT_UNRATED_WINDOW_DAYS)),
    )
    anchors = ["postmortem__resolved_at", "postmortem__created_at"]
    if "reviewed_at" in {f.name for f in PostMortem._meta.get_fields()}:
        anchors.insert(0, "postmortem__reviewed_at")
    return {
        "ins_window": window,
        "ins_elapsed": DaysBetweenDates(TruncDate(Coalesce(*anchors)), Value(today)),
    }


def dod_activity(scope: InsightsScope) -> dict[str, Any]:
    """Definition-of-Done changes and proposals per team (``patterns`` app), or
    ``{"available": False}`` when that app is not installed.

    Rows are keyed by team id, and None for the organisation-wide DoD:
    ``versions_in_range`` (new DoD versions saved in the range; each change
    makes one), ``current_version`` (latest version number, None before the
    first), ``open_proposals`` (today), ``proposals_opened`` / ``accepted`` /
    ``rejected`` (in the range).
    """
    if not apps.is_installed("patterns"):
        return {"available": False, "rows": {}}
    try:
        from patterns.models import DoDProposal, DoDVersion
    except ImportError:  # pragma: no cover - installed but not importable
        return {"available": False, "rows": {}}
    in_range = Q(created_at__gte=scope.start_dt, created_at__lt=scope.end_dt)
    versions = DoDVersion.objects.all()
    proposals = DoDProposal.objects.all()
    if scope.team:  # the team's and the organisation's
        versions = versions.filter(Q(dod__team__isnull=True) | Q(dod__team=scope.team))
        proposals = proposals.filter(Q(team__isnull=True) | Q(team=scope.team))
    versions = (
        versions.order_by()
        .values("dod__team_id")
        .annotate(versions_in_range=Count("pk", filter=in_range), current_version=Max("number"))
    )
    decided = Q(decided_at__gte=scope.start_dt, decided_at__lt=scope.end_dt)
    proposals = (
        proposals.order_by()
        .values("team_id")
        .annotate(
            open_proposals=Count("pk", filter=Q(status=DoDProposal.Status.OPEN)),
            proposals_opened=Count("pk", filter=in_range),
            accepted=Count("pk", filter=decided & Q(status=DoDProposal.Status.ACCEPTED)),
            rejected=Count("pk", filter=decided & Q(status=DoDProposal.Status.REJECTED)),
        )
    )
    empty = {
        "versions_in_range": 0,
        "current_version": None,
        "open_proposals": 0,
        "proposals_opened": 0,
        "accepted": 0,
        "rejected": 0,
    }
    rows: dict[int | None, dict[str, Any]] = {None: dict(empty)}
    for team in scope.teams():
        rows[team.pk] = dict(empty)
    for row in versions:
        rows.setdefault(row.pop("dod__team_id"), dict(empty)).update(row)
    for row in proposals:
        rows.setdefault(row.pop("team_id"), dict(empty)).update(row)
    return {"available": True, "rows": rows}
