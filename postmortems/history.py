"""Revisions of a post-mortem (django-simple-history), one per change.

``postmortems.services`` saves a document's row before its relations and rows,
so simple-history's automatic record at ``save()`` would capture a half-written
document (and its many-to-many signals would add one record per relation).
Instead the service saves without a record and calls ``record_revision`` once,
at the end, with the whole document: the columns, plus a ``related`` snapshot
of the factors, authors, services, named readers, timeline, action items and
declined changes. Action items and declined changes also keep their own
simple-history records (``ActionItem.history``, ``DeclinedChange.history``),
which include changes made outside a document save (status changes, webhooks).
"""

from __future__ import annotations

from typing import Any

from postmortems.models import PostMortem


def snapshot(pm: PostMortem) -> dict[str, Any]:
    """What the document's relations and rows are now, as JSON-ready data.

    Returns:
        ``{"factors": [slug, ...], "authors": [user id, ...], "services": [slug, ...],
        "restricted_to": [user id, ...], "timeline": [{at (ISO 8601), text, evidence_url}],
        "action_items": [{id, text, kind, owner (user id), due_date (ISO date), status,
        not_doing_reason, ticket_url}], "declined_changes": [{id, text, rationale}]}``;
        lists in a stable order so two snapshots compare equal when nothing changed.
    """
    return {
        "factors": sorted(pm.factors.values_list("slug", flat=True)),
        "authors": sorted(pm.authors.values_list("pk", flat=True)),
        "services": sorted(pm.services.values_list("slug", flat=True)),
        "restricted_to": sorted(pm.restricted_to.values_list("pk", flat=True)),
        "timeline": [
            {"at": entry.at.isoformat(), "text": entry.text, "evidence_url": entry.evidence_url}
            for entry in pm.timeline.order_by("at", "id")
        ],
        "action_items": [
            {
                "id": item.pk,
                "text": item.text,
                "kind": item.kind,
                "owner": item.owner_id,
                "due_date": item.due_date.isoformat(),
                "status": item.status,
                "not_doing_reason": item.not_doing_reason,
                "ticket_url": item.ticket_url,
            }
            for item in pm.action_items.order_by("id")
        ],
        "declined_changes": [
            {"id": change.pk, "text": change.text, "rationale": change.rationale}
            for change in pm.declined_changes.order_by("id")
        ],
    }


def record_revision(pm: PostMortem, *, user=None, reason: str = "", created: bool = False):
    """Store one revision of ``pm`` as it is now in the database session.

    Args:
        pm: the saved document (its relations already written).
        user: who made the change (None for system actors: importer, webhook).
        reason: a short note shown in the history ("restored revision 3", "deleted").
        created: True for the document's first revision (history type ``+``).

    Returns:
        The new historical row (``PostMortem.history.model``).
    """
    actor = user if getattr(user, "pk", None) else None
    rows = PostMortem.history.bulk_history_create(
        [pm],
        update=not created,
        default_user=actor,
        default_change_reason=reason[:100],
        custom_historical_attrs={"related": snapshot(pm)},
    )
    return rows[0]
