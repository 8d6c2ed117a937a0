"""Writes of the GitHub integration: record a delivery, process it, sweep.

Every change to post-mortem rows goes through ``postmortems.services``
(``postmortem_save`` for fix pull requests, ``action_item_update`` for closing
an item), so search text, validation and owner notices behave as for any edit.
The acting user is None: the change is made by the integration, not a person.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from integrations.github.models import WebhookDelivery
from integrations.github.payloads import (
    HANDLED_ACTIONS,
    PayloadError,
    PullRequestEvent,
    find_keys,
    pull_request_event,
)
from postmortems.models import ActionItem, FixPullRequest, PostMortem
from postmortems.services import action_item_update, postmortem_save

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Receipt:
    """What the webhook answers: ``status`` is "queued", "ignored", "pong" or "duplicate"."""

    status: str
    delivery: WebhookDelivery | None


def _enqueue(delivery_id: int) -> None:
    from integrations.github.tasks import process_delivery

    process_delivery.delay(delivery_id)


def _pull_request_fields(payload: dict) -> dict[str, Any]:
    """Repository, number and update time, read leniently (processing validates)."""
    pr = payload.get("pull_request")
    repo = payload.get("repository")
    if not isinstance(pr, dict):
        return {}
    number = pr.get("number")
    updated = pr.get("updated_at")
    full_name = repo.get("full_name") if isinstance(repo, dict) else None
    return {
        "repository": full_name.lower()[:200] if isinstance(full_name, str) else "",
        "pr_number": number if isinstance(number, int) and 0 < number < 2**31 else None,
        "pr_updated_at": parse_datetime(updated) if isinstance(updated, str) else None,
    }


def delivery_receive(*, hook_id: str, guid: str, event: str, payload: dict) -> Receipt:
    """Record a verified delivery and, for handled pull-request actions, enqueue
    its processing after commit.

    Args:
        hook_id: ``X-GitHub-Hook-ID`` ("" when absent).
        guid: ``X-GitHub-Delivery``.
        event: ``X-GitHub-Event`` ("pull_request", "ping", …).
        payload: the decoded JSON object.

    Returns:
        A ``Receipt``: "duplicate" (nothing changed) when (hook id, GUID) was
        seen before; "pong" for ``ping``; "ignored" for other events and
        pull-request actions other than opened, edited, closed and reopened
        (recorded, not processed); "queued" otherwise.
    """
    action = payload.get("action") if isinstance(payload.get("action"), str) else ""
    if event == "ping":
        status, note, answer = WebhookDelivery.Status.IGNORED, "ping", "pong"
    elif event != "pull_request":
        status, note, answer = WebhookDelivery.Status.IGNORED, f"event {event!r} is not handled", "ignored"
    elif action not in HANDLED_ACTIONS:
        status, note, answer = WebhookDelivery.Status.IGNORED, f"action {action!r} is not handled", "ignored"
    else:
        status, note, answer = WebhookDelivery.Status.PENDING, "", "queued"
    fields = _pull_request_fields(payload) if event == "pull_request" else {}
    now = timezone.now()
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                hook_id=hook_id,
                guid=guid,
                event=event,
                action=action[:64],
                payload=payload,
                status=status,
                note=note[:1000],
                received_at=now,
                processed_at=None if status == WebhookDelivery.Status.PENDING else now,
                **fields,
            )
            if status == WebhookDelivery.Status.PENDING:
                # robust: a broker outage must not fail the delivery; the row
                # stays pending and the sweeper enqueues it again.
                transaction.on_commit(lambda: _enqueue(delivery.pk), robust=True)
    except IntegrityError:
        logger.info("GitHub delivery %s (hook %s) was received before; ignored", guid, hook_id or "-")
        return Receipt("duplicate", None)
    return Receipt(answer, delivery)


# --- processing ----------------------------------------------------------------------


def _same_pull_request(row: FixPullRequest, event: PullRequestEvent) -> bool:
    return (
        row.number == event.number
        and row.repository.lower() == event.repository.lower()
        and urlparse(row.url).netloc.lower() == event.host
    )


def _rows_of(event: PullRequestEvent) -> list[FixPullRequest]:
    """Every fix-PR row, in any live post-mortem, for this pull request (linked
    by a key or pasted by hand). Rows of soft-deleted documents are left alone:
    a deleted document is not changed by a webhook (it stays as deleted)."""
    rows = FixPullRequest.objects.filter(
        repository__iexact=event.repository, number=event.number, postmortem__deleted_at__isnull=True
    )
    return [row for row in rows if _same_pull_request(row, event)]


def _link(
    *, pm_id: int, event: PullRequestEvent, action_item: ActionItem | None, apply_state: bool
) -> str | None:
    """Add or refresh this pull request's row on one post-mortem.

    The post-mortem row is locked first, so two deliveries for the same
    document cannot both rewrite its list of fix PRs from a stale read.

    Returns:
        A note for the delivery ("PM-3: linked"), or None when nothing changed.
    """
    with transaction.atomic():
        pm = PostMortem.objects.select_for_update().filter(pk=pm_id).first()
        if pm is None:
            return None
        rows: list[dict[str, Any]] = []
        found = changed = False
        for row in FixPullRequest.objects.filter(postmortem=pm).select_related("action_item"):
            data = {
                "id": row.pk,
                "url": row.url,
                "title": row.title,
                "state": row.state,
                "action_item": row.action_item,
            }
            if not found and _same_pull_request(row, event):
                found = True
                new = dict(data, title=event.title or row.title)
                # Merged is final on GitHub; a stale delivery never moves state back.
                if apply_state and row.state != FixPullRequest.State.MERGED:
                    new["state"] = event.state
                if new["action_item"] is None and action_item is not None:
                    new["action_item"] = action_item
                changed = new != data
                data = new
            rows.append(data)
        if not found:
            rows.append(
                {"url": event.url, "title": event.title, "state": event.state, "action_item": action_item}
            )
            changed = True
        if not changed:
            return None
        try:
            postmortem_save(user=None, postmortem=pm, fields={}, fix_prs=rows)
        except ValidationError as exc:
            return f"{pm.key}: not linked ({'; '.join(exc.messages)})"
    return f"{pm.key}: {'updated' if found else 'linked'}"


def pull_request_apply(*, event: PullRequestEvent, apply_state: bool = True) -> list[str]:
    """Apply one pull-request event to the knowledge base.

    1. Links the pull request to each post-mortem it names (``PM-12``) and to
       each action item it names (``AI-34``, on that item's post-mortem); a
       post-mortem holds one row per pull request, pointing at the first item
       named with a closing keyword, else the first item named.
    2. Refreshes title and state on every row of this pull request, including
       rows pasted by hand.
    3. On merge, marks each item named with a closing keyword ("fixes AI-34")
       done; items already done or "not doing" are left alone.

    Args:
        event: the parsed delivery.
        apply_state: False for a delivery older than one already processed for
            the same pull request (its state is out of date).

    Returns:
        Notes for the delivery record, e.g. ``["PM-3: linked", "AI-7: done",
        "unknown: AI-99"]``.
    """
    keys = find_keys(title=event.title, body=event.body, branch=event.branch)
    # The default managers leave soft-deleted documents and their items out:
    # a key naming one reads as unknown, so nothing is linked or closed there.
    items = {
        item.pk: item
        for item in ActionItem.objects.filter(pk__in=keys.action_item_ids).select_related("postmortem")
    }
    named_pm_ids = set(PostMortem.objects.filter(pk__in=keys.postmortem_ids).values_list("pk", flat=True))
    targets: dict[int, ActionItem | None] = {}
    for item_id in (*keys.closing_action_item_ids, *keys.action_item_ids):
        if item_id in items:
            targets.setdefault(items[item_id].postmortem_id, items[item_id])
    for pm_id in keys.postmortem_ids:
        if pm_id in named_pm_ids:
            targets.setdefault(pm_id, None)

    notes: list[str] = []
    unknown = [f"PM-{n}" for n in keys.postmortem_ids if n not in named_pm_ids]
    unknown += [f"AI-{n}" for n in keys.action_item_ids if n not in items]
    pm_ids = set(targets) | {row.postmortem_id for row in _rows_of(event)}
    for pm_id in sorted(pm_ids):
        note = _link(pm_id=pm_id, event=event, action_item=targets.get(pm_id), apply_state=apply_state)
        if note:
            notes.append(note)
    if event.merged:
        for item_id in keys.closing_action_item_ids:
            item = items.get(item_id)
            if item is None:
                continue
            item.refresh_from_db()
            if item.is_closed:
                continue
            try:
                action_item_update(item=item, data={"status": ActionItem.Status.DONE})
            except ValidationError as exc:
                notes.append(f"{item.key}: not closed ({'; '.join(exc.messages)})")
            else:
                notes.append(f"{item.key}: done")
    if unknown:
        notes.append(f"unknown: {', '.join(unknown)}")
    return notes


def _is_stale(delivery: WebhookDelivery, event: PullRequestEvent) -> bool:
    if event.updated_at is None:
        return False
    return (
        WebhookDelivery.objects.filter(
            repository=event.repository.lower(),
            pr_number=event.number,
            status=WebhookDelivery.Status.PROCESSED,
            pr_updated_at__gt=event.updated_at,
        )
        .exclude(pk=delivery.pk)
        .exists()
    )


def delivery_process(*, delivery_id: int) -> str:
    """Process one pending delivery, once.

    The attempt is counted first, in its own statement, so a delivery that keeps
    failing is given up by the sweeper after ``GITHUB_DELIVERY_MAX_ATTEMPTS``.
    The work then runs in one transaction holding the delivery row
    (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's IMMEDIATE transactions
    serialise writers), and only a row still pending is processed, so two
    workers, a retry or the sweeper can never apply a delivery twice.

    Returns:
        The delivery's new status ("processed" or "ignored"), or "skipped"
        when it was not pending (already done, or gone).

    Raises:
        Whatever processing raises unexpectedly; the row stays pending (with a
        note) for a retry or the sweeper.
    """
    counted = WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING).update(
        attempts=F("attempts") + 1
    )
    if not counted:
        return "skipped"
    try:
        with transaction.atomic():
            delivery = (
                WebhookDelivery.objects.select_for_update()
                .filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
                .first()
            )
            if delivery is None:
                return "skipped"
            status, note = _handle(delivery)
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=status, note=note[:1000], processed_at=timezone.now()
            )
    except Exception as exc:
        WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING).update(
            note=f"attempt failed: {exc.__class__.__name__}: {exc}"[:1000]
        )
        raise
    return status


def _handle(delivery: WebhookDelivery) -> tuple[str, str]:
    if delivery.event != "pull_request":
        return WebhookDelivery.Status.IGNORED, f"event {delivery.event!r} is not handled"
    try:
        event = pull_request_event(delivery.payload)
    except PayloadError as exc:
        return WebhookDelivery.Status.IGNORED, f"unusable payload: {exc}"
    if event.action not in HANDLED_ACTIONS:
        return WebhookDelivery.Status.IGNORED, f"action {event.action!r} is not handled"
    stale = _is_stale(delivery, event)
    notes = pull_request_apply(event=event, apply_state=not stale)
    if stale:
        notes.append("older than a processed delivery: state not applied")
    return WebhookDelivery.Status.PROCESSED, "; ".join(notes) or "no post-mortem or action item named"


# --- sweeping and retention ------------------------------------------------------------


def deliveries_sweep(*, now=None) -> dict[str, int]:
    """Re-enqueue deliveries left pending, give up on ones that keep failing, and
    delete old finished ones.

    Pending rows older than ``SWEEP_GRACE_SECONDS`` are enqueued again (a broker
    outage at receive time leaves them so); rows with
    ``GITHUB_DELIVERY_MAX_ATTEMPTS`` attempts become "failed" (the dead letter,
    visible in the admin). Finished rows are kept ``GITHUB_DELIVERY_RETENTION_DAYS``
    days, well past GitHub's 3-day redelivery window, so a late redelivery is
    still recognised.

    Returns:
        Counts: ``{"enqueued": n, "failed": n, "deleted": n}``.
    """
    now = now or timezone.now()
    pending = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
    failed = pending.filter(attempts__gte=settings.GITHUB_DELIVERY_MAX_ATTEMPTS).update(
        status=WebhookDelivery.Status.FAILED,
        note=f"gave up after {settings.GITHUB_DELIVERY_MAX_ATTEMPTS} attempts",
        processed_at=now,
    )
    cutoff = now - timedelta(seconds=settings.SWEEP_GRACE_SECONDS)
    ids = list(
        pending.filter(received_at__lte=cutoff).order_by("received_at").values_list("pk", flat=True)[:500]
    )
    for delivery_id in ids:
        _enqueue(delivery_id)
    deleted, _ = (
        WebhookDelivery.objects.exclude(status=WebhookDelivery.Status.PENDING)
        .filter(received_at__lt=now - timedelta(days=settings.GITHUB_DELIVERY_RETENTION_DAYS))
        .delete()
    )
    return {"enqueued": len(ids), "failed": failed, "deleted": deleted}


def delivery_retry(*, delivery: WebhookDelivery) -> None:
    """Make a failed or ignored delivery pending again and enqueue it after commit
    (the admin's "process again")."""
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDelivery.Status.PENDING, attempts=0, processed_at=None, note=""
        )
        transaction.on_commit(lambda: _enqueue(delivery.pk), robust=True)
