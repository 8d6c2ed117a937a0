"""Pages of a post-mortem's history: the list of revisions, a comparison of two,
and restoring one (issue 9, "History and undo").

Thin views: access comes from ``postmortems.access`` (outsiders get 404, readers
who may not edit get 403 on restore), everything else from
``postmortems.revisions``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from postmortems import access, restore, revisions
from postmortems.models import PostMortem
from postmortems.services import StaleVersionError
from postmortems.views import _pk_from_key

#: History entries (revisions and row events) per page.
HISTORY_PAGE_SIZE = 50


def _document(request: HttpRequest, key: str) -> PostMortem:
    """``PM-<id>`` if the user may read it; Http404 otherwise (malformed, unknown,
    deleted or not visible alike)."""
    return access.get_visible_postmortem(
        request.user, _pk_from_key(key), queryset=PostMortem.objects.select_related("team")
    )


def _hidden_until(request: HttpRequest, pm: PostMortem, listed) -> int:
    """The last revision number this reader may not see (0: none), see
    ``revisions.restricted_until``."""
    if access.can_view_as_restricted(request.user, pm):
        return 0
    return revisions.restricted_until(listed)


def _visible_revision(request: HttpRequest, pm: PostMortem, history_id, listed):
    """``revisions.revision_get``, and Http404 for a revision of the document's
    restricted past that this reader may not see (the same answer as unknown)."""
    revision = revisions.revision_get(pm, history_id, listed)
    if revision.number <= _hidden_until(request, pm, listed):
        raise Http404("No such revision.")
    return revision


@login_required
@require_http_methods(["GET", "HEAD"])
def postmortem_history(request: HttpRequest, key: str) -> HttpResponse:
    """The history of ``PM-<id>``, newest first: revisions (number, when, who,
    reason, what changed) interleaved with the action items' and declined
    changes' own events, 50 a page (``?page=``). Two radio columns pick the
    revisions to compare.

    Raises:
        Http404: for a malformed, unknown, deleted or invisible document.
    """
    pm = _document(request, key)
    hidden = _hidden_until(request, pm, revisions.revision_list(pm))
    entries = revisions.history_entries(pm, hide_until=hidden)
    numbered = [entry for entry in entries if entry.is_revision]
    page = Paginator(entries, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    context: dict[str, Any] = {
        "pm": pm,
        "page": page,
        "revision_count": len(numbered),
        "default_to": numbered[0].history_id if numbered else None,
        "default_from": numbered[1].history_id if len(numbered) > 1 else None,
        "latest": numbered[0].history_id if numbered else None,
        "can_edit": access.can_edit(request.user, pm),
        "hidden_revisions": hidden,
    }
    return render(request, "postmortems/history.html", context)


@login_required
@require_http_methods(["GET", "HEAD"])
def postmortem_history_compare(request: HttpRequest, key: str) -> HttpResponse:
    """Compare two revisions of ``PM-<id>``: ``?from=<history_id>&to=<history_id>``.

    The older of the two is always shown as "before". A missing or non-numeric
    ``from``/``to`` answers 400 with a page that says so.

    Raises:
        Http404: for an invisible document, or a revision that does not exist or
            belongs to another document.
    """
    pm = _document(request, key)
    raw = {name: (request.GET.get(name) or "").strip() for name in ("from", "to")}
    bad = [name for name, value in raw.items() if not value.isdigit()]
    if bad:
        context = {"pm": pm, "error": "Pick two revisions to compare (both “from” and “to”)."}
        return render(request, "postmortems/history_compare.html", context, status=400)
    listed = revisions.revision_list(pm)
    old = _visible_revision(request, pm, raw["from"], listed)
    new = _visible_revision(request, pm, raw["to"], listed)
    if old.number > new.number:
        old, new = new, old
    context = {
        "pm": pm,
        "old": old,
        "new": new,
        "comparison": revisions.revision_compare(pm, old, new),
        "before_label": f"Revision {old.number}",
        "after_label": f"Revision {new.number}",
        "can_edit": access.can_edit(request.user, pm),
        "latest": listed[-1].history_id,
    }
    return render(request, "postmortems/history_compare.html", context)


def _restore_page(
    request: HttpRequest, pm: PostMortem, revision, *, status: int = 200, errors: list[str] | None = None
) -> HttpResponse:
    context = {
        "pm": pm,
        "revision": revision,
        # What restoring changes: the document as it is now → the revision.
        "comparison": revisions.revision_compare(pm, None, revision),
        "before_label": "Now",
        "after_label": f"After restoring revision {revision.number}",
        "errors": errors or [],
    }
    return render(request, "postmortems/history_restore.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def postmortem_history_restore(request: HttpRequest, key: str, history_id: int) -> HttpResponse:
    """Restore a revision of ``PM-<id>``: GET shows what would change and asks to
    confirm; POST (field ``version``: the document version shown on that page)
    restores it as a new revision and goes back to the history.

    A stale ``version`` answers 409 with the page redrawn against the current
    document (nothing written); a missing one, or a revision that cannot be
    restored (an owner that no longer exists, the readiness gate), 400.

    Raises:
        Http404: for an invisible document, or a revision not of this document.
        PermissionDenied: for readers who may not edit it.
    """
    pm = _document(request, key)
    access.require_edit(request.user, pm)
    revision = _visible_revision(request, pm, history_id, revisions.revision_list(pm))
    if request.method != "POST":
        return _restore_page(request, pm, revision)

    raw_version = (request.POST.get("version") or "").strip()
    if not raw_version.isdigit():
        return _restore_page(
            request, pm, revision, status=400, errors=["The form was incomplete; nothing was restored."]
        )
    try:
        outcome = restore.revision_restore(
            user=request.user,
            postmortem=pm,
            history_id=revision.history_id,
            expected_version=int(raw_version),
        )
    except StaleVersionError:
        pm.refresh_from_db()
        message = (
            f"{pm.key} was changed by someone else after you opened this page. Nothing was restored; "
            "check what restoring would change now and confirm again."
        )
        return _restore_page(request, pm, revision, status=409, errors=[message])
    except ValidationError as exc:
        return _restore_page(request, pm, revision, status=400, errors=exc.messages)
    messages.success(
        request, f"{pm.key}: revision {outcome.restored} restored (now revision {outcome.new_revision})."
    )
    for note in outcome.notes:
        messages.warning(request, note)
    return redirect(reverse("postmortems:history", kwargs={"key": pm.key}))
