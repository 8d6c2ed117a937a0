"""The quarterly quality retro of a team: what kept going wrong, what is
trending, what was decided about the Definition of Done, and what is overdue.

A quality retro looks at a quarter's post-mortems together instead of one at a
time (the "learning review" of Google's SRE workbook, chapter 10, "Postmortem
Culture: Learning from Failure", which recommends reviewing post-mortems in
aggregate to find themes). Quarters are calendar quarters in the server's time
zone (``TIME_ZONE``); an incident belongs to the quarter its start falls in, and
copies of one incident count once (``patterns.incidents``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone

from patterns.incidents import normalise_source_url, source_collection
from patterns.models import DefinitionOfDone, DoDProposal, DoDVersion, Scope
from patterns.windows import Incident, dedupe
from postmortems.models import ActionItem, ContributingFactor, PostMortem, Team
from postmortems.selectors import action_items_overdue

_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
TOP_FACTORS = 10


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter, e.g. ``Quarter(2026, 3)`` = July–September 2026."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """``"2026-Q3"`` or ``"2026Q3"`` → ``Quarter(2026, 3)``.

        Raises:
            ValueError: for anything else, or a year outside 1900–2999.
        """
        match = _QUARTER.match((text or "").strip())
        if not match or not 1900 <= int(match.group(1)) <= 2999:
            raise ValueError(f"Not a quarter: {text!r} (expected e.g. 2026-Q3).")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, moment: dt.datetime) -> Quarter:
        """The quarter of ``moment`` in the current time zone."""
        local = timezone.localtime(moment)
        return cls(local.year, (local.month - 1) // 3 + 1)

    @property
    def slug(self) -> str:
        return f"{self.year}-Q{self.number}"

    @property
    def label(self) -> str:
        return f"Q{self.number} {self.year}"

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, 3 * self.number - 2, 1)

    @property
    def start(self) -> dt.datetime:
        """First instant, aware, in the current time zone."""
        return timezone.make_aware(dt.datetime.combine(self.first_day, dt.time()))

    @property
    def end(self) -> dt.datetime:
        """First instant of the next quarter (exclusive end)."""
        return self.next().start

    @property
    def last_day(self) -> dt.date:
        return self.next().first_day - dt.timedelta(days=1)

    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)

    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)


@dataclass
class FactorCount:
    """A factor's incidents this quarter and the quarter before; ``delta`` = this − before."""

    factor: ContributingFactor
    count: int
    previous: int

    @property
    def delta(self) -> int:
        return self.count - self.previous


@dataclass
class RetroReport:
    """Everything the quarterly quality-retro page and its Markdown show."""

    team: Team
    quarter: Quarter
    incidents: int
    previous_incidents: int
    undated: int
    top_factors: list[FactorCount]
    trending_up: list[FactorCount]
    trending_down: list[FactorCount]
    open_proposals: list[DoDProposal]
    decided_proposals: list[DoDProposal]
    dod_changes: list[DoDVersion]
    overdue_items: list[ActionItem]
    postmortems: list[PostMortem] = field(default_factory=list)


def _factor_counts(team: Team, quarter: Quarter, user) -> tuple[Counter, int, list[PostMortem]]:
    """Incidents per factor id in the quarter (copies once), the incident count, and the
    post-mortems — of the documents ``user`` may read."""
    postmortems = list(
        PostMortem.objects.visible_to(user)
        .filter(team=team, started_at__gte=quarter.start, started_at__lt=quarter.end)
        .prefetch_related("factors")
        .order_by("started_at", "pk")
    )
    kept = dedupe(
        Incident.of(
            pm.started_at,
            pm.pk,
            team.pk,
            normalise_source_url(pm.source_url),
            source_collection(postmortem_id=pm.pk, external_id=pm.external_id),
        )
        for pm in postmortems
    )
    by_pk = {pm.pk: pm for pm in postmortems}
    counts: Counter = Counter()
    for incident in kept:
        for factor in by_pk[incident.postmortem_id].factors.all():
            counts[factor.pk] += 1
    return counts, len(kept), postmortems


