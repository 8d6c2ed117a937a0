"""A post-mortem's history: its revisions, what changed between two, and restore.

Reads the records ``postmortems.history`` writes (one ``PostMortem.history`` row
per ``services.postmortem_save``, with a ``related`` snapshot of the relations
and rows) and the per-row records of action items and declined changes
(``ActionItem.history``, ``DeclinedChange.history``), which also catch changes
made outside a document save (a status change on "My action items", a webhook).

* ``history_entries`` — the history page: revisions newest first, each with a
  one-line summary of what changed since the one before, interleaved with the
  rows' own events ("AI-12 status Open → Done by bob").
* ``revision_compare`` — a readable diff of two states: scalar fields before and
  after, the four Markdown sections as a line diff with word-level changes
  (``difflib.SequenceMatcher``), factors, authors, services and named readers
  added and removed, timeline, action items and declined changes added, removed
  and changed. Everything is plain text; templates escape it.
* ``revision_restore`` — writes an old revision back through
  ``services.postmortem_save`` as a *new* revision ("restored revision 3"); the
  history itself is never rewritten (the wiki model: MediaWiki's "revert" is an
  edit like any other).

Revision numbers count a document's revisions from 1, oldest first, in
``(history_date, history_id)`` order; since records are only ever appended, a
number never changes.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from django.contrib.auth import get_user_model
from django.http import Http404
from django.utils import dateformat, timezone
from django.utils.dateparse import parse_date, parse_datetime

from postmortems.history import snapshot
from postmortems.models import ActionItem, ContributingFactor, DeclinedChange, PostMortem, Service, Team
from postmortems.onepager import SECTION_FIELDS, SECTION_TITLES

NOT_FOUND = "No such revision of this post-mortem."

#: Scalar columns shown as before → after, in page order: (field, label).
SCALAR_FIELDS: tuple[tuple[str, str], ...] = (
    ("title", "Title"),
    ("team", "Team"),
    ("severity", "Severity"),
    ("status", "Status"),
    ("visibility", "Visibility"),
    ("started_at", "Started"),
    ("detected_at", "Detected"),
    ("mitigated_at", "Mitigated"),
    ("resolved_at", "Resolved"),
    ("facilitator", "Facilitator"),
    ("source_url", "Source URL"),
    ("external_id", "External id"),
)
#: Many-to-many relations in the snapshot: (key, label).
SET_FIELDS: tuple[tuple[str, str], ...] = (
    ("factors", "Contributing factors"),
    ("authors", "Authors"),
    ("services", "Services"),
    ("restricted_to", "Named readers"),
)
#: Row lists in the snapshot: (key, label).
ROW_LISTS: tuple[tuple[str, str], ...] = (
    ("timeline", "Timeline"),
    ("action_items", "Action items"),
    ("declined_changes", "Declined changes"),
)
_ACTION_ITEM_FIELDS: tuple[tuple[str, str], ...] = (
    ("text", "text"),
    ("kind", "kind"),
    ("owner", "owner"),
    ("due_date", "due date"),
    ("status", "status"),
    ("not_doing_reason", "reason for not doing"),
    ("ticket_url", "ticket"),
)
_DECLINED_FIELDS: tuple[tuple[str, str], ...] = (("text", "text"), ("rationale", "rationale"))
_TIMELINE_FIELDS: tuple[tuple[str, str], ...] = (
    ("at", "time"),
    ("text", "text"),
    ("evidence_url", "evidence"),
)

#: A row's own history event this close before a revision by the same person
#: belongs to that document save (``postmortem_save`` writes the rows, then the
#: revision, in one transaction).
SAVE_WINDOW = dt.timedelta(seconds=10)
#: Word diffs of a changed line pair are skipped above this many token pairs
#: (``SequenceMatcher`` is quadratic in the worst case); the line is then shown
#: as removed and added whole.
_MAX_WORD_DIFF_WORK = 4_000_000
_TOKENS = re.compile(r"\s+|\w+|[^\w\s]")
EMPTY = "—"


# --- names --------------------------------------------------------------------


def user_name(user) -> str:
    """How a person is shown: full name, else username; "system" for no user."""
    if user is None:
        return "system"
    return user.get_full_name() or user.get_username()


class _Names:
    """Display names for the ids and slugs a snapshot holds, read in one query per kind."""

    def __init__(self) -> None:
        self.users: dict[int, str] = {}
        self.factors: dict[str, str] = {}
        self.services: dict[str, str] = {}
        self.teams: dict[int, str] = {}

    @classmethod
    def for_states(cls, states: Iterable[dict[str, Any]]) -> _Names:
        user_ids: set[int] = set()
        factor_slugs: set[str] = set()
        service_slugs: set[str] = set()
        team_ids: set[int] = set()
        for state in states:
            related = state["related"]
            user_ids.update(related.get("authors") or [])
            user_ids.update(related.get("restricted_to") or [])
            user_ids.update(row.get("owner") for row in related.get("action_items") or [])
            if state.get("facilitator"):
                user_ids.add(state["facilitator"])
            factor_slugs.update(related.get("factors") or [])
            service_slugs.update(related.get("services") or [])
            if state.get("team"):
                team_ids.add(state["team"])
        names = cls()
        names.add_users(user_ids)
        names.factors = dict(
            ContributingFactor.objects.filter(slug__in=factor_slugs).values_list("slug", "name")
        )
        names.services = dict(Service.objects.filter(slug__in=service_slugs).values_list("slug", "name"))
        names.teams = dict(Team.objects.filter(pk__in=team_ids).values_list("pk", "name"))
        return names

    def add_users(self, ids: Iterable[int | None]) -> None:
        wanted = {pk for pk in ids if pk and pk not in self.users}
        if wanted:
            for user in get_user_model().objects.filter(pk__in=wanted):
                self.users[user.pk] = user_name(user)

    def user(self, pk: int | None) -> str:
        if not pk:
            return EMPTY
        return self.users.get(pk, "a deleted user")

    def of(self, kind: str, value) -> str:
        """The name of one member of a set relation (``kind`` is a ``SET_FIELDS`` key)."""
        if kind in ("authors", "restricted_to"):
            return self.user(value)
        table = self.factors if kind == "factors" else self.services
        return table.get(value, f"{value} (no longer exists)")


# --- states: a revision or the live document, as plain data ------------------------------


def _state(record) -> dict[str, Any]:
    """A historical record (or a live ``PostMortem``) as a plain dict of its columns.

    ``related`` is the snapshot; a key missing from it (a record written by a
    plain ``save()``, not by the service) means "not recorded", not "empty".
    """
    state: dict[str, Any] = {
        name: getattr(record, name) for name, _ in SCALAR_FIELDS if name not in ("team", "facilitator")
    }
    state["team"] = record.team_id
    state["facilitator"] = record.facilitator_id
    for name in SECTION_FIELDS:
        state[name] = getattr(record, name) or ""
    if isinstance(record, PostMortem):
        state["related"] = snapshot(record)
    else:
        state["related"] = record.related if isinstance(record.related, dict) else {}
    return state


def _display_scalar(name: str, value, names: _Names) -> str:
    if value in (None, ""):
        return EMPTY
    if name == "team":
        return names.teams.get(value, "a deleted team")
    if name == "facilitator":
        return names.user(value)
    choices = {
        "severity": PostMortem.Severity,
        "status": PostMortem.Status,
        "visibility": PostMortem.Visibility,
    }
    if name in choices:
        try:
            return str(choices[name](value).label)
        except ValueError:
            return str(value)
    if isinstance(value, dt.datetime):
        return _when(value)
    return str(value)


def _when(value: dt.datetime | str | None) -> str:
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is None:
        return EMPTY
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return dateformat.format(value, "j M Y, H:i")


# --- revisions -------------------------------------------------------------------


@dataclass
class FieldChange:
    """One value before and after (display strings)."""

    label: str
    before: str
    after: str


@dataclass
class RowEvent:
    """One change recorded on an action item or a declined change itself.

    ``kind`` is "added", "changed" or "removed"; ``label`` names the row
    ("AI-12", "Declined change “Freeze deploys…”"); ``changes`` lists the fields
    of a "changed" event; ``text`` is the row's text for "added"/"removed".
    """

    date: dt.datetime
    user: Any
    kind: str
    label: str
    text: str = ""
    changes: list[FieldChange] = field(default_factory=list)
    user_id: int | None = None

    @property
    def who(self) -> str:
        return user_name(self.user)

    @property
    def is_revision(self) -> bool:
        return False


@dataclass
class Revision:
    """One revision of a document: its record, number (1 = oldest) and, once
    ``history_entries`` has filled them, a summary and the row events of its save."""

    number: int
    record: Any
    summary: list[str] = field(default_factory=list)
    row_events: list[RowEvent] = field(default_factory=list)
    previous: Revision | None = None

    @property
    def history_id(self) -> int:
        return self.record.history_id

    @property
    def date(self) -> dt.datetime:
        return self.record.history_date

    @property
    def user(self):
        return self.record.history_user

    @property
    def who(self) -> str:
        return user_name(self.record.history_user)

    @property
    def reason(self) -> str:
        """The stored note ("restored revision 3", "deleted"), else "created" for the first."""
        if self.record.history_change_reason:
            return self.record.history_change_reason
        return "created" if self.record.history_type == "+" else ""

    @property
    def is_revision(self) -> bool:
        return True

    @property
    def has_snapshot(self) -> bool:
        return bool(self.record.related)


def revision_list(postmortem: PostMortem) -> list[Revision]:
    """Every revision of ``postmortem``, oldest first, numbered from 1.

    One query (with the acting users). The caller checks access first
    (``access.get_visible_postmortem``).
    """
    records = (
        PostMortem.history.filter(id=postmortem.pk)
        .select_related("history_user")
        .order_by("history_date", "history_id")
    )
    revisions: list[Revision] = []
    for number, record in enumerate(records, start=1):
        revisions.append(
            Revision(number=number, record=record, previous=revisions[-1] if revisions else None)
        )
    return revisions


def revision_get(postmortem: PostMortem, history_id, revisions: Sequence[Revision] | None = None) -> Revision:
    """The revision ``history_id`` of ``postmortem``.

    Args:
        history_id: the record's ``history_id`` (int or digits).
        revisions: the document's ``revision_list`` when the caller has it.

    Raises:
        Http404: when it is not a number, does not exist, or belongs to another
            document (the same answer in each case).
    """
    try:
        wanted = int(history_id)
    except (TypeError, ValueError):
        raise Http404(NOT_FOUND) from None
    for revision in revisions if revisions is not None else revision_list(postmortem):
        if revision.history_id == wanted:
            return revision
    raise Http404(NOT_FOUND)


# --- comparing two states ---------------------------------------------------------------------


@dataclass
class DiffLine:
    """One line of a section diff.

    ``kind``: "equal", "insert", "delete", "change" (one line edited: its
    ``segments`` mix the three ops) or "skip" (unchanged lines left out).
    ``segments``: ``[(op, text)]`` with op "equal", "insert" or "delete".
    """

    kind: str
    old_no: int | None = None
    new_no: int | None = None
    segments: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class SectionDiff:
    """A Markdown section that differs: its label and diff lines."""

    name: str
    label: str
    lines: list[DiffLine]


@dataclass
class SetChange:
    """A set relation's names added and removed; ``recorded`` is False when either
    side has no snapshot of it."""

    name: str
    label: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    recorded: bool = True


@dataclass
class RowChange:
    """One row added, removed or changed (``changes`` for "changed")."""

    kind: str
    label: str
    text: str
    changes: list[FieldChange] = field(default_factory=list)


@dataclass
class RowsChange:
    """The changes to one row list (timeline, action items, declined changes)."""

    name: str
    label: str
    rows: list[RowChange] = field(default_factory=list)
    recorded: bool = True

    def counts(self) -> dict[str, int]:
        out = {"added": 0, "removed": 0, "changed": 0}
        for row in self.rows:
            out[row.kind] += 1
        return out


@dataclass
class Comparison:
    """What differs between two states of a document (old → new).

    Empty lists mean "no change"; ``sets`` and ``rows`` only hold the relations
    that changed or that could not be compared (``recorded`` False).
    """

    fields: list[FieldChange]
    sections: list[SectionDiff]
    sets: list[SetChange]
    rows: list[RowsChange]

    @property
    def identical(self) -> bool:
        return not (self.fields or self.sections or self.sets or self.rows)

    def summary(self) -> list[str]:
        """Short phrases: "title, status", "sections: Why it happened",
        "factors +1 −1", "action items: 1 added, 2 changed"."""
        parts: list[str] = []
        if self.fields:
            parts.append(", ".join(change.label.lower() for change in self.fields))
        if self.sections:
            parts.append("sections: " + ", ".join(section.label for section in self.sections))
        for change in self.sets:
            if not change.recorded:
                parts.append(f"{change.label.lower()} not recorded")
                continue
            delta = []
            if change.added:
                delta.append(f"+{len(change.added)}")
            if change.removed:
                delta.append(f"−{len(change.removed)}")
            parts.append(f"{change.label.lower()} {' '.join(delta)}")
        for rows in self.rows:
            if not rows.recorded:
                parts.append(f"{rows.label.lower()} not recorded")
                continue
            counts = rows.counts()
            said = [f"{n} {kind}" for kind, n in counts.items() if n]
            parts.append(f"{rows.label.lower()}: {', '.join(said)}")
        return parts


def _segments(old: str, new: str) -> list[tuple[str, str]]:
    """A word-level diff of one line: ``[(op, text)]``, consecutive ops merged."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    if len(a) * len(b) > _MAX_WORD_DIFF_WORK:
        return [("delete", old), ("insert", new)]
    out: list[tuple[str, str]] = []

    def push(op: str, text: str) -> None:
        if not text:
            return
        if out and out[-1][0] == op:
            out[-1] = (op, out[-1][1] + text)
        else:
            out.append((op, text))

    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            push("equal", "".join(a[i1:i2]))
        else:
            push("delete", "".join(a[i1:i2]))
            push("insert", "".join(b[j1:j2]))
    return out


