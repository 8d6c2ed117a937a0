"""Who may read, change, delete and restore a post-mortem: the one place these rules live.

Every list, search, count, figure, pattern, export and API field starts from
``PostMortem.objects.visible_to(user)`` (or ``visibility_q`` for queries on
related rows); every single-document page asks ``get_visible_postmortem`` and,
before a change, ``require_edit``. Nothing else decides.

The rules (issue 9; the "Post-mortems are visible to the whole organisation"
default follows Google's SRE book, ch. 15, "Postmortem Culture": post-mortems
are shared widely, with restricted ones the exception for security incidents):

* **Read**: any active signed-in user reads *organisation* documents. A
  *restricted* document is read only by members of its team (any role), its
  authors, its facilitator, whoever created it, the people it is shared with
  (``restricted_to``), the owners of its action items (work handed to someone
  comes with the document that explains it) and admins (``is_staff``).
  Anonymous users read nothing.
  Soft-deleted documents are read by no one outside the admin.
* **Change** (sections, rows, factors, visibility): the authors, the members
  of the document's team (member, lead or facilitator), its facilitator, whoever
  created it, and admins.
* **Delete** (soft): admins and the team's leads; the authors too while the
  document is still a draft. **Restore**: admins only.

An outsider who asks for a restricted document gets 404, never 403, so its
existence does not leak (OWASP ASVS v4 4.2.1; API Top 10 2023 API1, BOLA).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404

from postmortems.models import ActionItem, PostMortem, TeamMembership

EDIT_REFUSED = "Only the post-mortem's authors, its team, its facilitator or an admin can change it."
DELETE_REFUSED = (
    "Only an admin or the team's leads (or its authors, while it is a draft) can delete this post-mortem."
)
RESTORE_REFUSED = "Only an admin can restore a deleted post-mortem."
NOT_FOUND = "No post-mortem found."


def is_active(user) -> bool:
    """True for a signed-in, active user."""
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_active", False))


def is_admin(user) -> bool:
    """True for an active staff user: the organisation's admins."""
    return is_active(user) and bool(user.is_staff)


def _nothing(prefix: str) -> Q:
    return Q(**{f"{prefix}pk__in": []})


def _team_ids(user):
    return TeamMembership.objects.filter(user_id=user.pk).values("team_id")


def _authored_ids(user):
    return PostMortem.authors.through.objects.filter(user_id=user.pk).values("postmortem_id")


def _shared_ids(user):
    return PostMortem.restricted_to.through.objects.filter(user_id=user.pk).values("postmortem_id")


def _owned_item_ids(user):
    return ActionItem.all_objects.filter(owner_id=user.pk).values("postmortem_id")


def visibility_q(user, prefix: str = "") -> Q:
    """The condition "``user`` may read this post-mortem", for any queryset.

    Args:
        user: a ``User`` or ``AnonymousUser``.
        prefix: the lookup path from the queried model to the post-mortem, with
            its trailing ``__`` (``""`` on PostMortem, ``"postmortem__"`` on
            ActionItem, ``"evidence__postmortem__"`` and so on).

    Returns:
        A ``Q``; matches nothing for anonymous or inactive users. Deleted
        documents are left out by the default managers, not here.
    """
    if not is_active(user):
        return _nothing(prefix)
    if user.is_staff:
        return Q()
    p = prefix
    return (
        Q(**{f"{p}visibility": PostMortem.Visibility.ORGANISATION})
        | Q(**{f"{p}team_id__in": _team_ids(user)})
        | Q(**{f"{p}facilitator_id": user.pk})
        | Q(**{f"{p}created_by_id": user.pk})
        | Q(**{f"{p}pk__in": _authored_ids(user)})
        | Q(**{f"{p}pk__in": _shared_ids(user)})
        | Q(**{f"{p}pk__in": _owned_item_ids(user)})
    )


def edit_q(user, prefix: str = "") -> Q:
    """The condition "``user`` may change this post-mortem" (see the module rules)."""
    if not is_active(user):
        return _nothing(prefix)
    if user.is_staff:
        return Q()
    p = prefix
    return (
        Q(**{f"{p}team_id__in": _team_ids(user)})
        | Q(**{f"{p}facilitator_id": user.pk})
        | Q(**{f"{p}created_by_id": user.pk})
        | Q(**{f"{p}pk__in": _authored_ids(user)})
    )


