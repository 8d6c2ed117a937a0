"""Background work of the insights app: the precomputed organisation figures
(``insights.snapshots``). Stable task names; idempotent (a second run stores
equal rows), so a retry, a re-delivered message or two beats change nothing twice."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from insights import snapshots


@shared_task(
    name="insights.refresh_snapshots",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=2,
)
def refresh_snapshots() -> dict:
    """Every ``INSIGHTS_SNAPSHOT_SECONDS`` (beat) and after changes: compute and store
    the default organisation figures of the shared audiences.

    Returns:
        ``{"stored": [audience, ...], "skipped": bool, "duration_ms": int}`` (JSON);
        ``skipped`` when a post-mortem was restricted or deleted during the run
        (nothing kept; the next run stores fresh figures).
    """
    result = snapshots.refresh()
    return {"stored": list(result.stored), "skipped": result.skipped, "duration_ms": result.duration_ms}
