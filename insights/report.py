"""The insights figures as one JSON-able document (``GET /api/v1/insights/``).

The same selectors and definitions as the pages, so the API and the pages
always agree; dates are ISO strings, months ``YYYY-MM``, quarters ``YYYY-Qn``.
"""

from __future__ import annotations

from typing import Any

from insights import selectors
from insights.figures import definitions
from insights.selectors import InsightsScope, cached


def _quarter(day) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def insights_report(scope: InsightsScope) -> dict[str, Any]:
    """Every figure of ``scope`` with its definition; see ``InsightsSerializer`` for the shape."""
    teams = scope.teams()
    months = selectors.cached(scope, selectors.severity_by_month)
    factors = selectors.cached(scope, selectors.factors_by_quarter)
    # Per team first: the organisation's row comes with it (see the selectors).
    follow_by_team = cached(scope, selectors.follow_through, by_team=True)
    follow = cached(scope, selectors.follow_through)
    review_by_team = cached(scope, selectors.review_timeliness, by="team")["rows"]
    review = cached(scope, selectors.review_timeliness)
    budget = cached(scope, selectors.quality_budget)
    windows = cached(scope, selectors.followup_windows)
    dod = cached(scope, selectors.dod_activity)
    counts = cached(scope, selectors.team_postmortem_counts)

    def dod_row(key):
        return dod["rows"].get(key) if dod["available"] else None

    return {
        "team": scope.team.slug if scope.team else None,
        "from": scope.start,
        "to": scope.end,
        "today": scope.today,
        "definitions": definitions(),
        "review_date_source": review["source"],
        "undated_postmortems": selectors.cached(scope, selectors.undated_postmortems),
        "postmortems_by_month": [{**row, "month": row["month"].strftime("%Y-%m")} for row in months],
        "factors_by_quarter": {
            "quarters": [_quarter(q) for q in factors["quarters"]],
            "factors": factors["factors"],
        },
        "incident_durations": selectors.cached(scope, selectors.durations_by_service),
        "follow_through": follow,
        "follow_through_by_month": [
            {**row, "month": row["month"].strftime("%Y-%m")}
            for row in selectors.cached(scope, selectors.follow_through_by_month)
        ],
        "review_timeliness": review["rows"][None],
        "quality_budget": [{"team": t.slug, **budget[t.pk]} for t in teams],
        "definition_of_done": {
            "available": dod["available"],
            "organisation": dod_row(None),
            "teams": [{"team": t.slug, **dod_row(t.pk)} for t in teams] if dod["available"] else [],
        },
        "follow_up_windows": {
            "available": windows["available"],
            "teams": [{"team": t.slug, **windows["rows"][t.pk]} for t in teams]
            if windows["available"]
            else [],
        },
        "teams": [
            {
                "team": t.slug,
                "name": t.name,
                "postmortems": counts.get(t.pk, {}).get("postmortems", 0),
                "severe": counts.get(t.pk, {}).get("severe", 0),
                "follow_through": follow_by_team[t.pk],
                "review_timeliness": review_by_team[t.pk],
                "quality_budget": budget[t.pk],
                "open_past_window": windows["rows"][t.pk]["open_past_window"]
                if windows["available"]
                else None,
                "definition_of_done": dod_row(t.pk),
            }
            for t in teams
        ],
    }
