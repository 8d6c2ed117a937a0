"""The bulk path of the importer: new documents stored a batch at a time.

``import_paths`` (``manage.py import_postmortems``) sends every record that
creates a post-mortem here and every record that updates one through
``services.postmortem_save`` (``_Importer.store``), one at a time, as before.
A batch of new documents costs a fixed number of statements instead of ~100
per document (docs/benchmarks.md): names are looked up once per run, rows are
written a table at a time by ``_insert`` (PostgreSQL ``COPY``, SQLite
``executemany``), ``search_body`` is built in Python from the rows in memory
(the text ``services.build_search_body`` builds) and each document gets its one
revision (``postmortems.history``) with the same ``related`` snapshot, written
the same way with the rows' own creation records.

Nothing is stored for a record that would not pass the per-record path:
``prepare`` validates each document first (``full_clean`` of the document and
each row, without the queries of foreign-key and uniqueness checks, which the
resolved names and the database constraints cover) and returns None for a
record it cannot vouch for; the caller then imports that record through the
per-record path, which reports its error with file and line. If the database
refuses a batch (``IntegrityError``/``DataError``), the caller rolls the batch
back and redoes its records one by one, so a bad record never costs the good
ones and is reported as before.

What the bulk path leaves out, as the per-record import already does for
pattern detection: the after-save side effects. Pattern detection runs once
afterwards (``manage.py detect_patterns``); owners of imported open action
items are not e-mailed (an import brings history, not new assignments; the
items' ``notified_owner`` stays empty).

The search indexes stay current: SQLite's FTS5 triggers fire on the bulk
INSERT and PostgreSQL computes the stored generated ``tsvector`` (and updates
its GIN index) on insert.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone

from postmortems.exchange.document import DocumentData
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

# Foreign keys are resolved by the importer; full_clean would check each with a query.
_PM_EXCLUDE = ["team", "facilitator", "created_by", "deleted_by", "search_body"]
_ROW_EXCLUDE = ["postmortem"]


@dataclass
class Prepared:
    """One validated new document, its rows and the names it needs (unsaved)."""

    doc: DocumentData
    pm: PostMortem
    team_ref: str
    service_refs: list[str]
    author_names: list[str]
    facilitator: str
    factor_slugs: list[str]
    timeline: list[TimelineEntry]
    items: list[ActionItem]
    owner_names: list[str]
    declined: list[DeclinedChange]
    prs: list[FixPullRequest]
    pr_items: list[int | None]  # 1-based action item index per PR


class BulkCreator:
    """Validates new documents and stores them a batch at a time (see the module docstring).

    Args:
        team_override: the ``--team`` team, or None to use each record's team.
        create_users: create unknown users (as the per-record path does).
        slug_for: the importer's name → slug rule (``importer._slug_for``).
        committed_teams: the importer's cache of committed teams, by reference;
            updated after each committed batch.
    """

    def __init__(
        self,
        *,
        team_override: Team | None,
        create_users: bool,
        slug_for: Callable[[str, int], str],
        committed_teams: dict[str, Team],
    ) -> None:
        self.team_override = team_override
        self.create_users = create_users
        self.slug_for = slug_for
        self.teams = committed_teams
        self.user_model = get_user_model()
        self.factors = {f.slug: f for f in ContributingFactor.objects.all()}
        # build_search_body lists factors in the model's ordering (category, name).
        self.factor_rank = {f.pk: i for i, f in enumerate(self.factors.values())}
        # Committed lookups: reference → row (None: looked up, not there yet).
        self.services: dict[str, Service | None] = {}
        self.users: dict[str, int | None] = {}
        self.team_lookups: dict[str, Team | None] = {}

    def forget_missing(self) -> None:
        """Drop the "not there" lookups: the per-record path may just have created those names."""
        for cache in (self.services, self.users, self.team_lookups):
            for key in [k for k, v in cache.items() if v is None]:
                del cache[key]

    # --- lookups (read-only) ---------------------------------------------------------

    def _find_team(self, ref: str) -> Team | None:
        if ref in self.teams:
            return self.teams[ref]
        if ref not in self.team_lookups:
            self.team_lookups[ref] = (
                Team.objects.filter(slug=ref).first()
                or Team.objects.filter(slug=self.slug_for(ref, 80)).first()
            )
        return self.team_lookups[ref]

    def _find_service(self, ref: str) -> Service | None:
        if ref not in self.services:
            self.preload_services([ref])
        return self.services[ref]

    def _find_user(self, name: str) -> int | None:
        if name not in self.users:
            self.preload_users([name])
        return self.users[name]

    def preload_users(self, names: Iterable[str], chunk: int = 500) -> None:
        """Look the user names up ``chunk`` at a time, so that ``prepare`` asks none one by one.

        Args:
            names: user names (``USERNAME_FIELD`` values) the records will name;
                repeats are fine.
            chunk: names per ``IN (…)`` query.

        A name that is not there is remembered as missing (None); ``forget_missing``
        drops those after the per-record path runs.
        """
        field = self.user_model.USERNAME_FIELD
        todo = [name for name in dict.fromkeys(names) if name not in self.users]
        for start in range(0, len(todo), chunk):
            part = todo[start : start + chunk]
            found = dict(self.user_model.objects.filter(**{f"{field}__in": part}).values_list(field, "pk"))
            self.users.update({name: found.get(name) for name in part})

    def preload_services(self, refs: Iterable[str], chunk: int = 500) -> None:
        """Look service references up ``chunk`` at a time: a reference names the service
        whose slug it is, else the one whose slug is ``slug_for(reference)``; missing
        ones are remembered as None (``forget_missing`` drops those)."""
        todo = [ref for ref in dict.fromkeys(refs) if ref not in self.services]
        for start in range(0, len(todo), chunk):
            part = todo[start : start + chunk]
            slugs = {ref: self.slug_for(ref, 80) for ref in part}
            found = {s.slug: s for s in Service.objects.filter(slug__in={*part, *slugs.values()})}
            self.services.update({ref: found.get(ref) or found.get(slugs[ref]) for ref in part})

    def _user_ok(self, name: str) -> bool:
        if self._find_user(name) is not None:
            return True
        if not self.create_users:
            return False
        try:
            self.user_model.username_validator(name)
        except ValidationError:
            return False
        return True

    # --- validation ------------------------------------------------------------------------

    def prepare(self, doc: DocumentData) -> Prepared | None:
        """Validate one new document without writing anything.

        Returns:
            A ``Prepared`` document, or None when the per-record path must handle
            the record (it is invalid, names an unknown user or factor, or has
            more rows than allowed) — that path reports the error.
        """
        limit = settings.KB_MAX_ROWS_PER_DOCUMENT
        if any(
            len(rows) > limit for rows in (doc.timeline, doc.action_items, doc.declined_changes, doc.fix_prs)
        ):
            return None
        factor_slugs = list(dict.fromkeys(doc.factors))
        if any(slug not in self.factors for slug in factor_slugs):
            return None
        authors = list(dict.fromkeys(doc.authors))
        owners = [item.owner for item in doc.action_items]
        names = [*authors, *owners, *([doc.facilitator] if doc.facilitator else [])]
        if not all(self._user_ok(name) for name in dict.fromkeys(names)):
            return None
        team_ref = "" if self.team_override else doc.team
        if not self.team_override:
            team = self._find_team(team_ref)
            if team is None:
                candidate = Team(slug=self.slug_for(team_ref, 80), name=team_ref[:120])
                try:
                    candidate.clean_fields()
                except ValidationError:
                    return None
        pm = PostMortem(
            title=doc.title,
            severity=doc.severity,
            status=doc.status,
            started_at=doc.started_at,
            detected_at=doc.detected_at,
            mitigated_at=doc.mitigated_at,
            resolved_at=doc.resolved_at,
            what_happened=doc.what_happened or "",
            why_it_happened=doc.why_it_happened or "",
            what_we_change=doc.what_we_change or "",
            what_we_dont_change=doc.what_we_dont_change or "",
            source_url=doc.source_url or "",
            external_id=doc.external_id,
        )
        timeline = [TimelineEntry(at=r.at, text=r.text, evidence_url=r.evidence_url) for r in doc.timeline]
        now = timezone.now()
        items = []
        for r in doc.action_items:
            status = r.status
            completed = (r.completed_at or now) if status == ActionItem.Status.DONE else None
            items.append(
                ActionItem(
                    text=r.text,
                    kind=r.kind,
                    due_date=r.due_date,
                    status=status,
                    not_doing_reason=r.not_doing_reason,
                    ticket_url=r.ticket_url,
                    completed_at=completed,
                )
            )
        declined = [DeclinedChange(text=r.text, rationale=r.rationale) for r in doc.declined_changes]
        prs, pr_items = [], []
        for r in doc.fix_prs:
            try:
                repository, number = parse_pull_request_url(r.url)
            except ValidationError:
                return None
            if r.item and not 0 < r.item <= len(items):
                return None
            prs.append(
                FixPullRequest(
                    url=r.url,
                    repository=repository,
                    number=number,
                    title=r.title or "",
                    state=r.state or FixPullRequest.State.OPEN,
                )
            )
            pr_items.append(r.item or None)
        if len({pr.url for pr in prs}) != len(prs):
            return None  # unique per document: let the per-record path say so
        try:
            pm.full_clean(exclude=_PM_EXCLUDE, validate_unique=False, validate_constraints=False)
            for row in (*timeline, *declined, *prs):
                exclude = [*_ROW_EXCLUDE, "action_item"] if isinstance(row, FixPullRequest) else _ROW_EXCLUDE
                row.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
            for item in items:
                item.full_clean(
                    exclude=[*_ROW_EXCLUDE, "owner", "notified_owner"],
                    validate_unique=False,
                    validate_constraints=False,
                )
        except ValidationError:
            return None
        return Prepared(
            doc=doc,
            pm=pm,
            team_ref=team_ref,
            service_refs=list(dict.fromkeys(doc.services)),
            author_names=authors,
            facilitator=doc.facilitator or "",
            factor_slugs=factor_slugs,
            timeline=timeline,
            items=items,
            owner_names=owners,
            declined=declined,
            prs=prs,
            pr_items=pr_items,
        )

    # --- storing ----------------------------------------------------------------------------

    def store(self, batch: Sequence[Prepared]) -> dict[str, int]:
        """Store a batch of prepared documents in one transaction.

        Returns:
            Names created: ``{"teams": n, "services": n, "users": n}``.

        Raises:
            IntegrityError, DataError: when the database refuses a row; the whole
                batch is rolled back (and the lookup caches are left as they were).
        """
        created = {"teams": 0, "services": 0, "users": 0}
        new_teams: dict[str, Team] = {}
        new_services: dict[str, Service] = {}
        new_users: dict[str, int] = {}
        with transaction.atomic():
            _lock_for_ids()
            teams = self._resolve_teams(batch, new_teams, created)
            users = self._resolve_users(batch, new_users, created)
            services = self._resolve_services(batch, teams, new_services, created)
            self._write(batch, teams, users, services)
        # Committed: the new names may be reused by the next batches.
        self.teams.update({ref: team for ref, team in teams.items() if ref})
        self.users.update(new_users)
        self.services.update(services)
        return created

    def _resolve_teams(self, batch, new_teams, created) -> dict[str, Team]:
        teams: dict[str, Team] = {}
        for prepared in batch:
            ref = prepared.team_ref
            if ref in teams:
                continue
            if self.team_override is not None:
                teams[ref] = self.team_override
                continue
            team = self._find_team(ref)
            if team is None:
                slug = self.slug_for(ref, 80)
                team = new_teams.get(slug) or Team.objects.filter(slug=slug).first()
                if team is None:
                    team = Team.objects.create(slug=slug, name=ref[:120])
                    created["teams"] += 1
                new_teams[slug] = team
            teams[ref] = team
        return teams

    def _resolve_users(self, batch, new_users, created) -> dict[str, int]:
        wanted = dict.fromkeys(
            name
            for p in batch
            for name in (*p.author_names, *p.owner_names, *([p.facilitator] if p.facilitator else []))
        )
        users = {name: self._find_user(name) for name in wanted}
        missing = [name for name, pk in users.items() if pk is None]
        if missing:
            objs = []
            for name in missing:
                user = self.user_model(**{self.user_model.USERNAME_FIELD: name})
                user.set_unusable_password()  # as create_user(password=None)
                objs.append(user)
            self.user_model.objects.bulk_create(objs)
            if any(obj.pk is None for obj in objs):  # a backend without RETURNING
                found = self.user_model.objects.filter(**{f"{self.user_model.USERNAME_FIELD}__in": missing})
                ids = dict(found.values_list(self.user_model.USERNAME_FIELD, "pk"))
            else:
                ids = {getattr(obj, self.user_model.USERNAME_FIELD): obj.pk for obj in objs}
            users.update(ids)
            new_users.update(ids)
            created["users"] += len(ids)
        return users

    def _resolve_services(self, batch, teams, new_services, created) -> dict[str, Service]:
        services: dict[str, Service] = {}
        for prepared in batch:
            for ref in prepared.service_refs:
                if ref in services:
                    continue
                service = self._find_service(ref)
                if service is None:
                    slug = self.slug_for(ref, 80)
                    service = new_services.get(slug)
                    if service is None:
                        service = Service.objects.create(
                            slug=slug, name=ref[:120], team=teams[prepared.team_ref]
                        )
                        created["services"] += 1
                        new_services[slug] = service
                services[ref] = service
        return services

    def _write(self, batch, teams, users, services) -> None:
        pm_ids = _reserve_ids(PostMortem, len(batch))
        item_ids = _reserve_ids(ActionItem, sum(len(p.items) for p in batch))
        # Ids drawn here rather than returned by the INSERT, which ``_insert`` cannot
        # read back: the revisions' snapshots name the rows by id.
        timeline_ids = iter(_reserve_ids(TimelineEntry, sum(len(p.timeline) for p in batch)))
        declined_ids = iter(_reserve_ids(DeclinedChange, sum(len(p.declined) for p in batch)))
        service_rank = _service_rank({s.pk for s in services.values()})
        through_services, through_authors, through_factors = (
            PostMortem.services.through,
            PostMortem.authors.through,
            PostMortem.factors.through,
        )
        m2m_services, m2m_authors, m2m_factors = [], [], []
        timeline, items, declined, prs, pms = [], [], [], [], []
        item_cursor = iter(item_ids)
        for prepared, pm_id in zip(batch, pm_ids, strict=True):
            pm = prepared.pm
            team = teams[prepared.team_ref]
            pm.pk = pm_id
            pm.team = team
            pm.facilitator_id = users[prepared.facilitator] if prepared.facilitator else None
            doc_services = list({s.pk: s for s in (services[r] for r in prepared.service_refs)}.values())
            factor_objs = [self.factors[slug] for slug in prepared.factor_slugs]
            author_ids = list(dict.fromkeys(users[name] for name in prepared.author_names))
            m2m_services += [through_services(postmortem_id=pm_id, service_id=s.pk) for s in doc_services]
            m2m_authors += [through_authors(postmortem_id=pm_id, user_id=u) for u in author_ids]
            m2m_factors += [
                through_factors(postmortem_id=pm_id, contributingfactor_id=f.pk) for f in factor_objs
            ]
            for row in prepared.timeline:
                row.pk = next(timeline_ids)
                row.postmortem_id = pm_id
            for row, owner in zip(prepared.items, prepared.owner_names, strict=True):
                row.pk = next(item_cursor)
                row.postmortem_id = pm_id
                row.owner_id = users[owner]
            for row in prepared.declined:
                row.pk = next(declined_ids)
                row.postmortem_id = pm_id
            for row, index in zip(prepared.prs, prepared.pr_items, strict=True):
                row.postmortem_id = pm_id
                row.action_item_id = prepared.items[index - 1].pk if index else None
            pm.search_body = _search_body(
                team, doc_services, factor_objs, prepared, service_rank, self.factor_rank
            )
            pms.append(pm)
            timeline += prepared.timeline
            items += prepared.items
            declined += prepared.declined
            prs += prepared.prs
        _insert(PostMortem, pms)
        _insert(through_services, m2m_services)
        _insert(through_authors, m2m_authors)
        _insert(through_factors, m2m_factors)
        _insert(TimelineEntry, timeline)
        _insert(ActionItem, items)
        _insert(DeclinedChange, declined)
        _insert(FixPullRequest, prs)
        # One revision per document and per row with its own history, as the
        # per-record path writes them (services.postmortem_save, _sync_rows).
        _bulk_row_history(ActionItem, items)
        _bulk_row_history(DeclinedChange, declined)
        _bulk_revisions(batch, users, services)


# --- helpers --------------------------------------------------------------------------------


def _lock_for_ids() -> None:
    """SQLite: take the write lock now, so ids read from the tables stay ours until commit."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute('UPDATE "postmortems_team" SET "id" = "id" WHERE 0')


