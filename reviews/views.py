"""Review pages (mounted at /reviews/): schedule, the review-mode page projected
during the meeting, its form posts, the invite, the pulse and a team's page.

Views stay thin: reads from ``reviews.selectors`` and ``postmortems.selectors``,
writes through ``reviews.scheduling`` and ``reviews.services``, permissions from ``reviews.permissions``.
Every form post answers with a redirect back to the review page, or re-renders
it with the errors (400) or the edit conflict (409) so nothing typed is lost.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from postmortems import selectors as pm_selectors
from postmortems.access import get_visible_postmortem
from postmortems.forms import FindingWaiveForm
from postmortems.models import ActionItem, ContributingFactor, PostMortem, Team
from postmortems.onepager import SECTION_FIELDS, SECTION_TITLES
from postmortems.readiness import lint_summary, postmortem_lint, readiness_check
from postmortems.views import _pk_from_key
from postmortems.writing_aids import RULE_LABELS, findings_by_section
from reviews import permissions, scheduling, selectors, services
from reviews.agenda import STEPS, STEPS_BY_KEY
from reviews.forms import (
    ActionItemQuickForm,
    AgendaForm,
    AttendanceForm,
    DeclinedChangeForm,
    DeclineItemForm,
    EndForm,
    FactorForm,
    NoteForm,
    NoteUpdateForm,
    PulseForm,
    ScheduleForm,
    SectionForm,
    StepForm,
)
from reviews.invite import review_ics
from reviews.models import PulseResponse, Review, ReviewNote


def _errors_text(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return " ".join(f"{msg}" for msgs in exc.message_dict.values() for msg in msgs)
    return " ".join(exc.messages)


def _apply_errors(form, exc: ValidationError) -> None:
    detail = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
    for field, msgs in detail.items():
        for msg in msgs:
            form.add_error(field if field in form.fields else None, msg)


def _name(user) -> str:
    return user.get_full_name() or user.get_username()


def _review(request: HttpRequest, pk: int) -> Review:
    """The review, if its post-mortem is live and readable by the user; 404
    otherwise, the same answer as for a review that does not exist."""
    return get_object_or_404(selectors.review_detail(user=request.user), pk=pk)


#: Where on the review page each kind of finding can be fixed.
FIX_STEP = {
    "what_happened": "timeline",
    "why_it_happened": "factors",
    "what_we_change": "actions",
    "what_we_dont_change": "actions",
    "action_item": "actions",
}


# --- scheduling ----------------------------------------------------------------------


def _default_time() -> dt.datetime:
    """Tomorrow at the next full hour (server time zone), a sensible first guess."""
    now = timezone.localtime() + dt.timedelta(days=1)
    return now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def schedule(request: HttpRequest, key: str) -> HttpResponse:
    """Schedule the review of ``PM-<id>``.

    GET shows the form with the invitee suggestions ticked, or the failing
    readiness checks when the document is not ready. POST schedules and
    redirects to the review page; a facilitator who wrote the post-mortem or is
    named in its timeline needs a second, confirmed POST; invalid input
    re-renders the form (400) and saves nothing.

    Raises:
        Http404: unknown post-mortem. PermissionDenied: not an author, the
            facilitator, a team lead or staff.
    """
    pm = get_visible_postmortem(
        request.user,
        _pk_from_key(key),
        queryset=PostMortem.objects.select_related("team", "facilitator").prefetch_related("authors"),
    )
    permissions.require_schedule(request.user, pm)
    existing = selectors.open_review_for(pm)
    if existing is not None:
        messages.info(request, f"{pm.key} already has a review scheduled.")
        return redirect(existing.get_absolute_url())
    readiness = readiness_check(pm)
    suggestions = selectors.invitee_suggestions(pm)
    warnings: list[str] = []
    status = 200
    if request.method == "POST":
        form = ScheduleForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            warnings = selectors.facilitator_warnings(pm, data["facilitator"])
            if warnings and not data.get("accept_warnings"):
                messages.warning(request, "Check the warnings about the facilitator before scheduling.")
            else:
                try:
                    review = scheduling.review_schedule(
                        user=request.user,
                        postmortem=pm,
                        scheduled_at=data["scheduled_at"],
                        facilitator=data["facilitator"],
                        note_taker=data.get("note_taker"),
                        invitees=data.get("invitees") or [],
                        location=data.get("location", ""),
                    )
                except ValidationError as exc:
                    _apply_errors(form, exc)
                    status = 400
                else:
                    messages.success(
                        request, f"The review of {pm.key} is scheduled. Download the invite below."
                    )
                    return redirect(review.get_absolute_url())
        else:
            status = 400
    else:
        form = ScheduleForm(
            initial={
                "scheduled_at": _default_time(),
                "invitees": [s.user.pk for s in suggestions],
                "facilitator": pm.facilitator_id,
            }
        )
    context = {
        "pm": pm,
        "form": form,
        "readiness": readiness,
        "suggestions": suggestions,
        "warnings": warnings,
        "agenda": selectors.team_agenda(pm.team),
        "tz_name": timezone.get_current_timezone_name(),
    }
    return render(request, "reviews/schedule.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a scheduled review's time, place, people; or cancel it (POST ``cancel``).

    Raises:
        PermissionDenied: anyone but the facilitator and staff.
    """
    review = _review(request, pk)
    permissions.require_run(request.user, review)
    if review.status != Review.Status.SCHEDULED:
        messages.info(request, "Only a scheduled review can be changed.")
        return redirect(review.get_absolute_url())
    pm = review.postmortem
    warnings: list[str] = []
    status = 200
    if request.method == "POST" and "cancel" in request.POST:
        scheduling.review_cancel(review=review, user=request.user)
        messages.success(
            request, "The review is cancelled. Download the invite again to remove it from calendars."
        )
        return redirect(review.get_absolute_url())
    if request.method == "POST":
        form = ScheduleForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            if data["facilitator"].pk != review.facilitator_id:
                warnings = selectors.facilitator_warnings(pm, data["facilitator"])
            if warnings and not data.get("accept_warnings"):
                messages.warning(request, "Check the warnings about the facilitator before saving.")
            else:
                try:
                    scheduling.review_reschedule(
                        review=review,
                        user=request.user,
                        data={
                            "scheduled_at": data["scheduled_at"],
                            "location": data.get("location", ""),
                            "facilitator": data["facilitator"],
                            "note_taker": data.get("note_taker"),
                            "invitees": data.get("invitees") or [],
                        },
                    )
                except ValidationError as exc:
                    _apply_errors(form, exc)
                    status = 400
                else:
                    messages.success(request, "The review is rescheduled. Send the new invite.")
                    return redirect(review.get_absolute_url())
        else:
            status = 400
    else:
        form = ScheduleForm(
            initial={
                "scheduled_at": timezone.localtime(review.scheduled_at),
                "location": review.location,
                "facilitator": review.facilitator_id,
                "note_taker": review.note_taker_id,
                "invitees": [u.pk for u in review.invitees.all()],
            }
        )
    context = {
        "pm": pm,
        "review": review,
        "form": form,
        "suggestions": selectors.invitee_suggestions(pm),
        "warnings": warnings,
        "agenda": review.agenda,
        "tz_name": timezone.get_current_timezone_name(),
    }
    return render(request, "reviews/schedule.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD"])
