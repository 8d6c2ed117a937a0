"""Reads of the follow-through app: which action items to nudge whom about today.

A *nudge* is one open action item in one digest. For a day ``D`` and the item's
team policy (``due_soon_days`` N, ``escalate_after_days`` M):

* the owner's digest lists items due within N days (``due_date <= D + N``),
  overdue ones included;
* the escalation digest of the post-mortem's facilitator and of the team's
  leads lists items overdue more than M days (``D - due_date > M``), except
  their own items (those are in their own digest);
* the team's Slack digest lists the same items as the owners' digests.

Teams whose policy turns nudges off are left out; people who opted out, are
inactive or have no e-mail address get no e-mail.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Max, Q, QuerySet

from followthrough.models import DeliveryStatus, Digest, TeamDigest, TeamFollowUpPolicy
from followthrough.windows import item_past_window, policy_for_team
from postmortems.models import ActionItem, Team, TeamMembership

OPEN_STATUSES = (ActionItem.Status.OPEN, ActionItem.Status.IN_PROGRESS)


@dataclass(frozen=True)
class Nudge:
    """One open action item as a digest shows it.

    Attributes:
        item: the action item (with ``owner``, ``postmortem`` and its team loaded).
        days_overdue: days past the due date; 0 when due today, negative when
            due in the future (-2 = due in 2 days).
        escalate: overdue by more than the team's ``escalate_after_days``.
        past_window: past the team's follow-up window (see ``followthrough.windows``).
    """

    item: ActionItem
    days_overdue: int
    escalate: bool
    past_window: bool

    @property
    def overdue(self) -> bool:
        return self.days_overdue > 0


@dataclass
class DigestPlan:
    """Who gets what on one day: user and team ids, sorted."""

    owner_ids: list[int] = field(default_factory=list)
    escalation_ids: list[int] = field(default_factory=list)
    team_ids: list[int] = field(default_factory=list)


def _candidates(day: dt.date) -> QuerySet[ActionItem]:
    horizon = TeamFollowUpPolicy.objects.aggregate(n=Max("due_soon_days"))["n"] or 0
    horizon = max(horizon, TeamFollowUpPolicy().due_soon_days)
    return (
        ActionItem.objects.filter(status__in=OPEN_STATUSES, due_date__lte=day + dt.timedelta(days=horizon))
        .select_related("owner", "postmortem", "postmortem__team", "postmortem__team__followup_policy")
        .order_by("due_date", "id")
    )


def nudges(*, day: dt.date, items: QuerySet[ActionItem] | None = None) -> list[Nudge]:
    """Open action items to nudge about on ``day`` (owner-digest rule), oldest due first.

    Args:
        day: the digest's day (server time zone).
        items: narrow the candidates (e.g. one owner's items); default all.

    Returns:
        ``Nudge`` objects of teams with nudges on, due within their team's
        horizon or overdue.
    """
    queryset = _candidates(day)
    if items is not None:
        queryset = queryset.filter(pk__in=items.values("pk"))
    found: list[Nudge] = []
    for item in queryset:
        policy = policy_for_team(item.postmortem.team)
        if not policy.nudges_enabled:
            continue
        days_overdue = (day - item.due_date).days
        if -days_overdue > policy.due_soon_days:
            continue
        found.append(
            Nudge(
                item=item,
                days_overdue=days_overdue,
                escalate=policy.escalation_enabled and days_overdue > policy.escalate_after_days,
                past_window=item_past_window(item, today=day),
            )
        )
    return found


def reachable_user_ids(user_ids: Iterable[int]) -> set[int]:
    """Those of ``user_ids`` who can be e-mailed: active, with an address, not opted out."""
    User = get_user_model()
    return set(
        User.objects.filter(pk__in=set(user_ids), is_active=True)
        .exclude(email="")
        .filter(nudge_opt_out__isnull=True)
        .values_list("pk", flat=True)
    )


def _lead_ids_by_team(team_ids: Iterable[int]) -> dict[int, set[int]]:
    leads: dict[int, set[int]] = defaultdict(set)
    rows = TeamMembership.objects.filter(team_id__in=set(team_ids), role=TeamMembership.Role.LEAD)
    for team_id, user_id in rows.values_list("team_id", "user_id"):
        leads[team_id].add(user_id)
    return leads


def escalation_recipients(nudge: Nudge, leads: dict[int, set[int]]) -> set[int]:
    """User ids told about an escalated item: the facilitator and the team's leads, not its owner."""
    pm = nudge.item.postmortem
    recipients = set(leads.get(pm.team_id, ()))
    if pm.facilitator_id:
        recipients.add(pm.facilitator_id)
    recipients.discard(nudge.item.owner_id)
    return recipients


def owner_nudges(*, user_id: int, day: dt.date) -> list[Nudge]:
    """The owner digest's items for ``user_id`` on ``day``."""
    return nudges(day=day, items=ActionItem.objects.filter(owner_id=user_id))


def escalation_nudges(*, user_id: int, day: dt.date) -> list[Nudge]:
    """Items escalated to ``user_id`` on ``day`` (as facilitator or team lead).

    Only items of post-mortems ``user_id`` may read (``postmortems.access``):
    a facilitator and a team's leads always may, so this never drops one in
    practice; it keeps a restricted document out of anyone else's inbox should
    the escalation rule ever widen. Items of deleted documents are left out by
    ``ActionItem.objects``.
    """
    lead_teams = TeamMembership.objects.filter(user_id=user_id, role=TeamMembership.Role.LEAD).values(
        "team_id"
    )
    reader = get_user_model().objects.filter(pk=user_id).first()
    items = (
        ActionItem.objects.visible_to(reader)
        .filter(Q(postmortem__facilitator_id=user_id) | Q(postmortem__team_id__in=lead_teams))
        .exclude(owner_id=user_id)
    )
    found = [n for n in nudges(day=day, items=items) if n.escalate]
    leads = _lead_ids_by_team({n.item.postmortem.team_id for n in found})
    return [n for n in found if user_id in escalation_recipients(n, leads)]


def team_nudges(*, team_id: int, day: dt.date) -> list[Nudge]:
    """The Slack team digest's items for ``team_id`` on ``day``."""
    return nudges(day=day, items=ActionItem.objects.filter(postmortem__team_id=team_id))


def digest_plan(*, day: dt.date) -> DigestPlan:
    """Everyone (and every team) with a digest due on ``day`` that has not been
    claimed yet (rows that failed may be tried again).

    Returns:
        A ``DigestPlan``; people are only those ``reachable_user_ids`` allows.
    """
    found = nudges(day=day)
    leads = _lead_ids_by_team({n.item.postmortem.team_id for n in found})
    owners = {n.item.owner_id for n in found}
    escalated = set().union(*(escalation_recipients(n, leads) for n in found if n.escalate))
    teams = {
        n.item.postmortem.team_id for n in found if policy_for_team(n.item.postmortem.team).slack_webhook_url
    }
    done = Digest.objects.filter(day=day).exclude(status=DeliveryStatus.FAILED)
    owners -= set(done.filter(kind=Digest.Kind.OWNER).values_list("user_id", flat=True))
    escalated -= set(done.filter(kind=Digest.Kind.ESCALATION).values_list("user_id", flat=True))
    teams -= set(
        TeamDigest.objects.filter(day=day)
        .exclude(status=DeliveryStatus.FAILED)
        .values_list("team_id", flat=True)
    )
    return DigestPlan(
        owner_ids=sorted(reachable_user_ids(owners)),
        escalation_ids=sorted(reachable_user_ids(escalated)),
        team_ids=sorted(teams),
    )


def can_edit_policy(*, user, team: Team) -> bool:
    """Team leads and staff may change a team's follow-up policy."""
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    return TeamMembership.objects.filter(team=team, user=user, role=TeamMembership.Role.LEAD).exists()
