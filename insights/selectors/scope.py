"""What every insights selector starts from: the ``InsightsScope`` (range, team,
"today", viewer), the post-mortems and action items in it — only those the
viewer may read, never deleted ones — and the month/quarter helpers.

Visibility (issue 9; the rules are ``postmortems.access``): the figures count
only documents the viewer may read. Everyone for whom
``access.sees_restricted`` is False reads exactly the organisation documents,
so they form one *audience* and share their figures (and their cache, see
``insights.caching``); admins read every live document and form another; anyone
else who reads restricted documents is an audience of their own. Deleted
documents are left out by the default managers (``PostMortem.objects``,
``ActionItem.objects``), which every query here starts from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.db.models import Case, F, FloatField, IntegerField, Q, QuerySet, Value, When
from django.db.models.expressions import ExpressionWrapper
from django.utils import timezone

from insights import conf
from postmortems import access
from postmortems.models import ActionItem, PostMortem, Team

OPEN_STATUSES = (ActionItem.Status.OPEN, ActionItem.Status.IN_PROGRESS)
REVIEWED_STATUSES = (PostMortem.Status.REVIEWED, PostMortem.Status.PUBLISHED)
SEVERE = (PostMortem.Severity.SEV1, PostMortem.Severity.SEV2)
SEVERITIES = [value for value, _ in PostMortem.Severity.choices]
UNRATED = "unrated"
DURATION_MEASURES = (("detect", "detected_at"), ("mitigate", "mitigated_at"), ("resolve", "resolved_at"))
# Done on or before the due date (a "done" item without a completion time is not on time).
ON_TIME = Q(status=ActionItem.Status.DONE, completed_at__isnull=False, completed_at__date__lte=F("due_date"))

ORGANISATION_AUDIENCE = "organisation"
"""Everyone who reads only organisation documents (``access.sees_restricted`` is False)."""
ADMIN_AUDIENCE = "admins"
"""Admins: every live document."""
NOBODY_AUDIENCE = "nobody"
"""Anonymous or inactive viewers: nothing."""


@dataclass(frozen=True)
class InsightsScope:
    """What a page or the API asks about.

    Attributes:
        start, end: the date range, inclusive (server time zone).
        team: one team, or None for the whole organisation.
        now: the moment "today" is taken from (aware datetime).
        viewer: the person asking (a ``User``); the figures count only what
            they may read. None (or an anonymous or inactive user) sees nothing.
    """

    start: dt.date
    end: dt.date
    team: Team | None = None
    now: dt.datetime = field(default_factory=timezone.now)
    viewer: Any = field(default=None, compare=False)
    # Results of selectors for this scope (``cached``): a page asks some twice.
    cache: dict = field(default_factory=dict, compare=False, repr=False, hash=False)

    @property
    def today(self) -> dt.date:
        return timezone.localdate(self.now)

    @property
    def start_dt(self) -> dt.datetime:
        """Local midnight at the start of ``start`` (aware)."""
        return timezone.make_aware(dt.datetime.combine(self.start, dt.time.min))

    @property
    def end_dt(self) -> dt.datetime:
        """Local midnight after ``end`` (aware, exclusive)."""
        return timezone.make_aware(dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min))

    @property
    def due_end(self) -> dt.date:
        """Last due date the completion rate counts: ``end``, but never today or later."""
        return min(self.end, self.today - dt.timedelta(days=1))

    @cached_property
    def audience(self) -> str:
        """Who else sees exactly the same documents as ``viewer`` (at most one query):
        ``"organisation"``, ``"admins"``, ``"nobody"`` or ``"user:<pk>"``.

        Figures are shared (cached) per audience, so the name must never put two
        people who read different documents together.
        """
        viewer = self.viewer
        if not access.is_active(viewer):
            return NOBODY_AUDIENCE
        if access.is_admin(viewer):
            return ADMIN_AUDIENCE
        if access.sees_restricted(viewer):
            return f"user:{viewer.pk}"
        return ORGANISATION_AUDIENCE

    def visible(self, prefix: str = "") -> Q:
        """The condition "the viewer may read this post-mortem" (``prefix`` as in
        ``access.visibility_q``). For the organisation audience it is the plain
        ``visibility = organisation`` — the same documents as
        ``visibility_q(viewer)`` for them, and the same for all of them."""
        audience = self.audience
        if audience == ORGANISATION_AUDIENCE:
            return Q(**{f"{prefix}visibility": PostMortem.Visibility.ORGANISATION})
        if audience == NOBODY_AUDIENCE:
            # Never true, yet real SQL (``pk__in=[]`` cannot be compiled into the raw row tables).
            return Q(**{f"{prefix}pk__isnull": True})
        return access.visibility_q(self.viewer, prefix=prefix)

    def teams(self) -> list[Team]:
        """The teams in scope: the one team, or every team by name (read once)."""
        if "teams" not in self.cache:
            self.cache["teams"] = [self.team] if self.team else list(Team.objects.order_by("name"))
        return self.cache["teams"]


def cached(scope: InsightsScope, selector, **kwargs):
    """``selector(scope, **kwargs)``, computed once per scope (one page or API call)."""
    key = (selector.__name__, tuple(sorted(kwargs.items())))
    if key not in scope.cache:
        scope.cache[key] = selector(scope, **kwargs)
    return scope.cache[key]


def default_range(today: dt.date, months: int | None = None) -> tuple[dt.date, dt.date]:
    """``(first day of the month months-1 months ago, today)``: whole months up to today."""
    months = months or conf.default_months()
    index = today.year * 12 + today.month - 1 - (months - 1)
    return dt.date(index // 12, index % 12 + 1, 1), today


def month_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    """First days of the months from ``start``'s to ``end``'s, inclusive."""
    first, last = start.year * 12 + start.month - 1, end.year * 12 + end.month - 1
    return [dt.date(i // 12, i % 12 + 1, 1) for i in range(first, last + 1)]


def quarter_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    """First days of the quarters from ``start``'s to ``end``'s, inclusive."""
    return [m for m in month_starts(start, end) if m.month % 3 == 1] or []


def quarter_of(day: dt.date) -> dt.date:
    """The first day of ``day``'s quarter."""
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def as_date(value: Any) -> dt.date | None:
    """A truncated month/quarter from the database as a date (local time)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return (timezone.localtime(value) if timezone.is_aware(value) else value).date()
    return value


def days(expression) -> ExpressionWrapper:
    """A ``SecondsBetween`` expression in days (float)."""
    return ExpressionWrapper(expression / Value(86400.0), output_field=FloatField())


def round_or_none(value: float | None, digits: int = 1) -> float | None:
    """``round(value, digits)``, None stays None."""
    return None if value is None else round(value, digits)


def visible_postmortems(scope: InsightsScope) -> QuerySet[PostMortem]:
    """Live post-mortems the viewer may read (of the team, when the scope has one), any date."""
    queryset = PostMortem.objects.filter(scope.visible())
    return queryset.filter(team=scope.team) if scope.team else queryset


def postmortems_in_scope(scope: InsightsScope) -> QuerySet[PostMortem]:
    """Readable post-mortems of the team(s) whose incident started in the range."""
    return visible_postmortems(scope).filter(started_at__gte=scope.start_dt, started_at__lt=scope.end_dt)


def action_items_in_scope(scope: InsightsScope) -> QuerySet[ActionItem]:
    """Action items of the team(s)' readable live post-mortems, whatever their dates."""
    queryset = ActionItem.objects.filter(scope.visible("postmortem__"))
    return queryset.filter(postmortem__team=scope.team) if scope.team else queryset


def undated_postmortems(scope: InsightsScope) -> int:
    """Readable post-mortems of the team(s) without a start time (in no period figure)."""
    return visible_postmortems(scope).filter(started_at__isnull=True).count()


def flag(condition: Q) -> Case:
    """1 where ``condition`` holds, else 0 (a column to add up)."""
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


def due_in_range(scope: InsightsScope) -> Q:
    """Items whose due date is in the range and has passed, except "not doing"."""
    return Q(due_date__gte=scope.start, due_date__lte=scope.due_end) & ~Q(status=ActionItem.Status.NOT_DOING)