def invite(request: HttpRequest, pk: int) -> HttpResponse:
    """The review's calendar invite (``text/calendar``, attachment ``review-PM-<n>.ics``)."""
    review = _review(request, pk)
    response = HttpResponse(review_ics(review), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="review-{review.postmortem.key}.ics"'
    return response


# --- the review page ----------------------------------------------------------------


def _shown_step(request: HttpRequest, review: Review) -> str:
    """The agenda step whose panel the page shows: ``?view=<step>``, else the current one."""
    wanted = request.GET.get("view", "")
    if wanted in STEPS_BY_KEY:
        return wanted
    current = review.current
    return current["step"] if current else STEPS[0].key


def _render_review(
    request: HttpRequest,
    review: Review,
    *,
    status: int = 200,
    conflict: services.SectionConflict | None = None,
    bound: dict[str, Any] | None = None,
    view_step: str | None = None,
) -> HttpResponse:
    """The review page (or the summary of an ended or cancelled review)."""
    pm = pm_selectors.postmortem_detail(user=request.user).get(pk=review.postmortem_id)
    bound = bound or {}
    if review.status in (Review.Status.ENDED, Review.Status.CANCELLED):
        pulse = selectors.pulse_summary(PulseResponse.objects.filter(review=review))
        context = {
            "review": review,
            "pm": pm,
            "clock": selectors.review_clock(review),
            "pulse": pulse,
            "can_answer": permissions.can_answer_pulse(request.user, review),
            "answered": PulseResponse.objects.filter(review=review, respondent_id=request.user.pk).exists(),
        }
        return render(request, "reviews/summary.html", context, status=status)

    step_key = view_step or _shown_step(request, review)
    step = STEPS_BY_KEY[step_key]
    can_edit = permissions.can_edit(request.user, review)
    findings = postmortem_lint(pm)
    sections = []
    section_names = step.sections or ()
    if conflict is not None and conflict.section not in section_names:
        section_names = (*section_names, conflict.section)
    for name in section_names:
        text = getattr(pm, name) or ""
        form = bound.get(f"section:{name}") or SectionForm(
            initial={"text": text, "version": pm.version, "base_text": text}, section=name, prefix=name
        )
        sections.append(
            {
                "name": name,
                "title": SECTION_TITLES[name],
                "text": text,
                "form": form,
                "conflict": conflict if conflict is not None and conflict.section == name else None,
            }
        )
    tagged = {f.pk for f in pm.factors.all()}
    factors = list(ContributingFactor.objects.order_by("category", "name"))
    factor_groups: dict[str, list] = {}
    for factor in factors:
        factor.is_tagged = factor.pk in tagged
        factor_groups.setdefault(factor.get_category_display(), []).append(factor)
    notes = list(review.notes.all())
    people = {review.facilitator_id: review.facilitator}
    if review.note_taker:
        people[review.note_taker_id] = review.note_taker
    for person in [*review.invitees.all(), *review.attendees.all()]:
        people.setdefault(person.pk, person)
    attendee_ids = {u.pk for u in review.attendees.all()}
    context = {
        "review": review,
        "pm": pm,
        "clock": selectors.review_clock(review),
        "step": step,
        "view_step": step_key,
        "is_current_view": review.current is not None and review.current["step"] == step_key,
        "next_step_label": (
            review.agenda[review.current_step + 1]["label"]
            if review.current_step is not None and not review.is_last_step
            else ""
        ),
        "steps": STEPS,
        "sections": sections,
        "conflict": conflict,
        "readiness": readiness_check(pm),
        "finding_groups": [
            {"group": group, "step": FIX_STEP.get(group.section, step_key)}
            for group in findings_by_section(findings)
        ],
        "lint": lint_summary(findings),
        "rule_labels": RULE_LABELS,
        "factor_groups": factor_groups,
        "parking_lot": [n for n in notes if n.kind == ReviewNote.Kind.PARKING_LOT],
        "decisions": [n for n in notes if n.kind == ReviewNote.Kind.DECISION],
        "people": sorted(people.values(), key=lambda u: (u.get_full_name() or u.get_username()).lower()),
        "attendee_ids": attendee_ids,
        "can_run": permissions.can_run(request.user, review),
        "can_edit": can_edit,
        "item_form": bound.get("item") or ActionItemQuickForm(prefix="item"),
        "declined_form": bound.get("declined") or DeclinedChangeForm(prefix="declined"),
        "parking_form": bound.get("parking") or NoteForm(initial={"kind": "parking_lot"}, prefix="parking"),
        "decision_form": bound.get("decision") or NoteForm(initial={"kind": "decision"}, prefix="decision"),
        "end_form": bound.get("end") or EndForm(),
        "end_errors": bound.get("end_errors"),
    }
    return render(request, "reviews/review.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD"])
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The review page: review mode while scheduled or running (projected on a
    shared screen), the summary with the pulse once ended. ``?view=<step>``
    shows another step's panel without moving the clock."""
    return _render_review(request, _review(request, pk))


