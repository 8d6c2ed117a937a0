"""Reads behind every insights figure, computed with aggregate queries.

Each selector takes an ``InsightsScope`` (date range, optional team, "today")
and returns plain numbers (dicts and lists), never model rows, except the
person page's short lists of "my" items and post-mortems. The number of
queries does not grow with the number of post-mortems or action items; Python
only loops over the groups the database returns (months, teams, services).

Periods: a post-mortem is *in the range* when its incident started in it
(``started_at``, the filter of the post-mortem list page); post-mortems without
a start time are counted separately (``undated``) and are in no figure.
Snapshot figures (open and overdue action items, the quality budget, follow-up
windows) describe today and ignore the date range, which is said in their
definitions (``insights.figures``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, ExtractIsoWeekDay, TruncDate, TruncMonth, TruncQuarter
from django.utils import timezone

from insights import conf
from insights.db import (
    TOTAL,
    DaysBetweenDates,
    Percentiles,
    SecondsBetween,
    column,
    compile_sql,
    grouped_stats,
    summarise,
)
from insights.models import TeamTargets
from postmortems.models import ActionItem, ContributingFactor, PostMortem, Service, Team

OPEN_STATUSES = (ActionItem.Status.OPEN, ActionItem.Status.IN_PROGRESS)
REVIEWED_STATUSES = (PostMortem.Status.REVIEWED, PostMortem.Status.PUBLISHED)
SEVERE = (PostMortem.Severity.SEV1, PostMortem.Severity.SEV2)
SEVERITIES = [value for value, _ in PostMortem.Severity.choices]
UNRATED = "unrated"
DURATION_MEASURES = (("detect", "detected_at"), ("mitigate", "mitigated_at"), ("resolve", "resolved_at"))
# Done on or before the due date (a "done" item without a completion time is not on time).
ON_TIME = Q(status=ActionItem.Status.DONE, completed_at__isnull=False, completed_at__date__lte=F("due_date"))


# --- scope -------------------------------------------------------------------------


@dataclass(frozen=True)
class InsightsScope:
    """What a page or the API asks about.

    Attributes:
        start, end: the date range, inclusive (server time zone).
        team: one team, or None for the whole organisation.
        now: the moment "today" is taken from (aware datetime).
    """

    start: dt.date
    end: dt.date
    team: Team | None = None
    now: dt.datetime = field(default_factory=timezone.now)
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
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _as_date(value: Any) -> dt.date | None:
    """A truncated month/quarter from the database as a date (local time)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return (timezone.localtime(value) if timezone.is_aware(value) else value).date()
    return value


def days(expression) -> ExpressionWrapper:
    """A ``SecondsBetween`` expression in days (float)."""
    return ExpressionWrapper(expression / Value(86400.0), output_field=FloatField())


def postmortems_in_scope(scope: InsightsScope) -> QuerySet[PostMortem]:
    """Post-mortems of the team(s) whose incident started in the range."""
    queryset = PostMortem.objects.filter(started_at__gte=scope.start_dt, started_at__lt=scope.end_dt)
    return queryset.filter(team=scope.team) if scope.team else queryset


def action_items_in_scope(scope: InsightsScope) -> QuerySet[ActionItem]:
    """Action items of the team(s)' post-mortems, whatever their dates."""
    queryset = ActionItem.objects.all()
    return queryset.filter(postmortem__team=scope.team) if scope.team else queryset


def undated_postmortems(scope: InsightsScope) -> int:
    """Post-mortems of the team(s) without a start time (in no period figure)."""
    queryset = PostMortem.objects.filter(started_at__isnull=True)
    return (queryset.filter(team=scope.team) if scope.team else queryset).count()


# --- post-mortems per month and per factor -------------------------------------------


