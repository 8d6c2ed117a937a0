"""Writes of the follow-through app: policies, opt-outs, and sending digests.

Sending follows one pattern (shared RELIABILITY.md §4.5, Healthchecks'
conditional-UPDATE claims):

1. compute what to send; send nothing when there is nothing;
2. **claim**: insert the digest row (unique on person/team + day [+ kind]) and
   commit — a second run, a second beat or a re-delivered task hits the
   constraint and stops; a row left "failed" by an earlier error is re-claimed
   with a conditional UPDATE;
3. send;
4. mark the row "sent" — or "failed" with the error (re-raised when transient,
   so the task retries with backoff).

A worker killed between 2 and 4 leaves the row "sending", and the digest is
not sent again that day: nudges are at most once per day, never duplicated.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import smtplib
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from followthrough import selectors
from followthrough.models import (
    DeliveryStatus,
    Digest,
    DigestRun,
    NudgeOptOut,
    TeamDigest,
    TeamFollowUpPolicy,
    slack_webhook_url_error,
)
from followthrough.windows import policy_for_team
from postmortems.models import ActionItem, PostMortem, Team

logger = logging.getLogger(__name__)

POLICY_EDITABLE = (
    "window_days_sev1",
    "window_days_sev2",
    "window_days_sev3",
    "window_days_sev4",
    "window_days_unrated",
    "nudges_enabled",
    "due_soon_days",
    "escalation_enabled",
    "escalate_after_days",
    "slack_webhook_url",
)


class PermanentDeliveryError(Exception):
    """A send that will fail the same way if tried again (bad address, 4xx)."""


# --- policies and opt-outs -----------------------------------------------------------


def policy_get_or_create(*, team: Team) -> TeamFollowUpPolicy:
    """The team's policy row, created with the defaults on first use."""
    policy, _ = TeamFollowUpPolicy.objects.get_or_create(team=team)
    return policy


def policy_update(*, team: Team, data: dict[str, Any]) -> TeamFollowUpPolicy:
    """Change a team's follow-up policy (created on demand).

    Args:
        team: the team.
        data: any of ``POLICY_EDITABLE``.

    Returns:
        The saved policy.

    Raises:
        ValidationError: keyed by field (out-of-range days, a Slack URL on a
            host not allowed); nothing is saved then.
        ValueError: for a key outside ``POLICY_EDITABLE``.
    """
    unknown = set(data) - set(POLICY_EDITABLE)
    if unknown:
        raise ValueError(f"Unknown policy fields: {sorted(unknown)}")
    with transaction.atomic():
        policy = policy_get_or_create(team=team)
        policy = TeamFollowUpPolicy.objects.select_for_update().get(pk=policy.pk)
        for name, value in data.items():
            setattr(policy, name, value)
        policy.full_clean()
        policy.save()
    team.followup_policy = policy  # the caller's team must not keep a stale cached policy
    return policy


def nudge_opt_out_set(*, user, opted_out: bool) -> None:
    """Turn a person's follow-through e-mail off (``opted_out=True``) or back on."""
    if opted_out:
        NudgeOptOut.objects.get_or_create(user=user)
    else:
        NudgeOptOut.objects.filter(user=user).delete()


# --- claiming --------------------------------------------------------------------------


def _claim(model: type, lookup: dict[str, Any], item_ids: Sequence[int]):
    """Claim the digest row named by ``lookup``; None when someone already has it.

    Returns:
        The claimed row (status "sending"), or None when the row exists and is
        "sending" or "sent" (its ``attempts`` is counted up, for the record).
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            return model.objects.create(
                **lookup, status=DeliveryStatus.SENDING, item_ids=list(item_ids), attempts=1, claimed_at=now
            )
    except IntegrityError:
        pass
    reclaimed = model.objects.filter(**lookup, status=DeliveryStatus.FAILED).update(
        status=DeliveryStatus.SENDING, item_ids=list(item_ids), attempts=F("attempts") + 1, claimed_at=now
    )
    if reclaimed:
        return model.objects.get(**lookup)
    model.objects.filter(**lookup).update(attempts=F("attempts") + 1)
    return None


def _is_permanent(exc: BaseException) -> bool:
    if isinstance(exc, PermanentDeliveryError):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return False


def _deliver(record, send) -> str:
    """Run ``send()`` for a claimed row and record the outcome.

    Returns:
        "sent", or "failed" for a permanent error.

    Raises:
        The send's exception when it is transient (the row is "failed", which
        a retry re-claims).
    """
    try:
        send()
    except Exception as exc:
        permanent = _is_permanent(exc)
        type(record).objects.filter(pk=record.pk).update(
            status=DeliveryStatus.FAILED, error=f"{exc.__class__.__name__}: {exc}"[:1000]
        )
        logger.warning("%s not delivered (%s): %s", record, "permanent" if permanent else "will retry", exc)
        if permanent:
            return "failed"
        raise
    type(record).objects.filter(pk=record.pk).update(
        status=DeliveryStatus.SENT, sent_at=timezone.now(), error=""
    )
    return "sent"


# --- content ---------------------------------------------------------------------------


def _item_link(item: ActionItem) -> str:
    return f"{settings.SITE_URL}{item.postmortem.get_absolute_url()}#{item.key}"


def _readable_pm_ids(nudges: list[selectors.Nudge], user) -> set[int]:
    """Ids of the nudges' post-mortems ``user`` may read (one query)."""
    ids = {n.item.postmortem_id for n in nudges}
    return set(PostMortem.objects.visible_to(user).filter(pk__in=ids).values_list("pk", flat=True))


