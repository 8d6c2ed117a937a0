"""The insights figures as people see them: a title, a one-line definition, a
table whose cells link to the post-mortems or action items behind them, and the
data of a chart drawn from the same numbers (``static/insights/insights.js``).

The same ``Table`` is rendered as HTML and written as CSV, so the chart, the
table and the download can never disagree. Numbers come from
``insights.selectors``; nothing here queries rows.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.urls import NoReverseMatch, reverse

from insights import conf, selectors
from insights.selectors import SEVERE, SEVERITIES, UNRATED, InsightsScope
from postmortems.models import ActionItem, PostMortem, Team

SEVERITY_COLOURS = {
    "SEV1": "#b42318",
    "SEV2": "#e0590b",
    "SEV3": "#e9b500",
    "SEV4": "#7a8da8",
    UNRATED: "#c4ccd6",
}
OPEN_STATUS_PARAMS = [("status", ActionItem.Status.OPEN), ("status", ActionItem.Status.IN_PROGRESS)]
REVIEWED_PARAMS = [("status", PostMortem.Status.REVIEWED), ("status", PostMortem.Status.PUBLISHED)]


def definitions() -> dict[str, str]:
    """One line per figure saying exactly what is counted (also in the API)."""
    target = conf.review_target_business_days()
    grace, ceiling = conf.budget_severe_grace_days(), conf.budget_max_overdue()
    return {
        "severity_by_month": (
            "Post-mortems whose incident started in each month of the range, by severity "
            "(“unrated”: imported without one); post-mortems without a start time are in no period."
        ),
        "factors_by_quarter": (
            "Post-mortems per contributing factor and quarter of the incident start; a post-mortem "
            "counts once for each of its factors, so recurring factors show as dark rows."
        ),
        "durations_by_service": (
            "Time from the incident start to detection, mitigation and resolution per service: "
            "median and 90th percentile with the number of incidents that have both times "
            "(no mean: incident durations are heavily skewed)."
        ),
        "completion_rate": (
            "Action items done by their due date ÷ action items whose due date fell in the range "
            "and has passed; items marked “not doing” are left out."
        ),
        "open_items": "Action items open or in progress today, whatever their due date.",
        "overdue_items": "Open action items whose due date has passed, today.",
        "median_open_age": "Median days since the open action items were created, today.",
        "median_time_to_close": "Median days from creation to completion of action items done in the range.",
        "follow_through_by_month": (
            "Action items per month of their (passed) due date: done by it, done later, or still open."
        ),
        "follow_through_per_team": (
            "Per team: the completion rate (chart) and the counts behind it; the tiles above are "
            "the organisation's."
        ),
        "review_chart": (
            "Resolved post-mortems of the range: reviewed within the team's target, late, still inside "
            "it (pending), or marked reviewed with no known review date."
        ),
        "review_days": (
            "Days from resolution to review of the post-mortems in the range that are reviewed or "
            "published: median and 90th percentile."
        ),
        "review_within_target": (
            f"Share reviewed within the team's target (default {target} business days after resolution): "
            "within ÷ (within + late); unreviewed post-mortems past the target count as late."
        ),
        "quality_budget": (
            f"Today: within budget while no overdue action item of a SEV1/SEV2 post-mortem is more than "
            f"{grace} days past due and at most {ceiling} items are overdue (defaults; teams may set theirs)."
        ),
        "followup_windows": (
            "Open action items past their post-mortem's follow-up window (the team's follow-up policy: "
            "days after the review, else the resolution, by severity), today."
        ),
        "definition_of_done": (
            "Definition-of-Done versions saved in the range (each change makes one) and DoD proposals "
            "opened, accepted and rejected in the range; open proposals are today's."
        ),
        "teams": "Each team's figures for the range side by side; open, overdue and the budget are today's.",
        "my_open_items": "My action items open or in progress, by how soon they are due (today).",
        "my_completion_rate": "My action items done by their due date ÷ mine due in the range (passed).",
        "my_reviews": "Post-mortems I facilitate that are in draft or in review: reviews for me to run.",
        "my_postmortems": "Post-mortems I author whose incident started in the range, by status.",
    }


# --- tables ----------------------------------------------------------------------------------


@dataclass
class Cell:
    """One table cell: the raw ``value`` (CSV, sorting), the ``text`` shown, a link."""

    value: Any
    text: str | None = None
    href: str | None = None
    css: str = ""

    def __str__(self) -> str:
        return self.text if self.text is not None else ("" if self.value is None else str(self.value))


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    numeric_from: int = 1  # columns from this index are right-aligned numbers

    def csv_rows(self) -> list[list[Any]]:
        return [self.columns] + [["" if c.value is None else c.value for c in row] for row in self.rows]


@dataclass
class Figure:
    """A figure of a page: ``slug`` names it in URLs (CSV) and element ids."""

    slug: str
    title: str
    definition: str
    table: Table | None = None
    chart: dict[str, Any] | None = None
    available: bool = True
    note: str = ""
    tiles: list[dict[str, Any]] = field(default_factory=list)

    @property
    def chart_id(self) -> str:
        return f"chart-{self.slug}"

    @property
    def data_id(self) -> str:
        return f"chart-{self.slug}-data"


# --- formatting and links ----------------------------------------------------------------------


def fmt_minutes(minutes: float | None) -> str:
    """``95`` → "1 h 35 min"; ``2900`` → "2 d 0 h"; None → "—"."""
    if minutes is None:
        return "—"
    if minutes < 60:
        return f"{minutes:.0f} min" if minutes >= 10 or minutes == int(minutes) else f"{minutes:.1f} min"
    hours, rest = divmod(round(minutes), 60)
    if hours < 48:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def fmt_days(days: float | None) -> str:
    return "—" if days is None else f"{days:.1f} d"


def fmt_rate(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.0f}%"


def _url(name: str, params: list[tuple[str, Any]]) -> str:
    query = urlencode([(k, v) for k, v in params if v not in (None, "")])
    return reverse(name) + (f"?{query}" if query else "")


def _maybe_reverse(name: str, **kwargs) -> str | None:
    try:
        return reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:
        return None


def _team_params(scope: InsightsScope, team: Team | None = None) -> list[tuple[str, str]]:
    team = team or scope.team
    return [("team", team.slug)] if team else []


def postmortems_url(scope: InsightsScope, *, start=None, end=None, team=None, extra=()) -> str:
    """The post-mortem list filtered to what a cell counts (started in the range)."""
    start, end = max(start or scope.start, scope.start), min(end or scope.end, scope.end)
    return _url(
        "postmortems:list",
        [
            *_team_params(scope, team),
            *extra,
            ("started_from", start.isoformat()),
            ("started_to", end.isoformat()),
        ],
    )


def items_url(scope: InsightsScope, *, team=None, extra=()) -> str:
    """The insights action-item list filtered to what a cell counts."""
    return _url("insights:action_items", [*_team_params(scope, team), *extra])


def _month_end(month: dt.date) -> dt.date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def _quarter_end(quarter: dt.date) -> dt.date:
    return _month_end(quarter.replace(month=quarter.month + 2))


NOT_DECLINED_PARAMS = [*OPEN_STATUS_PARAMS, ("status", ActionItem.Status.DONE)]


def _due_dates(scope: InsightsScope, start=None, end=None) -> list[tuple[str, str]]:
    """Due dates the completion rate counts (in the range, passed), within a month when given."""
    start, end = max(start or scope.start, scope.start), min(end or scope.due_end, scope.due_end)
    return [("due_from", start.isoformat()), ("due_to", end.isoformat())]


def _due_params(scope: InsightsScope, start=None, end=None) -> list[tuple[str, str]]:
    """The completion rate's denominator: due in the range and passed, not "not doing"."""
    return [*_due_dates(scope, start, end), *NOT_DECLINED_PARAMS]