def severity_by_month(scope: InsightsScope) -> list[dict[str, Any]]:
    """Post-mortems per month (of the incident start) and severity.

    Returns:
        One row per month of the range, empty months included:
        ``{"month": date (first day), "SEV1": int, …, "unrated": int, "total": int}``.
    """
    counts = (
        postmortems_in_scope(scope)
        .order_by()
        .annotate(month=TruncMonth("started_at"))
        .values("month", "severity")
        .annotate(n=Count("pk"))
    )
    rows = {
        m: {"month": m, **dict.fromkeys([*SEVERITIES, UNRATED], 0), "total": 0}
        for m in month_starts(scope.start, scope.end)
    }
    for row in counts:
        month = rows.get(_as_date(row["month"]))
        if month is not None:
            month[row["severity"] or UNRATED] += row["n"]
            month["total"] += row["n"]
    return list(rows.values())


def factors_by_quarter(scope: InsightsScope) -> dict[str, Any]:
    """Post-mortems per contributing factor and quarter (a post-mortem counts once
    for each of its factors).

    Returns:
        ``{"quarters": [date, …], "factors": [{"slug", "name", "counts": [int per
        quarter], "total"}]}``, factors that occur at least once, most frequent first.
    """
    quarters = quarter_starts(quarter_of(scope.start), scope.end)
    counts = (
        postmortems_in_scope(scope)
        .filter(factors__isnull=False)
        .order_by()
        .annotate(quarter=TruncQuarter("started_at"))
        .values("quarter", "factors")
        .annotate(n=Count("pk"))
    )
    index = {q: i for i, q in enumerate(quarters)}
    by_factor: dict[int, list[int]] = {}
    for row in counts:
        position = index.get(_as_date(row["quarter"]))
        if position is not None:
            by_factor.setdefault(row["factors"], [0] * len(quarters))[position] += row["n"]
    names = {f.pk: f for f in ContributingFactor.objects.filter(pk__in=by_factor).only("slug", "name")}
    factors = [
        {"slug": names[pk].slug, "name": names[pk].name, "counts": values, "total": sum(values)}
        for pk, values in by_factor.items()
    ]
    factors.sort(key=lambda f: (-f["total"], f["name"]))
    return {"quarters": quarters, "factors": factors}


def team_postmortem_counts(scope: InsightsScope, *, method: str | None = None) -> dict[int, dict[str, int]]:
    """Per team with post-mortems in the range: ``postmortems``, of them ``severe``
    (SEV1/SEV2), and the count per severity (``SEV1`` … ``SEV4``, ``unrated``)."""
    table = _postmortem_table(scope, method=method)
    counts = {}
    for key, row in table.items():
        if key == TOTAL:
            continue
        by_severity = {sev: row.get(f"sev_{sev.lower()}", 0) for sev in SEVERITIES}
        counts[key] = {
            "postmortems": row.get("pm_all", 0),
            "severe": by_severity["SEV1"] + by_severity["SEV2"],
            **by_severity,
            UNRATED: row.get("sev_unrated", 0),
        }
    return counts


# --- time to detect / mitigate / resolve ------------------------------------------------


def durations_by_service(scope: InsightsScope, *, method: str | None = None) -> list[dict[str, Any]]:
    """Time to detect, mitigate and resolve per service: count, median, 90th percentile.

    Each measure runs from the incident start to the moment; an incident counts
    in a measure only when both times are known, so the counts differ per
    measure. A post-mortem with several services counts for each of them;
    post-mortems without a service are the row ``service=None``.

    Returns:
        Rows ``{"service": slug | None, "name": str, "postmortems": int,
        "detect"|"mitigate"|"resolve": {"count": int, "median_minutes":
        float | None, "p90_minutes": float | None}}``, most post-mortems first.
    """
    percentiles = {
        name: Percentiles(SecondsBetween("started_at", moment) / Value(60.0))
        for name, moment in DURATION_MEASURES
    }
    stats = grouped_stats(
        postmortems_in_scope(scope),
        group="services",
        aggregates={"postmortems": Count("pk")},
        percentiles=percentiles,
        method=method,
    )
    services = {
        s.pk: s
        for s in Service.objects.filter(pk__in=[k for k in stats if k is not None]).only("slug", "name")
    }
    rows = []
    for key, row in stats.items():
        service = services.get(key)
        rows.append(
            {
                "service": service.slug if service else None,
                "name": service.name if service else "No service named",
                "postmortems": row.get("postmortems", 0),
                **{
                    name: {
                        "count": row.get(f"{name}_n", 0),
                        "median_minutes": _round(row.get(f"{name}_p50")),
                        "p90_minutes": _round(row.get(f"{name}_p90")),
                    }
                    for name, _ in DURATION_MEASURES
                },
            }
        )
    rows.sort(key=lambda r: (r["service"] is None, -r["postmortems"], r["name"]))
    return rows


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