def _context(nudges: list[selectors.Nudge], user, day: dt.date) -> dict[str, Any]:
    """Template context of a digest e-mail. ``pm_readable`` is False on rows
    whose post-mortem ``user`` may not read (the owner of an item of a
    restricted document they are not a reader of): the e-mail then names the
    item, which is theirs, but not the document's key, title or URL (issue 9)."""
    readable = _readable_pm_ids(nudges, user)
    my_items_url = f"{settings.SITE_URL}{reverse('postmortems:my_action_items')}"
    rows = [
        {
            "nudge": n,
            "item": n.item,
            "pm": n.item.postmortem,
            "pm_readable": n.item.postmortem_id in readable,
            # The document's URL carries its key: unreadable rows link to "my action items".
            "link": _item_link(n.item) if n.item.postmortem_id in readable else my_items_url,
            "days_late": n.days_overdue,
            "days_left": -n.days_overdue,
        }
        for n in nudges
    ]
    return {
        "user": user,
        "name": user.get_full_name() or user.get_username(),
        "day": day,
        "overdue": [r for r in rows if r["nudge"].overdue],
        "due_soon": [r for r in rows if not r["nudge"].overdue],
        "rows": rows,
        "preferences_url": f"{settings.SITE_URL}{reverse('followthrough:preferences')}",
        "my_items_url": my_items_url,
    }


def _email(*, to: str, subject: str, body: str) -> EmailMessage:
    return EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={
            # RFC 3834: automatic mail; tells auto-responders not to answer.
            "Auto-Submitted": "auto-generated",
            "List-Unsubscribe": f"<{settings.SITE_URL}{reverse('followthrough:preferences')}>",
        },
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# --- sending -------------------------------------------------------------------------


def _recipient(user_id: int):
    if user_id not in selectors.reachable_user_ids([user_id]):
        return None
    return get_user_model().objects.get(pk=user_id)


def owner_digest_send(*, user_id: int, day: dt.date) -> str:
    """E-mail one owner's daily digest: their overdue items and those due soon.

    Returns:
        "sent"; "nothing" (no items); "unreachable" (opted out, inactive, no
        address); "claimed" (already sent or being sent today); "failed" after
        a permanent error.

    Raises:
        OSError (including ``smtplib.SMTPException``) on a transient send
        error, after recording it; the task retries.
    """
    user = _recipient(user_id)
    if user is None:
        return "unreachable"
    found = selectors.owner_nudges(user_id=user_id, day=day)
    if not found:
        return "nothing"
    record = _claim(
        Digest, {"user_id": user_id, "day": day, "kind": Digest.Kind.OWNER}, [n.item.pk for n in found]
    )
    if record is None:
        return "claimed"
    context = _context(found, user, day)
    parts = []
    if context["overdue"]:
        parts.append(f"{len(context['overdue'])} overdue")
    if context["due_soon"]:
        parts.append(f"{len(context['due_soon'])} due soon")
    subject = f"Your action items: {', '.join(parts)} ({day:%d %b})"
    body = render_to_string("followthrough/email/owner_digest.txt", context)
    return _deliver(record, lambda: _email(to=user.email, subject=subject, body=body).send())


def escalation_digest_send(*, user_id: int, day: dt.date) -> str:
    """E-mail a facilitator or team lead the items overdue beyond the team's limit.

    Returns and raises as ``owner_digest_send``.
    """
    user = _recipient(user_id)
    if user is None:
        return "unreachable"
    found = selectors.escalation_nudges(user_id=user_id, day=day)
    if not found:
        return "nothing"
    record = _claim(
        Digest, {"user_id": user_id, "day": day, "kind": Digest.Kind.ESCALATION}, [n.item.pk for n in found]
    )
    if record is None:
        return "claimed"
    context = _context(found, user, day)
    subject = f"Escalation: {_plural(len(found), 'action item')} long overdue ({day:%d %b})"
    body = render_to_string("followthrough/email/escalation.txt", context)
    return _deliver(record, lambda: _email(to=user.email, subject=subject, body=body).send())


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn: &, < and > must be escaped (api.slack.com, "Formatting text").
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_digest_text(*, team: Team, nudges: list[selectors.Nudge], day: dt.date) -> str:
    """The team digest as Slack mrkdwn: a headline, then one line per item.

    A Slack channel's audience is not the knowledge base's: items of restricted
    post-mortems are listed without their key, text or link ("an item of a
    restricted post-mortem"), with owner and due state only (issue 9).
    """
    overdue = sum(1 for n in nudges if n.overdue)
    lines = [
        f"*{_slack_escape(team.name)}* action items on {day:%d %b %Y}: "
        f"{overdue} overdue, {len(nudges) - overdue} due soon"
    ]
    for n in nudges:
        item = n.item
        when = (
            f"{n.days_overdue} d overdue"
            if n.overdue
            else ("due today" if n.days_overdue == 0 else f"due in {-n.days_overdue} d")
        )
        flags = " · past follow-up window" if n.past_window else ""
        if item.postmortem.visibility != PostMortem.Visibility.ORGANISATION:
            lines.append(
                f"• an item of a restricted post-mortem — {_slack_escape(item.owner.get_username())}, "
                f"{when}{flags}"
            )
            continue
        lines.append(
            f"• <{_item_link(item)}|{item.key}> {_slack_escape(item.text[:120])} "
            f"— {_slack_escape(item.owner.get_username())}, {when}{flags}"
        )
    return "\n".join(lines)