def text_diff(old: str, new: str, context: int = 3) -> list[DiffLine]:
    """A line diff of two texts with word-level changes inside edited lines.

    Follows ``difflib``'s unified diff: hunks of changed lines with ``context``
    unchanged lines around them; a "skip" line stands for the unchanged lines
    left out. A pair of replaced lines that are still alike (similarity ≥ 0.4)
    becomes one "change" line showing the words removed and added.

    Returns:
        ``[DiffLine]``; empty when the texts are equal.
    """
    if old == new:
        return []
    a, b = old.splitlines(), new.splitlines()
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    lines: list[DiffLine] = []
    for index, group in enumerate(matcher.get_grouped_opcodes(context)):
        if index or (group and (group[0][1] > 0 or group[0][3] > 0)):
            lines.append(DiffLine("skip"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                for offset, line in enumerate(a[i1:i2]):
                    lines.append(DiffLine("equal", i1 + offset + 1, j1 + offset + 1, [("equal", line)]))
                continue
            olds, news = a[i1:i2], b[j1:j2]
            paired = min(len(olds), len(news)) if tag == "replace" else 0
            for k in range(paired):
                old_line, new_line = olds[k], news[k]
                if SequenceMatcher(None, old_line, new_line, autojunk=False).quick_ratio() >= 0.4:
                    lines.append(DiffLine("change", i1 + k + 1, j1 + k + 1, _segments(old_line, new_line)))
                else:
                    lines.append(DiffLine("delete", i1 + k + 1, None, [("delete", old_line)]))
                    lines.append(DiffLine("insert", None, j1 + k + 1, [("insert", new_line)]))
            for k in range(paired, len(olds)):
                lines.append(DiffLine("delete", i1 + k + 1, None, [("delete", olds[k])]))
            for k in range(paired, len(news)):
                lines.append(DiffLine("insert", None, j1 + k + 1, [("insert", news[k])]))
    if lines and lines[-1].kind != "skip":
        last = lines[-1]
        if (last.old_no or 0) < len(a) and (last.new_no or 0) < len(b):
            lines.append(DiffLine("skip"))
    return lines


def _row_value(list_name: str, name: str, value, names: _Names) -> str:
    if value in (None, ""):
        return EMPTY
    if name == "owner":
        return names.user(value)
    if name == "at":
        return _when(value)
    if name == "status" and list_name == "action_items":
        try:
            return str(ActionItem.Status(value).label)
        except ValueError:
            return str(value)
    if name == "kind":
        try:
            return str(ActionItem.Kind(value).label)
        except ValueError:
            return str(value)
    if name == "due_date":
        parsed = parse_date(str(value))
        return dateformat.format(parsed, "j M Y") if parsed else str(value)
    return str(value)


def _row_field_changes(list_name: str, old: dict, new: dict, fields, names: _Names) -> list[FieldChange]:
    return [
        FieldChange(
            label,
            _row_value(list_name, name, old.get(name), names),
            _row_value(list_name, name, new.get(name), names),
        )
        for name, label in fields
        if old.get(name) != new.get(name)
    ]


def _compare_keyed(list_name: str, old: list[dict], new: list[dict], names: _Names) -> list[RowChange]:
    """Rows with ids (action items, declined changes): matched by id."""
    fields = _ACTION_ITEM_FIELDS if list_name == "action_items" else _DECLINED_FIELDS
    before = {row.get("id"): row for row in old}
    after = {row.get("id"): row for row in new}

    def label(row: dict) -> str:
        if list_name == "action_items":
            return f"AI-{row.get('id')}"
        return "Declined change"

    changes: list[RowChange] = []
    for pk, row in after.items():
        if pk not in before:
            changes.append(RowChange("added", label(row), row.get("text", "")))
        elif before[pk] != row:
            diffs = _row_field_changes(list_name, before[pk], row, fields, names)
            if diffs:
                changes.append(RowChange("changed", label(row), row.get("text", ""), diffs))
    for pk, row in before.items():
        if pk not in after:
            changes.append(RowChange("removed", label(row), row.get("text", "")))
    return changes


def _compare_timeline(old: list[dict], new: list[dict], names: _Names) -> list[RowChange]:
    """Timeline rows carry no ids: equal rows match; a removed and an added row at
    the same time are shown as one changed row."""
    removed = list(old)
    added: list[dict] = []
    for row in new:
        if row in removed:
            removed.remove(row)
        else:
            added.append(row)
    changes: list[RowChange] = []
    for row in list(added):
        twin = next((r for r in removed if r.get("at") == row.get("at")), None)
        if twin is not None:
            removed.remove(twin)
            added.remove(row)
            diffs = _row_field_changes("timeline", twin, row, _TIMELINE_FIELDS, names)
            changes.append(RowChange("changed", _when(row.get("at")), row.get("text", ""), diffs))
    changes += [RowChange("added", _when(row.get("at")), row.get("text", "")) for row in added]
    changes += [RowChange("removed", _when(row.get("at")), row.get("text", "")) for row in removed]
    return changes


def _compare_states(old: dict, new: dict, names: _Names, *, with_text: bool = True) -> Comparison:
    fields = [
        FieldChange(label, _display_scalar(name, old[name], names), _display_scalar(name, new[name], names))
        for name, label in SCALAR_FIELDS
        if old[name] != new[name]
    ]
    sections = [
        SectionDiff(name, SECTION_TITLES[name], text_diff(old[name], new[name]) if with_text else [])
        for name in SECTION_FIELDS
        if old[name] != new[name]
    ]
    old_rel, new_rel = old["related"], new["related"]
    sets: list[SetChange] = []
    for name, label in SET_FIELDS:
        if name not in old_rel or name not in new_rel:
            if old_rel or new_rel:
                sets.append(SetChange(name, label, recorded=False))
            continue
        before, after = set(old_rel[name]), set(new_rel[name])
        if before != after:
            sets.append(
                SetChange(
                    name,
                    label,
                    added=sorted(names.of(name, v) for v in after - before),
                    removed=sorted(names.of(name, v) for v in before - after),
                )
            )
    rows: list[RowsChange] = []
    for name, label in ROW_LISTS:
        if name not in old_rel or name not in new_rel:
            if old_rel or new_rel:
                rows.append(RowsChange(name, label, recorded=False))
            continue
        if name == "timeline":
            changed = _compare_timeline(old_rel[name], new_rel[name], names)
        else:
            changed = _compare_keyed(name, old_rel[name], new_rel[name], names)
        if changed:
            rows.append(RowsChange(name, label, changed))
    return Comparison(fields, sections, sets, rows)


def revision_compare(postmortem: PostMortem, old: Revision | None, new: Revision | None) -> Comparison:
    """What changed from ``old`` to ``new`` (either may be None: the document as it is now).

    Names are read in one query per kind (users, factors, services, teams).
    """
    states = [_state(rev.record) if rev is not None else _state(postmortem) for rev in (old, new)]
    names = _Names.for_states(states)
    return _compare_states(states[0], states[1], names)


# --- the history page ---------------------------------------------------------------


def _row_events(postmortem: PostMortem, names: _Names) -> list[RowEvent]:
    """The action items' and declined changes' own changes, oldest first.

    Records that change nothing a reader sees (``postmortem_save`` re-saves every
    row it is given, which only bumps ``version``) are left out.
    """
    events: list[RowEvent] = []
    sources = (
        ("action_items", ActionItem.history, _ACTION_ITEM_FIELDS),
        ("declined_changes", DeclinedChange.history, _DECLINED_FIELDS),
    )
    loaded: list[tuple[str, Any, list]] = []
    owner_ids: set[int] = set()
    for list_name, manager, fields in sources:
        records = list(
            manager.filter(postmortem_id=postmortem.pk)
            .select_related("history_user")
            .order_by("id", "history_date", "history_id")
        )
        if list_name == "action_items":
            owner_ids.update(record.owner_id for record in records)
        loaded.append((list_name, fields, records))
    names.add_users(owner_ids)
    for list_name, fields, records in loaded:
        previous: dict[int, dict] = {}
        for record in records:
            values = {
                name: (record.owner_id if name == "owner" else getattr(record, name)) for name, _ in fields
            }
            if list_name == "action_items" and values["due_date"] is not None:
                values["due_date"] = values["due_date"].isoformat()
            label = f"AI-{record.id}" if list_name == "action_items" else "Declined change"
            common = {
                "date": record.history_date,
                "user": record.history_user,
                "user_id": record.history_user_id,
                "label": label,
            }
            if record.history_type == "+":
                events.append(RowEvent(kind="added", text=values["text"], **common))
            elif record.history_type == "-":
                events.append(RowEvent(kind="removed", text=values["text"], **common))
            elif record.id in previous:
                diffs = _row_field_changes(list_name, previous[record.id], values, fields, names)
                if diffs:
                    events.append(RowEvent(kind="changed", text=values["text"], changes=diffs, **common))
            previous[record.id] = values
    events.sort(key=lambda event: event.date)
    return events


def restricted_until(revisions: Sequence[Revision]) -> int:
    """The number of the last revision made while the document was restricted (0: none).

    Readers who could not read the document restricted
    (``access.can_view_as_restricted``) see neither that revision nor any
    before it, nor the row events of that time: the history of a document
    opened to the organisation must not show what it said, or who could read
    it, while it was restricted.
    """
    numbers = [rev.number for rev in revisions if rev.record.visibility == PostMortem.Visibility.RESTRICTED]
    return max(numbers, default=0)


def history_entries(postmortem: PostMortem, *, hide_until: int = 0) -> list[Revision | RowEvent]:
    """The history page's list, newest first.

    Revisions carry ``summary`` (phrases from ``Comparison.summary`` against the
    revision before; "created" for the first) and ``row_events`` (the row
    changes written by that same save: same person, or no recorded person, at
    most ``SAVE_WINDOW`` before it). Row events made outside a document save (a status change, a
    webhook) are entries of their own. Queries: revisions, the two row
    histories, and the names (a fixed number, whatever the length).
    """
    revisions = revision_list(postmortem)
    states = [_state(rev.record) for rev in revisions]
    names = _Names.for_states(states)
    for index, revision in enumerate(revisions):
        if index == 0:
            # The reason already says "created"; a record that is not a creation
            # (history switched on later) is the oldest state known.
            revision.summary = [] if revision.record.history_type == "+" else ["first recorded revision"]
            continue
        comparison = _compare_states(states[index - 1], states[index], names, with_text=False)
        revision.summary = comparison.summary() or ["no change to the text, fields or rows"]

    dates = [revision.date for revision in revisions]
    standalone: list[RowEvent] = []
    for event in _row_events(postmortem, names):
        at = bisect.bisect_left(dates, event.date)
        owner = revisions[at] if at < len(revisions) else None
        # A row removed by a save outside a web request has no user on its record
        # (``_sync_rows`` deletes with a queryset), so "nobody" matches too.
        if (
            owner is not None
            and event.user_id in (owner.record.history_user_id, None)
            and owner.date - event.date <= SAVE_WINDOW
        ):
            owner.row_events.append(event)
        else:
            standalone.append(event)
    entries: list[Revision | RowEvent] = [*revisions, *standalone]
    if hide_until:
        # Everything up to the last hidden revision's date (its rows included).
        horizon = revisions[hide_until - 1].date
        entries = [
            entry
            for entry in entries
            if (entry.number > hide_until if entry.is_revision else entry.date > horizon)
        ]
    entries.sort(key=lambda entry: (entry.date, entry.is_revision), reverse=True)
    return entries