# --- action-item follow-through -------------------------------------------------------------


def _due_in_range(scope: InsightsScope) -> Q:
    """Items whose due date is in the range and has passed, except "not doing"."""
    return Q(due_date__gte=scope.start, due_date__lte=scope.due_end) & ~Q(status=ActionItem.Status.NOT_DOING)


def _flag(condition: Q) -> Case:
    """1 where ``condition`` holds, else 0 (a column to add up)."""
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


def _item_table(scope: InsightsScope, *, method: str | None = None) -> dict[Any, dict[str, Any]]:
    """One scan of the action items for three figures: follow-through, the quality
    budget and follow-up windows, per team and over all (``TOTAL``); cached per scope.

    Columns (one row per action item, summed or ranked by ``summarise``):
    ``ft_*`` follow-through flags and ages, ``qb_*`` the budget's severe-overdue
    flag and days overdue, ``fw_past`` past the follow-up window.
    """
    key = ("item_table", method)
    if key in scope.cache:
        return scope.cache[key]
    today = scope.today
    due = _due_in_range(scope)
    is_open = Q(status__in=OPEN_STATUSES)
    overdue = is_open & Q(due_date__lt=today)
    # Completed before it was created: an item imported after it was done, whose
    # creation time says nothing about how long it took; left out.
    closed_in_range = Q(
        status=ActionItem.Status.DONE,
        completed_at__gte=scope.start_dt,
        completed_at__lt=scope.end_dt,
    ) & Q(completed_at__gte=F("created_at"))
    # More than the team's grace days past due (a per-team constant, so one Q per grace).
    by_grace: dict[int, list[int]] = {}
    for team_id, target in _scope_targets(scope).items():
        by_grace.setdefault(target["budget_severe_grace_days"], []).append(team_id)
    past_grace = Q()
    for grace, team_ids in by_grace.items():
        past_grace |= Q(postmortem__team_id__in=team_ids, due_date__lt=today - dt.timedelta(days=grace))
    # Only rows that some column counts: older history is never read.
    rows = action_items_in_scope(scope).filter(is_open | due | closed_in_range).order_by()
    columns = {
        "ins_group": F("postmortem__team_id"),
        "ft_due": _flag(due),
        "ft_done_on_time": _flag(due & ON_TIME),
        "ft_open": _flag(is_open),
        "ft_overdue": _flag(overdue),
        "ft_closed": _flag(closed_in_range),
        "ft_open_age": Case(
            When(is_open, then=days(SecondsBetween("created_at", Value(scope.now)))),
            output_field=FloatField(),
        ),
        "ft_close": Case(
            When(closed_in_range, then=days(SecondsBetween("created_at", "completed_at"))),
            output_field=FloatField(),
        ),
        "qb_severe": _flag(overdue & Q(postmortem__severity__in=SEVERE) & past_grace),
        "qb_days_overdue": Case(
            When(overdue, then=DaysBetweenDates(F("due_date"), Value(today))), output_field=IntegerField()
        ),
    }
    sums = ["ft_due", "ft_done_on_time", "ft_open", "ft_overdue", "ft_closed", "qb_severe"]
    if followup_windows_available():
        rows = rows.alias(**_window_aliases(today))
        columns["fw_past"] = _flag(is_open & Q(ins_elapsed__gt=F("ins_window")))
        sums.append("fw_past")
    table = summarise(
        rows.annotate(**columns).values(*columns),
        sums=sums,
        maximums=["qb_days_overdue"],
        percentiles={"ft_open_age": (0.5,), "ft_close": (0.5,)},
        total=True,
        method=method,
    )
    scope.cache[key] = table
    return table


