"""Writes of the patterns app: Definition-of-Done versions, decisions on DoD
proposals, and per-team pattern settings (HackSoft Django-Styleguide services).

Pattern detection itself lives in ``patterns.detection``. Permission checks are
the callers' (``patterns.permissions.can_curate``); these functions assume the
acting user may do what they ask.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from patterns.models import (
    ITEM_TEXT_MAX,
    REASON_MAX,
    DefinitionOfDone,
    DoDItem,
    DoDProposal,
    DoDVersion,
    PatternSettings,
    Scope,
)
from postmortems.models import ContributingFactor, PostMortem, Team

MAX_ITEMS = 100


class StaleVersion(ValidationError):
    """The Definition of Done changed since the editor read it (lost-update guard)."""


class ProposalDecided(ValidationError):
    """The proposal was already accepted or rejected."""


@dataclass
class ItemData:
    """One item of a DoD change.

    Attributes:
        text: the checklist text (1–500 characters).
        uid: the item's uid when it is an existing item (kept across versions);
            None for a new item.
        factor: the factor it addresses; ``KEEP`` leaves an existing item's factor.
        postmortems: motivating post-mortems; None keeps an existing item's links.
        readopt: stamp ``adopted_at`` now even when the text is unchanged.
    """

    text: str
    uid: uuid.UUID | str | None = None
    factor: Any = "keep"
    postmortems: Sequence[PostMortem] | None = None
    readopt: bool = False


KEEP = "keep"


@dataclass
class CurrentDoD:
    """A Definition of Done with its newest version and that version's items (read model)."""

    dod: DefinitionOfDone | None
    version: DoDVersion | None
    items: list[DoDItem] = field(default_factory=list)

    @property
    def number(self) -> int:
        return self.version.number if self.version else 0


def dod_get_or_create(*, team: Team | None) -> DefinitionOfDone:
    """The team's Definition of Done (None: the organisation's), created empty on first use."""
    scope = Scope.TEAM if team is not None else Scope.ORG
    try:
        with transaction.atomic():
            dod, _ = DefinitionOfDone.objects.get_or_create(team=team, scope=scope)
    except IntegrityError:  # two first uses at once: the other one created it
        dod = DefinitionOfDone.objects.get(team=team, scope=scope)
    return dod


def _clean_text(value: str, *, what: str, limit: int) -> str:
    text = " ".join((value or "").split())
    if not text:
        raise ValidationError({what: "This must not be empty."})
    if len(text) > limit:
        raise ValidationError({what: f"At most {limit} characters."})
    return text


def dod_change(
    *,
    dod: DefinitionOfDone,
    user,
    items: Sequence[ItemData],
    reason: str,
    base_version: int | None = None,
) -> DoDVersion:
    """Make a new version of a Definition of Done with exactly ``items``, in order.

    Items given with the ``uid`` of an item of the current version are that item
    (its links and factor are kept unless given; ``adopted_at`` moves only when
    the text changes or ``readopt`` is set); items without ``uid`` are new;
    current items left out are removed.

    Args:
        dod: the document.
        user: who makes the change (recorded).
        items: the complete new list (at most 100).
        reason: why (required, at most 2,000 characters; recorded).
        base_version: the version number the editor started from; when given
            and no longer current, nothing is saved.

    Returns:
        The new ``DoDVersion``.

    Raises:
        StaleVersion: ``base_version`` is not the current version.
        ValidationError: keyed ``reason``, ``items`` (``"Item 3: …"``) when
            invalid, or ``items`` when nothing would change.
    """
    reason = _clean_text(reason, what="reason", limit=REASON_MAX)
    if len(items) > MAX_ITEMS:
        raise ValidationError({"items": f"A Definition of Done holds at most {MAX_ITEMS} items."})
    with transaction.atomic():
        # Serialises writers of one document (SQLite's IMMEDIATE transactions do
        # the same); the unique (dod, number) constraint is the backstop.
        dod = DefinitionOfDone.objects.select_for_update().get(pk=dod.pk)
        current = dod_current(dod=dod)
        if base_version is not None and base_version != current.number:
            raise StaleVersion(
                f"The Definition of Done changed while you were editing it: it is now version "
                f"{current.number}, you started from version {base_version}.",
                code="stale",
            )
        old = {str(item.uid): item for item in current.items}
        now = timezone.now()
        seen_uids: set[str] = set()
        seen_texts: set[str] = set()
        built: list[tuple[DoDItem, list[int]]] = []
        for position, data in enumerate(items, start=1):
            try:
                text = _clean_text(data.text, what="text", limit=ITEM_TEXT_MAX)
            except ValidationError as exc:
                raise ValidationError({"items": f"Item {position}: {exc.messages[0]}"}) from exc
            if text.lower() in seen_texts:
                raise ValidationError({"items": f"Item {position}: the same text appears twice."})
            seen_texts.add(text.lower())
            previous = None
            if data.uid:
                previous = old.get(str(data.uid))
                if previous is None:
                    raise ValidationError({"items": f"Item {position}: no such item in the current version."})
                if str(data.uid) in seen_uids:
                    raise ValidationError({"items": f"Item {position}: the same item appears twice."})
                seen_uids.add(str(data.uid))
            factor = data.factor
            if factor == KEEP:
                factor = previous.factor if previous else None
            if factor is not None and not isinstance(factor, ContributingFactor):
                raise ValidationError({"items": f"Item {position}: unknown contributing factor."})
            if data.postmortems is not None:
                links = sorted({pm.pk for pm in data.postmortems})
            else:
                links = sorted(pm.pk for pm in previous.postmortems.all()) if previous else []
            unchanged_text = previous is not None and previous.text == text
            item = DoDItem(
                position=position,
                uid=previous.uid if previous else uuid.uuid4(),
                text=text,
                factor=factor,
                adopted_at=previous.adopted_at if unchanged_text and not data.readopt else now,
            )
            built.append((item, links))
        if current.version is not None and _same_list(current.items, built):
            raise ValidationError({"items": "Nothing changed: the list is the same as the current version."})
        version = DoDVersion(
            dod=dod, number=current.number + 1, created_by=user, reason=reason, created_at=now
        )
        version.full_clean(exclude=["dod", "created_by"])
        version.save()
        for item, _ in built:
            item.version = version
        DoDItem.objects.bulk_create([item for item, _ in built])
        Link = DoDItem.postmortems.through
        Link.objects.bulk_create(
            [Link(doditem_id=item.pk, postmortem_id=pm_id) for item, links in built for pm_id in links]
        )
    return version