def _closed_params(scope: InsightsScope) -> list[tuple[str, str]]:
    return [
        ("status", ActionItem.Status.DONE),
        ("completed_from", scope.start.isoformat()),
        ("completed_to", scope.end.isoformat()),
    ]


def _link(value, href, text=None, css="") -> Cell:
    return Cell(value, text, href if value else None, css)


# --- figures -----------------------------------------------------------------------------------


def severity_figure(scope: InsightsScope) -> Figure:
    """Post-mortems per month by severity: stacked bars, cells link to the list by month and severity."""
    rows = selectors.cached(scope, selectors.severity_by_month)
    table = Table(["Month", *SEVERITIES, "Unrated", "Total"])
    for row in rows:
        month, end = row["month"], _month_end(row["month"])
        cells = [Cell(month.strftime("%Y-%m"), month.strftime("%b %Y"))]
        for severity in SEVERITIES:
            href = postmortems_url(scope, start=month, end=end, extra=[("severity", severity)])
            cells.append(_link(row[severity], href))
        cells.append(Cell(row[UNRATED]))  # the list page has no "no severity" filter
        cells.append(_link(row["total"], postmortems_url(scope, start=month, end=end)))
        table.rows.append(cells)
    chart = {
        "kind": "bar",
        "stacked": True,
        "labels": [row["month"].strftime("%b %Y") for row in rows],
        "datasets": [
            {"label": label, "data": [row[key] for row in rows], "color": SEVERITY_COLOURS[key]}
            for key, label in [*((s, s) for s in SEVERITIES), (UNRATED, "Unrated")]
        ],
        "yTitle": "post-mortems",
        "format": "count",
    }
    undated = selectors.cached(scope, selectors.undated_postmortems)
    note = (
        f"{undated} post-mortem{'s' if undated != 1 else ''} without a start time not counted."
        if undated
        else ""
    )
    return Figure(
        "severity-by-month",
        "Post-mortems per month by severity",
        definitions()["severity_by_month"],
        table,
        chart,
        note=note,
    )


