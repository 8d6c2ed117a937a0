"""Background work of the GitHub integration. Tasks take ids, have stable names,
are idempotent (see ``services.delivery_process``) and retry with backoff on
transient errors (a database or network hiccup)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from integrations.github import services


@shared_task(
    name="integrations.github.process_delivery",
    autoretry_for=(OperationalError, OSError),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=5,
)
def process_delivery(delivery_id: int) -> str:
    """Process one stored webhook delivery (``WebhookDelivery`` primary key).

    Returns:
        The delivery's new status, or "skipped" when it was no longer pending.
    """
    return services.delivery_process(delivery_id=delivery_id)


@shared_task(name="integrations.github.sweep_deliveries")
def sweep_deliveries() -> dict[str, int]:
    """Beat job: enqueue deliveries left pending (e.g. by a broker outage), give
    up on ones that keep failing, delete old finished ones.

    Returns:
        ``{"enqueued": n, "failed": n, "deleted": n}``.
    """
    return services.deliveries_sweep()