def _follow_through_row(row: dict[str, Any]) -> dict[str, Any]:
    due, on_time = row.get("ft_due", 0), row.get("ft_done_on_time", 0)
    return {
        "due": due,
        "done_on_time": on_time,
        "completion_rate": round(on_time / due, 4) if due else None,
        "open": row.get("ft_open", 0),
        "overdue": row.get("ft_overdue", 0),
        "median_open_age_days": _round(row.get("ft_open_age_p50")),
        "closed": row.get("ft_closed", 0),
        "median_days_to_close": _round(row.get("ft_close_p50")),
    }


def follow_through(scope: InsightsScope, *, by_team: bool = False, method: str | None = None):
    """Action-item follow-through of the team(s).

    - ``due``: items whose due date is in the range and already passed (before
      today), except those marked "not doing" (a recorded decision, neither
      done nor missed);
    - ``done_on_time``: of those, items done on or before their due date
      (``completed_at``; a "done" item without a completion time is not counted
      as on time);
    - ``completion_rate``: ``done_on_time / due`` (None when nothing was due);
    - ``open`` / ``overdue`` (today; overdue = open past its due date) and
      ``median_open_age_days`` (days since creation of the open items): snapshots;
    - ``closed`` / ``median_days_to_close``: items done in the range, days from
      creation to completion (items completed before they were created — imported
      after the fact — are left out).

    ``ActionItem.due_date`` is required by the model, so every item has one.

    Returns:
        One dict as above, or ``{team_id: dict}`` for every team in scope when
        ``by_team`` (teams without items get zeros).
    """
    table = _item_table(scope, method=method)
    if not by_team:
        return _follow_through_row(table.get(TOTAL, {}))
    return {team.pk: _follow_through_row(table.get(team.pk, {})) for team in scope.teams()}


def follow_through_by_month(scope: InsightsScope) -> list[dict[str, Any]]:
    """Action items due per month of the range (due date passed): done on time,
    done late, still open, not doing.

    Returns:
        One row per month: ``{"month": date, "done_on_time", "done_late",
        "not_done", "not_doing", "due"}``; ``due`` excludes "not doing", as in
        ``follow_through``.
    """
    on_time = ON_TIME
    counts = (
        action_items_in_scope(scope)
        .filter(due_date__gte=scope.start, due_date__lte=scope.due_end)
        .order_by()
        .annotate(month=TruncMonth("due_date"))
        .values("month")
        .annotate(
            done_on_time=Count("pk", filter=on_time),
            done_late=Count("pk", filter=Q(status=ActionItem.Status.DONE) & ~on_time),
            not_done=Count("pk", filter=Q(status__in=OPEN_STATUSES)),
            not_doing=Count("pk", filter=Q(status=ActionItem.Status.NOT_DOING)),
        )
    )
    empty = {"done_on_time": 0, "done_late": 0, "not_done": 0, "not_doing": 0}
    rows = {m: {"month": m, **empty} for m in month_starts(scope.start, scope.end)}
    for row in counts:
        month = rows.get(_as_date(row.pop("month")))
        if month is not None:
            month.update(row)
    for row in rows.values():
        row["due"] = row["done_on_time"] + row["done_late"] + row["not_done"]
    return list(rows.values())


# --- review timeliness --------------------------------------------------------------------


def reviews_available() -> bool:
    """True when the ``reviews`` app (review meetings) is installed and importable."""
    if not apps.is_installed("reviews"):
        return False
    try:
        import reviews.models  # noqa: F401
    except ImportError:  # pragma: no cover - installed but not importable
        return False
    return True


