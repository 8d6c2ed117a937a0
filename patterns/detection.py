"""Pattern detection: recurring contributing factors become DoD proposals.

``detect_patterns`` is the one entry point; the management command
``detect_patterns``, the Celery tasks (nightly and after a post-mortem is
saved) and the API's "run detection" all call it.

How it works, and where the work is done:

1. **One ordered scan, in the database.** A single query joins the factor
   links to the dated post-mortems, filters them (factors, team), turns start
   times into integer microseconds and sorts by (factor, start, id); it returns
   five narrow columns. The organisation-wide rule needs every dated row of a
   factor anyway, so one pass serves both rules.
2. **One linear pass per (scope, factor), in Python.** Rows are grouped per
   (team, factor) and per factor; copies of an incident are dropped
   (``patterns.incidents``: the first copy in start order is kept, no sort);
   the exact rule (``patterns.windows``) runs in comprehensions and bisection.
   A digest of each recurrence's incidents is compared with the one stored on
   its proposal, so an unchanged pattern costs no further query.
3. **Writes, idempotent and safe under concurrency.** The database allows one
   open proposal per (team, factor) and per organisation-wide factor
   (conditional unique constraints). New proposals are inserted in a fixed
   order with ``ON CONFLICT DO NOTHING`` (SQLite: ``INSERT OR IGNORE``), then
   re-read: when two runs race, the loser's insert is a no-op and both add
   their evidence to the one row; evidence is unique per (proposal, incident).
   Open proposals are locked (``SELECT … FOR UPDATE``) while evidence is added,
   so a facilitator's accept or reject waits for the run instead of
   interleaving with it.

Rules beyond the window (see ``patterns.windows`` for the window itself):

* A factor addressed by an item of the scope's current Definition of Done counts
  only incidents that started after that item's wording was adopted; if it
  still recurs, the proposal is "DoD item not working".
* After a proposal for a pattern is decided (rejected, or accepted), a new one
  opens only when an incident arrives that was not evidence of the decided one:
  a rejected pattern reopens only on new evidence.
* An open proposal is never closed or pruned by detection; new evidence is
  added to it.
* Soft-deleted post-mortems are never counted (``scan_rows``); restricted ones
  are, since a pattern is real whoever may read its evidence. Pages and the
  API show restricted evidence only to its readers (``patterns.selectors``),
  and suggested texts quote only organisation documents (``_suggestions``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from array import array
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter

from django.db import connection, transaction
from django.db.models import OuterRef, Q, Subquery
from django.db.models.expressions import RawSQL
from django.utils import timezone

from patterns.conf import Thresholds, default_min_incidents, default_window_days, org_thresholds
from patterns.incidents import normalise_source_url, source_collection
from patterns.models import (
    DoDItem,
    DoDProposal,
    DoDVersion,
    PatternSettings,
    ProposalEvidence,
    Scope,
)
from patterns.suggestions import suggest_item_text
from patterns.windows import Incident, Recurrence, dedupe_sorted, find_recurrence, from_us, to_us
from postmortems.models import ActionItem, ContributingFactor, PostMortem, Team

logger = logging.getLogger(__name__)

Pair = tuple[int | None, int]  # (team id, or None for the organisation; factor id)
FactorLink = PostMortem.factors.through


class Outcome:
    """What detection did about one recurrence."""

    OPENED = "opened"  # a new open proposal
    EXTENDED = "extended"  # new evidence added to the open proposal
    UNCHANGED = "unchanged"  # the open proposal already holds every incident
    SUPPRESSED = "suppressed"  # decided before, and no incident is new since


@dataclass
class Finding:
    """One recurring (scope, factor) and what detection did about it."""

    team_id: int | None
    factor_id: int
    kind: str
    outcome: str
    rule: Thresholds
    recurrence: Recurrence
    new_evidence: int = 0
    proposal_id: int | None = None
    team_slug: str = ""
    factor_slug: str = ""

    @property
    def scope(self) -> str:
        return Scope.TEAM if self.team_id else Scope.ORG

    @property
    def scope_label(self) -> str:
        return f"team {self.team_slug}" if self.team_id else "organisation"

    def describe(self) -> str:
        """One line for the command's output."""
        rec = self.recurrence
        return (
            f"{self.outcome:<10} {self.scope_label}: {self.factor_slug} — {len(rec.members)} incident(s) "
            f"in qualifying windows; latest window {rec.window_size} from "
            f"{rec.window_start:%Y-%m-%d} to {rec.window_end:%Y-%m-%d} "
            f"(rule {self.rule.min_incidents} in {self.rule.window_days} days"
            + (f", {self.rule.min_teams}+ teams" if self.rule.min_teams > 1 else "")
            + ")"
            + (f"; +{self.new_evidence} evidence" if self.new_evidence else "")
            + (f"; proposal #{self.proposal_id}" if self.proposal_id else "")
            + ("; DoD item not working" if self.kind == DoDProposal.Kind.ITEM_NOT_WORKING else "")
        )


