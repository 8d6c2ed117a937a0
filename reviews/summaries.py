"""After a review: each action-item owner's e-mailed summary (at most once) and
the sweep that re-enqueues summaries a broker outage left unsent.

``reviews.services.review_end`` creates the ``ReviewOwnerNotice`` rows and
calls ``enqueue_owner_summary``; the Celery tasks in ``reviews.tasks`` call
``owner_summary_send`` and ``owner_summaries_sweep``.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from postmortems.models import ActionItem
from reviews.models import ReviewOwnerNotice

logger = logging.getLogger(__name__)

CLOSED_ITEM_STATUSES = (ActionItem.Status.DONE, ActionItem.Status.NOT_DOING)


def enqueue_owner_summary(notice_id: int) -> None:
    """Enqueue ``send_owner_summary`` for one notice when the transaction commits."""
    from reviews.tasks import send_owner_summary

    def enqueue() -> None:
        send_owner_summary.delay(notice_id)

    # robust=True: a broker outage must not fail the end of the review; the
    # notice row stays unsent and the sweep enqueues it again.
    transaction.on_commit(enqueue, robust=True)


def owner_summary_send(*, notice_id: int) -> bool:
    """E-mail one owner the summary of their open action items from a review.

    At most once: the notice is claimed with a conditional UPDATE (``sent_at``
    set only where it is still empty), and the claim and the send share one
    transaction, so a failed send rolls the claim back for the retry.

    Returns:
        True when an e-mail was sent; False when the notice is gone or already
        sent, the owner has no address, or they no longer own an open item.
    """
    with transaction.atomic():
        claimed = ReviewOwnerNotice.objects.filter(pk=notice_id, sent_at__isnull=True).update(
            sent_at=timezone.now()
        )
        if not claimed:
            return False
        notice = ReviewOwnerNotice.objects.select_related("owner", "review__postmortem").get(pk=notice_id)
        owner, review = notice.owner, notice.review
        pm = review.postmortem
        items = list(
            ActionItem.objects.filter(postmortem=pm, owner=owner)
            .exclude(status__in=CLOSED_ITEM_STATUSES)
            .order_by("due_date", "id")
        )
        if not owner.email or not items:
            logger.info("Review %s: no summary for %s (address or items missing)", review.pk, owner)
            return False
        context = {
            "owner": owner,
            "review": review,
            "pm": pm,
            "items": items,
            "added": [item for item in items if review.started_at and item.created_at >= review.started_at],
            "link": f"{settings.SITE_URL}{pm.get_absolute_url()}",
        }
        send_mail(
            subject=f"[{pm.key}] Your action items from the review of “{' '.join(pm.title.split())[:80]}”",
            message=render_to_string("reviews/email/owner_summary.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[owner.email],
        )
    return True


def owner_summaries_sweep(*, older_than_seconds: int | None = None) -> int:
    """Enqueue the summaries still unsent some time after their review ended
    (the broker was down at the end, say). Returns how many were enqueued."""
    grace = settings.SWEEP_GRACE_SECONDS if older_than_seconds is None else older_than_seconds
    cutoff = timezone.now() - dt.timedelta(seconds=grace)
    ids = list(
        ReviewOwnerNotice.objects.filter(sent_at__isnull=True, created_at__lte=cutoff).values_list(
            "pk", flat=True
        )[:500]
    )
    from reviews.tasks import send_owner_summary

    for notice_id in ids:
        send_owner_summary.delay(notice_id)
    return len(ids)
