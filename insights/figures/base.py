"""What a figure is made of — a ``Table`` of ``Cell``s (rendered as HTML and
written as CSV, so chart, table and download never disagree), chart data and
tiles — and the formatting and list links its cells use."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.urls import NoReverseMatch, reverse

from insights.selectors import UNRATED, InsightsScope
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
    """A figure's table: ``columns`` (header texts) and ``rows`` of ``Cell``s."""

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
    """``4.83`` → "4.8 d"; None → "—"."""
    return "—" if days is None else f"{days:.1f} d"


def fmt_rate(rate: float | None) -> str:
    """``0.2857`` → "29%"; None → "—"."""
    return "—" if rate is None else f"{rate * 100:.0f}%"


def build_url(name: str, params: list[tuple[str, Any]]) -> str:
    """``reverse(name)`` with the non-empty ``params`` as its query string."""
    query = urlencode([(k, v) for k, v in params if v not in (None, "")])
    return reverse(name) + (f"?{query}" if query else "")


def maybe_reverse(name: str, **kwargs) -> str | None:
    """``reverse(name, kwargs)``, or None when the route does not exist (app not installed)."""
    try:
        return reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:
        return None


def team_params(scope: InsightsScope, team: Team | None = None) -> list[tuple[str, str]]:
    """``[("team", slug)]`` of ``team`` (default: the scope's), or ``[]``."""
    team = team or scope.team
    return [("team", team.slug)] if team else []


def postmortems_url(scope: InsightsScope, *, start=None, end=None, team=None, extra=()) -> str:
    """The post-mortem list filtered to what a cell counts (started in the range)."""
    start, end = max(start or scope.start, scope.start), min(end or scope.end, scope.end)
    return build_url(
        "postmortems:list",
        [
            *team_params(scope, team),
            *extra,
            ("started_from", start.isoformat()),
            ("started_to", end.isoformat()),
        ],
    )


def items_url(scope: InsightsScope, *, team=None, extra=()) -> str:
    """The insights action-item list filtered to what a cell counts."""
    return build_url("insights:action_items", [*team_params(scope, team), *extra])


def month_end(month: dt.date) -> dt.date:
    """The last day of ``month``'s month."""
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def quarter_end(quarter: dt.date) -> dt.date:
    """The last day of the quarter starting on ``quarter``."""
    return month_end(quarter.replace(month=quarter.month + 2))


NOT_DECLINED_PARAMS = [*OPEN_STATUS_PARAMS, ("status", ActionItem.Status.DONE)]


def due_dates(scope: InsightsScope, start=None, end=None) -> list[tuple[str, str]]:
    """Due dates the completion rate counts (in the range, passed), within a month when given."""
    start, end = max(start or scope.start, scope.start), min(end or scope.due_end, scope.due_end)
    return [("due_from", start.isoformat()), ("due_to", end.isoformat())]


def due_params(scope: InsightsScope, start=None, end=None) -> list[tuple[str, str]]:
    """The completion rate's denominator: due in the range and passed, not "not doing"."""
    return [*due_dates(scope, start, end), *NOT_DECLINED_PARAMS]


def closed_params(scope: InsightsScope) -> list[tuple[str, str]]:
    """List parameters of the items done in the range (median time to close)."""
    return [
        ("status", ActionItem.Status.DONE),
        ("completed_from", scope.start.isoformat()),
        ("completed_to", scope.end.isoformat()),
    ]


def link(value, href, text=None, css="") -> Cell:
    """A ``Cell`` that links to ``href`` unless ``value`` is 0 or empty."""
    return Cell(value, text, href if value else None, css)
