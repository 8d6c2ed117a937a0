"""Background work of the follow-through app. Tasks take ids and ISO dates,
have stable names, are idempotent (each digest is claimed in the database
before it is sent, see ``followthrough.services``) and retry with backoff on
transient errors: ``OSError`` covers SMTP (``smtplib.SMTPException``), socket
and HTTP errors."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from followthrough import services

_RETRY = {
    "autoretry_for": (OSError, OperationalError),
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 5,
}


def _day(day: str | None) -> dt.date:
    return dt.date.fromisoformat(day) if day else timezone.localdate()


@shared_task(name="followthrough.send_daily_digests")
def send_daily_digests(day: str | None = None) -> dict[str, int]:
    """Beat job: enqueue today's owner digests, escalations and Slack team digests.

    Args:
        day: ISO date (``"2026-03-02"``); default today in the server time zone.
    """
    return services.daily_digests_start(day=_day(day))


@shared_task(name="followthrough.send_owner_digest", **_RETRY)
def send_owner_digest(user_id: int, day: str) -> str:
    """E-mail one owner's digest for ``day`` (ISO date), at most once."""
    return services.owner_digest_send(user_id=user_id, day=_day(day))


@shared_task(name="followthrough.send_escalation_digest", **_RETRY)
def send_escalation_digest(user_id: int, day: str) -> str:
    """E-mail one facilitator's or team lead's escalation digest for ``day``, at most once."""
    return services.escalation_digest_send(user_id=user_id, day=_day(day))


@shared_task(name="followthrough.send_team_digest", **_RETRY)
def send_team_digest(team_id: int, day: str) -> str:
    """Post one team's Slack digest for ``day``, at most once."""
    return services.team_digest_send(team_id=team_id, day=_day(day))


@shared_task(name="followthrough.sweep")
def sweep() -> dict[str, int]:
    """Beat job: re-enqueue owner notices and today's digests that a broker
    outage left behind (see ``services.pending_work_sweep``)."""
    return services.pending_work_sweep()
