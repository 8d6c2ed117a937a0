"""Importing post-mortems from JSON Lines corpora and Markdown one-pagers.

``import_paths`` is the entry point (the ``import_postmortems`` command and the
demo loader call it). Each record is parsed, its names are resolved (teams and
services are created when missing; users only with ``create_users``) and it is
stored: a record that creates a post-mortem goes to the bulk path
(``postmortems.exchange.bulk``: validated first, then stored with the other new
documents of its batch, 500 a transaction); a record that updates one, or that
the bulk path cannot vouch for, goes through ``services.postmortem_save`` inside
its own transaction. Either way a bad record is reported with its file and line
and loses nothing already stored (a batch the database refuses is redone one
record at a time).

Re-importing is idempotent: a record updates the post-mortem with the same
``external_id`` (an id of the form ``PM-<n>`` also finds post-mortem ``n`` when
that one has no external id — the export → import round trip into the same
database). The document's rows are replaced by the file's rows; rows that are
equal keep their ids, so action-item keys stay stable and owners are not told
twice. A record whose stored form already equals the file is counted
"unchanged" and not written at all.
"""

from __future__ import annotations

import hashlib
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import DataError, IntegrityError, transaction
from django.utils.text import slugify
from tqdm import tqdm

from postmortems.exchange.bulk import BulkCreator, Prepared
from postmortems.exchange.corpus import document_from_record, parse_json_line
from postmortems.exchange.document import DocumentData, RecordError
from postmortems.exchange.markdown_format import parse_markdown
from postmortems.models import ContributingFactor, PostMortem, Service, Team
from postmortems.services import postmortem_save

SUPPORTED_SUFFIXES = (".jsonl", ".md")
# New documents are stored this many at a time (postmortems.exchange.bulk).
BULK_BATCH = 500
_PM_KEY = re.compile(r"^PM-(\d+)$", re.IGNORECASE)


class ImportSetupError(Exception):
    """The import cannot start: a path does not exist or ``--team`` names no team."""