def _post_to_slack(url: str, text: str) -> None:
    error = slack_webhook_url_error(url)
    if error:
        raise PermanentDeliveryError(f"Slack URL refused: {error}")
    request = urllib.request.Request(  # noqa: S310 - scheme and host checked above
        url,
        data=json.dumps({"text": text}).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.SLACK_TIMEOUT_SECONDS) as response:  # noqa: S310
            response.read(1024)
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500 and exc.code != 429:
            raise PermanentDeliveryError(f"Slack answered {exc.code}") from exc
        raise


def team_digest_send(*, team_id: int, day: dt.date) -> str:
    """Post the team digest to the team's Slack incoming webhook.

    Returns:
        "sent", "nothing" (no URL, nudges off, or no items), "claimed", or
        "failed" after a permanent error (URL refused, 4xx other than 429).

    Raises:
        OSError on a transient error (timeout, 5xx, 429), after recording it.
    """
    team = Team.objects.select_related("followup_policy").filter(pk=team_id).first()
    if team is None:
        return "nothing"
    policy = policy_for_team(team)
    if not policy.slack_webhook_url or not policy.nudges_enabled:
        return "nothing"
    found = selectors.team_nudges(team_id=team_id, day=day)
    if not found:
        return "nothing"
    record = _claim(TeamDigest, {"team_id": team_id, "day": day}, [n.item.pk for n in found])
    if record is None:
        return "claimed"
    text = slack_digest_text(team=team, nudges=found, day=day)
    return _deliver(record, lambda: _post_to_slack(policy.slack_webhook_url, text))


# --- starting and sweeping -----------------------------------------------------------


def daily_digests_start(*, day: dt.date) -> dict[str, int]:
    """Enqueue one task per owner digest, escalation digest and Slack team digest
    due on ``day``. Safe to run any number of times: each task claims its row.

    Returns:
        Counts: ``{"owners": n, "escalations": n, "teams": n}``.
    """
    from followthrough import tasks

    DigestRun.objects.get_or_create(day=day)
    plan = selectors.digest_plan(day=day)
    iso = day.isoformat()
    for user_id in plan.owner_ids:
        tasks.send_owner_digest.delay(user_id, iso)
    for user_id in plan.escalation_ids:
        tasks.send_escalation_digest.delay(user_id, iso)
    for team_id in plan.team_ids:
        tasks.send_team_digest.delay(team_id, iso)
    return {
        "owners": len(plan.owner_ids),
        "escalations": len(plan.escalation_ids),
        "teams": len(plan.team_ids),
    }


def pending_work_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Catch up on follow-up work a broker outage left behind.

    The database is the outbox: an open action item whose owner has not been
    told (``notified_owner`` differs from ``owner``) still needs the owner
    notice, and a day past ``FOLLOWTHROUGH_DIGEST_HOUR`` without a
    ``DigestRun`` still needs its digests. Items saved in the last
    ``SWEEP_GRACE_SECONDS`` are left to the enqueue their save made.

    Returns:
        ``{"owner_notices": n, "digests_started": 0 or 1}``.
    """
    from followthrough import tasks
    from postmortems.tasks import notify_action_item_owner

    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.SWEEP_GRACE_SECONDS)
    ids = list(
        ActionItem.objects.filter(status__in=selectors.OPEN_STATUSES, updated_at__lte=cutoff)
        .filter(Q(notified_owner__isnull=True) | ~Q(notified_owner=F("owner")))
        .exclude(owner__email="")
        .order_by("updated_at")
        .values_list("pk", flat=True)[:500]
    )
    for item_id in ids:
        notify_action_item_owner.delay(item_id)
    local = timezone.localtime(now)
    started = 0
    if (
        local.hour >= settings.FOLLOWTHROUGH_DIGEST_HOUR
        and not DigestRun.objects.filter(day=local.date()).exists()
    ):
        tasks.send_daily_digests.delay(local.date().isoformat())
        started = 1
    return {"owner_notices": len(ids), "digests_started": started}