def sees_restricted(user) -> bool:
    """Could ``user`` read any restricted document at all? (one query at most)

    Lets a cache of organisation-wide figures be shared by everyone who sees
    only organisation documents: for them the visible set is the same.
    """
    if not is_active(user):
        return False
    if user.is_staff:
        return True
    return (
        PostMortem.objects.filter(visibility=PostMortem.Visibility.RESTRICTED)
        .filter(visibility_q(user))
        .exists()
    )


def _member_role(user, pm: PostMortem) -> str | None:
    return (
        TeamMembership.objects.filter(team_id=pm.team_id, user_id=user.pk)
        .values_list("role", flat=True)
        .first()
    )


def _is_author(user, pm: PostMortem) -> bool:
    cache = getattr(pm, "_prefetched_objects_cache", {})
    if "authors" in cache:
        return any(author.pk == user.pk for author in cache["authors"])
    return pm.authors.filter(pk=user.pk).exists()


def can_view(user, pm: PostMortem) -> bool:
    """May ``user`` read ``pm``? (at most three small queries)"""
    if not is_active(user) or pm.deleted_at is not None:
        return False
    if pm.visibility == PostMortem.Visibility.ORGANISATION:
        return True
    return can_view_as_restricted(user, pm)


def can_view_as_restricted(user, pm: PostMortem) -> bool:
    """Would ``user`` read ``pm`` if it were restricted? (its restricted past: history)

    A document restricted once and opened to the organisation later keeps its
    restricted revisions for those who could read it restricted; everyone else
    sees its history from the first organisation-wide revision on.
    """
    if not is_active(user) or pm.deleted_at is not None:
        return False
    if user.is_staff or user.pk in (pm.facilitator_id, pm.created_by_id):
        return True
    if _member_role(user, pm) is not None or _is_author(user, pm):
        return True
    if pm.restricted_to.filter(pk=user.pk).exists():
        return True
    return ActionItem.all_objects.filter(postmortem_id=pm.pk, owner_id=user.pk).exists()


def can_edit(user, pm: PostMortem) -> bool:
    """May ``user`` change ``pm`` (sections, rows, factors, visibility)?"""
    if not is_active(user) or pm.deleted_at is not None:
        return False
    if user.is_staff or user.pk in (pm.facilitator_id, pm.created_by_id):
        return True
    return _member_role(user, pm) is not None or _is_author(user, pm)


def can_delete(user, pm: PostMortem) -> bool:
    """May ``user`` soft-delete ``pm``? Admins, the team's leads, authors of a draft."""
    if not is_active(user) or pm.deleted_at is not None:
        return False
    if user.is_staff or _member_role(user, pm) == TeamMembership.Role.LEAD:
        return True
    return pm.status == PostMortem.Status.DRAFT and _is_author(user, pm)


def can_restore(user) -> bool:
    """May ``user`` restore soft-deleted documents? Admins only."""
    return is_admin(user)


def get_visible_postmortem(user, pk: int, queryset=None) -> PostMortem:
    """The post-mortem ``pk`` if ``user`` may read it.

    Args:
        queryset: a ``PostMortem`` queryset to fetch from (for ``select_related``
            and prefetches); defaults to ``PostMortem.objects``.

    Raises:
        Http404: when it does not exist, is deleted, or ``user`` may not read it —
            the same answer in all three cases, so nothing leaks.
    """
    base = PostMortem.objects.all() if queryset is None else queryset
    try:
        return base.visible_to(user).get(pk=pk)
    except PostMortem.DoesNotExist:
        raise Http404(NOT_FOUND) from None


def require_edit(user, pm: PostMortem) -> None:
    """Raises ``PermissionDenied`` (403) unless ``can_edit``; call after ``get_visible_postmortem``."""
    if not can_edit(user, pm):
        raise PermissionDenied(EDIT_REFUSED)


def require_delete(user, pm: PostMortem) -> None:
    """Raises ``PermissionDenied`` (403) unless ``can_delete``."""
    if not can_delete(user, pm):
        raise PermissionDenied(DELETE_REFUSED)


def require_restore(user) -> None:
    """Raises ``PermissionDenied`` (403) unless ``can_restore``."""
    if not can_restore(user):
        raise PermissionDenied(RESTORE_REFUSED)