def retro_report(*, team: Team, quarter: Quarter, user) -> RetroReport:
    """Build a team's quality-retro report for one quarter, as ``user`` may see it.

    Every figure and list is computed over the post-mortems ``user`` may read
    (``postmortems.access``; deleted ones never): a team member sees the whole
    team, an outsider the team's organisation documents only, so a restricted
    document leaks neither as a row nor as a number (issue 9).

    * top factors: the quarter's most frequent factors (incidents, not
      post-mortems; at most 10), with the previous quarter's count;
    * trending up / down: factors whose count rose / fell against the previous
      quarter, biggest change first;
    * proposals: the team's DoD proposals open now, and those decided in the quarter;
    * DoD changes: versions of the team's DoD made in the quarter;
    * overdue action items: open items of the team's post-mortems whose due
      date has passed (today), oldest due first.

    About ten queries, whatever the number of post-mortems.
    """
    now_counts, incidents, postmortems = _factor_counts(team, quarter, user)
    before_counts, previous_incidents, _ = _factor_counts(team, quarter.previous(), user)
    factors = ContributingFactor.objects.in_bulk(set(now_counts) | set(before_counts))
    rows = [FactorCount(factors[pk], now_counts.get(pk, 0), before_counts.get(pk, 0)) for pk in factors]
    top = sorted((r for r in rows if r.count), key=lambda r: (-r.count, r.factor.name))[:TOP_FACTORS]
    up = sorted((r for r in rows if r.delta > 0), key=lambda r: (-r.delta, r.factor.name))
    down = sorted((r for r in rows if r.delta < 0), key=lambda r: (r.delta, r.factor.name))
    proposals = DoDProposal.objects.filter(team=team).select_related("factor", "decided_by", "dod_version")
    dod = DefinitionOfDone.objects.filter(scope=Scope.TEAM, team=team).first()
    versions = (
        DoDVersion.objects.filter(dod=dod, created_at__gte=quarter.start, created_at__lt=quarter.end)
        .select_related("created_by")
        .order_by("number")
        if dod
        else DoDVersion.objects.none()
    )
    overdue = action_items_overdue(
        ActionItem.objects.visible_to(user)
        .filter(postmortem__team=team)
        .select_related("owner", "postmortem")
    ).order_by("due_date", "pk")
    undated = PostMortem.objects.visible_to(user).filter(team=team, started_at__isnull=True).count()
    return RetroReport(
        team=team,
        quarter=quarter,
        incidents=incidents,
        previous_incidents=previous_incidents,
        undated=undated,
        top_factors=top,
        trending_up=up,
        trending_down=down,
        open_proposals=list(proposals.filter(status=DoDProposal.Status.OPEN).order_by("-created_at")),
        decided_proposals=list(
            proposals.filter(~Q(status=DoDProposal.Status.OPEN))
            .filter(decided_at__gte=quarter.start, decided_at__lt=quarter.end)
            .order_by("decided_at")
        ),
        dod_changes=list(versions),
        overdue_items=list(overdue),
        postmortems=postmortems,
    )


def _md(text: str) -> str:
    """Inline text safe for a Markdown table cell or list item (one line, no pipes or HTML)."""
    return " ".join((text or "").split()).replace("|", "\\|").replace("<", "&lt;")


def retro_markdown(report: RetroReport, *, base_url: str = "") -> str:
    """The report as Markdown (the page's "Download Markdown")."""
    q = report.quarter
    lines = [
        f"# Quality retro: {_md(report.team.name)}, {q.label}",
        "",
        f"{q.first_day:%d %b %Y} – {q.last_day:%d %b %Y}. "
        f"{report.incidents} incident(s) this quarter, {report.previous_incidents} the quarter before"
        + (
            f"; {report.undated} post-mortem(s) without a start time are not counted."
            if report.undated
            else "."
        ),
        "",
        "## Top contributing factors",
        "",
    ]
    if report.top_factors:
        lines += ["| Factor | This quarter | Previous quarter | Change |", "|---|---:|---:|---:|"]
        lines += [
            f"| {_md(r.factor.name)} | {r.count} | {r.previous} | {r.delta:+d} |" for r in report.top_factors
        ]
    else:
        lines.append("No incidents with contributing factors this quarter.")
    for title, rows in (("Trending up", report.trending_up), ("Trending down", report.trending_down)):
        lines += ["", f"## {title}", ""]
        lines += [f"- {_md(r.factor.name)}: {r.previous} → {r.count} ({r.delta:+d})" for r in rows] or [
            "- None."
        ]
    lines += ["", "## Open DoD proposals", ""]
    lines += [
        f"- #{p.pk} {_md(p.factor.name)} ({p.get_kind_display()}): {_md(p.suggested_text)}"
        for p in report.open_proposals
    ] or ["- None."]
    lines += ["", "## DoD proposals decided this quarter", ""]
    for p in report.decided_proposals:
        when = timezone.localtime(p.decided_at).strftime("%d %b %Y")
        if p.status == DoDProposal.Status.ACCEPTED:
            version = f", version {p.dod_version.number}" if p.dod_version_id else ""
            lines.append(f"- #{p.pk} {_md(p.factor.name)}: accepted {when}{version}: {_md(p.accepted_text)}")
        else:
            lines.append(f"- #{p.pk} {_md(p.factor.name)}: rejected {when}: {_md(p.reason)}")
    if not report.decided_proposals:
        lines.append("- None.")
    lines += ["", "## Definition of Done changes", ""]
    lines += [
        f"- Version {v.number}, {timezone.localtime(v.created_at):%d %b %Y}"
        f"{' by ' + _md(v.created_by.get_username()) if v.created_by else ''}: {_md(v.reason)}"
        for v in report.dod_changes
    ] or ["- None."]
    lines += ["", "## Overdue action items", ""]
    lines += [
        f"- {item.key} ({item.postmortem.key}, due {item.due_date:%d %b %Y}, "
        f"{_md(item.owner.get_username())}): {_md(item.text)}"
        for item in report.overdue_items
    ] or ["- None."]
    if base_url:
        lines += ["", f"<{base_url}>"]
    return "\n".join(lines) + "\n"