def _when_marked(moment) -> Case:
    return Case(When(status__in=REVIEWED_STATUSES, then=moment), default=None, output_field=DateTimeField())


def review_moment() -> tuple[Any, str]:
    """An expression for when each post-mortem was reviewed (NULL: not reviewed),
    and a sentence saying where that moment comes from.

    In order: ``PostMortem.reviewed_at`` when the model has that field; the end
    of the post-mortem's first ended review meeting (``reviews.Review``) when
    that app is installed; otherwise — and for post-mortems marked reviewed or
    published without a recorded meeting — the proxy ``updated_at``, the last
    edit, which is the review or later, so the proxy can only overstate a delay.
    """
    # Imported documents were edited here at import, long after their review: no proxy.
    proxy = Case(When(external_id="", then=F("updated_at")), default=None)
    proxy_text = (
        "the last edit (updated_at) of post-mortems written here in status reviewed or published; "
        "imported ones have no known review date"
    )
    if "reviewed_at" in {f.name for f in PostMortem._meta.get_fields()}:
        moment = Coalesce(F("reviewed_at"), proxy)
        return _when_marked(moment), f"reviewed_at; without it, {proxy_text} (proxy)"
    if reviews_available():
        from reviews.models import Review

        first_ended = (
            Review.objects.filter(postmortem=OuterRef("pk"), status=Review.Status.ENDED)
            .order_by("ended_at")
            .values("ended_at")[:1]
        )
        # Only evaluated for post-mortems marked reviewed (ending a review marks it).
        return _when_marked(Coalesce(Subquery(first_ended), proxy)), (
            f"the end of the first review meeting; without a recorded meeting, {proxy_text} (proxy)"
        )
    return _when_marked(proxy), (
        f"proxy: {proxy_text}; no review date is recorded, and a later edit moves it, "
        "so delays may be overstated"
    )


def business_day_allowance(target: int) -> dict[int, int]:
    """Calendar days from a resolution on each ISO weekday (1 = Monday) to the end
    of the ``target``-th business day after it (Monday–Friday; holidays unknown).

    Example: target 5 from a Monday gives 7 (the next Monday); from a Saturday, 6.
    """
    allowance = {}
    for weekday in range(1, 8):
        counted, offset = 0, 0
        while counted < target:
            offset += 1
            if (weekday - 1 + offset) % 7 < 5:
                counted += 1
        allowance[weekday] = offset
    return allowance


def _scope_targets(scope: InsightsScope) -> dict[int, dict[str, int]]:
    if "targets" not in scope.cache:
        scope.cache["targets"] = team_targets(scope.teams())
    return scope.cache["targets"]


def business_day_allowance_expression(moment: str, target) -> Any:
    """``business_day_allowance(target)[isoweekday(moment)]`` as an SQL expression.

    From a weekday at position p (Monday 0 … Friday 4), T business days later is
    T + 2 × ((p + T) div 5) calendar days (two weekend days per week boundary
    crossed); from Saturday or Sunday count from Friday, one or two days fewer.
    ``target`` is an integer expression (the team's target).
    """
    weekday = Cast(ExtractIsoWeekDay(moment), IntegerField())
    weekend = Q(**{f"{moment}__iso_week_day__gt": 5})
    position = Case(When(weekend, then=Value(4)), default=weekday - Value(1), output_field=IntegerField())
    back = Case(When(weekend, then=weekday - Value(5)), default=Value(0), output_field=IntegerField())
    return ExpressionWrapper(
        target + Value(2) * ((position + target) / Value(5)) - back, output_field=IntegerField()
    )


def team_targets(teams: Sequence[Team]) -> dict[int, dict[str, int]]:
    """Each team's review target and quality budget (its ``TeamTargets`` or the defaults)."""
    defaults = {
        "review_target_business_days": conf.review_target_business_days(),
        "budget_max_overdue": conf.budget_max_overdue(),
        "budget_severe_grace_days": conf.budget_severe_grace_days(),
    }
    rows = TeamTargets.objects.filter(team__in=teams).values("team_id", *defaults)
    targets = {team.pk: dict(defaults) for team in teams}
    for row in rows:
        targets[row.pop("team_id")] = row
    return targets