def _same_list(current: list[DoDItem], built: list[tuple[DoDItem, list[int]]]) -> bool:
    if len(current) != len(built):
        return False
    for old, (new, links) in zip(current, built, strict=True):
        if (old.uid, old.text, old.factor_id, old.adopted_at) != (
            new.uid,
            new.text,
            new.factor_id,
            new.adopted_at,
        ):
            return False
        if sorted(pm.pk for pm in old.postmortems.all()) != links:
            return False
    return True


def dod_current(*, dod: DefinitionOfDone | None) -> CurrentDoD:
    """The newest version of ``dod`` and its items (factor and post-mortem links prefetched)."""
    if dod is None or dod.pk is None:
        return CurrentDoD(dod=dod, version=None)
    version = DoDVersion.objects.filter(dod=dod).select_related("created_by").order_by("-number").first()
    if version is None:
        return CurrentDoD(dod=dod, version=None)
    items = list(version.items.select_related("factor").prefetch_related("postmortems").order_by("position"))
    return CurrentDoD(dod=dod, version=version, items=items)


def _items_as_data(items: Sequence[DoDItem]) -> list[ItemData]:
    return [ItemData(text=item.text, uid=item.uid) for item in items]


def _acceptance_reason(proposal: DoDProposal, postmortems: Sequence[PostMortem]) -> str:
    # The reason is shown to every reader of the DoD: it names organisation
    # documents only and counts restricted ones (issue 9).
    evidence_keys = [pm.key for pm in postmortems if pm.visibility == PostMortem.Visibility.ORGANISATION]
    restricted = len(postmortems) - len(evidence_keys)
    shown = ", ".join(evidence_keys[:12]) + (
        f" and {len(evidence_keys) - 12} more" if len(evidence_keys) > 12 else ""
    )
    if restricted:
        shown += f"{' and ' if evidence_keys else ''}{restricted} restricted"
    what = "is not working" if proposal.kind == DoDProposal.Kind.ITEM_NOT_WORKING else "recurred"
    reason = (
        f"Accepted DoD proposal #{proposal.pk}: “{proposal.factor.name}” {what} — "
        f"{len(postmortems)} post-mortem(s) ({shown}); rule {proposal.min_incidents} in "
        f"{proposal.window_days} days."
    )
    return reason[:REASON_MAX]


