"""The source-neutral shape of one post-mortem on its way in.

Both readers (JSON Lines corpora and Markdown one-pagers) produce a
``DocumentData``; the importer resolves its names (team, services, users,
factor slugs) to rows and stores it through ``services.postmortem_save``.
Line numbers travel with the data so that a problem found late (an unknown
owner, a validation error on row 3) is still reported at the right line.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


class RecordError(Exception):
    """A record that cannot be imported; reported with its line, never raised further.

    Attributes:
        message: what is wrong, for a person fixing the file.
        line: 1-based line in the file where the problem is, or None when unknown
            (the importer then reports the record's first line).
    """

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass
class TimelineRow:
    """A timeline entry: ``at`` (aware datetime), text, optional evidence URL."""

    at: dt.datetime
    text: str
    evidence_url: str = ""
    line: int | None = None


@dataclass
class ActionItemRow:
    """An action item; ``owner`` is a username, resolved to a user on import."""

    text: str
    owner: str
    due_date: dt.date
    kind: str = "code"
    status: str = "open"
    not_doing_reason: str = ""
    ticket_url: str = ""
    completed_at: dt.datetime | None = None
    line: int | None = None


@dataclass
class DeclinedChangeRow:
    """A change the team decided not to make, with the rationale."""

    text: str
    rationale: str
    line: int | None = None


@dataclass
class FixPullRequestRow:
    """A fix pull request; ``item`` is the 1-based position of the action item it fixes."""

    url: str
    title: str = ""
    state: str = "open"
    item: int | None = None
    line: int | None = None


@dataclass
class DocumentData:
    """One post-mortem as read from a file, before names are resolved.

    ``team`` is a team slug or name (created when missing, see the importer);
    ``services``, ``authors``, ``facilitator`` and action-item owners are names
    and usernames; ``factors`` are contributing-factor slugs. Datetimes are
    timezone-aware. ``field_lines`` maps a field name (``title``, ``factors``…)
    to the line it was read from, for error messages.
    """

    external_id: str
    title: str
    team: str
    line: int = 1
    services: list[str] = field(default_factory=list)
    severity: str = ""
    status: str = "published"
    started_at: dt.datetime | None = None
    detected_at: dt.datetime | None = None
    mitigated_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    what_happened: str = ""
    why_it_happened: str = ""
    what_we_change: str = ""
    what_we_dont_change: str = ""
    source_url: str = ""
    factors: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    facilitator: str | None = None
    timeline: list[TimelineRow] = field(default_factory=list)
    action_items: list[ActionItemRow] = field(default_factory=list)
    declined_changes: list[DeclinedChangeRow] = field(default_factory=list)
    fix_prs: list[FixPullRequestRow] = field(default_factory=list)
    field_lines: dict[str, int] = field(default_factory=dict)
    # What the reader had to bend to fit the record in (counted in the report).
    truncated_sections: int = 0
    unknown_labels: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def line_of(self, name: str) -> int:
        """The line a field was read from, else the record's first line."""
        return self.field_lines.get(name, self.line)