def factors_figure(scope: InsightsScope) -> Figure:
    """Contributing factor × quarter heatmap (a matrix chart); cells link to the list by factor, quarter."""
    result = selectors.cached(scope, selectors.factors_by_quarter)
    quarters = result["quarters"]
    # A quarter the range only partly covers says so: its count is not comparable.
    labels = [
        f"{q.year} Q{(q.month - 1) // 3 + 1}"
        + (" (part)" if q < scope.start or _quarter_end(q) > scope.end else "")
        for q in quarters
    ]
    table = Table(["Contributing factor", *labels, "Total"])
    cells = []
    for factor in result["factors"]:
        row = [Cell(factor["slug"], factor["name"])]
        for quarter, count in zip(quarters, factor["counts"], strict=True):
            href = postmortems_url(
                scope, start=quarter, end=_quarter_end(quarter), extra=[("factor", factor["slug"])]
            )
            row.append(_link(count, href, css=f"heat heat-{min(count, 5)}"))
        row.append(_link(factor["total"], postmortems_url(scope, extra=[("factor", factor["slug"])])))
        table.rows.append(row)
        cells += [
            {"x": label, "y": factor["name"], "v": count}
            for label, count in zip(labels, factor["counts"], strict=True)
        ]
    chart = {
        "kind": "matrix",
        "xLabels": labels,
        "yLabels": [f["name"] for f in result["factors"]],
        "cells": cells,
        "max": max((c["v"] for c in cells), default=0),
        "label": "post-mortems",
    }
    return Figure(
        "factors-by-quarter",
        "Contributing factors per quarter",
        definitions()["factors_by_quarter"],
        table,
        chart if result["factors"] else None,
    )


def durations_figure(scope: InsightsScope) -> Figure:
    """Time to detect/mitigate/resolve per service: median and p90 with counts (chart: top 12 services)."""
    rows = selectors.cached(scope, selectors.durations_by_service)
    measures = (
        ("detect", "Time to detect"),
        ("mitigate", "Time to mitigate"),
        ("resolve", "Time to resolve"),
    )
    columns = ["Service", "Post-mortems"]
    for _, label in measures:
        columns += [f"{label}: count", f"{label}: median (min)", f"{label}: p90 (min)"]
    table = Table(columns)
    for row in rows:
        href = postmortems_url(scope, extra=[("service", row["service"])]) if row["service"] else None
        cells = [Cell(row["service"] or "", row["name"], href), Cell(row["postmortems"])]
        for key, _ in measures:
            m = row[key]
            cells += [
                Cell(m["count"]),
                Cell(m["median_minutes"], fmt_minutes(m["median_minutes"])),
                Cell(m["p90_minutes"], fmt_minutes(m["p90_minutes"])),
            ]
        table.rows.append(cells)
    charted = rows[:12]
    # Hours once the tail is long, so the axis reads 0, 10, 20 h instead of 600, 1200 min.
    longest = max((r[k]["p90_minutes"] or 0 for r in charted for k, _ in measures), default=0)
    scale, unit = (60.0, "hours") if longest > 180 else (1.0, "minutes")

    def series(key, stat):
        return [None if r[key][stat] is None else round(r[key][stat] / scale, 2) for r in charted]

    chart = {
        "kind": "bar",
        "horizontal": True,
        "labels": [r["name"] for r in charted],
        "datasets": [
            {"label": f"{label}, median", "data": series(key, "median_minutes"), "color": colour}
            for (key, label), colour in zip(measures, ("#7fa7e8", "#2557d6", "#142033"), strict=True)
        ]
        + [
            {
                "label": "Time to resolve, 90th percentile",
                "data": series("resolve", "p90_minutes"),
                "color": "#e0590b",
            }
        ],
        "xTitle": f"{unit} after the incident started",
        "format": unit,
    }
    note = (
        "The chart shows the 12 services with the most post-mortems; the table has all."
        if len(rows) > 12
        else ""
    )
    return Figure(
        "durations-by-service",
        "Time to detect, mitigate and resolve per service",
        definitions()["durations_by_service"],
        table,
        chart if rows else None,
        note=note,
    )