def proposal_accept(
    *, proposal: DoDProposal, user, text: str | None = None, reason: str | None = None
) -> DoDProposal:
    """Accept a DoD proposal: a new version of the scope's DoD with the item.

    A "new item" proposal appends an item addressing the factor, linked to the
    evidence post-mortems. A "DoD item not working" proposal rewrites that item
    (same uid, text as given, re-adopted now, evidence added to its links); if
    the item was removed meanwhile, a new item is appended instead.

    Args:
        proposal: an open proposal.
        user: who decides (recorded on the proposal and the version).
        text: the item text as edited (default: the suggested text).
        reason: the version's "why" (default: names the proposal and evidence).

    Returns:
        The updated proposal (status "accepted", ``dod_version`` set).

    Raises:
        ProposalDecided: it was accepted or rejected already.
        ValidationError: keyed ``text`` or ``reason`` when invalid.
    """
    final_text = _clean_text(
        text if text is not None else proposal.suggested_text, what="text", limit=ITEM_TEXT_MAX
    )
    if reason is not None and reason.strip():
        reason = _clean_text(reason, what="reason", limit=REASON_MAX)
    with transaction.atomic():
        locked = (
            DoDProposal.objects.select_for_update(of=("self",))
            .select_related("factor", "team")
            .get(pk=proposal.pk)
        )
        if locked.status != DoDProposal.Status.OPEN:
            raise ProposalDecided(f"This proposal was already {locked.status}.", code="decided")
        evidence = list(
            locked.evidence.filter(postmortem__deleted_at__isnull=True)
            .select_related("postmortem")
            .order_by("started_at", "postmortem_id")
        )
        postmortems = [row.postmortem for row in evidence]
        dod = dod_get_or_create(team=locked.team)
        current = dod_current(dod=dod)
        items = _items_as_data(current.items)
        target = None
        if locked.kind == DoDProposal.Kind.ITEM_NOT_WORKING and locked.dod_item_uid:
            target = next((i for i in current.items if i.uid == locked.dod_item_uid), None)
        if target is not None:
            index = current.items.index(target)
            links = {pm.pk: pm for pm in target.postmortems.all()} | {pm.pk: pm for pm in postmortems}
            items[index] = ItemData(
                text=final_text,
                uid=target.uid,
                factor=locked.factor,
                postmortems=list(links.values()),
                readopt=True,
            )
        else:
            items.append(ItemData(text=final_text, factor=locked.factor, postmortems=postmortems))
        try:
            version = dod_change(
                dod=dod,
                user=user,
                items=items,
                reason=reason or _acceptance_reason(locked, postmortems),
            )
        except ValidationError as exc:
            detail = exc.message_dict if hasattr(exc, "error_dict") else {"text": exc.messages}
            raise ValidationError({"text": [m for msgs in detail.values() for m in msgs]}) from exc
        locked.status = DoDProposal.Status.ACCEPTED
        locked.decided_by = user if getattr(user, "pk", None) else None
        locked.decided_at = timezone.now()
        locked.accepted_text = final_text
        locked.dod_version = version
        locked.save(update_fields=["status", "decided_by", "decided_at", "accepted_text", "dod_version"])
    return locked


def proposal_reject(*, proposal: DoDProposal, user, reason: str) -> DoDProposal:
    """Reject a DoD proposal with a reason (recorded, and shown on the evidence
    post-mortems as "what we don't change").

    The pattern reopens only when detection finds an incident that was not
    evidence of this proposal.

    Raises:
        ProposalDecided: it was accepted or rejected already.
        ValidationError: keyed ``reason`` when it is blank or too long.
    """
    reason = _clean_text(reason, what="reason", limit=REASON_MAX)
    now = timezone.now()
    with transaction.atomic():
        # Claimed with a conditional UPDATE: of two decisions at once, one wins.
        claimed = DoDProposal.objects.filter(pk=proposal.pk, status=DoDProposal.Status.OPEN).update(
            status=DoDProposal.Status.REJECTED,
            reason=reason,
            decided_by=user if getattr(user, "pk", None) else None,
            decided_at=now,
        )
        if not claimed:
            status = DoDProposal.objects.filter(pk=proposal.pk).values_list("status", flat=True).first()
            raise ProposalDecided(f"This proposal was already {status}.", code="decided")
    return DoDProposal.objects.select_related("team", "factor", "decided_by").get(pk=proposal.pk)


def pattern_settings_for(*, team: Team) -> PatternSettings:
    """The team's pattern settings, created with the defaults on first use."""
    try:
        with transaction.atomic():
            found, _ = PatternSettings.objects.get_or_create(team=team)
    except IntegrityError:  # created concurrently
        found = PatternSettings.objects.get(team=team)
    return found


def pattern_settings_update(*, team: Team, user, min_incidents: int, window_days: int) -> PatternSettings:
    """Set a team's K (``min_incidents``, 2–100) and W (``window_days``, 1–3650).

    Raises:
        ValidationError: keyed by field when out of range; nothing is saved then.
    """
    found = pattern_settings_for(team=team)
    found.min_incidents = min_incidents
    found.window_days = window_days
    found.updated_by = user if getattr(user, "pk", None) else None
    found.full_clean(exclude=["team", "updated_by"])
    found.save()
    return found