def review_timeliness(
    scope: InsightsScope, *, by: str | None = None, method: str | None = None
) -> dict[str, Any]:
    """Days from resolution to review, and the share reviewed within the team's target.

    Counts post-mortems in the range that have a resolution time:
    ``reviewed`` (status reviewed or published) with ``median_days`` and
    ``p90_days`` from resolution to review; ``within_target`` (reviewed no later
    than the team's target in business days after the resolution date);
    ``late`` (reviewed after it, or not reviewed and the target has passed);
    ``pending`` (not reviewed, target not yet passed); ``date_unknown`` (marked
    reviewed or published but with no known review date: imported without a
    review meeting); ``share_within_target`` = within / (within + late), None
    when both are 0. Post-mortems without a resolution time are ``unresolved``.

    Args:
        by: None, "team" or "month" (of the incident start).

    Returns:
        ``{"source": str, "rows": {key: row}}`` with key None, a team id, or a month.
    """
    teams = scope.teams()
    targets = _scope_targets(scope)
    source = review_moment()[1]
    if by == "month":
        stats = _review_summary(scope, group=TruncMonth("started_at"), total=False, method=method)
    else:
        stats = _postmortem_table(scope, method=method)

    def shape(row: dict[str, Any]) -> dict[str, Any]:
        within_n, late_n = row.get("within_target", 0), row.get("late", 0)
        return {
            "reviewed": row.get("review_n", 0),
            "median_days": _round(row.get("review_p50")),
            "p90_days": _round(row.get("review_p90")),
            "within_target": within_n,
            "late": late_n,
            "pending": row.get("pending", 0),
            "date_unknown": row.get("date_unknown", 0),
            "unresolved": row.get("unresolved", 0),
            "share_within_target": round(within_n / (within_n + late_n), 4) if within_n + late_n else None,
        }

    def overall(row: dict[str, Any]) -> dict[str, Any]:
        shaped = shape(row)
        used = {t["review_target_business_days"] for t in targets.values()}
        shaped["target_business_days"] = used.pop() if len(used) == 1 else None
        return shaped

    if by == "team":
        result = {team.pk: shape(stats.get(team.pk, {})) for team in teams}
        for team_id, row in result.items():
            row["target_business_days"] = targets[team_id]["review_target_business_days"]
    elif by == "month":
        shaped = {_as_date(k): shape(v) for k, v in stats.items()}
        result = {m: shaped.get(m) or shape({}) for m in month_starts(scope.start, scope.end)}
    else:
        result = {None: overall(stats.get(TOTAL, {}))}
    return {"source": source, "rows": result}


def _postmortem_table(scope: InsightsScope, *, method: str | None = None) -> dict[Any, dict[str, Any]]:
    """One scan of the post-mortems in the range for review timeliness and the
    per-team counts (by severity), per team and over all (``TOTAL``); cached per scope."""
    key = ("postmortem_table", method)
    if key not in scope.cache:
        scope.cache[key] = _review_summary(scope, group=F("team_id"), total=True, method=method, counts=True)
    return scope.cache[key]


