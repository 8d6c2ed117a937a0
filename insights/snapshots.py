"""Precomputed figures of the default organisation page (issue 7: the page over
100,000 post-mortems must render in under 500 ms, but computing its figures on
PostgreSQL takes 1.5-2 s of full scans that no index shortens).

So no reader waits for them: the ``insights.refresh_snapshots`` task (Celery beat,
every ``INSIGHTS_SNAPSHOT_SECONDS``, and after a post-mortem or action item is
saved) computes the selectors of the organisation page *and* of the API for the
default range, for each shared audience ("organisation" and "admins", see
``insights.selectors.scope``), and stores them as a ``FiguresSnapshot`` row.
``insights.caching.kept`` starts a matching scope from it; a scope with no fresh
snapshot (first start, another range, a team page, a person who reads restricted
documents, a snapshot older than ``conf.snapshot_max_age()``) is computed live as
before. Team pages are not precomputed: 20 teams x 2 audiences would cost more
than the organisation page itself, and a team page computes much faster.

Nothing leaks through a snapshot (issue 9): a post-mortem that is restricted or
deleted (or saved while it is either) deletes every snapshot and raises the
``SnapshotEpoch`` counter, in its own transaction and again once committed; a
task keeps what it computed only if the counter did not move meanwhile (it locks
the counter row to compare, so it waits for a restriction still being committed).
Between the restriction and the next refresh the page is computed live.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from insights import conf, figures
from insights.db import tuned_reads
from insights.models import FiguresSnapshot, SnapshotEpoch
from insights.report import insights_report
from insights.selectors import InsightsScope
from insights.selectors.scope import ADMIN_AUDIENCE, ORGANISATION_AUDIENCE, default_range

logger = logging.getLogger(__name__)
VERSION = "1"  # bump with insights.caching.VERSION when a selector's result changes shape
AUDIENCES = (ORGANISATION_AUDIENCE, ADMIN_AUDIENCE)
PENDING_KEY = "insights:snapshot-refresh-pending"
PENDING_SECONDS = 60
"""A burst of saves within this many seconds enqueues one refresh (per process
when the cache is per process)."""


def snapshot_key(audience: str, start, end, today) -> str:
    """The row key of the organisation-wide figures of ``audience`` over ``start``..``end`` on ``today``."""
    from insights.caching import VERSION as CACHE_VERSION

    parts = (VERSION, CACHE_VERSION, audience, start, end, today)
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:64]


def eligible(scope: InsightsScope) -> bool:
    """True when a snapshot may stand for ``scope``: organisation-wide, the default
    range, a shared audience, snapshots on (no query unless the audience needs one)."""
    return (
        conf.snapshot_seconds() > 0
        and scope.team is None
        and (scope.start, scope.end) == default_range(scope.today)
        and scope.audience in AUDIENCES
    )


def load(scope: InsightsScope) -> dict | None:
    """The stored selector results for ``scope`` (one query), or None when there is
    no snapshot for its audience, range and day younger than ``conf.snapshot_max_age()``.
    The result's ``caching.COMPUTED_AT`` is when the snapshot's figures were read."""
    if not eligible(scope):
        return None
    oldest = timezone.now() - timezone.timedelta(seconds=conf.snapshot_max_age())
    key = snapshot_key(scope.audience, scope.start, scope.end, scope.today)
    row = FiguresSnapshot.objects.filter(key=key, computed_at__gte=oldest).only("data").first()
    if row is None:
        return None
    try:
        return pickle.loads(bytes(row.data))  # noqa: S301 - written by this application only
    except Exception:  # an unreadable row (a code change): compute live, the next refresh replaces it
        logger.warning("insights snapshot unreadable", exc_info=True)
        return None


class _StandIn:
    """A viewer for a shared audience in the background (no person asks)."""

    is_authenticated = True
    is_active = True
    pk = None

    def __init__(self, is_staff: bool) -> None:
        self.is_staff = is_staff


def _scope(audience: str, now) -> InsightsScope:
    start, end = default_range(timezone.localdate(now))
    scope = InsightsScope(start=start, end=end, now=now, viewer=_StandIn(audience == ADMIN_AUDIENCE))
    scope.__dict__["audience"] = audience  # the cached_property, fixed: it is what the figures count
    return scope


def compute(audience: str, now=None) -> dict[str, Any]:
    """Everything the default organisation page and ``GET /api/v1/insights/`` read
    for ``audience``: the ``InsightsScope.cache`` after building both (selector
    results, with ``caching.COMPUTED_AT`` = ``now``)."""
    from insights.caching import COMPUTED_AT

    now = now or timezone.now()
    scope = _scope(audience, now)
    with tuned_reads():
        [make(scope) for make in figures.ORG_FIGURES.values()]
        insights_report(scope)
    scope.cache[COMPUTED_AT] = now
    return dict(scope.cache)


def _epoch() -> int:
    return SnapshotEpoch.objects.values_list("value", flat=True).filter(pk=1).first() or 0


@dataclass(frozen=True)
class RefreshResult:
    """What ``refresh`` did: ``stored`` audiences, ``skipped`` (a restriction or
    deletion happened meanwhile, nothing kept), ``duration_ms`` of the whole run."""

    stored: tuple[str, ...]
    skipped: bool
    duration_ms: int


def refresh(now=None) -> RefreshResult:
    """Compute and store the snapshot of every shared audience (idempotent: a
    second run replaces the rows with equal ones). Does nothing when
    ``INSIGHTS_SNAPSHOT_SECONDS`` is 0. Old rows (other days) are removed."""
    began = time.perf_counter()
    if conf.snapshot_seconds() <= 0:
        return RefreshResult((), False, 0)
    try:
        cache.delete(PENDING_KEY)  # saves from now on ask for another run
    except Exception:
        logger.warning("insights cache unavailable (pending flag)", exc_info=True)
    epoch = _epoch()
    now = now or timezone.now()
    computed = {}
    for audience in AUDIENCES:
        started = time.perf_counter()
        computed[audience] = (compute(audience, now), round((time.perf_counter() - started) * 1000))
    start, end = default_range(timezone.localdate(now))
    with transaction.atomic():
        # Locked: a restriction being committed holds this row; we see its new value once it has.
        row, _ = SnapshotEpoch.objects.select_for_update().get_or_create(pk=1)
        if row.value != epoch:
            logger.info("insights snapshot skipped: a post-mortem was restricted or deleted meanwhile")
            return RefreshResult((), True, round((time.perf_counter() - began) * 1000))
        keys = []
        for audience, (data, duration_ms) in computed.items():
            key = snapshot_key(audience, start, end, timezone.localdate(now))
            keys.append(key)
            FiguresSnapshot.objects.update_or_create(
                key=key,
                defaults={
                    "audience": audience,
                    "day": timezone.localdate(now),
                    "computed_at": now,
                    "duration_ms": duration_ms,
                    "data": pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL),
                },
            )
        FiguresSnapshot.objects.exclude(key__in=keys).delete()
    return RefreshResult(tuple(computed), False, round((time.perf_counter() - began) * 1000))


def invalidate() -> None:
    """Delete every snapshot and raise the epoch (a post-mortem was restricted or
    deleted): call inside the transaction that does it, and again after commit."""
    updated = SnapshotEpoch.objects.filter(pk=1).update(value=F("value") + 1)
    if not updated:
        SnapshotEpoch.objects.get_or_create(pk=1, defaults={"value": 1})
    FiguresSnapshot.objects.all().delete()


def refresh_wanted() -> bool:
    """Would ``request_refresh`` enqueue anything here? (False when tasks run in-process)."""
    return not getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False) and conf.snapshot_seconds() > 0


def request_refresh() -> None:
    """Enqueue ``insights.refresh_snapshots`` once for a burst of changes (call after commit).

    Skipped when tasks run eagerly in-process (``make run`` without Redis): the
    save would then wait for the whole computation; pages compute live instead
    (and keep their figures for ``INSIGHTS_CACHE_SECONDS``). A broker or cache
    failure never fails the save: beat refreshes within ``INSIGHTS_SNAPSHOT_SECONDS``.
    """
    if not refresh_wanted():
        return
    try:
        if not cache.add(PENDING_KEY, 1, PENDING_SECONDS):
            return
    except Exception:
        logger.warning("insights cache unavailable (pending flag)", exc_info=True)
    from insights.tasks import refresh_snapshots

    try:
        refresh_snapshots.delay()
    except Exception:
        logger.warning("insights snapshot refresh not enqueued (broker unavailable)", exc_info=True)
        try:
            cache.delete(PENDING_KEY)  # the next change tries again
        except Exception:
            logger.warning("insights cache unavailable (pending flag)", exc_info=True)
