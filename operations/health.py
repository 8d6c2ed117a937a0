"""Readiness checks: can this process reach what it needs to serve requests?

Each check returns ``"ok"`` or a short, fixed failure word. The details go to
the log, never to the response: a health endpoint is public and must not leak
host names, passwords in URLs or driver messages.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import connections

logger = logging.getLogger("kb.health")

REDIS_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class Report:
    """Result of the readiness checks.

    Attributes:
        checks: check name → "ok", "error" or "skipped" (Redis when ``REDIS_URL`` is unset).
        duration_ms: wall time of all checks, in milliseconds.
    """

    checks: dict[str, str]
    duration_ms: float

    @property
    def ok(self) -> bool:
        return all(result in ("ok", "skipped") for result in self.checks.values())


def check_database(alias: str = "default") -> str:
    """Run ``SELECT 1`` on the database; "ok" or "error" (details logged)."""
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.exception("health check: database %r unreachable", alias)
        connection = connections[alias]
        if not connection.in_atomic_block:
            # A broken connection must not stay open for the next request.
            connection.close_if_unusable_or_obsolete()
        return "error"
    return "ok"


def check_redis(url: str, timeout: float = REDIS_TIMEOUT_SECONDS) -> str:
    """``PING`` the Redis at ``url`` with ``timeout`` seconds to connect and to answer.

    Returns:
        "ok", "error" (refused, timed out, wrong answer; details logged), or
        "skipped" when ``url`` is empty (tasks then run in-process).
    """
    if not url:
        return "skipped"
    client = redis.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, retry_on_timeout=False
    )
    try:
        if client.ping() is not True:
            logger.error("health check: Redis answered PING with something else")
            return "error"
    except Exception:
        logger.exception("health check: Redis unreachable")
        return "error"
    finally:
        client.close()
    return "ok"


def readiness() -> Report:
    """Check the database and (when ``REDIS_URL`` is set) Redis.

    Returns:
        A ``Report``; ``report.ok`` is False when any check failed.
    """
    started = time.perf_counter()
    checks = {"database": check_database(), "redis": check_redis(settings.REDIS_URL)}
    return Report(checks=checks, duration_ms=round((time.perf_counter() - started) * 1000, 1))