def _follow_tiles(scope: InsightsScope, row: dict[str, Any]) -> list[dict[str, Any]]:
    d = definitions()
    return [
        {
            "label": "Completion rate",
            "value": fmt_rate(row["completion_rate"]),
            "detail": f"{row['done_on_time']} of {row['due']} on time",
            "definition": d["completion_rate"],
            "href": items_url(scope, extra=_due_params(scope)),
        },
        {
            "label": "Open",
            "value": row["open"],
            "definition": d["open_items"],
            "href": items_url(scope, extra=OPEN_STATUS_PARAMS),
        },
        {
            "label": "Overdue",
            "value": row["overdue"],
            "definition": d["overdue_items"],
            "href": items_url(scope, extra=[("overdue", "true")]),
            "alert": row["overdue"] > 0,
        },
        {
            "label": "Median age of open items",
            "value": fmt_days(row["median_open_age_days"]),
            "definition": d["median_open_age"],
            "href": items_url(scope, extra=OPEN_STATUS_PARAMS),
        },
        {
            "label": "Median time to close",
            "value": fmt_days(row["median_days_to_close"]),
            "detail": f"{row['closed']} closed in the range",
            "definition": d["median_time_to_close"],
            "href": items_url(scope, extra=_closed_params(scope)),
        },
    ]


def follow_through_figure(scope: InsightsScope) -> Figure:
    """Organisation: one row per team; team: one row per month of due date."""
    d = definitions()
    overall = selectors.cached(scope, selectors.follow_through)
    if scope.team is None:
        per_team = selectors.cached(scope, selectors.follow_through, by_team=True)
        teams = scope.teams()
        table = Table(
            [
                "Team",
                "Due",
                "Done on time",
                "Completion rate",
                "Open",
                "Overdue",
                "Median age of open (days)",
                "Closed in range",
                "Median days to close",
            ]
        )
        for team in teams:
            r = per_team[team.pk]
            table.rows.append(
                [
                    Cell(team.slug, team.name, reverse("insights:team", kwargs={"slug": team.slug})),
                    _link(r["due"], items_url(scope, team=team, extra=_due_params(scope))),
                    _link(
                        r["done_on_time"],
                        items_url(scope, team=team, extra=[*_due_dates(scope), ("on_time", "true")]),
                    ),
                    Cell(r["completion_rate"], fmt_rate(r["completion_rate"])),
                    _link(r["open"], items_url(scope, team=team, extra=OPEN_STATUS_PARAMS)),
                    _link(r["overdue"], items_url(scope, team=team, extra=[("overdue", "true")])),
                    Cell(r["median_open_age_days"], fmt_days(r["median_open_age_days"])),
                    _link(r["closed"], items_url(scope, team=team, extra=_closed_params(scope))),
                    Cell(r["median_days_to_close"], fmt_days(r["median_days_to_close"])),
                ]
            )
        chart = {
            "kind": "bar",
            "labels": [t.name for t in teams],
            "datasets": [
                {
                    "label": "Completion rate",
                    "data": [
                        None
                        if per_team[t.pk]["completion_rate"] is None
                        else round(per_team[t.pk]["completion_rate"] * 100, 1)
                        for t in teams
                    ],
                    "color": "#18794e",
                }
            ],
            "yTitle": "% done by the due date",
            "format": "percent",
            "max": 100,
        }
        title = "Action-item follow-through per team"
    else:
        rows = selectors.cached(scope, selectors.follow_through_by_month)
        table = Table(
            ["Due month", "Due", "Done on time", "Done late", "Still open", "Not doing", "Completion rate"]
        )
        for row in rows:
            month, end = row["month"], _month_end(row["month"])
            due, dates = _due_params(scope, month, end), _due_dates(scope, month, end)
            rate = row["done_on_time"] / row["due"] if row["due"] else None
            table.rows.append(
                [
                    Cell(month.strftime("%Y-%m"), month.strftime("%b %Y")),
                    _link(row["due"], items_url(scope, extra=due)),
                    _link(row["done_on_time"], items_url(scope, extra=[*dates, ("on_time", "true")])),
                    _link(
                        row["done_late"],
                        items_url(scope, extra=[*dates, ("status", "done"), ("on_time", "false")]),
                    ),
                    _link(row["not_done"], items_url(scope, extra=[*dates, *OPEN_STATUS_PARAMS])),
                    Cell(row["not_doing"]),
                    Cell(None if rate is None else round(rate, 4), fmt_rate(rate)),
                ]
            )
        chart = {
            "kind": "bar",
            "stacked": True,
            "labels": [r["month"].strftime("%b %Y") for r in rows],
            "datasets": [
                {
                    "label": "Done by the due date",
                    "data": [r["done_on_time"] for r in rows],
                    "color": "#18794e",
                },
                {"label": "Done late", "data": [r["done_late"] for r in rows], "color": "#e9b500"},
                {"label": "Still open", "data": [r["not_done"] for r in rows], "color": "#b42318"},
            ],
            "yTitle": "action items due",
            "format": "count",
        }
        title = "Action-item follow-through by due month"
    return Figure(
        "follow-through",
        title,
        d["follow_through_by_month"] if scope.team else d["follow_through_per_team"],
        table,
        chart,
        tiles=_follow_tiles(scope, overall),
    )