def _back(review: Review, anchor: str = "") -> HttpResponse:
    return redirect(f"{review.get_absolute_url()}{'#' + anchor if anchor else ''}")


@login_required
@require_POST
def start(request: HttpRequest, pk: int) -> HttpResponse:
    """Start the review's clock (facilitator and staff)."""
    review = _review(request, pk)
    permissions.require_run(request.user, review)
    try:
        services.review_start(review=review, user=request.user)
    except ValidationError as exc:
        messages.error(request, _errors_text(exc))
    return _back(review)


@login_required
@require_POST
def next_step(request: HttpRequest, pk: int) -> HttpResponse:
    """Move the agenda on from the step the page showed (POST ``from_step``)."""
    review = _review(request, pk)
    permissions.require_run(request.user, review)
    form = StepForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The page did not say which step it showed; reload and try again.")
        return _back(review)
    try:
        services.review_next_step(review=review, user=request.user, from_step=form.cleaned_data["from_step"])
    except ValidationError as exc:
        messages.error(request, _errors_text(exc))
    return _back(review)


@login_required
@require_POST
def end(request: HttpRequest, pk: int) -> HttpResponse:
    """End the review (POST ``outcome``): the readiness check must pass."""
    review = _review(request, pk)
    permissions.require_run(request.user, review)
    form = EndForm(request.POST)
    if form.is_valid():
        try:
            services.review_end(review=review, user=request.user, outcome=form.cleaned_data["outcome"])
        except ValidationError as exc:
            _apply_errors(form, exc)
            messages.error(request, "The review has not ended; see the messages under “End the review”.")
        else:
            messages.success(
                request, f"The review has ended: {review.postmortem.key} is reviewed and the owners are told."
            )
            return _back(review)
    return _render_review(request, _review(request, pk), status=400, bound={"end": form}, view_step="wrapup")