@dataclass
class DetectionReport:
    """The result of one run.

    Attributes:
        findings: every recurring (scope, factor), whatever was done about it.
        groups: (scope, factor) groups evaluated (those with at least K incidents).
        rows_scanned: (post-mortem, factor) rows the ordered scan returned.
        undated: post-mortems in scope that carry factors but no start time
            (never counted: they cannot be placed in a window).
        seconds: wall-clock duration.
    """

    dry_run: bool = False
    findings: list[Finding] = field(default_factory=list)
    groups: int = 0
    rows_scanned: int = 0
    undated: int = 0
    seconds: float = 0.0

    def count(self, outcome: str) -> int:
        return sum(1 for finding in self.findings if finding.outcome == outcome)

    def summary_line(self) -> str:
        verb = "would open" if self.dry_run else "opened"
        return (
            f"{len(self.findings)} recurring pattern(s): {verb} {self.count(Outcome.OPENED)}, "
            f"extended {self.count(Outcome.EXTENDED)}, unchanged {self.count(Outcome.UNCHANGED)}, "
            f"suppressed by an earlier decision {self.count(Outcome.SUPPRESSED)}; "
            f"{self.groups} (scope, factor) group(s) evaluated, {self.rows_scanned} row(s) scanned, "
            f"{self.undated} post-mortem(s) without a start time not counted; {self.seconds:.2f} s"
        )


# --- rules -------------------------------------------------------------------------


def team_rules(team_ids: Collection[int] | None = None) -> tuple[dict[Thresholds, list[int]], Thresholds]:
    """The rule of every team that has its own settings, and the default rule.

    Returns:
        ``({rule: [team ids]}, default rule)``; teams absent from the mapping use
        the default.
    """
    rows = PatternSettings.objects.all()
    if team_ids is not None:
        rows = rows.filter(team_id__in=team_ids)
    custom: dict[Thresholds, list[int]] = defaultdict(list)
    for team_id, k, w in rows.values_list("team_id", "min_incidents", "window_days"):
        custom[Thresholds(min_incidents=k, window_days=w)].append(team_id)
    return dict(custom), Thresholds(min_incidents=default_min_incidents(), window_days=default_window_days())


# --- steps 1 and 2: the ordered scan and the grouping ----------------------------------------


def _in_list(column: str, values: Collection[int], params: list) -> str:
    params.extend(values)
    return f" AND {column} IN ({', '.join(['%s'] * len(values))})"