@dataclass(frozen=True)
class ImportProblem:
    """A bad record (or a warning): where it is and what is wrong."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


@dataclass
class ImportReport:
    """What an import did. Counts are records unless named otherwise.

    ``problems`` holds one entry per bad (skipped) record; ``warnings`` holds
    records that were imported with a repair (a fixed URL). ``unknown_labels``
    counts corpus categories the mapping tables do not know, by label.
    """

    files: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[ImportProblem] = field(default_factory=list)
    warnings: list[ImportProblem] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)
    truncated_sections: int = 0
    unknown_labels: Counter = field(default_factory=Counter)
    created_teams: int = 0
    created_services: int = 0
    created_users: int = 0
    elapsed_seconds: float = 0.0

    @property
    def bad(self) -> int:
        return len(self.problems)

    @property
    def good(self) -> int:
        return self.created + self.updated + self.unchanged

    @property
    def records_per_second(self) -> float:
        return (self.good + self.bad) / self.elapsed_seconds if self.elapsed_seconds else 0.0

    def summary_line(self) -> str:
        """One line: created, updated, unchanged, skipped (bad), seconds and records/s."""
        return (
            f"Imported {self.files} file(s): created {self.created}, updated {self.updated}, "
            f"unchanged {self.unchanged}, skipped (bad) {self.bad} "
            f"in {self.elapsed_seconds:.1f} s ({self.records_per_second:.0f} records/s)."
        )

    def detail_lines(self) -> list[str]:
        """Further facts worth a line each (truncations, unmapped labels, created names)."""
        lines = []
        if self.truncated_sections:
            lines.append(
                f"Truncated {self.truncated_sections} section(s) longer than "
                f"{settings.KB_MAX_SECTION_CHARS} characters (marked in the text)."
            )
        if self.unknown_labels:
            shown = ", ".join(f"{label!r} ×{n}" for label, n in self.unknown_labels.most_common(10))
            lines.append(
                f"Unmapped categories: {sum(self.unknown_labels.values())} ({shown}); "
                "they add no contributing factor."
            )
        if self.created_teams or self.created_services or self.created_users:
            lines.append(
                f"Created {self.created_teams} team(s), {self.created_services} service(s), "
                f"{self.created_users} user(s)."
            )
        if self.ignored_files:
            lines.append(
                f"Ignored {len(self.ignored_files)} Markdown file(s) without front matter: "
                + ", ".join(self.ignored_files[:5])
                + (" …" if len(self.ignored_files) > 5 else "")
            )
        return lines


@dataclass
class _Unit:
    """One record to import: a JSON line or a whole Markdown file."""

    path: str
    line: int
    kind: str  # "jsonl" | "md"
    text: str
    stem: str = ""


class _Importer:
    def __init__(self, *, team: Team | None, create_users: bool, report: ImportReport) -> None:
        self.team_override = team
        self.create_users = create_users
        self.report = report
        self.factors = {f.slug: f for f in ContributingFactor.objects.all()}
        self.user_model = get_user_model()
        # Caches that only hold rows of committed records (a rolled-back record's
        # new team must not be reused).
        self.teams: dict[str, Team] = {}
        self.preloaded: dict[str, PostMortem] = {}
        # Names found already stored (committed rows only): a re-import resolves
        # each name once per run instead of once per record.
        self.found_services: dict[str, Service] = {}
        self.found_users: dict[str, Any] = {}

    def preload(self, external_ids: Iterable[str], chunk: int = 500) -> None:
        """Fetch the stored documents for these ids with their rows, in a few queries.

        Each preloaded document is used once (``_existing`` pops it), so a
        record that repeats an id later in the run sees the fresh state.
        """
        ids = list(dict.fromkeys(external_ids))
        own_pks = [int(m.group(1)) for m in map(_PM_KEY.match, ids) if m]
        related = (
            "services",
            "authors",
            "factors",
            "timeline",
            "action_items",
            "declined_changes",
            "fix_prs",
        )
        for start in range(0, len(ids), chunk):
            batch = PostMortem.objects.filter(external_id__in=ids[start : start + chunk])
            for pm in batch.prefetch_related(*related):
                self.preloaded[pm.external_id] = pm
        for start in range(0, len(own_pks), chunk):
            batch = PostMortem.objects.filter(pk__in=own_pks[start : start + chunk], external_id="")
            for pm in batch.prefetch_related(*related):
                self.preloaded.setdefault(pm.key, pm)

    def _existing(self, external_id: str) -> tuple[PostMortem | None, str]:
        pm = self.preloaded.pop(external_id, None)
        if pm is not None:
            return pm, pm.external_id
        match = _PM_KEY.match(external_id)
        if match:
            pm = self.preloaded.pop(f"PM-{int(match.group(1))}", None)
            if pm is not None and not pm.external_id:
                return pm, ""
        return _find_existing(external_id)

    # --- parsing ------------------------------------------------------------------

    def parse(self, unit: _Unit) -> DocumentData:
        if unit.kind == "jsonl":
            doc = document_from_record(
                parse_json_line(unit.text), max_section_chars=settings.KB_MAX_SECTION_CHARS
            )
            doc.line = unit.line
            return doc
        return parse_markdown(
            unit.text,
            default_external_id=f"md:{unit.stem}",
            team_required=self.team_override is None,
        )

    # --- name resolution (inside the record's transaction) -------------------------

    def _team(self, ref: str, created: Counter, pending: dict[str, Team]) -> Team:
        if ref in self.teams:
            return self.teams[ref]
        team = Team.objects.filter(slug=ref).first()
        slug = _slug_for(ref, 80)
        team = team or Team.objects.filter(slug=slug).first()
        if team is None:
            team = Team(slug=slug, name=ref[:120])
            team.full_clean()
            team.save()
            created["teams"] += 1
        pending[ref] = team
        return team

    def _service(self, ref: str, team: Team, created: Counter) -> Service:
        if ref in self.found_services:
            return self.found_services[ref]
        service = Service.objects.filter(slug=ref).first()
        slug = _slug_for(ref, 80)
        service = service or Service.objects.filter(slug=slug).first()
        if service is not None:
            self.found_services[ref] = service
        else:
            service = Service(slug=slug, name=ref[:120], team=team)
            service.full_clean()
            service.save()
            created["services"] += 1
        return service

    def _user(self, username: str, role: str, line: int | None, created: Counter):
        if username in self.found_users:
            return self.found_users[username]
        user = self.user_model.objects.filter(**{self.user_model.USERNAME_FIELD: username}).first()
        if user is not None:
            self.found_users[username] = user
            return user
        if not self.create_users:
            raise RecordError(
                f"unknown user {username!r} ({role}); create the account first or pass --create-users",
                line,
            )
        try:
            self.user_model.username_validator(username)
        except ValidationError as exc:
            raise RecordError(
                f"{role}: {username!r} is not a valid username: {exc.messages[0]}", line
            ) from exc
        user = self.user_model.objects.create_user(username=username, password=None)
        created["users"] += 1
        return user

    # --- storing --------------------------------------------------------------------

    def store(self, doc: DocumentData) -> str:
        """Store one document; returns "created", "updated" or "unchanged"."""
        created: Counter = Counter()
        pending_teams: dict[str, Team] = {}
        with transaction.atomic():
            outcome = self._store(doc, created, pending_teams)
        self.teams.update(pending_teams)
        self.report.created_teams += created["teams"]
        self.report.created_services += created["services"]
        self.report.created_users += created["users"]
        return outcome

    def _store(self, doc: DocumentData, created: Counter, pending_teams: dict[str, Team]) -> str:
        team = self.team_override or self._team(doc.team, created, pending_teams)
        unknown = [slug for slug in doc.factors if slug not in self.factors]
        if unknown:
            raise RecordError(
                f"unknown contributing factor(s) {', '.join(map(repr, unknown))}; "
                "use the slugs of the taxonomy (e.g. config-change, missing-test)",
                doc.line_of("factors"),
            )
        users: dict[str, Any] = {}

        def user(name: str, role: str, line: int | None):
            if name not in users:
                users[name] = self._user(name, role, line, created)
            return users[name]

        fields: dict[str, Any] = {
            "title": doc.title,
            "team": team,
            "severity": doc.severity,
            "status": doc.status,
            "started_at": doc.started_at,
            "detected_at": doc.detected_at,
            "mitigated_at": doc.mitigated_at,
            "resolved_at": doc.resolved_at,
            "facilitator": user(doc.facilitator, "facilitator", doc.line_of("facilitator"))
            if doc.facilitator
            else None,
            "what_happened": doc.what_happened,
            "why_it_happened": doc.why_it_happened,
            "what_we_change": doc.what_we_change,
            "what_we_dont_change": doc.what_we_dont_change,
            "source_url": doc.source_url,
            "services": [self._service(name, team, created) for name in _unique(doc.services)],
            "authors": [user(name, "author", doc.line_of("authors")) for name in _unique(doc.authors)],
            "factors": [self.factors[slug] for slug in _unique(doc.factors)],
        }
        owners = [user(item.owner, "action-item owner", item.line) for item in doc.action_items]

        existing, external_id = self._existing(doc.external_id)
        fields["external_id"] = external_id
        if existing is None and external_id:
            # A soft-deleted document keeps its external id: importing it again
            # would neither bring it back silently nor make a duplicate.
            deleted = PostMortem.all_objects.filter(external_id=external_id, deleted_at__isnull=False).first()
            if deleted is not None:
                raise RecordError(
                    f"{deleted.key} ({external_id}) was deleted; an admin can restore it, "
                    "then import again to update it"
                )

        timeline = [{"at": r.at, "text": r.text, "evidence_url": r.evidence_url} for r in doc.timeline]
        items = [
            {
                "text": r.text,
                "kind": r.kind,
                "owner": owner,
                "due_date": r.due_date,
                "status": r.status,
                "not_doing_reason": r.not_doing_reason,
                "ticket_url": r.ticket_url,
                **({"completed_at": r.completed_at} if r.completed_at else {}),
            }
            for r, owner in zip(doc.action_items, owners, strict=True)
        ]
        declined = [{"text": r.text, "rationale": r.rationale} for r in doc.declined_changes]
        prs = [{"url": r.url, "title": r.title, "state": r.state} for r in doc.fix_prs]

        if existing is not None:
            old_timeline = list(existing.timeline.all())
            old_items = list(existing.action_items.all())
            old_declined = list(existing.declined_changes.all())
            old_prs = list(existing.fix_prs.all())
            _assign_ids(old_timeline, timeline, lambda o: (o.at, o.text), lambda r: (r["at"], r["text"]))
            _assign_ids(old_items, items, lambda o: o.text, lambda r: r["text"])
            _assign_ids(old_declined, declined, lambda o: o.text, lambda r: r["text"])
            _assign_ids(old_prs, prs, lambda o: o.url, lambda r: r["url"])
            if _unchanged(
                existing,
                fields,
                doc,
                timeline,
                items,
                declined,
                prs,
                old_timeline,
                old_items,
                old_declined,
                old_prs,
            ):
                return "unchanged"
            # postmortem_save reads the rows again; a prefetched instance would
            # hand it (and the search index) the rows as they were before.
            existing = PostMortem.objects.get(pk=existing.pk)

        # A fix PR may point at an action item that does not exist yet; such PRs
        # are saved in a second call, once the items have ids.
        item_ids = [row.get("id") for row in items]
        late_prs = any(r.item and item_ids[r.item - 1] is None for r in doc.fix_prs)
        if not late_prs:
            by_id = {o.pk: o for o in (existing.action_items.all() if existing else [])}
            for row, pr in zip(prs, doc.fix_prs, strict=True):
                row["action_item"] = by_id.get(item_ids[pr.item - 1]) if pr.item else None
        pm = postmortem_save(
            user=None,
            postmortem=existing,
            fields=fields,
            timeline=timeline,
            action_items=items,
            declined_changes=declined,
            fix_prs=None if late_prs else prs,
            # Imported documents were reviewed where they were written; pattern
            # detection runs once afterwards (manage.py detect_patterns), not per record.
            enforce_readiness=False,
            detect_patterns=False,
        )
        if late_prs:
            saved = {o.pk: o for o in pm.action_items.all()}
            new_ids = iter(sorted(pk for pk in saved if pk not in set(item_ids)))
            ordered = [saved[pk] if pk else saved[next(new_ids)] for pk in item_ids]
            for row, pr in zip(prs, doc.fix_prs, strict=True):
                row["action_item"] = ordered[pr.item - 1] if pr.item else None
            pm = postmortem_save(
                user=None,
                postmortem=pm,
                fields={},
                fix_prs=prs,
                enforce_readiness=False,
                detect_patterns=False,
            )
        return "updated" if existing is not None else "created"


# --- helpers -------------------------------------------------------------------------


def _slug_for(name: str, limit: int) -> str:
    slug = slugify(name)[:limit].strip("-")
    if not slug:  # a name with no ASCII letters or digits
        slug = "team-" + hashlib.sha256(name.encode()).hexdigest()[:10]
    return slug


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _may_exist(external_id: str, known: set[str]) -> bool:
    """True when a record with this id may update a stored (or earlier) document."""
    if external_id in known:
        return True
    match = _PM_KEY.match(external_id)
    return bool(match) and f"PM-{int(match.group(1))}" in known


def _find_existing(external_id: str) -> tuple[PostMortem | None, str]:
    """The post-mortem a record updates, and the external id to store on it."""
    existing = PostMortem.objects.filter(external_id=external_id).first()
    if existing is not None:
        return existing, external_id
    match = _PM_KEY.match(external_id)
    if match:
        own = PostMortem.objects.filter(pk=int(match.group(1)), external_id="").first()
        if own is not None:
            return own, ""  # our own export: keep the document's empty external id
    return None, external_id


def _assign_ids(
    existing: Sequence[Any],
    rows: list[dict[str, Any]],
    key_of_existing: Callable[[Any], Any],
    key_of_row: Callable[[dict[str, Any]], Any],
) -> None:
    """Give each incoming row the id of an equal-keyed stored row (first come, first served)."""
    pool: dict[Any, list[Any]] = defaultdict(list)
    for obj in existing:
        pool[key_of_existing(obj)].append(obj)
    for row in rows:
        candidates = pool.get(key_of_row(row))
        if candidates:
            row["id"] = candidates.pop(0).pk


def _unchanged(
    pm: PostMortem,
    fields: dict[str, Any],
    doc: DocumentData,
    timeline: list[dict[str, Any]],
    items: list[dict[str, Any]],
    declined: list[dict[str, Any]],
    prs: list[dict[str, Any]],
    old_timeline: list,
    old_items: list,
    old_declined: list,
    old_prs: list,
) -> bool:
    """True when storing ``fields`` and the rows would change nothing."""
    for name, value in fields.items():
        if name in ("services", "authors", "factors"):
            stored = {obj.pk for obj in getattr(pm, name).all()}
            if stored != {obj.pk for obj in value}:
                return False
        elif name in ("team", "facilitator"):
            if getattr(pm, f"{name}_id") != (value.pk if value is not None else None):
                return False
        else:
            stored = getattr(pm, name)
            if value is None and isinstance(stored, str):
                value = ""  # text columns store "nothing" as ""
            if stored != value:
                return False

    def same(old: list, new: list[dict[str, Any]], attrs: Sequence[str]) -> bool:
        if len(old) != len(new) or any("id" not in row for row in new):
            return False
        by_id = {obj.pk: obj for obj in old}
        return all(_stored(by_id[row["id"]], a) == _given(row[a]) for row in new for a in attrs)

    if not same(old_timeline, timeline, ("at", "text", "evidence_url")):
        return False
    item_attrs = ("text", "kind", "owner", "due_date", "status", "not_doing_reason", "ticket_url")
    if not same(old_items, items, item_attrs):
        return False
    by_id = {obj.pk: obj for obj in old_items}
    if any("completed_at" in row and by_id[row["id"]].completed_at != row["completed_at"] for row in items):
        return False
    if not same(old_declined, declined, ("text", "rationale")):
        return False
    if not same(old_prs, prs, ("url", "title", "state")):
        return False
    prs_by_id = {obj.pk: obj for obj in old_prs}
    for row, pr in zip(prs, doc.fix_prs, strict=True):
        wanted = items[pr.item - 1]["id"] if pr.item else None
        if prs_by_id[row["id"]].action_item_id != wanted:
            return False
    return True


def _stored(obj: Any, attr: str) -> Any:
    # Foreign keys compare by id, so no related row is fetched.
    return getattr(obj, f"{attr}_id") if attr == "owner" else getattr(obj, attr)


def _given(value: Any) -> Any:
    return value.pk if hasattr(value, "_meta") else value


def _problem_from_validation(doc: DocumentData, exc: ValidationError) -> tuple[int, str]:
    """Turn a ``postmortem_save`` ValidationError into (line, message)."""
    detail = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}
    rows = {
        "timeline": doc.timeline,
        "action_items": doc.action_items,
        "declined_changes": doc.declined_changes,
        "fix_prs": doc.fix_prs,
    }
    parts: list[str] = []
    lines: list[int | None] = []
    for name, messages in detail.items():
        for message in messages:
            line = doc.field_lines.get(name)
            row_match = re.match(r"Row (\d+):", message)
            if name in rows and row_match and 0 < int(row_match.group(1)) <= len(rows[name]):
                line = rows[name][int(row_match.group(1)) - 1].line or line
            lines.append(line)
            parts.append(message if name == NON_FIELD_ERRORS else f"{name}: {message}")
    return next((line for line in lines if line), doc.line), "; ".join(parts)


def _collect_units(paths: Sequence[str | Path], report: ImportReport) -> list[_Unit]:
    files: list[tuple[Path, bool]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
            )
            files.extend((p, False) for p in found)
        elif path.is_file():
            files.append((path, True))
        else:
            raise ImportSetupError(f"No such file or directory: {path}")
    units: list[_Unit] = []
    for path, explicit in files:
        name = str(path)
        suffix = path.suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            report.problems.append(
                ImportProblem(name, None, "unsupported file type (expected .jsonl or .md)")
            )
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            report.problems.append(ImportProblem(name, None, f"cannot read the file: {exc}"))
            continue
        if suffix == ".md":
            if not explicit and not text.lstrip("\ufeff").startswith("---"):
                report.ignored_files.append(name)  # a README next to the data, say
                continue
            report.files += 1
            units.append(_Unit(name, 1, "md", text, stem=path.stem))
        else:
            report.files += 1
            for number, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    units.append(_Unit(name, number, "jsonl", line))
    return units


def import_paths(
    paths: Sequence[str | Path],
    *,
    team_slug: str | None = None,
    create_users: bool = False,
    progress: bool = True,
) -> ImportReport:
    """Import post-mortems from files and directories.

    Args:
        paths: ``.jsonl`` files (the corpus schema, one record a line), ``.md``
            one-pagers, or directories searched recursively for both (Markdown
            files there without front matter, such as a README, are ignored).
        team_slug: put every document under this existing team instead of the
            team the record names.
        create_users: create unknown authors, facilitators and action-item
            owners (with an unusable password) instead of rejecting the record.
        progress: show a tqdm progress bar on stderr.

    Returns:
        An ``ImportReport``; bad records are in ``report.problems`` with file and
        line, the good ones are stored.

    Raises:
        ImportSetupError: when a path does not exist or ``team_slug`` names no team.
    """
    started = time.perf_counter()
    team = None
    if team_slug:
        team = Team.objects.filter(slug=team_slug).first()
        if team is None:
            raise ImportSetupError(f"No team with slug {team_slug!r}.")
    report = ImportReport()
    units = _collect_units(paths, report)
    importer = _Importer(team=team, create_users=create_users, report=report)
    parsed: list[tuple[_Unit, DocumentData | None, RecordError | None]] = []
    for unit in units:
        try:
            parsed.append((unit, importer.parse(unit), None))
        except RecordError as exc:
            parsed.append((unit, None, exc))
    importer.preload(doc.external_id for _, doc, _ in parsed if doc is not None)
    bar = tqdm(
        total=len(parsed),
        unit="record",
        desc="Importing",
        file=sys.stderr,
        disable=not progress,
        leave=False,
    )
    bulk = BulkCreator(
        team_override=team,
        create_users=create_users,
        slug_for=_slug_for,
        committed_teams=importer.teams,
    )
    bulk.preload_users(
        name
        for _, doc, _ in parsed
        if doc is not None
        for name in (*doc.authors, *(item.owner for item in doc.action_items), doc.facilitator)
        if name
    )
    bulk.preload_services(ref for _, doc, _ in parsed if doc is not None for ref in doc.services)
    known = set(importer.preloaded)  # external ids (and PM-<n> keys) already stored
    pending: list[tuple[_Unit, Prepared]] = []

    def account(unit: _Unit, doc: DocumentData, outcome: str) -> None:
        setattr(report, outcome, getattr(report, outcome) + 1)
        report.truncated_sections += doc.truncated_sections
        report.unknown_labels.update(doc.unknown_labels)
        report.warnings.extend(ImportProblem(unit.path, doc.line, w) for w in doc.warnings)

    def one_by_one(unit: _Unit, doc: DocumentData | None, error: RecordError | None) -> None:
        try:
            if error is not None:
                raise error
            assert doc is not None
            outcome = importer.store(doc)
        except RecordError as exc:
            report.problems.append(ImportProblem(unit.path, exc.line or unit.line, exc.message))
        except ValidationError as exc:
            assert doc is not None  # parsing raises RecordError only
            line, message = _problem_from_validation(doc, exc)
            report.problems.append(ImportProblem(unit.path, line, message))
        except (IntegrityError, DataError) as exc:
            report.problems.append(ImportProblem(unit.path, unit.line, f"database refused the record: {exc}"))
        else:
            account(unit, doc, outcome)
            bulk.forget_missing()
        bar.update(1)

    def flush() -> None:
        if not pending:
            return
        try:
            created = bulk.store([prepared for _, prepared in pending])
        except (IntegrityError, DataError):
            # Rolled back: redo the batch one record at a time, so the bad one is
            # reported with its file and line and the good ones are stored.
            for unit, prepared in pending:
                one_by_one(unit, prepared.doc, None)
        else:
            report.created_teams += created["teams"]
            report.created_services += created["services"]
            report.created_users += created["users"]
            for unit, prepared in pending:
                account(unit, prepared.doc, "created")
            bar.update(len(pending))
        pending.clear()

    for unit, doc, error in parsed:
        new = error is None and doc is not None and not _may_exist(doc.external_id, known)
        prepared = bulk.prepare(doc) if new else None
        if prepared is None:
            flush()  # keep the order: this record may need what the batch creates
            one_by_one(unit, doc, error)
        else:
            pending.append((unit, prepared))
            if len(pending) >= BULK_BATCH:
                flush()
        if doc is not None:
            known.add(doc.external_id)  # a later record with this id updates it
    flush()
    bar.close()
    report.elapsed_seconds = time.perf_counter() - started
    return report
