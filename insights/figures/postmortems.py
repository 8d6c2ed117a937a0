"""Post-mortem figures: per month by severity, factors per quarter, per team by
severity, and time to detect, mitigate and resolve per service."""

from __future__ import annotations

from django.urls import reverse

from insights import selectors
from insights.figures.base import (
    SEVERITY_COLOURS,
    Cell,
    Figure,
    Table,
    fmt_minutes,
    link,
    month_end,
    postmortems_url,
    quarter_end,
)
from insights.figures.definitions import definitions
from insights.selectors import SEVERITIES, UNRATED, InsightsScope


def severity_figure(scope: InsightsScope) -> Figure:
    """Post-mortems per month by severity: stacked bars, cells link to the list by month and severity."""
    rows = selectors.cached(scope, selectors.severity_by_month)
    table = Table(["Month", *SEVERITIES, "Unrated", "Total"])
    for row in rows:
        month, end = row["month"], month_end(row["month"])
        cells = [Cell(month.strftime("%Y-%m"), month.strftime("%b %Y"))]
        for severity in SEVERITIES:
            href = postmortems_url(scope, start=month, end=end, extra=[("severity", severity)])
            cells.append(link(row[severity], href))
        cells.append(Cell(row[UNRATED]))  # the list page has no "no severity" filter
        cells.append(link(row["total"], postmortems_url(scope, start=month, end=end)))
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
        + (" (part)" if q < scope.start or quarter_end(q) > scope.end else "")
        for q in quarters
    ]
    table = Table(["Contributing factor", *labels, "Total"])
    cells = []
    for factor in result["factors"]:
        row = [Cell(factor["slug"], factor["name"])]
        for quarter, count in zip(quarters, factor["counts"], strict=True):
            href = postmortems_url(
                scope, start=quarter, end=quarter_end(quarter), extra=[("factor", factor["slug"])]
            )
            row.append(link(count, href, css=f"heat heat-{min(count, 5)}"))
        row.append(link(factor["total"], postmortems_url(scope, extra=[("factor", factor["slug"])])))
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
                    link(v, postmortems_url(scope, team=team, extra=[("severity", s)]))
                    for v, s in zip(values[:-1], SEVERITIES, strict=True)
                ],
                Cell(values[-1]),
                link(sum(values), postmortems_url(scope, team=team)),
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
