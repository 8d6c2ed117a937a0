"""Background pattern detection. Tasks take ids, re-fetch, have stable names,
and are idempotent: detection itself never duplicates a proposal (see
``patterns.detection``), so a retry, a re-delivered message or two beats at
once change nothing twice."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError, transaction

from patterns.detection import detect_patterns
from postmortems.models import PostMortem


@shared_task(
    name="patterns.detect_all",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=3,
)
def detect_all() -> dict:
    """Nightly: detection for every team and the organisation.

    Returns:
        ``{"findings": n, "opened": n, "extended": n}`` (JSON-serialisable).
    """
    report = detect_patterns()
    return {
        "findings": len(report.findings),
        "opened": report.count("opened"),
        "extended": report.count("extended"),
    }


@shared_task(
    name="patterns.detect_for_postmortem",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=3,
)
def detect_for_postmortem(postmortem_id: int) -> dict:
    """After a post-mortem is saved: detection for its team and organisation-wide,
    limited to its contributing factors.

    Args:
        postmortem_id: primary key of a ``PostMortem``; a deleted one is a no-op.

    Returns:
        ``{"findings": n, "opened": n, "extended": n}``.
    """
    pm = PostMortem.objects.select_related("team").filter(pk=postmortem_id).first()
    if pm is None:
        return {"findings": 0, "opened": 0, "extended": 0}
    factor_ids = list(pm.factors.values_list("pk", flat=True))
    if not factor_ids:
        return {"findings": 0, "opened": 0, "extended": 0}
    report = detect_patterns(team=pm.team, factor_ids=factor_ids, include_org=True)
    return {
        "findings": len(report.findings),
        "opened": report.count("opened"),
        "extended": report.count("extended"),
    }


def enqueue_detection_for_postmortem(postmortem_id: int) -> None:
    """Queue ``detect_for_postmortem`` after the current transaction commits.

    The hook ``postmortems.services.postmortem_save`` should call (one line, after
    ``postmortem_reindex(pm)``). ``robust=True``: a broker outage must never turn
    a saved post-mortem into an error; the nightly run catches up.
    """
    transaction.on_commit(lambda: detect_for_postmortem.delay(postmortem_id), robust=True)