@login_required
@require_POST
def section(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    """Save one section inline (POST ``<name>-text``, ``<name>-version``,
    ``<name>-base_text``). A conflicting edit re-renders the page with 409 and
    both texts; ``overwrite`` in the POST saves "mine" over the stored text."""
    review = _review(request, pk)
    permissions.require_edit(request.user, review)
    if name not in SECTION_FIELDS:
        raise Http404("No such section.")
    form = SectionForm(request.POST, section=name, prefix=name)
    if not form.is_valid():
        return _render_review(request, review, status=400, bound={f"section:{name}": form})
    data = form.cleaned_data
    try:
        services.review_section_save(
            review=review,
            user=request.user,
            section=name,
            text=data["text"],
            version=data["version"],
            base_text=data["base_text"],
        )
    except services.SectionConflict as conflict:
        messages.error(
            request,
            f"“{SECTION_TITLES[name]}” was changed by someone else while you edited it. Nothing was saved: "
            "compare the two texts below and choose.",
        )
        return _render_review(request, _review(request, pk), status=409, conflict=conflict)
    except ValidationError as exc:
        _apply_errors(form, exc)
        return _render_review(request, review, status=400, bound={f"section:{name}": form})
    messages.success(request, f"“{SECTION_TITLES[name]}” saved.")
    return _back(review, f"section-{name}")


def _bound_post(request, review, form_key, form, call, success, anchor, view_step=None):
    """Validate ``form``, run ``call(cleaned_data)``; redirect on success, else 400
    with the form (on ``view_step``'s panel, where the form lives)."""
    if form.is_valid():
        try:
            call(form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, success(form.cleaned_data))
            return _back(review, anchor)
    return _render_review(request, review, status=400, bound={form_key: form}, view_step=view_step)


@login_required
@require_POST
def add_action_item(request: HttpRequest, pk: int) -> HttpResponse:
    """Quick-add an action item (POST ``item-text``, ``item-owner``, ``item-due_date``, ``item-kind``)."""
    review = _review(request, pk)
    permissions.require_edit(request.user, review)
    added = {}

    def call(data):
        added["item"] = services.review_action_item_add(review=review, user=request.user, **data)

    return _bound_post(
        request,
        review,
        "item",
        ActionItemQuickForm(request.POST, prefix="item"),
        call,
        lambda data: f"{added['item'].key} added for {_name(data['owner'])}.",
        "action-items",
        view_step="actions",
    )


@login_required
@require_POST
def decline_action_item(request: HttpRequest, pk: int, item_id: int) -> HttpResponse:
    """Move an action item to the declined changes (POST ``rationale``)."""
    review = _review(request, pk)
    permissions.require_edit(request.user, review)
    item = get_object_or_404(ActionItem, pk=item_id, postmortem_id=review.postmortem_id)
    form = DeclineItemForm(request.POST)
    if form.is_valid():
        try:
            services.review_action_item_decline(
                review=review, user=request.user, item=item, rationale=form.cleaned_data["rationale"]
            )
        except ValidationError as exc:
            messages.error(request, f"{item.key} was not declined: {_errors_text(exc)}")
        else:
            messages.success(request, f"{item.key} is now a declined change, with the reason.")
            return _back(review, "action-items")
    else:
        messages.error(request, f"{item.key} was not declined: say why.")
    return _render_review(request, review, status=400, view_step="actions")


@login_required
@require_POST
def add_declined_change(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a declined change (POST ``declined-text``, ``declined-rationale``)."""
    review = _review(request, pk)
    permissions.require_edit(request.user, review)
    return _bound_post(
        request,
        review,
        "declined",
        DeclinedChangeForm(request.POST, prefix="declined"),
        lambda data: services.review_declined_change_add(review=review, user=request.user, **data),
        lambda data: "Declined change recorded.",
        "declined-changes",
        view_step="actions",
    )


@login_required
@require_POST
def set_factor(request: HttpRequest, pk: int) -> HttpResponse:
    """Tag or untag a contributing factor (POST ``factor`` slug, ``tagged``)."""
    review = _review(request, pk)
    permissions.require_edit(request.user, review)
    form = FactorForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Unknown contributing factor.")
        return _render_review(request, review, status=400, view_step="factors")
    try:
        services.review_factor_set(
            review=review,
            user=request.user,
            factor=form.cleaned_data["factor"],
            tagged=form.cleaned_data["tagged"],
        )
    except ValidationError as exc:
        messages.error(request, _errors_text(exc))
        return _render_review(request, review, status=400)
    verb = "tagged" if form.cleaned_data["tagged"] else "untagged"
    messages.success(request, f"“{form.cleaned_data['factor'].name}” {verb}.")
    return _back(review, "factors")


@login_required
@require_POST
def add_note(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a decision or a parking-lot idea (POST ``<prefix>-kind``, ``<prefix>-text``;
    the prefix is ``parking`` or ``decision``, whichever form was sent)."""
    review = _review(request, pk)
    permissions.require_edit(request.user, review)
    prefix = "decision" if "decision-text" in request.POST else "parking"
    return _bound_post(
        request,
        review,
        prefix,
        NoteForm(request.POST, prefix=prefix),
        lambda data: services.review_note_add(review=review, user=request.user, **data),
        lambda data: "Decision recorded." if data["kind"] == "decision" else "Added to the parking lot.",
        "decisions" if prefix == "decision" else "parking-lot",
    )


@login_required
@require_POST
def update_note(request: HttpRequest, pk: int, note_id: int) -> HttpResponse:
    """Mark a note done / open (POST ``done``) or remove it (POST ``delete``)."""
    review = _review(request, pk)
    permissions.require_edit(request.user, review)
    note = get_object_or_404(ReviewNote, pk=note_id, review=review)
    form = NoteUpdateForm(request.POST)
    form.is_valid()
    try:
        if form.cleaned_data.get("delete"):
            services.review_note_delete(note=note, user=request.user)
        else:
            services.review_note_update(
                note=note, user=request.user, done=form.cleaned_data.get("done", False)
            )
    except ValidationError as exc:
        messages.error(request, _errors_text(exc))
    return _back(review, "decisions" if note.kind == ReviewNote.Kind.DECISION else "parking-lot")


@login_required
@require_POST
def attendance(request: HttpRequest, pk: int) -> HttpResponse:
    """Record who is in the room (POST ``attendees``, user ids; the list replaces the old one)."""
    review = _review(request, pk)
    permissions.require_edit(request.user, review)
    form = AttendanceForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Unknown person in the attendance list.")
        return _render_review(request, review, status=400)
    try:
        people = services.review_attendance_set(
            review=review, user=request.user, attendees=form.cleaned_data["attendees"]
        )
    except ValidationError as exc:
        messages.error(request, _errors_text(exc))
        return _render_review(request, review, status=400)
    messages.success(request, f"Attendance saved: {len(people)} in the room.")
    return _back(review, "attendance")


@login_required
@require_POST
def waive(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark a language finding intentional from the review page (POST ``section``,
    ``rule``, ``excerpt``, ``reason``)."""
    review = _review(request, pk)
    permissions.require_edit(request.user, review)
    form = FindingWaiveForm(request.POST)
    if form.is_valid():
        try:
            services.review_finding_waive(review=review, user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, f"The finding was not waived: {_errors_text(exc)}")
        else:
            messages.success(request, f"“{form.cleaned_data['excerpt'][:80]}” is marked intentional.")
            return _back(review, "findings")
    else:
        problems = " ".join(msg for msgs in form.errors.values() for msg in msgs)
        messages.error(request, f"The finding was not waived: {problems}")
    return _render_review(request, review, status=400)


# --- after the review: the pulse, and a team's page ----------------------------------


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def pulse(request: HttpRequest, pk: int) -> HttpResponse:
    """The three-question pulse for the review's invitees and attendees, once each.

    Raises:
        PermissionDenied: the review has not ended, or the user was neither invited nor there.
    """
    review = _review(request, pk)
    permissions.require_pulse(request.user, review)
    answer = PulseResponse.objects.filter(review=review, respondent=request.user).first()
    status = 200
    form = PulseForm()
    if request.method == "POST" and answer is None:
        form = PulseForm(request.POST)
        if form.is_valid():
            try:
                services.pulse_submit(review=review, user=request.user, **form.cleaned_data)
            except ValidationError as exc:
                _apply_errors(form, exc)
                status = 400
            else:
                messages.success(request, "Thank you: your answers are recorded.")
                return redirect(review.postmortem.get_absolute_url() + "#reviews")
        else:
            status = 400
    context = {"review": review, "pm": review.postmortem, "form": form, "answer": answer}
    return render(request, "reviews/pulse.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def team(request: HttpRequest, slug: str) -> HttpResponse:
    """A team's reviews and pulse results; its leads and staff change the agenda here.

    Raises:
        Http404: unknown team. PermissionDenied: a POST by someone who may not change the agenda.
    """
    team_obj = get_object_or_404(Team, slug=slug)
    can_edit_agenda = permissions.can_edit_agenda(request.user, team_obj)
    settings_row = selectors.team_review_settings(team_obj)
    status = 200
    if request.method == "POST":
        permissions.require_agenda(request.user, team_obj)
        form = AgendaForm(request.POST)
        if form.is_valid():
            try:
                services.team_agenda_update(team=team_obj, minutes=form.cleaned_data)
            except ValidationError as exc:
                _apply_errors(form, exc)
                status = 400
            else:
                messages.success(request, f"{team_obj.name}'s review agenda is saved.")
                return redirect("reviews:team", slug=team_obj.slug)
        else:
            status = 400
    else:
        form = AgendaForm(initial=settings_row.minutes())
    context = {
        "team": team_obj,
        "pulse": selectors.pulse_for_team(team_obj, user=request.user),
        "reviews": list(selectors.team_reviews(team_obj, user=request.user)[:50]),
        "agenda": settings_row.agenda(),
        "total_minutes": settings_row.total_minutes,
        "form": form,
        "can_edit_agenda": can_edit_agenda,
    }
    return render(request, "reviews/team.html", context, status=status)
