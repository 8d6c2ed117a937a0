"""The insights figures as people see them: a title, a one-line definition, a
table whose cells link to the post-mortems or action items behind them, and the
data of a chart drawn from the same numbers (``static/insights/insights.js``).

The same ``Table`` is rendered as HTML and written as CSV, so the chart, the
table and the download can never disagree. Numbers come from
``insights.selectors``; nothing here queries rows.

Modules, by figure family: ``base`` (cells, tables, formatting, links),
``definitions``, ``postmortems``, ``action_items``, ``reviews``,
``organisation`` (DoD, teams side by side) and ``person`` ("my work").
``ORG_FIGURES`` and ``TEAM_FIGURES`` list each page's figures in order.
"""

from __future__ import annotations

from collections.abc import Callable

from insights.figures.action_items import follow_through_figure, followup_figure, quality_budget_figure
from insights.figures.base import (
    Cell,
    Figure,
    Table,
    fmt_days,
    fmt_minutes,
    fmt_rate,
    items_url,
    postmortems_url,
)
from insights.figures.definitions import definitions
from insights.figures.organisation import dod_figure, teams_figure
from insights.figures.person import my_figures
from insights.figures.postmortems import (
    durations_figure,
    factors_figure,
    severity_figure,
    team_severity_figure,
)
from insights.figures.reviews import review_figure
from insights.selectors import InsightsScope

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

__all__ = [
    "ORG_FIGURES",
    "TEAM_FIGURES",
    "Cell",
    "Figure",
    "Table",
    "definitions",
    "fmt_days",
    "fmt_minutes",
    "fmt_rate",
    "items_url",
    "my_figures",
    "postmortems_url",
]
