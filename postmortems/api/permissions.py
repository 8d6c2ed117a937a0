"""Who may do what through the API.

The rules themselves live in ``postmortems.access`` (read, change, delete,
restore); this module turns them into DRF answers:

* anonymous and inactive users are refused every route (401 with
  ``WWW-Authenticate: Token``);
* the querysets of the viewsets hold only what the caller may read, so a
  post-mortem (or action item) the caller may not see is a 404 — the same answer
  as for one that does not exist (``access.get_visible_postmortem``);
* a reader who may not change a document gets 403 (``require_edit``).

Action items add one rule of their own: besides the people who may change the
post-mortem, an item's **owner** may report progress on it — ``status``,
``not_doing_reason`` and ``ticket_url`` — but not rewrite, re-assign or
re-date it (that stays with the document's editors, who agreed it in review).
"""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework import exceptions, permissions

from postmortems import access
from postmortems.models import ActionItem, PostMortem

# What an action item's owner may change without being able to edit its post-mortem.
OWNER_FIELDS = frozenset({"status", "not_doing_reason", "ticket_url"})
ITEM_REFUSED = (
    "Only the post-mortem's authors, its team, its facilitator or an admin can change this action item; "
    "its owner can change its status, reason and ticket."
)


class SignedInUser(permissions.IsAuthenticated):
    """Signed-in, active users only; what each may read or change is decided per
    object by ``postmortems.access`` (see the module docstring)."""

    def has_permission(self, request, view) -> bool:
        return access.is_active(request.user)


API_PERMISSIONS = [SignedInUser]


def require_edit(user, pm: PostMortem) -> None:
    """Raises DRF ``PermissionDenied`` (403, the rule in the message) unless ``access.can_edit``."""
    if not access.can_edit(user, pm):
        raise exceptions.PermissionDenied(access.EDIT_REFUSED)


def require_delete(user, pm: PostMortem) -> None:
    """Raises DRF ``PermissionDenied`` (403) unless ``access.can_delete``."""
    if not access.can_delete(user, pm):
        raise exceptions.PermissionDenied(access.DELETE_REFUSED)


def require_item_change(user, item: ActionItem, fields: Iterable[str] = ()) -> None:
    """Raises DRF ``PermissionDenied`` (403) unless ``user`` may change ``fields`` of ``item``.

    With no ``fields`` it checks only that ``user`` may change something (so a
    reader is refused before the body is read).
    """
    if access.can_edit(user, item.postmortem):
        return
    if item.owner_id == user.pk and set(fields) <= OWNER_FIELDS:
        return
    raise exceptions.PermissionDenied(ITEM_REFUSED)
