"""Loading the synthetic corpus: the real import path, a bulk loader, and the Markdown export.

* ``import_through_app(docs, directory)`` writes the documents as Markdown
  one-pagers and runs ``postmortems.exchange.importer.import_paths`` on them —
  exactly what ``manage.py import_postmortems DIR --create-users`` does. This is
  the import rate the suite reports.
* ``bulk_load(docs)`` writes the same rows (post-mortems, their services,
  authors and factors, timeline entries, action items, declined changes and
  fix pull requests, and the ``search_body`` that ``services.postmortem_reindex``
  would write) with ``bulk_create`` in batches, so that the 10k and 100k
  corpora load in minutes instead of hours. The engines' search indexes are
  maintained as rows arrive (SQLite: the FTS5 triggers; PostgreSQL: the stored
  generated ``tsvector`` column and its GIN index), so nothing is skipped there.
  It skips the per-record validation (``full_clean``) and the per-record
  transactions of the import path; ``tests/bench/test_quick.py`` checks that it
  produces the same documents as the import path (same Markdown export, same
  search text).
* ``export_markdown(directory)`` renders every post-mortem with
  ``render_postmortem_markdown`` (what ``export_postmortems`` writes), in
  chunks so that 100k documents fit in memory — the folder ripgrep searches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max

from bench.corpus import to_markdown
from postmortems.exchange.document import DocumentData
from postmortems.exchange.importer import ImportReport, _slug_for, import_paths
from postmortems.exchange.markdown_format import render_postmortem_markdown
from postmortems.models import (
    ActionItem,
    ContributingFactor,
    DeclinedChange,
    FixPullRequest,
    PostMortem,
    Service,
    Team,
    TimelineEntry,
)
from postmortems.services import parse_pull_request_url

OPEN_STATUSES = ("open", "in_progress")


@dataclass
class LoadReport:
    """What a load did: ``documents`` post-mortems and ``rows`` rows in ``seconds`` (wall clock)."""

    method: str
    documents: int
    rows: int
    seconds: float

    @property
    def documents_per_second(self) -> float:
        return self.documents / self.seconds if self.seconds else 0.0


def write_markdown(docs: Iterable[DocumentData], directory: Path) -> int:
    """Write ``doc-<n>.md`` files (zero-padded, so the importer's sorted walk keeps the order)."""
    directory.mkdir(parents=True, exist_ok=True)
    count = 0
    for count, doc in enumerate(docs, start=1):
        (directory / f"doc-{count:07d}.md").write_text(to_markdown(doc), encoding="utf-8")
    return count


def import_through_app(directory: Path) -> ImportReport:
    """Run the import path of ``import_postmortems DIR --create-users`` on ``directory``.

    Raises:
        RuntimeError: when a record is refused (the corpus must import cleanly).
    """
    report = import_paths([directory], create_users=True, progress=False)
    if report.problems:
        raise RuntimeError("The import refused records: " + "; ".join(map(str, report.problems[:3])))
    return report


# --- the bulk loader ------------------------------------------------------------------


class _Names:
    """Resolves team, service and user names the way the importer does, creating what is missing."""

    def __init__(self) -> None:
        self.user_model = get_user_model()
        self.teams: dict[str, Team] = {}
        self.services: dict[str, Service] = {}
        self.users: dict[str, int] = {}
        self._service_rank: dict[int, int] | None = None
        self.factor_ids = dict(ContributingFactor.objects.values_list("slug", "pk"))
        # build_search_body lists factors in the model's ordering (category, name):
        # take the database's order rather than re-implementing its collation.
        self.factor_rank = {
            pk: i for i, pk in enumerate(ContributingFactor.objects.values_list("pk", flat=True))
        }
        self.factor_text = {
            pk: f"{name} {slug}"
            for pk, name, slug in ContributingFactor.objects.values_list("pk", "name", "slug")
        }

    def team(self, ref: str) -> Team:
        if ref not in self.teams:
            team = (
                Team.objects.filter(slug=ref).first() or Team.objects.filter(slug=_slug_for(ref, 80)).first()
            )
            if team is None:
                team = Team.objects.create(slug=_slug_for(ref, 80), name=ref[:120])
            self.teams[ref] = team
        return self.teams[ref]

    def service(self, ref: str, team: Team) -> Service:
        if ref not in self.services:
            service = (
                Service.objects.filter(slug=ref).first()
                or Service.objects.filter(slug=_slug_for(ref, 80)).first()
            )
            if service is None:
                service = Service.objects.create(slug=_slug_for(ref, 80), name=ref[:120], team=team)
                self._service_rank = None
            self.services[ref] = service
        return self.services[ref]

    def service_rank(self, pk: int) -> int:
        if self._service_rank is None:  # the model's ordering (name), in the database's collation
            self._service_rank = {p: i for i, p in enumerate(Service.objects.values_list("pk", flat=True))}
        return self._service_rank[pk]

    def user(self, username: str) -> int:
        if username not in self.users:
            user = self.user_model.objects.filter(username=username).first()
            if user is None:
                user = self.user_model.objects.create_user(username=username, password=None)
            self.users[username] = user.pk
        return self.users[username]


def _next_id(model) -> int:
    return (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1


def bulk_load(
    docs: Iterable[DocumentData],
    *,
    batch_size: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> LoadReport:
    """Store ``docs`` with the rows the import path would write, in batches of ``batch_size``.

    Each batch is one transaction. Ids are assigned here (from the current
    maximum), so the search text can name action items (``AI-<id>``) before the
    rows are inserted, and every row is inserted exactly once; PostgreSQL's
    sequences are moved past the new ids at the end.

    Returns:
        A ``LoadReport`` (documents, rows of every table, and the wall-clock
        seconds spent storing them — the time ``docs`` takes to produce the
        documents, when it is a generator, is not counted).
    """
    writing = 0.0  # seconds spent storing, not generating the documents
    started = time.perf_counter()
    names = _Names()
    ids = {
        model: _next_id(model)
        for model in (PostMortem, TimelineEntry, ActionItem, DeclinedChange, FixPullRequest)
    }
    documents = rows = 0
    batch: list[DocumentData] = []

    def flush() -> None:
        nonlocal documents, rows, writing
        if batch:
            began = time.perf_counter()
            rows += _store_batch(batch, names, ids)
            writing += time.perf_counter() - began
            documents += len(batch)
            batch.clear()
            if progress:
                progress(documents)

    writing += time.perf_counter() - started  # the lookups above
    for doc in docs:
        batch.append(doc)
        if len(batch) >= batch_size:
            flush()
    flush()
    began = time.perf_counter()
    _reset_sequences()
    writing += time.perf_counter() - began
    return LoadReport(method="bulk loader", documents=documents, rows=rows, seconds=writing)


def _take(ids: dict, model) -> int:
    value = ids[model]
    ids[model] = value + 1
    return value


def _store_batch(batch: Sequence[DocumentData], names: _Names, ids: dict) -> int:
    pms: list[PostMortem] = []
    services_m2m, authors_m2m, factors_m2m = [], [], []
    timeline: list[TimelineEntry] = []
    items: list[ActionItem] = []
    declined: list[DeclinedChange] = []
    prs: list[FixPullRequest] = []
    for doc in batch:
        team = names.team(doc.team)
        pm_id = _take(ids, PostMortem)
        # Names resolve in the importer's order (facilitator, services, authors, owners).
        facilitator_id = names.user(doc.facilitator) if doc.facilitator else None
        # Two names can resolve to one service ("Edge cache", "edge-cache"): one row each, as .set() does.
        service_objs = list({s.pk: s for s in (names.service(ref, team) for ref in doc.services)}.values())
        factor_ids = [names.factor_ids[slug] for slug in dict.fromkeys(doc.factors)]
        author_ids = [names.user(name) for name in dict.fromkeys(doc.authors)]
        services_m2m += [(pm_id, s.pk) for s in service_objs]
        factors_m2m += [(pm_id, f) for f in factor_ids]
        authors_m2m += [(pm_id, u) for u in author_ids]

        doc_timeline = [
            TimelineEntry(
                id=_take(ids, TimelineEntry),
                postmortem_id=pm_id,
                at=row.at,
                text=row.text,
                evidence_url=row.evidence_url,
            )
            for row in doc.timeline
        ]
        doc_items = [
            ActionItem(
                id=_take(ids, ActionItem),
                postmortem_id=pm_id,
                text=row.text,
                kind=row.kind,
                owner_id=names.user(row.owner),
                due_date=row.due_date,
                status=row.status,
                not_doing_reason=row.not_doing_reason,
                ticket_url=row.ticket_url,
                completed_at=row.completed_at if row.status == "done" else None,
                # With in-process tasks the import path's after-commit notice
                # claims every open item for its owner (owners have no e-mail).
                notified_owner_id=names.user(row.owner) if row.status in OPEN_STATUSES else None,
            )
            for row in doc.action_items
        ]
        doc_declined = [
            DeclinedChange(
                id=_take(ids, DeclinedChange), postmortem_id=pm_id, text=row.text, rationale=row.rationale
            )
            for row in doc.declined_changes
        ]
        doc_prs = []
        for row in doc.fix_prs:
            repository, number = parse_pull_request_url(row.url)
            doc_prs.append(
                FixPullRequest(
                    id=_take(ids, FixPullRequest),
                    postmortem_id=pm_id,
                    url=row.url,
                    repository=repository,
                    number=number,
                    title=row.title,
                    state=row.state,
                    action_item_id=doc_items[row.item - 1].id if row.item else None,
                )
            )
        search_body = _search_body(
            team, service_objs, factor_ids, doc_timeline, doc_items, doc_declined, doc_prs, names
        )
        pms.append(
            PostMortem(
                id=pm_id,
                title=doc.title,
                team=team,
                severity=doc.severity,
                status=doc.status,
                started_at=doc.started_at,
                detected_at=doc.detected_at,
                mitigated_at=doc.mitigated_at,
                resolved_at=doc.resolved_at,
                facilitator_id=facilitator_id,
                what_happened=doc.what_happened,
                why_it_happened=doc.why_it_happened,
                what_we_change=doc.what_we_change,
                what_we_dont_change=doc.what_we_dont_change,
                source_url=doc.source_url,
                external_id=doc.external_id,
                search_body=search_body,
            )
        )
        timeline += doc_timeline
        items += doc_items
        declined += doc_declined
        prs += doc_prs

    through_services = PostMortem.services.through
    through_factors = PostMortem.factors.through
    through_authors = PostMortem.authors.through
    with transaction.atomic():
        PostMortem.objects.bulk_create(pms)
        through_services.objects.bulk_create(
            [through_services(postmortem_id=p, service_id=s) for p, s in services_m2m]
        )
        through_factors.objects.bulk_create(
            [through_factors(postmortem_id=p, contributingfactor_id=f) for p, f in factors_m2m]
        )
        through_authors.objects.bulk_create(
            [through_authors(postmortem_id=p, user_id=u) for p, u in authors_m2m]
        )
        TimelineEntry.objects.bulk_create(timeline)
        ActionItem.objects.bulk_create(items)
        DeclinedChange.objects.bulk_create(declined)
        FixPullRequest.objects.bulk_create(prs)
    return (
        len(pms)
        + len(services_m2m)
        + len(factors_m2m)
        + len(authors_m2m)
        + len(timeline)
        + len(items)
        + len(declined)
        + len(prs)
    )


def _search_body(team, service_objs, factor_ids, timeline, items, declined, prs, names: _Names) -> str:
    """The text ``services.build_search_body`` builds, from the rows in memory (same order and format)."""
    lines: list[str] = [team.name]
    lines += [s.name for s in sorted(service_objs, key=lambda s: names.service_rank(s.pk))]
    lines += [names.factor_text[pk] for pk in sorted(factor_ids, key=names.factor_rank.__getitem__)]
    lines += [row.text for row in sorted(timeline, key=lambda r: (r.at, r.id))]
    lines += [f"AI-{row.id} {row.text}" for row in sorted(items, key=lambda r: (r.due_date, r.id))]
    lines += [f"{row.text} {row.rationale}" for row in declined]
    lines += [f"{row.repository} {row.title}" for row in prs]
    return "\n".join(line for line in lines if line)


def _reset_sequences() -> None:
    models = [PostMortem, TimelineEntry, ActionItem, DeclinedChange, FixPullRequest]
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def analyze() -> None:
    """Bring the database to where autovacuum soon brings a loaded one (PostgreSQL
    ``VACUUM ANALYZE``): planner statistics, and the visibility map that lets an
    index-only scan skip the rows (PostgreSQL 13+ vacuums insert-only tables too).
    Runs outside a transaction (``VACUUM`` cannot run inside one)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


# --- export for ripgrep ------------------------------------------------------------------


def export_markdown(directory: Path, *, chunk: int = 1000) -> int:
    """Write every post-mortem as ``PM-<n>.md`` (``render_postmortem_markdown``), ``chunk`` at a time.

    Returns:
        The number of files written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    pks = list(PostMortem.objects.order_by("pk").values_list("pk", flat=True))
    written = 0
    for start in range(0, len(pks), chunk):
        documents = (
            PostMortem.objects.filter(pk__in=pks[start : start + chunk])
            .select_related("team", "facilitator")
            .prefetch_related(
                "services",
                "authors",
                "factors",
                "timeline",
                "action_items__owner",
                "declined_changes",
                "fix_prs",
            )
            .order_by("pk")
        )
        for pm in documents:
            (directory / f"{pm.key}.md").write_text(render_postmortem_markdown(pm), encoding="utf-8")
            written += 1
    return written