def scan_rows(*, factor_ids: Collection[int] | None = None, team_id: int | None = None) -> list[tuple]:
    """The ordered scan: ``(factor id, team id, start µs, post-mortem id, source URL, external id)``
    for every dated post-mortem's factor link, ordered by (factor, start, id).

    Soft-deleted post-mortems are left out (raw SQL bypasses the default
    manager, so the condition is spelled here). Restricted ones are counted: a
    pattern is real even when some of its evidence is not for everyone's eyes;
    pages and the API show such evidence only to its readers.

    PostgreSQL computes the microseconds; SQLite's stored text is parsed here.
    """
    if factor_ids is not None and not factor_ids:
        return []
    pm_table = connection.ops.quote_name(PostMortem._meta.db_table)
    link_table = connection.ops.quote_name(FactorLink._meta.db_table)
    postgres = connection.vendor == "postgresql"
    start = "(EXTRACT(EPOCH FROM pm.started_at) * 1000000)::bigint" if postgres else "pm.started_at"
    params: list = []
    where = ""
    if factor_ids is not None:
        where += _in_list("link.contributingfactor_id", sorted(factor_ids), params)
    if team_id is not None:
        where += " AND pm.team_id = %s"
        params.append(team_id)
    # Only module constants and placeholders go into the SQL text; values are parameters.
    sql = (
        f"SELECT link.contributingfactor_id, pm.team_id, {start}, pm.id, pm.source_url, pm.external_id"  # noqa: S608
        f" FROM {link_table} link JOIN {pm_table} pm ON pm.id = link.postmortem_id"
        f" WHERE pm.started_at IS NOT NULL AND pm.deleted_at IS NULL{where}"
        " ORDER BY link.contributingfactor_id, pm.started_at, pm.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not postgres:  # naive UTC, as text or already parsed by the driver
        rows = [
            (
                f,
                t,
                to_us((dt.datetime.fromisoformat(s) if isinstance(s, str) else s).replace(tzinfo=dt.UTC)),
                p,
                u,
                e,
            )
            for f, t, s, p, u, e in rows
        ]
    return rows


def group_incidents(
    rows: Sequence[tuple], *, teams: bool = True, only_team: int | None = None, org: bool = True
) -> dict[Pair, list[Incident]]:
    """Group scanned rows per (team, factor) and, for the organisation, per
    (None, factor); each group de-duplicated and in start order.

    Args:
        rows: ``scan_rows`` output (ordered by factor, start, id).
        teams: build per-team groups; ``only_team`` limits them to one team.
        org: build organisation-wide groups.
    """
    # Only a URL that several post-mortems of one factor share can make copies;
    # every other incident skips the copy check (most groups then need none).
    normalised: dict[str, str] = {}
    for row in rows:
        if row[4] and row[4] not in normalised:
            normalised[row[4]] = normalise_source_url(row[4])
    shared = Counter((row[0], normalised[row[4]]) for row in rows if row[4])
    grouped: dict[Pair, list[Incident]] = {}
    make = tuple.__new__  # builds an Incident without a Python-level __new__ call per row
    for factor_id, factor_rows in groupby(rows, key=itemgetter(0)):
        by_team: dict[int, list[Incident]] = defaultdict(list)
        everyone: list[Incident] = []
        copy_teams: set[int] = set()
        for _, team_id, start_us, pm_id, url, external_id in factor_rows:
            if url and shared[(factor_id, normalised[url])] > 1:
                source = source_collection(postmortem_id=pm_id, external_id=external_id)
                incident = Incident(start_us, pm_id, team_id, normalised[url], source)
                copy_teams.add(team_id)
            else:
                incident = make(Incident, (start_us, pm_id, team_id, "", ""))
            if teams and (only_team is None or team_id == only_team):
                by_team[team_id].append(incident)
            if org:
                everyone.append(incident)
        for team_id, found in by_team.items():
            grouped[(team_id, factor_id)] = dedupe_sorted(found) if team_id in copy_teams else found
        if org:
            grouped[(None, factor_id)] = dedupe_sorted(everyone) if copy_teams else everyone
    return grouped


def members_digest(recurrence: Recurrence) -> str:
    """SHA-1 (hex) of a recurrence's post-mortems in start order (a changed order
    only costs a full comparison, never a wrong answer)."""
    ids = array("q", [incident.postmortem_id for incident in recurrence.members])
    return hashlib.sha1(ids.tobytes(), usedforsecurity=False).hexdigest()


# --- step 3: state and writes --------------------------------------------------------------


def dod_coverage(factor_ids: Collection[int]) -> dict[Pair, tuple[str, dt.datetime]]:
    """Which factors each scope's *current* Definition of Done addresses.

    Returns:
        ``{(team id or None, factor id): (item uid, adopted_at)}`` — the most
        recently adopted item when several address one factor.
    """
    latest = DoDVersion.objects.filter(dod=OuterRef("version__dod")).order_by("-number").values("number")[:1]
    covered: dict[Pair, tuple[str, dt.datetime]] = {}
    rows = DoDItem.objects.filter(factor_id__in=factor_ids, version__number=Subquery(latest)).values_list(
        "version__dod__team_id", "factor_id", "uid", "adopted_at"
    )
    for team_id, factor_id, uid, adopted_at in rows:
        pair = (team_id, factor_id)
        if pair not in covered or adopted_at > covered[pair][1]:
            covered[pair] = (str(uid), adopted_at)
    return covered


def _evidence_ids(proposal_ids: Iterable[int]) -> dict[int, set[int]]:
    """``{proposal id: {post-mortem ids of its evidence}}``."""
    found: dict[int, set[int]] = defaultdict(set)
    ids = list(proposal_ids)
    if ids:
        for proposal_id, pm_id in ProposalEvidence.objects.filter(
            proposal_id__in=ids_subquery(ids)
        ).values_list("proposal_id", "postmortem_id"):
            found[proposal_id].add(pm_id)
    return found


def _open_proposals(pairs: Collection[Pair], *, lock: bool) -> dict[Pair, tuple[int, str]]:
    """``{pair: (proposal id, members digest)}`` of the open proposals of ``pairs``.

    With ``lock``, the rows are locked in primary-key order (``FOR UPDATE``), so
    concurrent runs and decisions always wait for each other in the same order.
    """
    factors = {factor for _, factor in pairs}
    teams = {team for team, _ in pairs if team is not None}
    scope = Q(team_id__in=teams)
    if any(team is None for team, _ in pairs):
        scope |= Q(team__isnull=True)
    queryset = (
        DoDProposal.objects.filter(status=DoDProposal.Status.OPEN, factor_id__in=factors)
        .filter(scope)
        .order_by("pk")
    )
    if lock:
        queryset = queryset.select_for_update()
    wanted = set(pairs)  # callers pass lists too; membership must not be linear
    found = {}
    for pk, team_id, factor_id, digest in queryset.values_list(
        "pk", "team_id", "factor_id", "members_digest"
    ):
        pair = (team_id, factor_id)
        if pair in wanted:
            found[pair] = (pk, digest)
    return found


def _latest_decided(pairs: Collection[Pair]) -> dict[Pair, tuple[int, str]]:
    """``{pair: (proposal id, members digest)}`` of the latest decided proposal of each pair."""
    factors = {factor for _, factor in pairs}
    pairs = set(pairs)
    latest: dict[Pair, tuple[int, str]] = {}
    rows = (
        DoDProposal.objects.filter(factor_id__in=factors)
        .exclude(status=DoDProposal.Status.OPEN)
        .order_by("team_id", "factor_id", "-decided_at", "-pk")
        .values_list("pk", "team_id", "factor_id", "members_digest")
    )
    for pk, team_id, factor_id, digest in rows:
        pair = (team_id, factor_id)
        if pair in pairs and pair not in latest:
            latest[pair] = (pk, digest)
    return latest


def ids_subquery(ids: Collection[int]) -> RawSQL:
    """``ids`` as a subquery with one parameter, for ``field__in=``.

    Django spells ``field__in=[...]`` with one placeholder per value; for the
    ~100,000 post-mortems of a first run that cost seconds of parameter
    handling on both sides. One array (PostgreSQL) or one JSON text (SQLite's
    ``json_each``) costs milliseconds.
    """
    values = [int(value) for value in ids]
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", (values,))
    return RawSQL("SELECT value FROM json_each(%s)", (json.dumps(values),))


def _suggestions(new: list[tuple[Pair, Finding]], coverage, factors: dict[int, ContributingFactor]) -> dict:
    """Suggested text per new proposal (one query for the evidence's action items).

    Examples are borrowed only from the action items of *organisation*
    post-mortems: a proposal's text is shown to everyone, so it must not quote a
    restricted document (issue 9). Items of deleted documents are left out by
    ``ActionItem.objects``.
    """
    pm_ids = {inc.postmortem_id for _, finding in new for inc in finding.recurrence.members}
    items: dict[int, list[tuple[str, str]]] = defaultdict(list)
    if pm_ids:
        rows = ActionItem.objects.filter(
            postmortem_id__in=ids_subquery(pm_ids), postmortem__visibility=PostMortem.Visibility.ORGANISATION
        ).values_list("postmortem_id", "text", "kind")
        for pm_id, text, kind in rows:
            items[pm_id].append((text, kind))
    current_text = {}
    uids = [coverage[pair][0] for pair, f in new if f.kind == DoDProposal.Kind.ITEM_NOT_WORKING]
    if uids:
        current_text = dict(
            DoDItem.objects.filter(uid__in=uids)
            .order_by("uid", "-version__number")
            .values_list("uid", "text")
        )
        current_text = {str(uid): text for uid, text in current_text.items()}
    texts = {}
    for pair, finding in new:
        # Only incidents with action items can give an example; sorting just
        # those (stable, as before) keeps the order and skips most of the work.
        with_items = [inc for inc in finding.recurrence.members if inc.postmortem_id in items]
        newest_first = sorted(with_items, key=lambda i: i.start_us, reverse=True)
        examples = [row for inc in newest_first for row in items[inc.postmortem_id]]
        uid = coverage[pair][0] if pair in coverage else ""
        texts[pair] = suggest_item_text(
            factor=factors[finding.factor_id],
            action_items=examples,
            current_item_text=current_text.get(uid, "")
            if finding.kind == DoDProposal.Kind.ITEM_NOT_WORKING
            else "",
        )
    return texts


def detect_patterns(
    *,
    team: Team | None = None,
    factor_ids: Collection[int] | None = None,
    include_teams: bool = True,
    include_org: bool | None = None,
    dry_run: bool = False,
) -> DetectionReport:
    """Find recurring contributing factors and open or extend DoD proposals.

    Idempotent: a second run with nothing new changes nothing. Safe when runs
    overlap (see the module docstring).

    Args:
        team: only this team's scope (and, unless ``include_org``, no
            organisation-wide detection). None: every team.
        factor_ids: only these factors (the after-save task passes the saved
            post-mortem's factors).
        include_teams: run the per-team rule.
        include_org: run the organisation-wide rule; default: only when
            ``team`` is None.
        dry_run: compute and report, write nothing (outcomes say what would happen).

    Returns:
        A ``DetectionReport``.
    """
    started = time.perf_counter()
    report = DetectionReport(dry_run=dry_run)
    if include_org is None:
        include_org = team is None
    custom, default_rule = team_rules([team.pk] if team is not None else None)
    rule_of_team = {team_id: rule for rule, ids in custom.items() for team_id in ids}
    org_rule = org_thresholds()

    rows = scan_rows(factor_ids=factor_ids, team_id=team.pk if team is not None and not include_org else None)
    report.rows_scanned = len(rows)
    incidents = group_incidents(
        rows, teams=include_teams, only_team=team.pk if team is not None else None, org=include_org
    )

    def rule_of(pair: Pair) -> Thresholds:
        return org_rule if pair[0] is None else rule_of_team.get(pair[0], default_rule)

    incidents = {
        pair: found for pair, found in incidents.items() if len(found) >= rule_of(pair).min_incidents
    }
    report.groups = len(incidents)
    undated = PostMortem.objects.filter(started_at__isnull=True, factors__isnull=False)
    if team is not None:
        undated = undated.filter(team=team)
    if factor_ids is not None:
        undated = undated.filter(factors__in=factor_ids)
    report.undated = undated.values("pk").distinct().count()

    if incidents:
        with transaction.atomic() if not dry_run else nullcontext():
            _decide_and_write(report=report, incidents=incidents, rule_of=rule_of, dry_run=dry_run)
    report.seconds = time.perf_counter() - started
    logger.info("Pattern detection: %s", report.summary_line())
    return report


def _decide_and_write(
    *, report: DetectionReport, incidents: dict[Pair, list[Incident]], rule_of, dry_run
) -> None:
    factor_ids = {factor for _, factor in incidents}
    coverage = dod_coverage(factor_ids)
    findings: dict[Pair, Finding] = {}
    for pair in sorted(incidents, key=lambda p: (p[0] is None, p[0] or 0, p[1])):
        rule = rule_of(pair)
        scoped = incidents[pair]
        kind = DoDProposal.Kind.NEW_ITEM
        if pair in coverage:
            adopted_us = to_us(coverage[pair][1])
            scoped = [inc for inc in scoped if inc.start_us > adopted_us]
            kind = DoDProposal.Kind.ITEM_NOT_WORKING
        recurrence = find_recurrence(scoped, rule)
        if recurrence is not None:
            findings[pair] = Finding(
                team_id=pair[0], factor_id=pair[1], kind=kind, outcome="", rule=rule, recurrence=recurrence
            )
    if not findings:
        return
    _label(findings)

    open_rows = _open_proposals(findings.keys(), lock=False)
    digests = {pair: members_digest(finding.recurrence) for pair, finding in findings.items()}
    # Only open proposals whose incidents changed are locked (an unchanged
    # pattern costs no write), then re-read: a concurrent run or a decision may
    # have moved them on since the first read.
    changed = [pair for pair, row in open_rows.items() if row[1] != digests[pair]]
    if changed and not dry_run:
        locked = _open_proposals(changed, lock=True)
        for pair in changed:
            if pair in locked:
                open_rows[pair] = locked[pair]
            else:  # decided meanwhile: handled like any decided pattern below
                del open_rows[pair]
    decided_rows = _latest_decided([pair for pair in findings if pair not in open_rows])
    # Evidence is read only for proposals whose incidents changed since the last run.
    stale = [row[0] for pair, row in {**open_rows, **decided_rows}.items() if row[1] != digests[pair]]
    known = _evidence_ids(stale)

    now = timezone.now()
    new: list[tuple[Pair, Finding]] = []
    evidence_for: dict[Pair, list[Incident]] = {}
    redigest: dict[int, str] = {}
    for pair, finding in findings.items():
        members = finding.recurrence.members
        if pair in open_rows:
            proposal_id, digest = open_rows[pair]
            finding.proposal_id = proposal_id
            finding.outcome = Outcome.UNCHANGED
            if digest != digests[pair]:
                fresh = [inc for inc in members if inc.postmortem_id not in known.get(proposal_id, ())]
                finding.new_evidence = len(fresh)
                redigest[proposal_id] = digests[pair]
                if fresh:
                    finding.outcome = Outcome.EXTENDED
                    evidence_for[pair] = fresh
            continue
        if pair in decided_rows:
            proposal_id, digest = decided_rows[pair]
            seen = known.get(proposal_id, set())
            if digest == digests[pair] or all(inc.postmortem_id in seen for inc in members):
                finding.outcome = Outcome.SUPPRESSED
                finding.proposal_id = proposal_id
                continue
        finding.outcome = Outcome.OPENED
        finding.new_evidence = len(members)
        evidence_for[pair] = list(members)
        new.append((pair, finding))
    report.findings = sorted(findings.values(), key=lambda f: (f.team_id is None, f.team_slug, f.factor_slug))
    if dry_run:
        return

    if new:
        factors = {f.pk: f for f in ContributingFactor.objects.filter(pk__in={p[1] for p, _ in new})}
        texts = _suggestions(new, coverage, factors)
        rows = []
        for pair, finding in new:  # sorted by (team, factor): concurrent runs lock in one order
            rec = finding.recurrence
            rows.append(
                DoDProposal(
                    scope=finding.scope,
                    team_id=pair[0],
                    factor_id=pair[1],
                    kind=finding.kind,
                    suggested_text=texts[pair],
                    dod_item_uid=coverage[pair][0]
                    if finding.kind == DoDProposal.Kind.ITEM_NOT_WORKING
                    else None,
                    min_incidents=finding.rule.min_incidents,
                    window_days=finding.rule.window_days,
                    min_teams=finding.rule.min_teams,
                    window_start=rec.window_start,
                    window_end=rec.window_end,
                    previous_id=decided_rows[pair][0] if pair in decided_rows else None,
                    created_at=now,
                    evidence_updated_at=now,
                    members_digest=digests[pair],
                )
            )
        # A concurrent run may have inserted the same open proposal: its row
        # wins (the conditional unique constraint), ours is skipped, and we add
        # our evidence to its row below.
        DoDProposal.objects.bulk_create(rows, ignore_conflicts=True)
        stored = _open_proposals([pair for pair, _ in new], lock=True)
        missing = [pair for pair, _ in new if pair not in stored]
        if missing:  # INSERT OR IGNORE also skips CHECK failures on SQLite: never silently
            raise RuntimeError(f"DoD proposals for {missing} were not stored")
        for pair, finding in new:
            finding.proposal_id = stored[pair][0]

    _insert_evidence(
        [
            (findings[pair].proposal_id, inc.postmortem_id, inc.start_us)
            for pair in sorted(evidence_for, key=lambda p: findings[p].proposal_id)
            for inc in evidence_for[pair]
        ],
        added_at=now,
    )
    extended = {f.proposal_id for f in findings.values() if f.outcome == Outcome.EXTENDED}
    if redigest:
        DoDProposal.objects.bulk_update(
            [DoDProposal(pk=pk, members_digest=digest) for pk, digest in sorted(redigest.items())],
            ["members_digest"],
        )
        if extended:
            DoDProposal.objects.filter(pk__in=extended).update(evidence_updated_at=now)


def _insert_evidence(rows: list[tuple[int, int, int]], *, added_at: dt.datetime) -> None:
    """Insert ``(proposal id, post-mortem id, start µs)`` rows, skipping those
    already there (unique per proposal and post-mortem).

    On PostgreSQL the rows are streamed with ``COPY`` into a temporary table and
    moved with one ``INSERT … SELECT … ON CONFLICT DO NOTHING`` (a first run over
    a long history writes hundreds of thousands; a model instance per row costs
    ten times more); elsewhere ``bulk_create``. Runs inside the caller's
    transaction.
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        ProposalEvidence.objects.bulk_create(
            [
                ProposalEvidence(
                    proposal_id=proposal_id,
                    postmortem_id=pm_id,
                    started_at=from_us(start_us),
                    added_at=added_at,
                )
                for proposal_id, pm_id, start_us in rows
            ],
            ignore_conflicts=True,
            batch_size=2_000,
        )
        return
    table = connection.ops.quote_name(ProposalEvidence._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE patterns_new_evidence (p bigint, m bigint, s bigint) ON COMMIT DROP"
        )
        with cursor.cursor.copy("COPY patterns_new_evidence (p, m, s) FROM STDIN") as copy:
            # COPY's text format built in one join: ~5x cheaper than write_row per row.
            for start in range(0, len(rows), 50_000):
                copy.write("".join(f"{p}\t{m}\t{s}\n" for p, m, s in rows[start : start + 50_000]))
        cursor.execute(
            f"INSERT INTO {table} (proposal_id, postmortem_id, started_at, added_at)"  # noqa: S608
            " SELECT p, m, timestamptz 'epoch' + s * interval '1 microsecond', %s"
            " FROM patterns_new_evidence ORDER BY p, m ON CONFLICT DO NOTHING",
            [added_at],
        )
        cursor.execute("DROP TABLE patterns_new_evidence")


def _label(findings: dict[Pair, Finding]) -> None:
    """Fill in the team and factor slugs of the findings (two small queries)."""
    team_slugs = dict(Team.objects.filter(pk__in={p[0] for p in findings if p[0]}).values_list("pk", "slug"))
    factor_slugs = dict(
        ContributingFactor.objects.filter(pk__in={p[1] for p in findings}).values_list("pk", "slug")
    )
    for (team_id, factor_id), finding in findings.items():
        finding.team_slug = team_slugs.get(team_id, "") if team_id else ""
        finding.factor_slug = factor_slugs.get(factor_id, str(factor_id))
