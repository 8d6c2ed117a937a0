"""Server-rendered pages: the post-mortem list and search, the one-page view,
its Markdown download, the create/edit form and "My action items".

Views stay thin (HackSoft Django-Styleguide): reads come from
``postmortems.selectors`` and ``PostMortemFilter``; every write goes through
``postmortems.services``.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from blameless import check_text
from postmortems import selectors, services
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
from postmortems.search import attach_snippets
from postmortems.writing_aids import finding_for_display, findings_by_section, may_review_language

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
        raise Http404("No such post-mortem.")
    return int(match.group(1))


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
        "anything_exists": bool(objects) or PostMortem.objects.exists(),
    }
    return render(request, "postmortems/list.html", context)


# --- one-page view and download ----------------------------------------------------


@login_required
@require_http_methods(["GET", "HEAD"])
def postmortem_detail(request: HttpRequest, key: str) -> HttpResponse:
    """The one-page view of ``PM-<id>``: header, times, the four sections with the
    timeline, factors, action items, fix PRs and declined changes. Its authors,
    its facilitator and staff also get the "Language check" panel and, for a
    draft, the "Ready for review?" checklist (``_writing_aids.html``).

    Raises:
        Http404: for a malformed or unknown key.
    """
    pm = get_object_or_404(selectors.postmortem_detail(user=request.user), pk=_pk_from_key(key))
    context: dict[str, Any] = {"pm": pm, "writing_aids": None}
    if may_review_language(request.user, pm):
        # Shown to the people who prepare the review only: the "Language check"
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
        Http404: for a malformed or unknown key.
    """
    # Imported here: the exchange package is optional for the rest of the pages.
    from postmortems.exchange.markdown_format import render_postmortem_markdown

    pm = get_object_or_404(selectors.postmortem_detail(user=request.user), pk=_pk_from_key(key))
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


def _edit(request: HttpRequest, pm: PostMortem) -> HttpResponse:
    creating = pm.pk is None
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
                    **rows,
                )
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
def postmortem_edit(request: HttpRequest, key: str) -> HttpResponse:
    """Edit ``PM-<id>`` and its rows (rows left out or marked for removal are deleted).

    Raises:
        Http404: for a malformed or unknown key.
    """
    # Not the prefetching selector: the service re-reads the rows it rewrites.
    pm = get_object_or_404(PostMortem.objects.select_related("team"), pk=_pk_from_key(key))
    return _edit(request, pm)


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
    """``PM-<id>`` for one of its authors, its facilitator or staff.

    Raises:
        Http404: for a malformed or unknown key.
        PermissionDenied: for anyone else.
    """
    pm = get_object_or_404(
        PostMortem.objects.select_related("team").prefetch_related("authors"), pk=_pk_from_key(key)
    )
    if not may_review_language(request.user, pm):
        raise PermissionDenied("Only the post-mortem's authors, its facilitator and admins can do this.")
    return pm


@login_required
@require_POST
def finding_waive(request: HttpRequest, key: str) -> HttpResponse:
    """Mark a language finding of ``PM-<id>`` as intentional (POST ``section``,
    ``rule``, ``excerpt``, ``reason``) and go back to the "Language check" panel.

    Raises:
        Http404: for a malformed or unknown key.
        PermissionDenied: unless the user is an author, the facilitator or staff.
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
def postmortem_move_to_review(request: HttpRequest, key: str) -> HttpResponse:
    """Move a draft ``PM-<id>`` to "in review" through ``services.postmortem_save``,
    which refuses it until the readiness check passes; then the one-page view
    opens at its "Ready for review?" checklist (``?review=refused#readiness``)
    with a note that the document stays a draft.

    Raises:
        Http404: for a malformed or unknown key.
        PermissionDenied: unless the user is an author, the facilitator or staff.
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
def action_item_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Change the status of one of the signed-in user's action items.

    POST fields ``ai<pk>-status`` and ``ai<pk>-not_doing_reason``. Redirects to
    "My action items" on success; re-renders it with the error otherwise.

    Raises:
        Http404: when the item does not exist or belongs to someone else.
    """
    item = get_object_or_404(ActionItem.objects.select_related("postmortem"), pk=pk, owner=request.user)
    form = ActionItemStatusForm(request.POST, prefix=f"ai{item.pk}")
    if form.is_valid():
        try:
            services.action_item_set_status(
                item=item,
                status=form.cleaned_data["status"],
                not_doing_reason=form.cleaned_data["not_doing_reason"],
            )
        except ValidationError as exc:
            detail = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
            for field, msgs in detail.items():
                form.add_error(field if field in form.fields else None, msgs)
        else:
            messages.success(request, f"{item.key} is now “{item.get_status_display()}”.")
            return redirect("postmortems:my_action_items")
    item.refresh_from_db()
    messages.error(request, f"{item.key} was not changed; see the message on the item.")
    return _my_items_page(request, failed=item, failed_form=form)
