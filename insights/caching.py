"""Keep the computed numbers of a scope for a few minutes (Django's cache), so a
dashboard that many people open — and its API and CSV twins — is computed once.

What is kept is ``InsightsScope.cache``: the selectors' results for one team (or
all), range and day, shared by the organisation or team page, their CSV
downloads and ``GET /api/v1/insights/``. Numbers are at most
``INSIGHTS_CACHE_SECONDS`` old (the pages say when they were computed). A cache
that fails (Redis down) never fails a page: the numbers are computed directly.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from insights import conf
from insights.selectors import InsightsScope

logger = logging.getLogger(__name__)
VERSION = "2"  # bump when the shape of a selector's result changes
COMPUTED_AT = "computed_at"


def scope_key(scope: InsightsScope) -> str:
    """``insights:<hash>`` of the team, range and day of ``scope``."""
    parts = (VERSION, scope.team.slug if scope.team else "", scope.start, scope.end, scope.today)
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

    ``scope.cache[COMPUTED_AT]`` says when the numbers were computed.
    """
    seconds = conf.cache_seconds()
    key = scope_key(scope)
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