def _review_summary(scope: InsightsScope, *, group, total: bool, method: str | None, counts: bool = False):
    """``summarise`` over one row per post-mortem in the range: the review flags
    (derived from the review moment, computed once per row) and, with ``counts``,
    one 0/1 column per severity."""
    moment, _ = review_moment()
    columns = {
        "ins_group": group,
        "ins_resolved_at": F("resolved_at"),
        "ins_reviewed_at": moment,
        "ins_marked": _flag(Q(status__in=REVIEWED_STATUSES)),
        "ins_allowed": business_day_allowance_expression(
            "resolved_at",
            Coalesce(
                F("team__insights_targets__review_target_business_days"),
                Value(conf.review_target_business_days()),
            ),
        ),
        "ins_open_gap": DaysBetweenDates(TruncDate("resolved_at"), Value(scope.today)),
    }
    sums = ["within_target", "late", "pending", "date_unknown", "unresolved"]
    if counts:
        columns["pm_all"] = Value(1)
        columns["sev_unrated"] = _flag(Q(severity=""))
        for severity in SEVERITIES:
            columns[f"sev_{severity.lower()}"] = _flag(Q(severity=severity))
        sums += ["pm_all", "sev_unrated", *(f"sev_{s.lower()}" for s in SEVERITIES)]
    rows = postmortems_in_scope(scope).order_by().annotate(**columns).values(*columns)
    resolved_at = column("ins_resolved_at", DateTimeField())
    reviewed_at = column("ins_reviewed_at", DateTimeField())
    gap_sql, gap_params = compile_sql(DaysBetweenDates(TruncDate(resolved_at), TruncDate(reviewed_at)))
    days_sql, days_params = compile_sql(SecondsBetween(resolved_at, reviewed_at))
    resolved, reviewed = "ins_resolved_at IS NOT NULL", "ins_reviewed_at IS NOT NULL"
    waiting = "ins_reviewed_at IS NULL AND ins_marked = 0"

    def flag(condition: str, params: tuple = ()) -> tuple[str, tuple]:
        return f"CASE WHEN {condition} THEN 1 ELSE 0 END", params

    return summarise(
        rows,
        derived={
            "within_target": flag(f"{resolved} AND {reviewed} AND {gap_sql} <= ins_allowed", gap_params),
            "late": flag(
                f"{resolved} AND (({reviewed} AND {gap_sql} > ins_allowed) "
                f"OR ({waiting} AND ins_open_gap > ins_allowed))",
                gap_params,
            ),
            "pending": flag(f"{resolved} AND {waiting} AND ins_open_gap <= ins_allowed"),
            "date_unknown": flag(f"{resolved} AND ins_reviewed_at IS NULL AND ins_marked = 1"),
            "unresolved": flag("ins_resolved_at IS NULL"),
            "review": (f"CASE WHEN {resolved} AND {reviewed} THEN {days_sql} / 86400.0 END", days_params),
        },
        sums=sums,
        percentiles={"review": (0.5, 0.9)},
        total=total,
        method=method,
    )


# --- quality budget ------------------------------------------------------------------------


def quality_budget(scope: InsightsScope, *, method: str | None = None) -> dict[int, dict[str, Any]]:
    """Each team's quality budget today (a snapshot; the date range does not apply).

    A team is *within* its budget while none of its overdue action items from a
    SEV1/SEV2 post-mortem is more than ``budget_severe_grace_days`` (default 7)
    past its due date, and it has at most ``budget_max_overdue`` (default 20)
    overdue items in total; otherwise the budget is *breached*.

    Returns:
        ``{team_id: {"overdue", "severe_overdue", "oldest_overdue_days",
        "max_overdue", "severe_grace_days", "within"}}`` for every team in scope.
    """
    table = _item_table(scope, method=method)
    targets = _scope_targets(scope)
    result = {}
    for team in scope.teams():
        row, target = table.get(team.pk, {}), targets[team.pk]
        overdue, severe = row.get("ft_overdue", 0), row.get("qb_severe", 0)
        result[team.pk] = {
            "overdue": overdue,
            "severe_overdue": severe,
            "oldest_overdue_days": row.get("qb_days_overdue"),
            "max_overdue": target["budget_max_overdue"],
            "severe_grace_days": target["budget_severe_grace_days"],
            "within": severe == 0 and overdue <= target["budget_max_overdue"],
        }
    return result


# --- Definition of Done and follow-up windows (other apps, when installed) --------------------


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
        .alias(**_window_aliases(today))
        .filter(ins_elapsed__gt=F("ins_window"))
    )


def _window_aliases(today: dt.date) -> dict[str, Any]:
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