def review_figure(scope: InsightsScope) -> Figure:
    """Review timeliness: tiles for the scope, then per team (organisation) or per month (team)."""
    d = definitions()
    overall = selectors.cached(scope, selectors.review_timeliness)
    by = "month" if scope.team else "team"
    result = selectors.cached(scope, selectors.review_timeliness, by=by)
    first = ["Month"] if scope.team else ["Team", "Target (business days)"]
    table = Table(
        [
            *first,
            "Reviewed",
            "Median days",
            "p90 days",
            "Within target",
            "Late",
            "Pending",
            "Review date unknown",
            "Without resolution",
            "Share within target",
        ]
    )
    labels = []
    rows = list(result["rows"].items())
    for key, r in rows:
        if scope.team:
            month, end = key, _month_end(key)
            labels.append(month.strftime("%b %Y"))
            head = [Cell(month.strftime("%Y-%m"), month.strftime("%b %Y"))]
            link_team, start = None, month
        else:
            team = next(t for t in scope.teams() if t.pk == key)
            labels.append(team.name)
            head = [
                Cell(team.slug, team.name, reverse("insights:team", kwargs={"slug": team.slug})),
                Cell(r["target_business_days"]),
            ]
            link_team, start, end = team, None, None
        table.rows.append(
            [
                *head,
                _link(
                    r["reviewed"],
                    postmortems_url(scope, start=start, end=end, team=link_team, extra=REVIEWED_PARAMS),
                ),
                Cell(r["median_days"], fmt_days(r["median_days"])),
                Cell(r["p90_days"], fmt_days(r["p90_days"])),
                Cell(r["within_target"]),
                Cell(r["late"]),
                Cell(r["pending"]),
                Cell(r["date_unknown"]),
                Cell(r["unresolved"]),
                Cell(r["share_within_target"], fmt_rate(r["share_within_target"])),
            ]
        )
    chart = {
        "kind": "bar",
        "stacked": True,
        "labels": labels,
        "datasets": [
            {
                "label": "Reviewed within target",
                "data": [r["within_target"] for _, r in rows],
                "color": "#18794e",
            },
            {"label": "Late", "data": [r["late"] for _, r in rows], "color": "#b42318"},
            {
                "label": "Pending (target not passed)",
                "data": [r["pending"] for _, r in rows],
                "color": "#c4ccd6",
            },
            {
                "label": "Review date unknown",
                "data": [r["date_unknown"] for _, r in rows],
                "color": "#b9a6e0",
            },
        ],
        "yTitle": "resolved post-mortems",
        "format": "count",
    }
    o = overall["rows"][None]
    tiles = [
        {
            "label": "Days from resolution to review",
            "value": fmt_days(o["median_days"]),
            "detail": f"median; 90th percentile {fmt_days(o['p90_days'])}; {o['reviewed']} reviewed",
            "definition": d["review_days"],
            "href": postmortems_url(scope, extra=REVIEWED_PARAMS),
        },
        {
            "label": "Reviewed within target",
            "value": fmt_rate(o["share_within_target"]),
            "detail": f"{o['within_target']} within, {o['late']} late, {o['pending']} pending",
            "definition": d["review_within_target"],
            "href": postmortems_url(scope),
        },
    ]
    return Figure(
        "review-timeliness",
        "Review timeliness",
        d["review_chart"],
        table,
        chart,
        note=f"Review date — {overall['source']}.",
        tiles=tiles,
    )


