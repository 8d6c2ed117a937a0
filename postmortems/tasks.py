"""Background tasks. Each takes ids, re-fetches, is idempotent and has a stable name."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q

from postmortems.models import ActionItem

logger = logging.getLogger(__name__)


@shared_task(
    name="postmortems.notify_action_item_owner",
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=5,
)
def notify_action_item_owner(action_item_id: int) -> bool:
    """E-mail an action item's owner that the item is theirs.

    Idempotent: the item is claimed with a conditional UPDATE (``notified_owner``
    set to the current owner only where it differs), so two workers, a retry or a
    re-delivered message never send the same notice twice. The claim and the
    send share one transaction: if sending fails, the claim is rolled back and
    the retry can send.

    Args:
        action_item_id: primary key of an ``ActionItem``.

    Returns:
        True when an e-mail was sent; False when the item is gone, the owner was
        already told, or the owner has no e-mail address.
    """
    with transaction.atomic():
        claimed = (
            ActionItem.objects.filter(pk=action_item_id)
            .filter(Q(notified_owner__isnull=True) | ~Q(notified_owner=F("owner")))
            .update(notified_owner=F("owner"))
        )
        if not claimed:
            return False
        item = ActionItem.objects.select_related("owner", "postmortem").get(pk=action_item_id)
        if not item.owner.email:
            logger.info("Action item %s: owner %s has no e-mail address", item.key, item.owner)
            return False
        pm = item.postmortem
        link = f"{settings.SITE_URL}{pm.get_absolute_url()}#{item.key}"
        # One line: a newline in the item's text would make send_mail raise
        # BadHeaderError (header injection guard), and the notice would never go.
        headline = " ".join(item.text.split())[:80]
        send_mail(
            subject=f"[{pm.key}] Action item {item.key} is yours: {headline}",
            message=(
                f"Hello {item.owner.get_full_name() or item.owner.username},\n\n"
                f"You own action item {item.key} from the post-mortem {pm.key} "
                f'"{pm.title}":\n\n    {item.text}\n\n'
                f"Kind: {item.get_kind_display()}\nDue: {item.due_date:%Y-%m-%d}\n\n"
                f"{link}\n"
            ),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[item.owner.email],
        )
    return True
