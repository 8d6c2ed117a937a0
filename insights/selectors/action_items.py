"""Action-item follow-through, the quality budget and follow-up windows: one scan
of the action items (``item_table``) gives all three; plus follow-through per due
month."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Case, Count, F, FloatField, IntegerField, Q, Value, When
from django.db.models.functions import TruncMonth

from insights.db import TOTAL, DaysBetweenDates, SecondsBetween, summarise
from insights.selectors.capabilities import followup_windows_available, window_aliases
from insights.selectors.scope import (
    ON_TIME,
    OPEN_STATUSES,
    SEVERE,
    InsightsScope,
    action_items_in_scope,
    as_date,
    days,
    due_in_range,
    flag,
    month_starts,
    round_or_none,
)
from insights.selectors.targets import scope_targets
from postmortems.models import ActionItem


def item_table(scope: InsightsScope, *, method: str | None = None) -> dict[Any, dict[str, Any]]:
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
    due = due_in_range(scope)
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
    for team_id, target in scope_targets(scope).items():
        by_grace.setdefault(target["budget_severe_grace_days"], []).append(team_id)
    past_grace = Q()
    for grace, team_ids in by_grace.items():
        past_grace |= Q(postmortem__team_id__in=team_ids, due_date__lt=today - dt.timedelta(days=grace))
    # Only rows that some column counts: older history is never read.
    rows = action_items_in_scope(scope).filter(is_open | due | closed_in_range).order_by()
    columns = {
        "ins_group": F("postmortem__team_id"),
        "ft_due": flag(due),
        "ft_done_on_time": flag(due & ON_TIME),
        "ft_open": flag(is_open),
        "ft_overdue": flag(overdue),
        "ft_closed": flag(closed_in_range),
        "ft_open_age": Case(
            When(is_open, then=days(SecondsBetween("created_at", Value(scope.now)))),
            output_field=FloatField(),
        ),
        "ft_close": Case(
            When(closed_in_range, then=days(SecondsBetween("created_at", "completed_at"))),
            output_field=FloatField(),
        ),
        "qb_severe": flag(overdue & Q(postmortem__severity__in=SEVERE) & past_grace),
        "qb_days_overdue": Case(
            When(overdue, then=DaysBetweenDates(F("due_date"), Value(today))), output_field=IntegerField()
        ),
    }
    sums = ["ft_due", "ft_done_on_time", "ft_open", "ft_overdue", "ft_closed", "qb_severe"]
    if followup_windows_available():
        rows = rows.alias(**window_aliases(today))
        columns["fw_past"] = flag(is_open & Q(ins_elapsed__gt=F("ins_window")))
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
        "median_open_age_days": round_or_none(row.get("ft_open_age_p50")),
        "closed": row.get("ft_closed", 0),
        "median_days_to_close": round_or_none(row.get("ft_close_p50")),
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
    table = item_table(scope, method=method)
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
        month = rows.get(as_date(row.pop("month")))
        if month is not None:
            month.update(row)
    for row in rows.values():
        row["due"] = row["done_on_time"] + row["done_late"] + row["not_done"]
    return list(rows.values())


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
    table = item_table(scope, method=method)
    targets = scope_targets(scope)
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


def followup_windows(scope: InsightsScope) -> dict[str, Any]:
    """Open action items past their follow-up window per team (see
    ``action_items_past_window``), or ``{"available": False}`` without the
    followthrough app.

    Returns:
        ``{"available": True, "rows": {team_id: {"open_past_window": int}}}``.
    """
    if not followup_windows_available():
        return {"available": False, "rows": {}}
    table = item_table(scope)
    return {
        "available": True,
        "rows": {t.pk: {"open_past_window": table.get(t.pk, {}).get("fw_past", 0)} for t in scope.teams()},
    }
