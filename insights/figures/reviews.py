"""The review-timeliness figure: tiles, then per team (organisation) or per month (team)."""

from __future__ import annotations

from django.urls import reverse

from insights import selectors
from insights.figures.base import (
    REVIEWED_PARAMS,
    Cell,
    Figure,
    Table,
    fmt_days,
    fmt_rate,
    link,
    month_end,
    postmortems_url,
)
from insights.figures.definitions import definitions
from insights.selectors import InsightsScope


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
            month, end = key, month_end(key)
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
                link(
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