def _reserve_ids(model, count: int) -> list[int]:
    """``count`` unused primary keys of ``model``, reserved for this transaction.

    PostgreSQL: drawn from the column's sequence (safe with concurrent writers).
    SQLite: above the largest id ever used (the AUTOINCREMENT counter); the write
    lock taken by ``_lock_for_ids`` keeps them ours until commit, and inserting
    them moves the counter on.
    """
    if count == 0:
        return []
    table = model._meta.db_table
    pk = model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, pk, count],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f'SELECT COALESCE(MAX("{pk}"), 0) FROM "{table}"')  # noqa: S608 - model metadata
        top = cursor.fetchone()[0]
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = cursor.fetchone()
        top = max(top, row[0] if row else 0)
    return list(range(top + 1, top + 1 + count))


# Fields whose database value is the Python value itself once ``full_clean`` has
# run (it stores each field's cleaned value): no per-value ``get_db_prep_save``.
_PLAIN_FIELDS = (
    models.CharField,  # TextField-like subclasses (slug, URL, e-mail) included
    models.TextField,
    models.IntegerField,  # AutoField, BigAutoField and PositiveIntegerField included
    models.BooleanField,
    models.ForeignKey,
)
_PLAIN_TYPES = (str, int, bool)
# Hashable values whose database form depends only on the field and the value.
_MEMO_TYPES = (dt.datetime, dt.date, dt.time, dt.timedelta)


