"""Organisation-level figures: Definition-of-Done activity and the teams side by side."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse

from insights import selectors
from insights.figures.base import (
    OPEN_STATUS_PARAMS,
    Cell,
    Figure,
    Table,
    fmt_days,
    fmt_rate,
    items_url,
    link,
    maybe_reverse,
    postmortems_url,
)
from insights.figures.definitions import definitions
from insights.selectors import SEVERE, InsightsScope


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
    inbox = maybe_reverse("patterns:inbox")
    for key in [None, *teams]:
        r = result["rows"].get(key)
        if r is None:
            continue
        team = teams.get(key)
        href = (
            maybe_reverse("patterns:team_dod", slug=team.slug) if team else maybe_reverse("patterns:org_dod")
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
                link(r["versions_in_range"], href),
                link(r["open_proposals"], open_href),
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
            link(c["postmortems"], postmortems_url(scope, team=team)),
            link(c["severe"], postmortems_url(scope, team=team, extra=[("severity", s) for s in SEVERE])),
            Cell(f["completion_rate"], fmt_rate(f["completion_rate"])),
            link(f["open"], items_url(scope, team=team, extra=OPEN_STATUS_PARAMS)),
            link(f["overdue"], items_url(scope, team=team, extra=[("overdue", "true")])),
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
            row.append(link(n, items_url(scope, team=team, extra=[("past_window", "true")])))
        if dod["available"]:
            row.append(Cell(dod["rows"].get(team.pk, {}).get("open_proposals", 0)))
        table.rows.append(row)
    return Figure("teams", "Teams side by side", definitions()["teams"], table)
