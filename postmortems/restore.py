"""Restoring a revision of a post-mortem (undo): the second half of the history
feature, next to ``postmortems.revisions`` (listing and comparing revisions).

A restore writes the revision's fields, relations and rows back through
``services.postmortem_save`` as a NEW revision (history is never rewritten),
reusing row ids that still exist and recreating rows deleted since.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_date, parse_datetime

from postmortems import access, services
from postmortems.models import ContributingFactor, PostMortem, Service, Team
from postmortems.onepager import SECTION_FIELDS
from postmortems.revisions import ROW_LISTS, SET_FIELDS, Revision, revision_get, revision_list


class RestoreError(ValidationError):
    """A revision cannot be written back as it is (an owner or the team no longer exists)."""


@dataclass
class RestorePlan:
    """The ``postmortem_save`` arguments that bring a revision back.

    ``notes`` say what cannot come back and is left out (a factor taken out of
    the taxonomy, a deleted author); ``exact`` is True when the revision comes
    back whole (then the readiness gate is not applied again, see
    ``revision_restore``).
    """

    fields: dict[str, Any]
    timeline: list[dict] | None
    action_items: list[dict] | None
    declined_changes: list[dict] | None
    notes: list[str]
    exact: bool


def restore_plan(postmortem: PostMortem, revision: Revision) -> RestorePlan:
    """Translate ``revision`` into ``postmortem_save`` arguments for ``postmortem``.

    Action items and declined changes keep their ids when the row still exists
    on this document; rows deleted since are created again (new ids). Timeline
    rows carry no ids: an identical current row is kept, others are recreated.
    Relations the revision did not record (a record without a snapshot) are
    left as they are now.

    Raises:
        RestoreError: keyed ``action_items`` when an item's owner no longer
            exists, ``team`` when the team no longer exists.
    """
    record = revision.record
    related = record.related if isinstance(record.related, dict) else {}
    notes: list[str] = []
    errors: dict[str, list[str]] = {}
    users = get_user_model().objects

    fields: dict[str, Any] = {
        name: getattr(record, name)
        for name in (
            "title",
            "severity",
            "status",
            "visibility",
            "started_at",
            "detected_at",
            "mitigated_at",
            "resolved_at",
            "source_url",
            "external_id",
            *SECTION_FIELDS,
        )
    }
    team = Team.objects.filter(pk=record.team_id).first()
    if team is None:
        errors["team"] = ["The team of this revision no longer exists; choose a team by editing instead."]
    fields["team"] = team
    fields["facilitator"] = None
    if record.facilitator_id:
        fields["facilitator"] = users.filter(pk=record.facilitator_id).first()
        if fields["facilitator"] is None:
            notes.append("The facilitator's account no longer exists; the facilitator is left empty.")

    if "factors" in related:
        found = list(ContributingFactor.objects.filter(slug__in=related["factors"]))
        missing = sorted(set(related["factors"]) - {f.slug for f in found})
        if missing:
            notes.append(
                f"Contributing factors no longer in the taxonomy were left out: {', '.join(missing)}."
            )
        fields["factors"] = found
    if "services" in related:
        found = list(Service.objects.filter(slug__in=related["services"]))
        missing = sorted(set(related["services"]) - {s.slug for s in found})
        if missing:
            notes.append(f"Services that no longer exist were left out: {', '.join(missing)}.")
        fields["services"] = found
    for name, what in (("authors", "authors"), ("restricted_to", "named readers")):
        if name in related:
            found = list(users.filter(pk__in=related[name]))
            if len(found) < len(set(related[name])):
                notes.append(
                    f"{len(set(related[name])) - len(found)} of the {what} no longer exist and were left out."
                )
            fields[name] = found

    timeline = None
    if "timeline" in related:
        current = {
            (entry.at.isoformat(), entry.text, entry.evidence_url): entry.pk
            for entry in postmortem.timeline.all()
        }
        timeline = []
        for row in related["timeline"]:
            key = (row["at"], row["text"], row.get("evidence_url", ""))
            entry = {
                "at": parse_datetime(row["at"]),
                "text": row["text"],
                "evidence_url": row.get("evidence_url", ""),
            }
            if key in current:
                entry["id"] = current.pop(key)
            timeline.append(entry)

    action_items = None
    if "action_items" in related:
        rows = related["action_items"]
        existing = set(postmortem.action_items.values_list("pk", flat=True))
        owners = {user.pk: user for user in users.filter(pk__in={row["owner"] for row in rows})}
        action_items = []
        for row in rows:
            owner = owners.get(row["owner"])
            if owner is None:
                errors.setdefault("action_items", []).append(
                    f"AI-{row['id']} “{row['text'][:80]}”: its owner's account no longer exists. "
                    "Edit the post-mortem to give the item a new owner instead."
                )
                continue
            item = {
                "text": row["text"],
                "kind": row["kind"],
                "owner": owner,
                "due_date": parse_date(row["due_date"]),
                "status": row["status"],
                "not_doing_reason": row.get("not_doing_reason", ""),
                "ticket_url": row.get("ticket_url", ""),
            }
            if row.get("id") in existing:
                item["id"] = row["id"]
            action_items.append(item)

    declined = None
    if "declined_changes" in related:
        existing = set(postmortem.declined_changes.values_list("pk", flat=True))
        declined = []
        for row in related["declined_changes"]:
            change = {"text": row["text"], "rationale": row["rationale"]}
            if row.get("id") in existing:
                change["id"] = row["id"]
            declined.append(change)

    if errors:
        raise RestoreError(errors)
    complete = all(key in related for key, _ in (*SET_FIELDS, *ROW_LISTS))
    return RestorePlan(
        fields=fields,
        timeline=timeline,
        action_items=action_items,
        declined_changes=declined,
        notes=notes,
        exact=complete and not notes,
    )


@dataclass
class RestoreOutcome:
    """What ``revision_restore`` did: the saved document, the revision brought back,
    the number of the new revision, and notes about anything left out."""

    postmortem: PostMortem
    restored: int
    new_revision: int
    notes: list[str]


def revision_restore(*, user, postmortem: PostMortem, history_id, expected_version: int) -> RestoreOutcome:
    """Write revision ``history_id`` back as the document's newest revision.

    Goes through ``services.postmortem_save`` (one transaction, the row locked,
    validation, search index, one new revision with the reason
    "restored revision <n>"), so nothing in the history is rewritten.

    The readiness gate: ``postmortem_save`` checks readiness when a document
    leaves "draft". Restoring a revision that was "in review" (or later) onto a
    draft brings back a state this document was already in — one that passed the
    gate then, or that an admin overrode or an importer brought in — so when the
    revision comes back exactly (``RestorePlan.exact``) the gate is not applied
    again; checking it anew could refuse the very text that passed it (a due date
    now in the past, a newer language rule). When something cannot come back
    (a revision without a snapshot, a factor removed from the taxonomy) the
    result is a new mix, and the gate applies as to any edit.

    Args:
        expected_version: the document ``version`` the user saw on the
            confirmation page; a later save refuses the restore.

    Raises:
        PermissionDenied: unless ``access.can_edit``.
        Http404: for a revision that is not this document's.
        RestoreError: when an owner or the team no longer exists.
        services.StaleVersionError: when the document changed since the user
            saw it; nothing is written.
        ValidationError: when ``postmortem_save`` refuses (e.g. the readiness gate,
            or an external id another document now uses).
    """
    access.require_edit(user, postmortem)
    revisions = revision_list(postmortem)
    revision = revision_get(postmortem, history_id, revisions)
    plan = restore_plan(postmortem, revision)
    saved = services.postmortem_save(
        user=user,
        postmortem=postmortem,
        fields=plan.fields,
        timeline=plan.timeline,
        action_items=plan.action_items,
        declined_changes=plan.declined_changes,
        expected_version=expected_version,
        change_reason=f"restored revision {revision.number}",
        enforce_readiness=not plan.exact,
    )
    return RestoreOutcome(
        postmortem=saved, restored=revision.number, new_revision=len(revisions) + 1, notes=plan.notes
    )
