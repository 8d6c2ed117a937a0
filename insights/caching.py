"""Keep the computed numbers of a scope for a few minutes (Django's cache), so a
dashboard that many people open — and its API and CSV twins — is computed once.

What is kept is ``InsightsScope.cache``: the selectors' results for one team (or
all), range, day and *audience*, shared by the organisation or team page, their
CSV downloads and ``GET /api/v1/insights/``. Numbers are at most
``INSIGHTS_CACHE_SECONDS`` old (the pages say when they were computed). A cache
that fails (Redis down) never fails a page: the numbers are computed directly.

Nothing leaks through the cache (issue 9):

- the key names the audience (``InsightsScope.audience``): everyone who reads
  only organisation documents shares one entry, admins another; people who read
  restricted documents of their own are not kept at all (their figures are
  computed on every request), so a change of their access shows at once;
- a post-mortem that becomes restricted or is deleted (or is saved while it is
  either) moves every key to a new *generation*, so no kept figure still counts
  it afterwards, and deletes the background snapshots (``insights.snapshots``),
  asking for fresh ones once committed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from insights import conf
from insights.selectors import InsightsScope
from insights.selectors.scope import ADMIN_AUDIENCE, ORGANISATION_AUDIENCE

logger = logging.getLogger(__name__)
VERSION = "3"  # bump when the shape of a selector's result changes
COMPUTED_AT = "computed_at"
FROM_SNAPSHOT = "from_snapshot"
GENERATION_KEY = "insights:generation"
SHARED_AUDIENCES = (ORGANISATION_AUDIENCE, ADMIN_AUDIENCE)
"""The audiences whose figures are kept; any other is computed on every request."""


def _generation() -> int:
    value = _get(GENERATION_KEY)
    return int(value) if value else 0


def bump_generation() -> None:
    """Forget every kept figure (they are recomputed on the next request)."""
    try:
        try:
            cache.incr(GENERATION_KEY)
        except ValueError:  # not set yet (or evicted)
            cache.set(GENERATION_KEY, 1, None)
    except Exception:
        logger.warning("insights cache unavailable (generation)", exc_info=True)


def scope_key(scope: InsightsScope) -> str:
    """``insights:<hash>`` of the generation, audience, team, range and day of ``scope``."""
    parts = (
        VERSION,
        _generation(),
        scope.audience,
        scope.team.slug if scope.team else "",
        scope.start,
        scope.end,
        scope.today,
    )
    return "insights:" + hashlib.sha256(repr(parts).encode()).hexdigest()[:40]


def _get(key: str) -> Any:
    try:
        return cache.get(key)
    except Exception:  # the cache is an optimisation: never fail the page on it
        logger.warning("insights cache unavailable (get)", exc_info=True)
        return None


def _set(key: str, value: Any, seconds: float) -> None:
    try:
        cache.set(key, value, seconds)
    except Exception:
        logger.warning("insights cache unavailable (set)", exc_info=True)


@contextmanager
def kept(scope: InsightsScope) -> Iterator[InsightsScope]:
    """Within the block, ``scope`` starts with the numbers kept for it (if any);
    after it, what the block computed is kept for the rest of the time.

    Only for the shared audiences (``SHARED_AUDIENCES``); for anyone else the
    block computes afresh and nothing is kept. ``scope.cache[COMPUTED_AT]`` says
    when the numbers were computed. A fresh background snapshot
    (``insights.snapshots``) comes first: then ``scope.cache[FROM_SNAPSHOT]`` is True.
    """
    from insights import snapshots

    snapshot = snapshots.load(scope)
    if snapshot:
        # Precomputed in the background (``insights.snapshots``): nothing to keep.
        scope.cache.update(snapshot)
        scope.cache[FROM_SNAPSHOT] = True
        yield scope
        return
    seconds = conf.cache_seconds() if scope.audience in SHARED_AUDIENCES else 0
    key = scope_key(scope) if seconds > 0 else ""
    loaded = _get(key) if seconds > 0 else None
    if loaded:
        scope.cache.update(loaded)
    scope.cache.setdefault(COMPUTED_AT, timezone.now())
    before = set(scope.cache)
    yield scope
    if seconds > 0 and set(scope.cache) - before:
        left = seconds - (timezone.now() - scope.cache[COMPUTED_AT]).total_seconds()
        if left > 1:
            _set(key, dict(scope.cache), left)


def _forget_and_refresh() -> None:
    from insights import snapshots

    bump_generation()
    snapshots.invalidate()
    snapshots.request_refresh()


def _forget_now() -> None:
    from insights import snapshots

    # Now, and again once committed (``_forget_and_refresh``): a page computed in
    # between (still seeing the old row) must not be kept under the new generation.
    bump_generation()
    snapshots.invalidate()
    transaction.on_commit(_forget_and_refresh)


def _on_postmortem_saved(sender, instance, **kwargs) -> None:
    from insights import snapshots
    from postmortems.models import PostMortem

    if instance.deleted_at is not None or instance.visibility != PostMortem.Visibility.ORGANISATION:
        _forget_now()
    elif snapshots.refresh_wanted():  # nothing to queue when tasks run in-process
        transaction.on_commit(snapshots.request_refresh)


def _on_postmortem_deleted(sender, instance, **kwargs) -> None:
    _forget_now()


def _on_action_item_changed(sender, instance, **kwargs) -> None:
    from insights import snapshots

    if snapshots.refresh_wanted():
        transaction.on_commit(snapshots.request_refresh)


def connect_signals() -> None:
    """Forget kept figures and snapshots when a post-mortem is restricted or deleted,
    and ask for a fresh snapshot after any post-mortem or action-item change
    (``InsightsConfig.ready``)."""
    from django.db.models.signals import post_delete, post_save

    from postmortems.models import ActionItem, PostMortem

    post_save.connect(_on_postmortem_saved, sender=PostMortem, dispatch_uid="insights_pm_saved")
    post_delete.connect(_on_postmortem_deleted, sender=PostMortem, dispatch_uid="insights_pm_deleted")
    post_save.connect(_on_action_item_changed, sender=ActionItem, dispatch_uid="insights_item_saved")
    post_delete.connect(_on_action_item_changed, sender=ActionItem, dispatch_uid="insights_item_deleted")
