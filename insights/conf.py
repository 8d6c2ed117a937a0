"""Defaults of the insights figures, read from settings (``kb/settings.py``).

- ``INSIGHTS_REVIEW_TARGET_BUSINESS_DAYS`` (5): a post-mortem should be reviewed
  within this many business days (Monday to Friday; public holidays are not
  known here) after the incident was resolved. Google's SRE workbook
  ("Postmortem Culture") asks for the review soon after the incident, while
  memories are fresh; a working week is the common target.
- ``INSIGHTS_BUDGET_MAX_OVERDUE`` (20): the quality budget's ceiling on overdue
  action items per team.
- ``INSIGHTS_BUDGET_SEVERE_GRACE_DAYS`` (7): no action item of a SEV1/SEV2
  post-mortem may be more than this many days past its due date.
- ``INSIGHTS_DEFAULT_MONTHS`` (12): the default date range is this many whole
  months up to today.
- ``INSIGHTS_CACHE_SECONDS`` (300): the organisation and team figures are kept
  this long in Django's cache (per team, range, day and audience: see
  ``insights.caching``), so a dashboard opened by many people is computed once;
  0 turns it off.
- ``INSIGHTS_SNAPSHOT_SECONDS`` (300): the default organisation page of the
  shared audiences is precomputed this often by Celery beat
  (``insights.snapshots``); 0 turns it off.

A team can override the first three with a ``TeamTargets`` row (admin).
"""

from __future__ import annotations

from django.conf import settings


def review_target_business_days() -> int:
    return int(getattr(settings, "INSIGHTS_REVIEW_TARGET_BUSINESS_DAYS", 5))


def budget_max_overdue() -> int:
    return int(getattr(settings, "INSIGHTS_BUDGET_MAX_OVERDUE", 20))


def budget_severe_grace_days() -> int:
    return int(getattr(settings, "INSIGHTS_BUDGET_SEVERE_GRACE_DAYS", 7))


def default_months() -> int:
    return int(getattr(settings, "INSIGHTS_DEFAULT_MONTHS", 12))


MAX_RANGE_DAYS = 3700
"""The longest date range a page or the API accepts (about ten years)."""


def cache_seconds() -> int:
    """How long computed figures are kept (``INSIGHTS_CACHE_SECONDS``, default 300; 0: not kept)."""
    return int(getattr(settings, "INSIGHTS_CACHE_SECONDS", 300))


def snapshot_seconds() -> int:
    """How often the default organisation figures are precomputed in the background
    (``INSIGHTS_SNAPSHOT_SECONDS``, default 300; 0: never, pages compute live)."""
    return int(getattr(settings, "INSIGHTS_SNAPSHOT_SECONDS", 300))


def snapshot_max_age() -> int:
    """A snapshot older than this many seconds is not shown (the page computes live):
    three refresh intervals, so a stopped beat never shows old figures for long."""
    return 3 * snapshot_seconds()