def _insert(model, objs: Sequence[models.Model]) -> None:
    """INSERT ``objs`` (unsaved instances of ``model``) in one statement per table.

    ``QuerySet.bulk_create`` builds a parameterised SQL text per batch and runs
    each value through ``get_db_prep_save``; for the import's ~20 rows per
    document that was about half of the write phase (cProfile, bench/suite.py).
    Here: PostgreSQL ``COPY … FROM STDIN`` (psycopg's ``Cursor.copy``), SQLite
    ``executemany`` of one ``INSERT``; values of the plain field types above go
    as they are, others (dates, times, JSON) through the field's own
    ``get_db_prep_save`` (once per distinct date or time), and ``auto_now``
    fields get one time for the statement (``bulk_create`` reads the clock per
    row). Rows with an unset primary key get the column's default (sequence /
    rowid); callers that need ids set them first
    (``_reserve_ids``). No signals are sent (``bulk_create`` sends none either).

    Raises:
        IntegrityError, DataError: as the database reports them (PostgreSQL's
            COPY reports a bad row for the whole statement).
    """
    if not objs:
        return
    has_pk = objs[0].pk is not None
    fields = [f for f in model._meta.local_concrete_fields if has_pk or not f.primary_key]
    plain = [isinstance(f, _PLAIN_FIELDS) for f in fields]
    rows = []
    # A batch repeats the same dates and times (one ``now`` for every history row):
    # each distinct (field, value) goes through ``get_db_prep_save`` once.
    prepared: dict[tuple[int, Any], Any] = {}
    # ``auto_now``/``auto_now_add`` fields take one time for the whole statement, as a
    # column default of now() would (``pre_save`` would read the clock per row).
    stamped = [getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) for f in fields]
    now = timezone.now()
    for obj in objs:
        row = []
        for index, (field, is_plain) in enumerate(zip(fields, plain, strict=True)):
            if stamped[index]:
                value = now.date() if type(field) is models.DateField else now
                setattr(obj, field.attname, value)
            else:
                value = field.pre_save(obj, True)
            if value is None or (is_plain and type(value) in _PLAIN_TYPES):
                row.append(value)
            elif type(value) in _MEMO_TYPES:
                key = (index, value)
                if key not in prepared:
                    prepared[key] = field.get_db_prep_save(value, connection)
                row.append(prepared[key])
            else:  # other types (JSON…), and str subclasses such as a TextChoices member
                row.append(field.get_db_prep_save(value, connection))
        rows.append(row)
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(f.column) for f in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The raw psycopg cursor: Django's wrapper has no copy(); its error
            # wrapper turns psycopg's errors into django.db's (IntegrityError…).
            with (
                connection.wrap_database_errors,
                cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("%s" for _ in fields)
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)  # noqa: S608


