"""Post-mortem counts (per month and severity, per factor and quarter, per team)
and the time to detect, mitigate and resolve per service."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Value
from django.db.models.functions import TruncMonth, TruncQuarter

from insights.db import TOTAL, Percentiles, SecondsBetween, grouped_stats
from insights.selectors.reviews import postmortem_table
from insights.selectors.scope import (
    DURATION_MEASURES,
    SEVERITIES,
    UNRATED,
    InsightsScope,
    as_date,
    month_starts,
    postmortems_in_scope,
    quarter_of,
    quarter_starts,
    round_or_none,
)
from postmortems.models import ContributingFactor, Service


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
        month = rows.get(as_date(row["month"]))
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
        position = index.get(as_date(row["quarter"]))
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
    table = postmortem_table(scope, method=method)
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
                        "median_minutes": round_or_none(row.get(f"{name}_p50")),
                        "p90_minutes": round_or_none(row.get(f"{name}_p90")),
                    }
                    for name, _ in DURATION_MEASURES
                },
            }
        )
    rows.sort(key=lambda r: (r["service"] is None, -r["postmortems"], r["name"]))
    return rows
