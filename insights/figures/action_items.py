"""Action-item figures: follow-through (tiles, per team or per due month), the
quality budget and follow-up windows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse

from insights import selectors
from insights.figures.base import (
    OPEN_STATUS_PARAMS,
    Cell,
    Figure,
    Table,
    closed_params,
    due_dates,
    due_params,
    fmt_days,
    fmt_rate,
    items_url,
    link,
    maybe_reverse,
    month_end,
)
from insights.figures.definitions import definitions
from insights.selectors import InsightsScope


def _follow_tiles(scope: InsightsScope, row: dict[str, Any]) -> list[dict[str, Any]]:
    d = definitions()
    return [
        {
            "label": "Completion rate",
            "value": fmt_rate(row["completion_rate"]),
            "detail": f"{row['done_on_time']} of {row['due']} on time",
            "definition": d["completion_rate"],
            "href": items_url(scope, extra=due_params(scope)),
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
            "href": items_url(scope, extra=closed_params(scope)),
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
                    link(r["due"], items_url(scope, team=team, extra=due_params(scope))),
                    link(
                        r["done_on_time"],
                        items_url(scope, team=team, extra=[*due_dates(scope), ("on_time", "true")]),
                    ),
                    Cell(r["completion_rate"], fmt_rate(r["completion_rate"])),
                    link(r["open"], items_url(scope, team=team, extra=OPEN_STATUS_PARAMS)),
                    link(r["overdue"], items_url(scope, team=team, extra=[("overdue", "true")])),
                    Cell(r["median_open_age_days"], fmt_days(r["median_open_age_days"])),
                    link(r["closed"], items_url(scope, team=team, extra=closed_params(scope))),
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
            month, end = row["month"], month_end(row["month"])
            due, dates = due_params(scope, month, end), due_dates(scope, month, end)
            rate = row["done_on_time"] / row["due"] if row["due"] else None
            table.rows.append(
                [
                    Cell(month.strftime("%Y-%m"), month.strftime("%b %Y")),
                    link(row["due"], items_url(scope, extra=due)),
                    link(row["done_on_time"], items_url(scope, extra=[*dates, ("on_time", "true")])),
                    link(
                        row["done_late"],
                        items_url(scope, extra=[*dates, ("status", "done"), ("on_time", "false")]),
                    ),
                    link(row["not_done"], items_url(scope, extra=[*dates, *OPEN_STATUS_PARAMS])),
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
                link(r["overdue"], items_url(scope, team=team, extra=[("overdue", "true")])),
                link(r["severe_overdue"], items_url(scope, team=team, extra=severe_params)),
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
                Cell(team.slug, team.name, maybe_reverse("followthrough:team_policy", slug=team.slug)),
                link(n, items_url(scope, team=team, extra=[("past_window", "true")])),
            ]
        )
    return Figure("follow-up-windows", "Past the follow-up window", d, table)