def _service_rank(pks: set[int]) -> dict[int, int]:
    """Position of each service in ``Service``'s ordering (name), as the database sorts."""
    ordered = Service.objects.filter(pk__in=pks).values_list("pk", flat=True)
    return {pk: i for i, pk in enumerate(ordered)}


def _search_body(team, services, factors, prepared: Prepared, service_rank, factor_rank) -> str:
    """``services.build_search_body`` from the rows in memory (same order and format)."""
    lines: list[str] = [team.name]
    lines += [s.name for s in sorted(services, key=lambda s: service_rank[s.pk])]
    lines += [f"{f.name} {f.slug}" for f in sorted(factors, key=lambda f: factor_rank[f.pk])]
    lines += [r.text for r in sorted(prepared.timeline, key=lambda r: (r.at, r.pk or 0))]
    lines += [f"AI-{r.pk} {r.text}" for r in sorted(prepared.items, key=lambda r: (r.due_date, r.pk))]
    lines += [f"{r.text} {r.rationale}" for r in prepared.declined]
    lines += [f"{r.repository} {r.title}" for r in prepared.prs]
    return "\n".join(line for line in lines if line)


def _snapshot(prepared: Prepared, users_by_name: dict[str, int], services) -> dict[str, Any]:
    """``postmortems.history.snapshot`` from the rows in memory (same shape and order)."""
    return {
        "factors": sorted(prepared.factor_slugs),
        "authors": sorted({users_by_name[name] for name in prepared.author_names}),
        "services": sorted({services[ref].slug for ref in prepared.service_refs}),
        "restricted_to": [],
        "timeline": [
            {"at": r.at.isoformat(), "text": r.text, "evidence_url": r.evidence_url}
            for r in sorted(prepared.timeline, key=lambda r: (r.at, r.pk))
        ],
        "action_items": [
            {
                "id": r.pk,
                "text": r.text,
                "kind": r.kind,
                "owner": r.owner_id,
                "due_date": r.due_date.isoformat(),
                "status": r.status,
                "not_doing_reason": r.not_doing_reason,
                "ticket_url": r.ticket_url,
            }
            for r in sorted(prepared.items, key=lambda r: r.pk)
        ],
        "declined_changes": [
            {"id": r.pk, "text": r.text, "rationale": r.rationale}
            for r in sorted(prepared.declined, key=lambda r: r.pk)
        ],
    }


