"""The pattern-detection thresholds and their defaults, read from Django settings.

``kb/settings.py`` reads them from the environment; these functions fall back to
the documented defaults when a setting is absent, so the app also works in a
project that does not define them.

* ``PATTERNS_MIN_INCIDENTS`` (K, default 3) and ``PATTERNS_WINDOW_DAYS`` (W,
  default 90): a team's thresholds until the team sets its own
  (``PatternSettings``).
* ``PATTERNS_ORG_MIN_INCIDENTS`` (default 3), ``PATTERNS_ORG_WINDOW_DAYS``
  (default 90) and ``PATTERNS_ORG_MIN_TEAMS`` (default 2): the organisation-wide
  rule, "at least K post-mortems from at least two teams inside W days".
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

MIN_INCIDENTS_FLOOR = 2  # one incident is not a pattern
WINDOW_DAYS_MAX = 3650


@dataclass(frozen=True)
class Thresholds:
    """A recurrence rule: ``min_incidents`` (K) incidents inside ``window_days``
    (W) days, coming from at least ``min_teams`` teams (1 for a team's own rule)."""

    min_incidents: int
    window_days: int
    min_teams: int = 1


def default_min_incidents() -> int:
    """K for teams without their own settings (``PATTERNS_MIN_INCIDENTS``, default 3)."""
    return int(getattr(settings, "PATTERNS_MIN_INCIDENTS", 3))


def default_window_days() -> int:
    """W in days for teams without their own settings (``PATTERNS_WINDOW_DAYS``, default 90)."""
    return int(getattr(settings, "PATTERNS_WINDOW_DAYS", 90))


def org_thresholds() -> Thresholds:
    """The organisation-wide rule (``PATTERNS_ORG_*`` settings; defaults 3 in 90 days from 2 teams)."""
    return Thresholds(
        min_incidents=int(getattr(settings, "PATTERNS_ORG_MIN_INCIDENTS", 3)),
        window_days=int(getattr(settings, "PATTERNS_ORG_WINDOW_DAYS", 90)),
        min_teams=int(getattr(settings, "PATTERNS_ORG_MIN_TEAMS", 2)),
    )