def quality_budget_figure(scope: InsightsScope) -> Figure:
    """Each team's quality budget today, within or breached, with the overdue items behind it."""
    budget = selectors.cached(scope, selectors.quality_budget)
    table = Table(
        [
            "Team",
            "Overdue",
            "SEV1/SEV2 past grace",
            "Oldest overdue (days)",
            "Ceiling",
            "Grace (days)",
            "Budget",
        ],
        numeric_from=1,
    )
    for team in scope.teams():
        r = budget[team.pk]
        severe_due_to = (scope.today - dt.timedelta(days=r["severe_grace_days"] + 1)).isoformat()
        severe_params = [
            ("overdue", "true"),
            ("severity", "SEV1"),
            ("severity", "SEV2"),
            ("due_to", severe_due_to),
        ]
        table.rows.append(
            [
                Cell(team.slug, team.name, reverse("insights:team", kwargs={"slug": team.slug})),
                _link(r["overdue"], items_url(scope, team=team, extra=[("overdue", "true")])),
                _link(r["severe_overdue"], items_url(scope, team=team, extra=severe_params)),
                Cell(
                    r["oldest_overdue_days"],
                    "—" if r["oldest_overdue_days"] is None else str(r["oldest_overdue_days"]),
                ),
                Cell(r["max_overdue"]),
                Cell(r["severe_grace_days"]),
                Cell(
                    "within" if r["within"] else "breached",
                    "Within" if r["within"] else "Breached",
                    css="budget-within" if r["within"] else "budget-breached",
                ),
            ]
        )
    return Figure("quality-budget", "Quality budget", definitions()["quality_budget"], table)


def followup_figure(scope: InsightsScope) -> Figure:
    """Open action items past their follow-up window per team, or "not available"."""
    result = selectors.cached(scope, selectors.followup_windows)
    d = definitions()["followup_windows"]
    if not result["available"]:
        return Figure(
            "follow-up-windows",
            "Past the follow-up window",
            d,
            available=False,
            note="Not available: the follow-through app (follow-up policies) is not installed.",
        )
    table = Table(["Team", "Open items past their window"])
    for team in scope.teams():
        n = result["rows"][team.pk]["open_past_window"]
        table.rows.append(
            [
                Cell(team.slug, team.name, _maybe_reverse("followthrough:team_policy", slug=team.slug)),
                _link(n, items_url(scope, team=team, extra=[("past_window", "true")])),
            ]
        )
    return Figure("follow-up-windows", "Past the follow-up window", d, table)


def dod_figure(scope: InsightsScope) -> Figure:
    """Definition-of-Done versions and proposals per team and organisation, or "not available"."""
    result = selectors.cached(scope, selectors.dod_activity)
    d = definitions()["definition_of_done"]
    if not result["available"]:
        return Figure(
            "definition-of-done",
            "Definition of Done",
            d,
            available=False,
            note="Not available: the Definition-of-Done capability (patterns app) is not installed.",
        )
    table = Table(
        [
            "Definition of Done",
            "Current version",
            "Versions in range",
            "Open proposals",
            "Proposals opened",
            "Accepted",
            "Rejected",
        ]
    )
    teams = {t.pk: t for t in scope.teams()}
    inbox = _maybe_reverse("patterns:inbox")
    for key in [None, *teams]:
        r = result["rows"].get(key)
        if r is None:
            continue
        team = teams.get(key)
        href = (
            _maybe_reverse("patterns:team_dod", slug=team.slug)
            if team
            else _maybe_reverse("patterns:org_dod")
        )
        open_href = None
        if inbox:
            which = {"team": team.slug} if team else {"scope": "org"}
            open_href = f"{inbox}?{urlencode({'status': 'open', 'all': '1', **which})}"
        table.rows.append(
            [
                Cell(team.slug if team else "organisation", team.name if team else "Organisation", href),
                Cell(
                    r["current_version"], "—" if r["current_version"] is None else f"v{r['current_version']}"
                ),
                _link(r["versions_in_range"], href),
                _link(r["open_proposals"], open_href),
                Cell(r["proposals_opened"]),
                Cell(r["accepted"]),
                Cell(r["rejected"]),
            ]
        )
    return Figure("definition-of-done", "Definition-of-Done changes and proposals", d, table)


