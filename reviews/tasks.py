"""Background work of reviews. Tasks take ids, have stable names, are idempotent
(each owner summary is claimed in the database before it is sent, see
``summaries.owner_summary_send``) and retry with backoff on transient errors
(``OSError`` covers SMTP and socket errors)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from reviews import summaries


@shared_task(
    name="reviews.send_owner_summary",
    autoretry_for=(OSError, OperationalError),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=5,
)
def send_owner_summary(notice_id: int) -> bool:
    """E-mail one action-item owner the summary of their items from a review, at most once.

    Args:
        notice_id: primary key of a ``ReviewOwnerNotice``.

    Returns:
        True when an e-mail was sent (see ``summaries.owner_summary_send``).
    """
    return summaries.owner_summary_send(notice_id=notice_id)


@shared_task(name="reviews.sweep_owner_summaries")
def sweep_owner_summaries() -> int:
    """Beat job: enqueue owner summaries that a broker outage left unsent."""
    return summaries.owner_summaries_sweep()