def _creation_record(history, obj: models.Model, when, **attributes) -> models.Model:
    """The historical row (type ``+``) that records ``obj``'s creation, unsaved.

    The fields simple_history's ``HistoryManager.bulk_history_create`` sets: the
    tracked fields' values, the date, an empty change reason; ``attributes`` adds
    or overrides (``history_user``, ``related``).
    """
    return history(
        history_date=when,
        history_change_reason="",
        history_type="+",
        **{f.attname: getattr(obj, f.attname) for f in history.tracked_fields},
        **attributes,
    )


def _bulk_row_history(model, objs: Sequence[models.Model]) -> None:
    """The creation record of each row, as ``bulk_history_create`` writes it (its
    default user, one date), written with ``_insert`` instead of ``bulk_create``."""
    history = model.history.model
    when = timezone.now()
    _insert(
        history,
        [
            _creation_record(history, obj, when, history_user=history.get_default_history_user(obj))
            for obj in objs
        ],
    )


def _bulk_revisions(batch: Sequence[Prepared], users: dict[str, int], services) -> None:
    """The first revision of each document (history type ``+``), as ``record_revision`` writes it.

    ``PostMortem.history.bulk_history_create`` takes one set of extra attributes
    for all objects, while each revision needs its own ``related`` snapshot; this
    builds the same historical rows and writes them with ``_insert``.
    """
    history = PostMortem.history.model
    when = timezone.now()
    rows = [
        _creation_record(
            history, prepared.pm, when, history_user=None, related=_snapshot(prepared, users, services)
        )
        for prepared in batch
    ]
    _insert(history, rows)