def teams_figure(scope: InsightsScope) -> Figure:
    """The organisation page's side-by-side table, with post-mortems per team by severity."""
    teams = scope.teams()
    counts = selectors.cached(scope, selectors.team_postmortem_counts)
    follow = selectors.cached(scope, selectors.follow_through, by_team=True)
    review = selectors.cached(scope, selectors.review_timeliness, by="team")["rows"]
    budget = selectors.cached(scope, selectors.quality_budget)
    windows = selectors.cached(scope, selectors.followup_windows)
    dod = selectors.cached(scope, selectors.dod_activity)
    columns = [
        "Team",
        "Post-mortems",
        "SEV1/SEV2",
        "Completion rate",
        "Open items",
        "Overdue",
        "Median age of open (days)",
        "Median days to review",
        "Reviewed within target",
        "Quality budget",
    ]
    if windows["available"]:
        columns.append("Past follow-up window")
    if dod["available"]:
        columns.append("Open DoD proposals")
    table = Table(columns)
    for team in teams:
        c = counts.get(team.pk, {"postmortems": 0, "severe": 0})
        f, r, b = follow[team.pk], review[team.pk], budget[team.pk]
        row = [
            Cell(team.slug, team.name, reverse("insights:team", kwargs={"slug": team.slug})),
            _link(c["postmortems"], postmortems_url(scope, team=team)),
            _link(c["severe"], postmortems_url(scope, team=team, extra=[("severity", s) for s in SEVERE])),
            Cell(f["completion_rate"], fmt_rate(f["completion_rate"])),
            _link(f["open"], items_url(scope, team=team, extra=OPEN_STATUS_PARAMS)),
            _link(f["overdue"], items_url(scope, team=team, extra=[("overdue", "true")])),
            Cell(f["median_open_age_days"], fmt_days(f["median_open_age_days"])),
            Cell(r["median_days"], fmt_days(r["median_days"])),
            Cell(r["share_within_target"], fmt_rate(r["share_within_target"])),
            Cell(
                "within" if b["within"] else "breached",
                "Within" if b["within"] else "Breached",
                css="budget-within" if b["within"] else "budget-breached",
            ),
        ]
        if windows["available"]:
            n = windows["rows"][team.pk]["open_past_window"]
            row.append(_link(n, items_url(scope, team=team, extra=[("past_window", "true")])))
        if dod["available"]:
            row.append(Cell(dod["rows"].get(team.pk, {}).get("open_proposals", 0)))
        table.rows.append(row)
    return Figure("teams", "Teams side by side", definitions()["teams"], table)


def team_severity_figure(scope: InsightsScope) -> Figure:
    """Post-mortems per team by severity in the range (organisation page chart)."""
    teams = scope.teams()
    per_team = selectors.cached(scope, selectors.team_postmortem_counts)
    counts: dict[tuple[int, str], int] = {
        (team_id, key): row[key] for team_id, row in per_team.items() for key in [*SEVERITIES, UNRATED]
    }
    table = Table(["Team", *SEVERITIES, "Unrated", "Total"])
    for team in teams:
        values = [counts.get((team.pk, s), 0) for s in [*SEVERITIES, UNRATED]]
        table.rows.append(
            [
                Cell(team.slug, team.name, reverse("insights:team", kwargs={"slug": team.slug})),
                *[
                    _link(v, postmortems_url(scope, team=team, extra=[("severity", s)]))
                    for v, s in zip(values[:-1], SEVERITIES, strict=True)
                ],
                Cell(values[-1]),
                _link(sum(values), postmortems_url(scope, team=team)),
            ]
        )
    chart = {
        "kind": "bar",
        "stacked": True,
        "horizontal": True,
        "labels": [t.name for t in teams],
        "datasets": [
            {
                "label": label,
                "data": [counts.get((t.pk, key), 0) for t in teams],
                "color": SEVERITY_COLOURS[key],
            }
            for key, label in [*((s, s) for s in SEVERITIES), (UNRATED, "Unrated")]
        ],
        "xTitle": "post-mortems in the range",
        "format": "count",
    }
    return Figure(
        "postmortems-per-team",
        "Post-mortems per team by severity",
        "Post-mortems whose incident started in the range, per team and severity.",
        table,
        chart,
    )


