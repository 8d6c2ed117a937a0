"""The Markdown one-pager: parse into ``DocumentData``, render from a ``PostMortem``.

The format (what ``export_postmortems`` writes and ``import_postmortems`` reads)::

    ---
    title: Checkout errors after the 4.2 release
    team: payments
    services: [checkout]
    severity: SEV2
    status: published
    started_at: '2024-03-01T10:00:00Z'
    detected_at: '2024-03-01T10:07:00Z'
    mitigated_at: null
    resolved_at: null
    factors: [config-change, missing-test]
    authors: [alice]
    facilitator: bob
    external_id: INC-17
    source_url: null
    ---

    # Checkout errors after the 4.2 release

    ## What happened
    Free Markdown…

    ### Timeline
    - 2024-03-01 10:02 UTC — Error-rate alert fired (evidence: https://…)

    ## Why it happened
    Free Markdown…

    ## What we change
    Free Markdown…
    - [ ] Add a contract test (owner: alice, due: 2024-03-15, kind: test, ticket: https://…)
    - [x] Restore the default (owner: bob, due: 2024-03-02, completed: 2024-03-02T09:00:00Z)
    - [ ] Rewrite the client (owner: bob, due: 2024-06-01, status: not_doing, reason: too big, for now)

    ### Fix pull requests
    - https://github.com/acme/shop/pull/12 — Restore timeout (state: merged, item: 2)

    ## What we don't change
    Free Markdown…
    - Freeze Friday deploys (why: the fault was not tied to the day)

Rules: the four ``##`` headings are exactly the ones above (an unknown ``##``
heading is an error); every line that is not structure (a heading, a timeline
entry, an action item, a fix PR, a declined change) is the section's Markdown
body, with leading and trailing blank lines stripped. Timeline times are UTC
(``UTC``, ``Z`` or an offset like ``+02:00`` are read; the separator may be an
em dash, an en dash or `` - ``). Action-item attributes: ``owner`` and ``due``
are required; ``kind`` (default ``code``), ``status`` (``in_progress`` or
``not_doing`` when not open or done), ``ticket``, ``completed`` (when it was
done) and ``reason`` (last; may contain commas) are optional.

A body line that would read as structure is written with one leading
backslash (``\\## Impact``) and read back without it, so export → import is
lossless even for bodies that contain such lines. Single-line texts (timeline,
action items, declined changes, PR titles) have their line breaks replaced by
spaces.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import yaml

from postmortems.exchange.document import (
    ActionItemRow,
    DeclinedChangeRow,
    DocumentData,
    FixPullRequestRow,
    RecordError,
    TimelineRow,
)

# Safe either way; the C loader is ~10x faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

UTC = dt.UTC

SECTION_HEADINGS = {
    "what_happened": "What happened",
    "why_it_happened": "Why it happened",
    "what_we_change": "What we change",
    "what_we_dont_change": "What we don't change",
}
TIMELINE_HEADING = "Timeline"
FIX_PRS_HEADING = "Fix pull requests"

FRONT_MATTER_KEYS = (
    "title",
    "team",
    "services",
    "severity",
    "status",
    "started_at",
    "detected_at",
    "mitigated_at",
    "resolved_at",
    "factors",
    "authors",
    "facilitator",
    "external_id",
    "source_url",
)
_DATETIME_KEYS = ("started_at", "detected_at", "mitigated_at", "resolved_at")
_LIST_KEYS = ("services", "factors", "authors")

ACTION_ITEM_KINDS = ("test", "check", "process", "code", "documentation")
ACTION_ITEM_STATUSES = ("open", "in_progress", "done", "not_doing")
FIX_PR_STATES = ("open", "merged", "closed")
_ITEM_ATTRIBUTES = ("owner", "due", "kind", "status", "ticket", "completed", "reason")

_SEPARATOR = r"(?:—|–|-)"
_H2 = re.compile(r"^##(?:\s+(?P<text>.*?))?\s*$")
_H3 = re.compile(r"^###(?:\s+(?P<text>.*?))?\s*$")
_ACTION_ITEM = re.compile(r"^[-*] \[(?P<mark>[ xX])\]\s+(?P<rest>.*?)\s*$")
_ITEM_ATTR_START = re.compile(r"\((?=\s*(?:" + "|".join(_ITEM_ATTRIBUTES) + r")\s*:)")
_ATTR_SPLIT = re.compile(r"\s*,\s*(?=[A-Za-z_]+\s*:)")
_REASON = re.compile(r"(?:^|,)\s*reason\s*:")
_TIMELINE_START = re.compile(r"^[-*]\s+\d{4}-\d{1,2}-\d{1,2}")
_TIMELINE = re.compile(
    r"^[-*]\s+(?P<date>\d{4}-\d{1,2}-\d{1,2})"
    r"(?:[ T](?P<time>\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?))?"
    r"\s*(?P<tz>UTC|Z|[+-]\d{2}:?\d{2})?"
    rf"\s+{_SEPARATOR}\s+(?P<text>.+?)\s*$"
)
_EVIDENCE = re.compile(r"^(?P<text>.*?)\s*\(evidence:\s*(?P<url>\S+?)\s*\)$")
_DECLINED = re.compile(r"^[-*]\s+(?P<text>.*?)\s*\(why:\s*(?P<why>.*)\)\s*$")
_LIST_LINE = re.compile(r"^[-*]\s+")
_FIX_PR = re.compile(
    r"^[-*]\s+<?(?P<url>[^\s<>]+?)>?"
    rf"(?:\s+{_SEPARATOR}\s+(?P<title>.*?))?"
    r"(?:\s*\((?P<attrs>(?:state|item)\s*:[^()]*)\))?\s*$"
)


# --- helpers -----------------------------------------------------------------------


def _fold_heading(text: str | None) -> str:
    text = (text or "").replace("’", "'").replace("‘", "'").rstrip(":")
    return " ".join(text.lower().split())


_SECTION_BY_HEADING = {_fold_heading(title): name for name, title in SECTION_HEADINGS.items()}


def parse_datetime(value: Any, what: str, line: int | None) -> dt.datetime | None:
    """Read an ISO 8601 date-time (or a date, read as 00:00) as an aware UTC datetime.

    Naive values are taken as UTC. ``None`` and ``""`` give None.

    Raises:
        RecordError: for anything that is not a date-time, at ``line``.
    """
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time(0, 0))
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise RecordError(
                f"{what}: bad date-time {value!r} (expected ISO 8601, e.g. 2024-03-01T10:02:00Z)",
                line,
            ) from exc
    else:
        raise RecordError(f"{what}: expected an ISO 8601 date-time, got {value!r}", line)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _parse_date(value: str, what: str, line: int | None) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as exc:
        raise RecordError(f"{what}: bad date {value!r} (expected YYYY-MM-DD)", line) from exc


def _one_line(text: str) -> str:
    return re.sub(r"\s*[\r\n]+\s*", " ", text or "").strip()


def _join_body(lines: list[str]) -> str:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(lines[start:end])


def _is_structural(line: str, section: str) -> bool:
    """Would ``line`` be read as structure in the main part of ``section``?"""
    if _H2.match(line) and not line.startswith("###"):
        return True
    h3 = _H3.match(line)
    if h3:
        folded = _fold_heading(h3.group("text"))
        return (section == "what_happened" and folded == _fold_heading(TIMELINE_HEADING)) or (
            section == "what_we_change" and folded == _fold_heading(FIX_PRS_HEADING)
        )
    if section == "what_we_change":
        match = _ACTION_ITEM.match(line)
        return bool(match and _ITEM_ATTR_START.search(match.group("rest")))
    if section == "what_we_dont_change":
        return bool(_DECLINED.match(line))
    return False


def _escape_body(body: str, section: str) -> str:
    out = []
    for line in (body or "").replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        out.append("\\" + line if _is_structural(line.lstrip("\\"), section) else line)
    return "\n".join(out)


# --- parsing rows --------------------------------------------------------------------


def _parse_timeline(line: str, lineno: int) -> TimelineRow:
    match = _TIMELINE.match(line)
    if not match:
        raise RecordError(
            "bad timeline line (expected '- YYYY-MM-DD HH:MM UTC — text (evidence: URL)')",
            lineno,
        )
    stamp = match.group("date") + "T" + (match.group("time") or "00:00")
    tz = match.group("tz")
    if tz and tz not in ("UTC", "Z"):
        stamp += tz if ":" in tz else f"{tz[:3]}:{tz[3:]}"
    try:
        at = dt.datetime.fromisoformat(stamp)
    except ValueError as exc:
        raise RecordError(f"timeline: bad date or time {stamp!r}", lineno) from exc
    at = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)
    text, evidence = match.group("text"), ""
    evidence_match = _EVIDENCE.match(text)
    if evidence_match:
        text, evidence = evidence_match.group("text"), evidence_match.group("url")
    if not text:
        raise RecordError("timeline: the entry has no text", lineno)
    return TimelineRow(at=at, text=text, evidence_url=evidence, line=lineno)


def _parse_item_attributes(inner: str, lineno: int) -> dict[str, str]:
    attrs: dict[str, str] = {}
    reason = _REASON.search(inner)
    if reason:
        attrs["reason"] = inner[reason.end() :].strip()
        inner = inner[: reason.start()]
    for part in _ATTR_SPLIT.split(inner.strip()) if inner.strip() else []:
        key, sep, value = part.partition(":")
        key = key.strip().lower()
        if not sep or key not in _ITEM_ATTRIBUTES:
            raise RecordError(
                f"action item: unknown attribute {part.strip()!r} "
                f"(expected {', '.join(_ITEM_ATTRIBUTES)}; 'reason' must be last)",
                lineno,
            )
        if key in attrs:
            raise RecordError(f"action item: attribute {key!r} given twice", lineno)
        attrs[key] = value.strip()
    return attrs


def _normalise_choice(value: str) -> str:
    return re.sub(r"[\s-]+", "_", value.strip().lower())


def _item_from(text: str, mark: str, attrs: dict[str, str], lineno: int) -> ActionItemRow:
    if not text:
        raise RecordError("action item: the item has no text", lineno)
    if not attrs.get("owner"):
        raise RecordError("action item: 'owner' is missing (owner: USERNAME)", lineno)
    if not attrs.get("due"):
        raise RecordError("action item: 'due' is missing (due: YYYY-MM-DD)", lineno)
    due = _parse_date(attrs["due"], "action item due date", lineno)
    kind = _normalise_choice(attrs.get("kind") or "code")
    if kind not in ACTION_ITEM_KINDS:
        raise RecordError(
            f"action item: unknown kind {attrs['kind']!r} (expected {', '.join(ACTION_ITEM_KINDS)})",
            lineno,
        )
    checked = mark.lower() == "x"
    status = _normalise_choice(attrs.get("status") or ("done" if checked else "open"))
    if status not in ACTION_ITEM_STATUSES:
        raise RecordError(
            f"action item: unknown status {attrs['status']!r} (expected {', '.join(ACTION_ITEM_STATUSES)})",
            lineno,
        )
    if checked != (status == "done"):
        raise RecordError(
            f"action item: the box is {'[x]' if checked else '[ ]'} but the status is {status!r} "
            "([x] means done)",
            lineno,
        )
    completed = parse_datetime(attrs.get("completed"), "action item completed", lineno)
    return ActionItemRow(
        text=text,
        owner=attrs["owner"],
        due_date=due,
        kind=kind,
        status=status,
        not_doing_reason=attrs.get("reason", ""),
        ticket_url=attrs.get("ticket", ""),
        completed_at=completed,
        line=lineno,
    )


def _parse_action_item(line: str, lineno: int) -> ActionItemRow:
    match = _ACTION_ITEM.match(line)
    assert match is not None  # callers checked _is_structural / _ACTION_ITEM
    rest = match.group("rest")
    if not rest.endswith(")"):
        raise RecordError(
            "action item: attributes must close the line: '- [ ] text (owner: USER, due: YYYY-MM-DD)'",
            lineno,
        )
    first_error: RecordError | None = None
    # The text may itself hold parentheses; take the first "(key:" group that parses.
    for start in _ITEM_ATTR_START.finditer(rest):
        try:
            attrs = _parse_item_attributes(rest[start.start() + 1 : -1], lineno)
            return _item_from(rest[: start.start()].strip(), match.group("mark"), attrs, lineno)
        except RecordError as exc:
            first_error = first_error or exc
    assert first_error is not None
    raise first_error


def _parse_declined(line: str, lineno: int) -> DeclinedChangeRow:
    match = _DECLINED.match(line)
    assert match is not None
    text, why = match.group("text").strip(), match.group("why").strip()
    if not text:
        raise RecordError("declined change: the change has no text", lineno)
    if not why:
        raise RecordError("declined change: the rationale after 'why:' is empty", lineno)
    return DeclinedChangeRow(text=text, rationale=why, line=lineno)


def _parse_fix_pr(line: str, lineno: int) -> FixPullRequestRow:
    match = _FIX_PR.match(line)
    if not match:
        raise RecordError(
            "bad fix pull request line (expected '- URL — title (state: open|merged|closed, item: N)')",
            lineno,
        )
    row = FixPullRequestRow(url=match.group("url"), title=(match.group("title") or "").strip(), line=lineno)
    for part in (match.group("attrs") or "").split(","):
        if not part.strip():
            continue
        key, _, value = part.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "state":
            state = value.lower()
            if state not in FIX_PR_STATES:
                raise RecordError(
                    f"fix pull request: unknown state {value!r} (expected {', '.join(FIX_PR_STATES)})",
                    lineno,
                )
            row.state = state
        elif key == "item":
            if not value.isdigit() or int(value) < 1:
                raise RecordError(f"fix pull request: 'item' must be a number ≥ 1, got {value!r}", lineno)
            row.item = int(value)
        else:
            raise RecordError(f"fix pull request: unknown attribute {key!r}", lineno)
    return row


# --- front matter ----------------------------------------------------------------------


def _as_list(value: Any, key: str, line: int | None) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
        return [str(v).strip() for v in value if str(v).strip()]
    raise RecordError(f"{key}: expected a list of names, got {value!r}", line)


def _as_text(value: Any, key: str, line: int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value).strip()
    raise RecordError(f"{key}: expected text, got {value!r}", line)


def _read_front_matter(lines: list[str]) -> tuple[dict[str, Any], dict[str, int], int]:
    """Return ``(values, key → line, index of the first body line)``."""
    if not lines or lines[0].strip() != "---":
        raise RecordError("no YAML front matter: the file must start with a '---' line", 1)
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        raise RecordError("the front matter is not closed by a '---' line", 1)
    try:
        # libyaml's loader (same safe constructors, same error marks) when PyYAML was
        # built with it: the pure-Python one was ~40% of the import's time.
        meta = yaml.load("\n".join(lines[1:end]), Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RecordError(
            f"invalid YAML in the front matter: {problem}", (mark.line + 2) if mark else 1
        ) from exc
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise RecordError("the front matter must be a YAML mapping (key: value lines)", 2)
    key_lines: dict[str, int] = {}
    for index in range(1, end):
        match = re.match(r"^([A-Za-z_][\w-]*)\s*:", lines[index])
        if match:
            key_lines.setdefault(match.group(1), index + 1)
    return meta, key_lines, end + 1


def parse_markdown(text: str, *, default_external_id: str, team_required: bool = True) -> DocumentData:
    """Parse a Markdown one-pager into a ``DocumentData``.

    Args:
        text: the whole file.
        default_external_id: used when the front matter has no ``external_id``
            (the importer passes ``"md:<file stem>"``).
        team_required: False when the caller assigns the team itself (``--team``).

    Returns:
        The document with line numbers on its fields and rows.

    Raises:
        RecordError: with the line of the first problem — missing or invalid
            front matter, a missing title or team, an unknown front-matter key or
            ``##`` heading, a bad date, or a malformed timeline, action-item,
            fix-PR or declined-change line.
    """
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    meta, key_lines, body_start = _read_front_matter(lines)
    for key in meta:
        if key not in FRONT_MATTER_KEYS:
            raise RecordError(
                f"unknown front-matter key {key!r} (expected {', '.join(FRONT_MATTER_KEYS)})",
                key_lines.get(str(key), 2),
            )

    def at(key: str) -> int:
        return key_lines.get(key, 1)

    title = _as_text(meta.get("title"), "title", at("title"))
    if not title:
        raise RecordError("front matter: 'title' is missing", at("title"))
    team = _as_text(meta.get("team"), "team", at("team"))
    if team_required and not team:
        raise RecordError("front matter: 'team' is missing (a team slug or name)", at("team"))
    status = _as_text(meta.get("status"), "status", at("status"))
    doc = DocumentData(
        external_id=_as_text(meta.get("external_id"), "external_id", at("external_id"))
        or default_external_id,
        title=title,
        team=team,
        line=1,
        services=_as_list(meta.get("services"), "services", at("services")),
        severity=_as_text(meta.get("severity"), "severity", at("severity")).upper(),
        status=_normalise_choice(status) if status else "published",
        source_url=_as_text(meta.get("source_url"), "source_url", at("source_url")),
        factors=_as_list(meta.get("factors"), "factors", at("factors")),
        authors=_as_list(meta.get("authors"), "authors", at("authors")),
        facilitator=_as_text(meta.get("facilitator"), "facilitator", at("facilitator")) or None,
        field_lines={key: line for key, line in key_lines.items() if key in FRONT_MATTER_KEYS},
    )
    for key in _DATETIME_KEYS:
        setattr(doc, key, parse_datetime(meta.get(key), key, at(key)))

    bodies: dict[str, list[str]] = {name: [] for name in SECTION_HEADINGS}
    section: str | None = None
    subsection: str | None = None
    for index in range(body_start, len(lines)):
        line, lineno = lines[index], index + 1
        h2 = _H2.match(line)
        if h2 and not line.startswith("###"):
            name = _SECTION_BY_HEADING.get(_fold_heading(h2.group("text")))
            if name is None:
                expected = ", ".join(f"'## {title}'" for title in SECTION_HEADINGS.values())
                raise RecordError(f"unknown section heading {line.strip()!r} (expected {expected})", lineno)
            if name in doc.field_lines:
                raise RecordError(f"section '## {SECTION_HEADINGS[name]}' appears twice", lineno)
            section, subsection = name, None
            doc.field_lines[name] = lineno
            continue
        if section is None:
            if line.strip() and not re.match(r"^#\s", line):
                raise RecordError(
                    "text before the first '## ' section (only a '# title' line may come first)",
                    lineno,
                )
            continue
        h3 = _H3.match(line)
        if h3:
            folded = _fold_heading(h3.group("text"))
            if section == "what_happened" and folded == _fold_heading(TIMELINE_HEADING):
                subsection = "timeline"
                doc.field_lines.setdefault("timeline", lineno)
                continue
            if section == "what_we_change" and folded == _fold_heading(FIX_PRS_HEADING):
                subsection = "fix_prs"
                doc.field_lines.setdefault("fix_prs", lineno)
                continue
            subsection = None  # another ### heading ends a subsection; it is body text
        if subsection == "timeline":
            if _TIMELINE_START.match(line):
                doc.timeline.append(_parse_timeline(line, lineno))
            elif line.strip():
                bodies[section].append(line)
            continue
        if section == "what_we_change" and _is_structural(line, section) and _ACTION_ITEM.match(line):
            doc.action_items.append(_parse_action_item(line, lineno))
            continue
        if subsection == "fix_prs":
            if _LIST_LINE.match(line):
                doc.fix_prs.append(_parse_fix_pr(line, lineno))
            elif line.strip():
                bodies[section].append(line)
            continue
        if section == "what_we_dont_change" and _DECLINED.match(line):
            doc.declined_changes.append(_parse_declined(line, lineno))
            continue
        if line.startswith("\\") and _is_structural(line.lstrip("\\"), section):
            line = line[1:]
        bodies[section].append(line)
    for name, body_lines in bodies.items():
        setattr(doc, name, _join_body(body_lines))
    for pr in doc.fix_prs:
        if pr.item is not None and pr.item > len(doc.action_items):
            raise RecordError(
                f"fix pull request: item {pr.item} does not exist "
                f"(the document has {len(doc.action_items)} action item(s))",
                pr.line,
            )
    return doc


# --- rendering ---------------------------------------------------------------------------


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    spec = "microseconds" if moment.microsecond else "seconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def _timeline_stamp(moment: dt.datetime) -> str:
    moment = moment.astimezone(UTC)
    pattern = "%Y-%m-%d %H:%M"
    if moment.second or moment.microsecond:
        pattern += ":%S"
    if moment.microsecond:
        pattern += ".%f"
    return moment.strftime(pattern) + " UTC"


def render_postmortem_markdown(pm) -> str:
    """Render a post-mortem as a Markdown one-pager that ``parse_markdown`` reads back.

    Args:
        pm: a saved ``PostMortem``; its rows are read through the related
            managers, so prefetch them when rendering many.

    Returns:
        The document as text (LF line endings, ends with a newline). A document
        without an external id is written with ``external_id: PM-<n>`` so that
        re-importing it into the same database updates it.
    """
    meta = {
        # str(): an unsaved choice may still be an enum member, which YAML cannot write.
        "title": str(pm.title),
        "team": pm.team.slug,
        "services": sorted(service.slug for service in pm.services.all()),
        "severity": str(pm.severity) or None,
        "status": str(pm.status),
        "started_at": _iso(pm.started_at),
        "detected_at": _iso(pm.detected_at),
        "mitigated_at": _iso(pm.mitigated_at),
        "resolved_at": _iso(pm.resolved_at),
        "factors": sorted(factor.slug for factor in pm.factors.all()),
        "authors": sorted(user.get_username() for user in pm.authors.all()),
        "facilitator": pm.facilitator.get_username() if pm.facilitator_id else None,
        "external_id": str(pm.external_id) or pm.key,
        "source_url": str(pm.source_url) or None,
    }
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, default_flow_style=None, width=10_000)
    out: list[str] = ["---", front.rstrip("\n"), "---", "", f"# {_one_line(pm.title)}", ""]

    def section(name: str, extra: list[str]) -> None:
        out.append(f"## {SECTION_HEADINGS[name]}")
        out.append("")
        body = _escape_body(getattr(pm, name), name).strip("\n")
        if body.strip():
            out.extend([body, ""])
        if extra:
            out.extend(extra)

    timeline = []
    entries = list(pm.timeline.all())
    if entries:
        timeline = [f"### {TIMELINE_HEADING}", ""]
        for entry in entries:
            line = f"- {_timeline_stamp(entry.at)} — {_one_line(entry.text)}"
            if entry.evidence_url:
                line += f" (evidence: {entry.evidence_url})"
            timeline.append(line)
        timeline.append("")
    section("what_happened", timeline)
    section("why_it_happened", [])

    items = list(pm.action_items.all())
    position = {item.pk: index for index, item in enumerate(items, start=1)}
    changes: list[str] = []
    for item in items:
        attrs = [f"owner: {item.owner.get_username()}", f"due: {item.due_date.isoformat()}"]
        if item.kind != "code":
            attrs.append(f"kind: {item.kind!s}")
        if item.status in ("in_progress", "not_doing"):
            attrs.append(f"status: {item.status!s}")
        if item.ticket_url:
            attrs.append(f"ticket: {item.ticket_url}")
        if item.status == "done" and item.completed_at:
            attrs.append(f"completed: {_iso(item.completed_at)}")
        if item.not_doing_reason:
            attrs.append(f"reason: {_one_line(item.not_doing_reason)}")
        mark = "x" if item.status == "done" else " "
        changes.append(f"- [{mark}] {_one_line(item.text)} ({', '.join(attrs)})")
    if items:
        changes.append("")
    prs = list(pm.fix_prs.all())
    if prs:
        changes.extend([f"### {FIX_PRS_HEADING}", ""])
        for pr in prs:
            line = f"- {pr.url}"
            if pr.title:
                line += f" — {_one_line(pr.title)}"
            attrs = [f"state: {pr.state!s}"]
            if pr.action_item_id in position:
                attrs.append(f"item: {position[pr.action_item_id]}")
            changes.append(f"{line} ({', '.join(attrs)})")
        changes.append("")
    section("what_we_change", changes)

    declined = [
        f"- {_one_line(change.text)} (why: {_one_line(change.rationale)})"
        for change in pm.declined_changes.all()
    ]
    section("what_we_dont_change", declined + ([""] if declined else []))
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"
