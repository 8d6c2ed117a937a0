"""The recurrence rule, as pure functions over incidents (no database).

A contributing factor *recurs* in a scope when at least K incidents carrying it
started inside one window of W days; for the organisation-wide rule those K
incidents must also come from at least two teams.

Decisions, each pinned by a test in ``tests/patterns/test_windows.py``:

* **The window is half-open**: ``[start, start + W days)``. Two incidents are in
  one window when the later one started *less than* W days after the earlier
  one; an incident exactly W × 24 hours later is outside. So with W = 90 an
  incident on 1 January 00:00 and one on 1 April 00:00 (90 days later in a
  non-leap year) are not in one window; one at 31 March 23:59 is.
* **Instants, not calendar days**: start times are compared as absolute instants
  (time-zone aware, UTC in the database), so the zone an incident was entered
  in never moves it in or out of a window.
* **One incident, one count**: copies of an incident — the same write-up URL,
  starts less than 24 hours apart, different collections (``patterns.incidents``)
  — count once, at the earliest start among them; ties go to the lower
  post-mortem id.
* **Post-mortems without a start time are not counted** — they cannot be placed
  in a window (the corpus from danluu/post-mortems has no dates at all).

The evidence of a recurrence is every incident inside at least one qualifying
window: found in one pass with two pointers, because the widest window ending at
an incident qualifies whenever any window ending there does.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from patterns.conf import Thresholds

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MICROSECONDS_PER_DAY = 86_400_000_000
DUPLICATE_WITHIN = dt.timedelta(hours=24)
DUPLICATE_WITHIN_US = 24 * 3_600_000_000


def to_us(moment: dt.datetime) -> int:
    """An aware datetime as whole microseconds since 1970-01-01 UTC (exact)."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> dt.datetime:
    """The inverse of ``to_us`` (an aware UTC datetime)."""
    return EPOCH + dt.timedelta(microseconds=value)


class Incident(NamedTuple):
    """One incident as detection sees it.

    Attributes:
        start_us: its start in microseconds since the epoch (integers keep the
            window boundary exact and the scan cheap).
        postmortem_id: the post-mortem (after ``dedupe``: the kept copy).
        team_id: that post-mortem's team.
        url: the normalised source URL ("" when none); copies share it.
        source: the collection it came from (``patterns.incidents.source_collection``).
    """

    start_us: int
    postmortem_id: int
    team_id: int
    url: str = ""
    source: str = ""

    @classmethod
    def of(
        cls, started_at: dt.datetime, postmortem_id: int, team_id: int, url: str = "", source: str = ""
    ) -> Incident:
        """Build from an aware datetime (``source`` defaults to the post-mortem itself)."""
        return cls(to_us(started_at), postmortem_id, team_id, url, source or f"pm:{postmortem_id}")

    @property
    def started_at(self) -> dt.datetime:
        return from_us(self.start_us)


@dataclass(frozen=True)
class Recurrence:
    """A factor that recurs in a scope.

    Attributes:
        members: every incident inside at least one qualifying window, in start
            order (the proposal's evidence).
        window_start, window_end: first and last start inside the most recent
            qualifying window (the one that triggers the proposal now).
        window_size: incidents inside that window.
    """

    members: tuple[Incident, ...]
    window_start: dt.datetime
    window_end: dt.datetime
    window_size: int


def dedupe(incidents: Iterable[Incident]) -> list[Incident]:
    """Keep one incident per set of copies (see ``dedupe_sorted``).

    Returns:
        The kept incidents sorted by ``(start_us, postmortem_id)``, with their
        incident keys.
    """
    ordered = sorted(incidents, key=lambda i: (i.start_us, i.postmortem_id))
    return dedupe_sorted(ordered)


def dedupe_sorted(incidents: Sequence[Incident]) -> list[Incident]:
    """``dedupe`` for incidents already sorted by ``(start_us, postmortem_id)``.

    Copies (``patterns.incidents``): the same ``url``, starts less than
    ``DUPLICATE_WITHIN`` apart, different ``source`` collections. The first copy
    in start order is kept, so no sort is needed; incidents without a URL are
    never merged.
    """
    groups: dict[str, tuple[int, set[str]]] = {}  # url -> (start of the kept copy, its sources)
    kept = []
    for incident in incidents:
        url = incident.url
        if url:
            group = groups.get(url)
            if (
                group is not None
                and incident.start_us - group[0] < DUPLICATE_WITHIN_US
                and incident.source not in group[1]
            ):
                group[1].add(incident.source)
                continue
            groups[url] = (incident.start_us, {incident.source})
        kept.append(incident)
    return kept


def find_recurrence(incidents: Sequence[Incident], rule: Thresholds) -> Recurrence | None:
    """Apply the recurrence rule to one scope's incidents of one factor.

    A window that qualifies can be moved to start at its first incident without
    losing any, so only the windows ``[start_i, start_i + W)`` are tried: the
    one at incident i holds K incidents when incident i+K-1 started less than W
    after it, and two teams when the next incident of another team falls in it.

    Args:
        incidents: de-duplicated and sorted by start (``dedupe``).
        rule: K (``min_incidents``), W (``window_days``) and the fewest distinct
            teams a window needs (``min_teams``: 1 for a team, 2 organisation-wide;
            more than 2 is not supported).

    Returns:
        The recurrence, or None when no window of W days holds K incidents
        (from ``min_teams`` teams). O(n log n) time, mostly in comprehensions.

    Raises:
        ValueError: for ``min_teams`` above 2.
    """
    k = rule.min_incidents
    n = len(incidents)
    if n < k:
        return None
    if rule.min_teams > 2:
        raise ValueError("min_teams above 2 is not supported")
    width = rule.window_days * MICROSECONDS_PER_DAY
    starts = [incident.start_us for incident in incidents]
    starting = [i for i in range(n - k + 1) if starts[i + k - 1] - starts[i] < width]
    if not starting:
        return None
    ends = [bisect_left(starts, starts[i] + width, i + k - 1) for i in starting]  # exclusive
    if rule.min_teams == 2:
        other_team_at = _next_other_team(incidents)
        keep = [x for x, i in enumerate(starting) if other_team_at[i] < ends[x]]
        starting = [starting[x] for x in keep]
        ends = [ends[x] for x in keep]
        if not starting:
            return None
    # The windows [starting[x], ends[x]) start later and end no earlier one after
    # another, so their union breaks only where a window starts after the
    # previous one ended.
    breaks = [0, *(x for x in range(1, len(starting)) if starting[x] > ends[x - 1]), len(starting)]
    members: list[Incident] = []
    for a, b in zip(breaks, breaks[1:], strict=False):
        members.extend(incidents[starting[a] : ends[b - 1]])
    covered = ends[-1]  # one past the last member
    last = members[-1].start_us
    first = bisect_left(starts, last - width + 1)  # the widest window ending at the last member
    return Recurrence(
        members=tuple(members),
        window_start=from_us(starts[first]),
        window_end=from_us(last),
        window_size=covered - first,
    )


def _next_other_team(incidents: Sequence[Incident]) -> list[int]:
    """For each index, the index of the next incident of a different team (``n`` if none)."""
    n = len(incidents)
    result = [n] * n
    following = n
    for index in range(n - 2, -1, -1):
        if incidents[index + 1].team_id != incidents[index].team_id:
            following = index + 1
        result[index] = following
    return result