def followup_windows(scope: InsightsScope) -> dict[str, Any]:
    """Open action items past their follow-up window per team (see
    ``action_items_past_window``), or ``{"available": False}`` without the
    followthrough app.

    Returns:
        ``{"available": True, "rows": {team_id: {"open_past_window": int}}}``.
    """
    if not followup_windows_available():
        return {"available": False, "rows": {}}
    table = _item_table(scope)
    return {
        "available": True,
        "rows": {t.pk: {"open_past_window": table.get(t.pk, {}).get("fw_past", 0)} for t in scope.teams()},
    }


# --- my work -------------------------------------------------------------------------------

MY_LIST_LIMIT = 100


@dataclass
class MyWork:
    """The person page: what is mine to do next.

    Attributes:
        overdue, open_items: my open action items past / not past their due
            date, soonest due first (at most ``MY_LIST_LIMIT`` each).
        counts: ``{"open", "overdue", "overdue_over_week", "due_this_week",
            "due_later", "due", "done_on_time"}`` (see ``my_work``).
        facilitate: post-mortems I facilitate that are in draft or in review.
        authored: post-mortems I author whose incident started in the range.
        authored_by_status: ``{status: count}`` of those.
    """

    overdue: list[ActionItem]
    open_items: list[ActionItem]
    counts: dict[str, int]
    facilitate: list[PostMortem]
    authored: list[PostMortem]
    authored_by_status: dict[str, int]

    @property
    def open_not_overdue(self) -> int:
        return self.counts["open"] - self.counts["overdue"]

    @property
    def completion_rate(self) -> float | None:
        due = self.counts["due"]
        return round(self.counts["done_on_time"] / due, 4) if due else None


def my_work(*, user, scope: InsightsScope) -> MyWork:
    """The person page of ``user``: their open and overdue action items, the
    post-mortems they facilitate that await review, and those they author.

    The team filter applies to everything (the post-mortem's team); the date
    range applies to "post-mortems I author" (incident start) and to my
    completion rate (due dates, as in ``follow_through``). Open and overdue
    items are today's.
    """
    today = scope.today
    items = ActionItem.objects.filter(owner=user)
    pms = PostMortem.objects.all()
    if scope.team:
        items = items.filter(postmortem__team=scope.team)
        pms = pms.filter(team=scope.team)
    is_open = Q(status__in=OPEN_STATUSES)
    due = _due_in_range(scope)
    on_time = ON_TIME
    week = dt.timedelta(days=7)
    counts = items.order_by().aggregate(
        open=Count("pk", filter=is_open),
        overdue=Count("pk", filter=is_open & Q(due_date__lt=today)),
        overdue_over_week=Count("pk", filter=is_open & Q(due_date__lt=today - week)),
        due_this_week=Count("pk", filter=is_open & Q(due_date__gte=today, due_date__lte=today + week)),
        due_later=Count("pk", filter=is_open & Q(due_date__gt=today + week)),
        due=Count("pk", filter=due),
        done_on_time=Count("pk", filter=due & on_time),
    )
    listed = items.filter(is_open).select_related("postmortem", "postmortem__team").order_by("due_date", "id")
    authored = pms.filter(authors=user, started_at__gte=scope.start_dt, started_at__lt=scope.end_dt)
    by_status = dict(authored.order_by().values("status").annotate(n=Count("pk")).values_list("status", "n"))
    return MyWork(
        overdue=list(listed.filter(due_date__lt=today)[:MY_LIST_LIMIT]),
        open_items=list(listed.filter(due_date__gte=today)[:MY_LIST_LIMIT]),
        counts=counts,
        facilitate=list(
            pms.filter(facilitator=user, status__in=(PostMortem.Status.DRAFT, PostMortem.Status.IN_REVIEW))
            .select_related("team")
            .order_by("-started_at", "-id")[:MY_LIST_LIMIT]
        ),
        authored=list(authored.select_related("team").order_by("-started_at", "-id")[:MY_LIST_LIMIT]),
        authored_by_status={status: by_status.get(status, 0) for status, _ in PostMortem.Status.choices},
    )