# --- person page ----------------------------------------------------------------------------------


def my_figures(scope: InsightsScope, work: selectors.MyWork) -> list[Figure]:
    """The person page's two charts (my open items by due date, post-mortems I author by status)."""
    d = definitions()
    c = work.counts
    buckets = [
        ("Overdue more than 7 days", c["overdue_over_week"], "#b42318"),
        ("Overdue up to 7 days", c["overdue"] - c["overdue_over_week"], "#e0590b"),
        ("Due in the next 7 days", c["due_this_week"], "#e9b500"),
        ("Due later", c["due_later"], "#2557d6"),
    ]
    items = Table(["Due", "Action items"], rows=[[Cell(label), Cell(n)] for label, n, _ in buckets])
    items_chart = {
        "kind": "bar",
        "horizontal": True,
        "labels": [b[0] for b in buckets],
        "datasets": [
            {
                "label": "My open action items",
                "data": [b[1] for b in buckets],
                "colors": [b[2] for b in buckets],
            }
        ],
        "xTitle": "action items",
        "format": "count",
    }
    statuses = PostMortem.Status.choices
    authored = Table(
        ["Status", "Post-mortems"],
        rows=[[Cell(value, label), Cell(work.authored_by_status[value])] for value, label in statuses],
    )
    authored_chart = {
        "kind": "bar",
        "labels": [label for _, label in statuses],
        "datasets": [
            {
                "label": "Post-mortems I author",
                "data": [work.authored_by_status[v] for v, _ in statuses],
                "colors": ["#9aa5b1", "#e9b500", "#2557d6", "#18794e"],
            }
        ],
        "yTitle": "post-mortems",
        "format": "count",
    }
    tiles = [
        {
            "label": "Overdue",
            "value": c["overdue"],
            "definition": d["overdue_items"],
            "href": "#my-overdue",
            "alert": c["overdue"] > 0,
        },
        {"label": "Open", "value": c["open"], "definition": d["open_items"], "href": "#my-open"},
        {
            "label": "My completion rate",
            "value": fmt_rate(work.completion_rate),
            "detail": f"{c['done_on_time']} of {c['due']} on time",
            "definition": d["my_completion_rate"],
            "href": reverse("postmortems:my_action_items"),
        },
        {
            "label": "Reviews to facilitate",
            "value": len(work.facilitate),
            "definition": d["my_reviews"],
            "href": "#my-reviews",
        },
        {
            "label": "Post-mortems I author",
            "value": len(work.authored),
            "definition": d["my_postmortems"],
            "href": "#my-postmortems",
        },
    ]
    return [
        Figure(
            "my-open-items",
            "My open action items by due date",
            d["my_open_items"],
            items,
            items_chart,
            tiles=tiles,
        ),
        Figure(
            "my-postmortems",
            "Post-mortems I author, by status",
            d["my_postmortems"],
            authored,
            authored_chart,
        ),
    ]


ORG_FIGURES: dict[str, Callable[[InsightsScope], Figure]] = {
    "teams": teams_figure,
    "postmortems-per-team": team_severity_figure,
    "severity-by-month": severity_figure,
    "factors-by-quarter": factors_figure,
    "follow-through": follow_through_figure,
    "durations-by-service": durations_figure,
    "review-timeliness": review_figure,
    "quality-budget": quality_budget_figure,
    "follow-up-windows": followup_figure,
    "definition-of-done": dod_figure,
}
TEAM_FIGURES: dict[str, Callable[[InsightsScope], Figure]] = {
    "severity-by-month": severity_figure,
    "factors-by-quarter": factors_figure,
    "follow-through": follow_through_figure,
    "durations-by-service": durations_figure,
    "review-timeliness": review_figure,
    "quality-budget": quality_budget_figure,
    "follow-up-windows": followup_figure,
    "definition-of-done": dod_figure,
}
