"""Server-rendered pages: the post-mortem list and search, the one-page view,
its Markdown download, the create/edit form and "My action items".

Views stay thin (HackSoft Django-Styleguide): reads come from
``postmortems.selectors`` and ``PostMortemFilter``; every write goes through
``postmortems.services``.

Who may do what is decided by ``postmortems.access`` alone (issue 9): every page
fetches its document through ``PostMortem.objects.visible_to`` (a document the
user may not read is a 404, the same answer as a missing or deleted one) and
every change asks ``access.require_edit`` first (a reader who may not change it
gets a friendly 403 page).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from blameless import check_text
from postmortems import access, selectors, services
from postmortems.conflicts import edit_conflict
from postmortems.filters import PostMortemFilter
from postmortems.forms import (
    ROW_FORMSETS,
    ActionItemStatusForm,
    FindingWaiveForm,
    PostMortemForm,
    iter_row_errors,
)
from postmortems.models import ActionItem, PostMortem
from postmortems.readiness import lint_summary, postmortem_lint, readiness_check
from postmortems.search import attach_snippets, search_capped
from postmortems.writing_aids import finding_for_display, findings_by_section

PAGE_SIZE = 25
# At most 18 digits, so the id always fits a signed 64-bit column (a longer
# number would make SQLite raise OverflowError instead of answering 404).
_KEY = re.compile(r"PM-([1-9]\d{0,17})")


def _pk_from_key(key: str) -> int:
    """``"PM-12"`` → 12.

    Raises:
        Http404: for anything that is not a post-mortem key.
    """
    match = _KEY.fullmatch(key or "")
    if not match:
        raise Http404(access.NOT_FOUND)
    return int(match.group(1))


def _visible(request: HttpRequest, key: str, queryset=None) -> PostMortem:
    """``PM-<id>`` if the signed-in user may read it (``access.get_visible_postmortem``).

    Raises:
        Http404: for a malformed key, or a document that is missing, deleted or
            not readable by the user — one answer for all, so nothing leaks.
    """
    return access.get_visible_postmortem(request.user, _pk_from_key(key), queryset=queryset)


def _from_selector(queryset, pk: int) -> PostMortem:
    """One document of an already visibility-filtered selector queryset, or 404."""
    try:
        return queryset.get(pk=pk)
    except PostMortem.DoesNotExist:
        raise Http404(access.NOT_FOUND) from None


def friendly_forbidden(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Turn ``PermissionDenied`` from ``access.require_*`` into the "You can read
    this post-mortem but not change it" page (HTTP 403), which says who can.

    Only documents the user may read get this far (the others are 404s), so the
    page may name the document.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except PermissionDenied as exc:
            context = {"message": str(exc) or access.EDIT_REFUSED, "pm": getattr(exc, "postmortem", None)}
            return render(request, "postmortems/forbidden.html", context, status=403)

    return wrapper


def _require(check: Callable[[Any, PostMortem], None], request: HttpRequest, pm: PostMortem) -> None:
    """Run ``access.require_edit`` / ``require_delete`` and tag the refusal with ``pm``
    so ``friendly_forbidden`` can link back to it."""
    try:
        check(request.user, pm)
    except PermissionDenied as exc:
        exc.postmortem = pm
        raise


# --- list and search ----------------------------------------------------------


@login_required
@require_http_methods(["GET", "HEAD"])
def postmortem_list(request: HttpRequest) -> HttpResponse:
    """List post-mortems, 25 a page, filtered and searched by ``PostMortemFilter``.

    Query parameters are the filter's (``q``, ``team``, ``service``, ``severity``,
    ``status``, ``factor``, ``started_from``, ``started_to``, ``ordering``) plus
    ``page``. Invalid filter values are shown as form errors and ignored.
    """
    filterset = PostMortemFilter(
        request.GET or None,
        queryset=selectors.postmortem_list(user=request.user),
        request=request,
    )
    form = filterset.form
    for name in ("severity", "status"):
        form.fields[name].widget = forms.CheckboxSelectMultiple(choices=form.fields[name].choices)
    for name, size in (("team", 4), ("service", 4), ("factor", 6)):
        form.fields[name].widget.attrs["size"] = size
    form.fields["q"].widget.input_type = "search"
    form.fields["q"].widget.attrs.update(
        {"placeholder": 'Search post-mortems, e.g. leap second or "config push" -dns', "aria-label": "Search"}
    )

    queryset = filterset.qs  # validates the form first
    cleaned = getattr(form, "cleaned_data", {}) if form.is_bound else {}
    q = (cleaned.get("q") or "").strip()
    paginator = Paginator(queryset, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    objects = list(page.object_list)
    if q:
        attach_snippets(objects, q)

    filter_names = ("team", "service", "severity", "status", "factor", "started_from", "started_to")
    has_filters = any(value for name in filter_names for value in request.GET.getlist(name))
    context = {
        "filter": filterset,
        "form": form,
        "page": page,
        "postmortems": objects,
        "q": q,
        "has_filters": has_filters,
        # PostgreSQL ranks a broad query's newest RANK_CANDIDATES matches only
        # (postmortems/search.py); say so instead of passing the cap off as a count.
        "capped": bool(q) and search_capped(paginator.count),
        # Visible documents only: even the empty-state wording must not tell an
        # outsider that restricted documents exist.
        "anything_exists": bool(objects) or selectors.postmortem_list(user=request.user).exists(),
    }
    return render(request, "postmortems/list.html", context)


# --- one-page view and download ----------------------------------------------------


@login_required
@require_http_methods(["GET", "HEAD"])
def postmortem_detail(request: HttpRequest, key: str) -> HttpResponse:
    """The one-page view of ``PM-<id>``: header, times, the four sections with the
    timeline, factors, action items, fix PRs and declined changes, and who can
    read it when it is restricted. Whoever may change it (``access.can_edit``)
    also gets the Edit button, the "Language check" panel and, for a draft,
    the "Ready for review?" checklist (``_writing_aids.html``); whoever may
    delete it (``access.can_delete``) gets the Delete button.

    Raises:
        Http404: for a malformed key, or a document that is unknown, deleted or
            not readable by the user.
    """
    pm = _from_selector(selectors.postmortem_detail(user=request.user), _pk_from_key(key))
    can_edit = access.can_edit(request.user, pm)
    context: dict[str, Any] = {
        "pm": pm,
        "writing_aids": None,
        "can_edit": can_edit,
        "can_delete": access.can_delete(request.user, pm),
    }
    if can_edit:
        # Shown to the people who may change the document: the "Language check"
        # panel and, for drafts, the "Ready for review?" checklist.
        findings = postmortem_lint(pm)
        context["writing_aids"] = {
            "groups": findings_by_section(findings),
            "summary": lint_summary(findings),
            "readiness": readiness_check(pm) if pm.status == PostMortem.Status.DRAFT else None,
            # Set by postmortem_move_to_review when the service refused the move.
            "review_refused": request.GET.get("review") == "refused",
        }
    return render(request, "postmortems/detail.html", context)


@login_required
@require_http_methods(["GET", "HEAD"])
def postmortem_export(request: HttpRequest, key: str) -> HttpResponse:
    """Download ``PM-<id>`` as Markdown (``text/markdown``, attachment ``PM-<id>.md``).

    Raises:
        Http404: for a malformed key, or a document that is unknown, deleted or
            not readable by the user.
    """
    # Imported here: the exchange package is optional for the rest of the pages.
    from postmortems.exchange.markdown_format import render_postmortem_markdown

    pm = _from_selector(selectors.postmortem_detail(user=request.user), _pk_from_key(key))
    response = HttpResponse(render_postmortem_markdown(pm), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{pm.key}.md"'
    return response


# --- create and edit -----------------------------------------------------------


def _build_formsets(request: HttpRequest, pm: PostMortem) -> list[tuple[str, Any, tuple]]:
    data = request.POST if request.method == "POST" else None
    built = []
    for argument, prefix, formset_class, fields in ROW_FORMSETS:
        formset = formset_class(data, instance=pm, prefix=prefix, form_kwargs={"postmortem": pm})
        if data is None and pm.pk and formset.get_queryset().exists():
            # A blank row only where there is none yet; "Add" (formset.js) makes more.
            formset.extra = 0
        built.append((argument, formset, fields))
    return built


def _apply_service_errors(error: ValidationError, form: PostMortemForm, row_forms: dict[str, list]) -> None:
    """Put a ``postmortem_save`` error on the field, row or formset it names."""
    for key, row, field, message in iter_row_errors(error):
        if key in form.fields:
            form.add_error(key, message)
        elif key in row_forms:
            target = row_forms[key][row] if row is not None and row < len(row_forms[key]) else None
            if target is not None and field in target.fields:
                target.add_error(field, message)
            elif target is not None:
                target.add_error(None, f"{field}: {message}" if field else message)
            else:
                form.add_error(None, message)
        else:
            form.add_error(None, message)


def _posted_version(request: HttpRequest) -> int | None:
    try:
        return int(request.POST.get("version", ""))
    except ValueError:
        return None


def _conflict(request: HttpRequest, pm: PostMortem, base_version: int | None) -> HttpResponse:
    """The edit-conflict page (HTTP 409): someone saved ``pm`` after this user
    opened the form. Shows both texts of every field both changed, and the form
    re-filled with the user's input and the current version, so a second save
    merges instead of overwriting (``conflicts.edit_conflict``). Nothing is saved."""
    fresh = PostMortem.objects.select_related("team").filter(pk=pm.pk).first()
    if fresh is None:  # deleted meanwhile
        raise Http404(access.NOT_FOUND)
    conflict = edit_conflict(data=request.POST, postmortem=fresh, base_version=base_version)
    form = PostMortemForm(conflict.data, instance=fresh, user=request.user)
    formsets = []
    for argument, prefix, formset_class, fields in ROW_FORMSETS:
        formset = formset_class(
            conflict.data, instance=fresh, prefix=prefix, form_kwargs={"postmortem": fresh}
        )
        formsets.append((argument, formset, fields))
    messages.warning(
        request,
        f"{fresh.key} was changed by someone else while you were editing; nothing of yours was saved yet. "
        "Compare the texts below, merge them in the form and save again.",
    )
    context = {
        "form": form,
        "formsets": {formset.prefix: formset for _, formset, _ in formsets},
        "pm": fresh,
        "creating": False,
        "conflict": conflict,
    }
    return render(request, "postmortems/form.html", context, status=409)


def _edit(request: HttpRequest, pm: PostMortem) -> HttpResponse:
    creating = pm.pk is None
    if request.method == "POST" and not creating:
        posted = _posted_version(request)
        if posted is not None and posted >= 1 and posted != pm.version:
            # Stale before validation even starts: rows the other save removed
            # would otherwise show up as confusing row errors.
            return _conflict(request, pm, posted)
    form = PostMortemForm(
        request.POST if request.method == "POST" else None,
        instance=pm,
        user=request.user,
    )
    formsets = _build_formsets(request, pm)
    if request.method == "POST":
        valid = form.is_valid()
        valid = all([fs.is_valid() for _, fs, _ in formsets]) and valid
        if valid:
            rows: dict[str, list] = {}
            row_forms: dict[str, list] = {}
            for argument, formset, fields in formsets:
                rows[argument], row_forms[argument] = formset.rows(fields)
            try:
                saved = services.postmortem_save(
                    user=request.user,
                    postmortem=None if creating else pm,
                    fields=form.document_fields(),
                    readiness_override_reason=form.cleaned_data.get("readiness_override_reason", ""),
                    expected_version=None if creating else form.cleaned_data["version"],
                    **rows,
                )
            except services.StaleVersionError:
                # Someone saved between our check and the service's locked re-read.
                return _conflict(request, pm, form.cleaned_data["version"])
            except ValidationError as exc:
                _apply_service_errors(exc, form, row_forms)
            else:
                verb = "created" if creating else "saved"
                messages.success(request, f"{saved.key} {verb}.")
                return redirect(saved.get_absolute_url())
        messages.error(request, "Please correct the errors below; nothing was saved.")
    context = {
        "form": form,
        "formsets": {formset.prefix: formset for _, formset, _ in formsets},
        "pm": pm,
        "creating": creating,
        "conflict": None,
    }
    return render(request, "postmortems/form.html", context)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def postmortem_create(request: HttpRequest) -> HttpResponse:
    """Write a new post-mortem; starts from the four-section template.

    A valid POST saves through ``services.postmortem_save`` and redirects to the
    new document; invalid input re-renders the form (200) with errors and saves
    nothing.
    """
    return _edit(request, PostMortem())


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
@friendly_forbidden
def postmortem_edit(request: HttpRequest, key: str) -> HttpResponse:
    """Edit ``PM-<id>`` and its rows (rows left out or marked for removal are deleted).

    The form carries the version it was read at; when someone else saved since,
    nothing is saved and the conflict page (409) shows both texts with the form
    re-filled for merging (``_conflict``).

    Raises:
        Http404: for a malformed key, or a document that is unknown, deleted or
            not readable by the user.
        PermissionDenied: (a 403 page) for a reader who may not change it.
    """
    # Not the prefetching selector: the service re-reads the rows it rewrites.
    pm = _visible(request, key, queryset=PostMortem.objects.select_related("team"))
    _require(access.require_edit, request, pm)
    return _edit(request, pm)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
@friendly_forbidden
def postmortem_delete(request: HttpRequest, key: str) -> HttpResponse:
    """Delete ``PM-<id>`` (soft): GET asks for confirmation, POST deletes it
    through ``services.postmortem_delete`` and goes to the list with a message.

    A deleted document vanishes from every list, search and figure; an admin
    can restore it from the admin ("Restore selected post-mortems").

    Raises:
        Http404: for a malformed key, or a document that is unknown, already
            deleted or not readable by the user.
        PermissionDenied: (a 403 page) unless ``access.can_delete``.
    """
    pm = _visible(
        request, key, queryset=PostMortem.objects.select_related("team").prefetch_related("authors")
    )
    _require(access.require_delete, request, pm)
    if request.method == "POST":
        services.postmortem_delete(user=request.user, postmortem=pm)
        messages.success(request, f"{pm.key} “{pm.title}” was deleted. An admin can restore it.")
        return redirect("postmortems:list")
    return render(request, "postmortems/delete_confirm.html", {"pm": pm})


# --- blameless writing aids: inline language check, waivers, move to review ----------

#: At most this many findings are listed under a field while the author types.
INLINE_FINDINGS_SHOWN = 20


@login_required
@require_POST
def lint_fragment(request: HttpRequest) -> HttpResponse:
    """The findings of one field as an HTML fragment, for the editor (htmx).

    POST fields: ``text`` (Markdown) and ``section`` (one of ``blameless.SECTIONS``;
    blank runs every rule). Answers ``postmortems/_lint_findings.html``: nothing
    for blank text, "No findings", or the findings (rule, excerpt, message,
    suggestion), at most ``INLINE_FINDINGS_SHOWN`` of them. An unknown section
    is a 400 with the message in the same fragment.
    """
    text = request.POST.get("text", "")
    section = request.POST.get("section") or None
    try:
        findings = check_text(text, section)
    except ValueError as exc:
        return render(request, "postmortems/_lint_findings.html", {"error": str(exc)}, status=400)
    context = {
        "blank": not text.strip(),
        "findings": [finding_for_display(f) for f in findings[:INLINE_FINDINGS_SHOWN]],
        "more": max(0, len(findings) - INLINE_FINDINGS_SHOWN),
        "truncated": findings.truncated,
        "checked_chars": findings.checked_chars,
    }
    return render(request, "postmortems/_lint_findings.html", context)


def _participant_postmortem(request: HttpRequest, key: str) -> PostMortem:
    """``PM-<id>`` for someone who may change it (``access.require_edit``).

    Raises:
        Http404: for a malformed key, or a document that is unknown, deleted or
            not readable by the user.
        PermissionDenied: for a reader who may not change it.
    """
    pm = _visible(
        request, key, queryset=PostMortem.objects.select_related("team").prefetch_related("authors")
    )
    _require(access.require_edit, request, pm)
    return pm


@login_required
@require_POST
@friendly_forbidden
def finding_waive(request: HttpRequest, key: str) -> HttpResponse:
    """Mark a language finding of ``PM-<id>`` as intentional (POST ``section``,
    ``rule``, ``excerpt``, ``reason``) and go back to the "Language check" panel.

    Raises:
        Http404: for a document the user may not read (or none).
        PermissionDenied: (a 403 page) unless ``access.can_edit``.
    """
    pm = _participant_postmortem(request, key)
    form = FindingWaiveForm(request.POST)
    if form.is_valid():
        try:
            services.finding_waive(postmortem=pm, user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, f"The finding was not waived: {' '.join(exc.messages)}")
        else:
            messages.success(
                request, f"“{form.cleaned_data['excerpt'][:80]}” is marked intentional; it no longer counts."
            )
    else:
        problems = " ".join(msg for msgs in form.errors.values() for msg in msgs)
        messages.error(request, f"The finding was not waived: {problems}")
    return redirect(f"{pm.get_absolute_url()}#language-check")


@login_required
@require_POST
@friendly_forbidden
def postmortem_move_to_review(request: HttpRequest, key: str) -> HttpResponse:
    """Move a draft ``PM-<id>`` to "in review" through ``services.postmortem_save``,
    which refuses it until the readiness check passes; then the one-page view
    opens at its "Ready for review?" checklist (``?review=refused#readiness``)
    with a note that the document stays a draft.

    Raises:
        Http404: for a document the user may not read (or none).
        PermissionDenied: (a 403 page) unless ``access.can_edit``.
    """
    pm = _participant_postmortem(request, key)
    if pm.status != PostMortem.Status.DRAFT:
        messages.info(request, f"{pm.key} is already “{pm.get_status_display()}”.")
        return redirect(pm.get_absolute_url())
    try:
        services.postmortem_save(
            user=request.user, postmortem=pm, fields={"status": PostMortem.Status.IN_REVIEW}
        )
    except ValidationError:
        # The checklist says why, so the page says it there (not in a message at the top).
        return redirect(f"{pm.get_absolute_url()}?review=refused#readiness")
    messages.success(request, f"{pm.key} is now in review.")
    return redirect(pm.get_absolute_url())


# --- my action items -----------------------------------------------------------


def _my_items_page(
    request: HttpRequest,
    failed: ActionItem | None = None,
    failed_form: ActionItemStatusForm | None = None,
    status: int = 200,
) -> HttpResponse:
    items = list(selectors.action_items_for_owner(user=request.user))
    for item in items:
        if failed is not None and item.pk == failed.pk:
            item.status_form = failed_form
        else:
            item.status_form = ActionItemStatusForm(
                initial={"status": item.status, "not_doing_reason": item.not_doing_reason},
                prefix=f"ai{item.pk}",
            )
    overdue = [item for item in items if item.is_overdue]
    open_items = [item for item in items if not item.is_closed and not item.is_overdue]
    closed = [item for item in items if item.is_closed]
    context = {
        "overdue": overdue,
        "open_items": open_items,
        "closed": closed,
        "total": len(items),
        # Keep the closed group unfolded when the failed form is in it.
        "show_closed": failed is not None and failed.is_closed,
    }
    return render(request, "postmortems/my_action_items.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD"])
def my_action_items(request: HttpRequest) -> HttpResponse:
    """The signed-in user's action items: overdue, then open, then closed."""
    return _my_items_page(request)


@login_required
@require_POST
@friendly_forbidden
def action_item_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Change the status of an action item: its owner may, and so may whoever
    may change its post-mortem (``access.can_edit``).

    POST fields ``ai<pk>-status`` and ``ai<pk>-not_doing_reason``. The owner goes
    back to "My action items" (re-rendered with the error when the input is
    bad); anyone else goes back to the item on the one-page view, with the
    outcome as a message.

    Raises:
        Http404: when the item does not exist, or its post-mortem is deleted or
            not readable by the user.
        PermissionDenied: (a 403 page) for a reader who neither owns the item
            nor may change its post-mortem.
    """
    try:
        item = ActionItem.objects.visible_to(request.user).select_related("postmortem").get(pk=pk)
    except ActionItem.DoesNotExist:
        raise Http404("No action item found.") from None
    owner = item.owner_id == request.user.pk
    if not owner:
        _require(access.require_edit, request, item.postmortem)
    back = f"{item.postmortem.get_absolute_url()}#{item.key}"
    form = ActionItemStatusForm(request.POST, prefix=f"ai{item.pk}")
    if form.is_valid():
        try:
            services.action_item_set_status(
                item=item,
                status=form.cleaned_data["status"],
                not_doing_reason=form.cleaned_data["not_doing_reason"],
                user=request.user,
            )
        except ValidationError as exc:
            detail = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
            for field, msgs in detail.items():
                form.add_error(field if field in form.fields else None, msgs)
        else:
            messages.success(request, f"{item.key} is now “{item.get_status_display()}”.")
            return redirect("postmortems:my_action_items" if owner else back)
    item.refresh_from_db()
    if not owner:
        problems = " ".join(msg for msgs in form.errors.values() for msg in msgs)
        messages.error(request, f"{item.key} was not changed: {problems}")
        return redirect(back)
    messages.error(request, f"{item.key} was not changed; see the message on the item.")
    return _my_items_page(request, failed=item, failed_form=form)
