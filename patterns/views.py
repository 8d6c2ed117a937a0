"""Pages of the patterns app: Definitions of Done with history and diffs, the
editor, the DoD-proposals inbox and one proposal with its evidence side by
side, a team's pattern settings, and the quarterly quality retro.

Views stay thin: reads through ``patterns.selectors``/``patterns.retro``,
writes through ``patterns.services``/``patterns.detection``, and every "may
this user curate?" through ``patterns.permissions``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from patterns import selectors, services
from patterns.detection import detect_patterns
from patterns.filters import DoDProposalFilter
from patterns.forms import (
    AcceptForm,
    DoDChangeForm,
    DoDItemFormSet,
    PatternSettingsForm,
    RejectForm,
    items_from_formset,
)
from patterns.models import DefinitionOfDone, DoDProposal, DoDVersion, PatternSettings, Scope
from patterns.permissions import can_curate, curation_for, may_run_detection
from patterns.retro import Quarter, retro_markdown, retro_report
from patterns.suggestions import candidate_wordings, why_excerpt
from postmortems.models import Team

PAGE_SIZE = 20
EVIDENCE_SHOWN = 30


def _scope_team(slug: str | None) -> Team | None:
    return get_object_or_404(Team, slug=slug) if slug is not None else None


def _dod_url(team: Team | None) -> str:
    return reverse("patterns:team_dod", kwargs={"slug": team.slug}) if team else reverse("patterns:org_dod")


def _error_text(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [message for messages_ in error.message_dict.values() for message in messages_]
    return list(error.messages)


# --- Definitions of Done ---------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "HEAD"])
def dod_index(request: HttpRequest) -> HttpResponse:
    """Every team's Definition of Done (version, items, open proposals) and the organisation's."""
    dods = {
        dod.team_id: dod
        for dod in DefinitionOfDone.objects.annotate(
            version_count=Count("versions", distinct=True),
        )
    }
    open_counts = dict(
        DoDProposal.objects.filter(status=DoDProposal.Status.OPEN)
        .values_list("team_id")
        .annotate(n=Count("pk"))
        .values_list("team_id", "n")
    )
    teams = list(Team.objects.order_by("name"))
    rights = curation_for(request.user)
    rows = [
        {
            "team": team,
            "version": dods[team.pk].version_count if team.pk in dods else 0,
            "open": open_counts.get(team.pk, 0),
            "curator": rights.can(team.pk),
        }
        for team in teams
    ]
    org = {
        "version": dods[None].version_count if None in dods else 0,
        "open": open_counts.get(None, 0),
        "curator": rights.can(None),
    }
    return render(request, "patterns/dod_index.html", {"rows": rows, "org": org})


@login_required
@require_http_methods(["GET", "HEAD"])
def dod_page(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    """A Definition of Done: the items, the history, a diff of any two versions
    (``?from=N&to=M``; default: the newest against the one before), and — for
    a team — its pattern settings.

    Raises:
        Http404: unknown team, or a version number that does not exist.
    """
    team = _scope_team(slug)
    dod = selectors.dod_for(team=team)
    current = services.dod_current(dod=dod) if dod else services.CurrentDoD(dod=None, version=None)
    selectors.item_links_annotate(current.items, user=request.user)
    versions = list(selectors.dod_versions(dod=dod))
    numbers = {}
    for name in ("from", "to"):
        raw = request.GET.get(name, "")
        numbers[name] = int(raw) if raw.isdigit() and len(raw) < 10 else None
    try:
        old, new = selectors.version_pair(dod=dod, old=numbers["from"], new=numbers["to"])
    except DoDVersion.DoesNotExist as exc:
        raise Http404(str(exc)) from exc
    diff = selectors.dod_diff(old=old, new=new) if new is not None else None
    settings_row = PatternSettings.objects.filter(team=team).first() if team else None
    settings_form = None
    if team is not None:
        shown = settings_row or PatternSettings(team=team)
        settings_form = PatternSettingsForm(
            initial={"min_incidents": shown.min_incidents, "window_days": shown.window_days}
        )
    open_proposals = DoDProposal.objects.filter(status=DoDProposal.Status.OPEN, team=team)
    if team is None:
        open_proposals = open_proposals.filter(scope=Scope.ORG)
    context = {
        "team": team,
        "scope_name": team.name if team else "Organisation",
        "current": current,
        "versions": versions,
        "diff": diff,
        "diff_from": diff.old_number if diff else None,
        "diff_to": diff.new_number if diff else None,
        "curator": can_curate(request.user, team),
        "settings_row": settings_row,
        "settings_form": settings_form,
        "open_proposals": open_proposals.select_related("factor").order_by("-created_at")[:10],
        "markdown_url": (
            reverse("patterns-api:team-dod-md", kwargs={"slug": team.slug})
            if team
            else reverse("patterns-api:org-dod-md")
        ),
    }
    return render(request, "patterns/dod.html", context)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def dod_edit(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    """Edit a Definition of Done: reword, reorder, add and remove items, and say why.

    A valid POST makes a new version (``services.dod_change``) and redirects to
    the DoD page; a stale base version or invalid rows re-render the editor.

    Raises:
        Http404: unknown team.
        PermissionDenied: the user may not curate this DoD.
    """
    team = _scope_team(slug)
    if not can_curate(request.user, team):
        raise PermissionDenied("Only staff, team leads and facilitators may change this Definition of Done.")
    dod = selectors.dod_for(team=team)
    current = services.dod_current(dod=dod) if dod else services.CurrentDoD(dod=None, version=None)
    initial = [
        {"uid": item.uid, "text": item.text, "factor": item.factor.slug if item.factor_id else None}
        for item in current.items
    ]
    if request.method == "POST":
        formset = DoDItemFormSet(request.POST, initial=initial, prefix="items")
        form = DoDChangeForm(request.POST)
        if formset.is_valid() and form.is_valid():
            try:
                version = services.dod_change(
                    dod=dod or services.dod_get_or_create(team=team),
                    user=request.user,
                    items=items_from_formset(formset),
                    reason=form.cleaned_data["reason"],
                    base_version=form.cleaned_data["base_version"],
                )
            except ValidationError as exc:
                for message in _error_text(exc):
                    form.add_error(None, message)
            else:
                messages.success(request, f"Definition of Done version {version.number} saved.")
                return redirect(_dod_url(team))
        messages.error(request, "Please correct the errors below; nothing was saved.")
    else:
        formset = DoDItemFormSet(initial=initial, prefix="items")
        form = DoDChangeForm(initial={"base_version": current.number})
    context = {
        "team": team,
        "scope_name": team.name if team else "Organisation",
        "current": current,
        "formset": formset,
        "form": form,
    }
    return render(request, "patterns/dod_edit.html", context)


@login_required
@require_POST
def pattern_settings(request: HttpRequest, slug: str) -> HttpResponse:
    """Change a team's K and W (curators only); redirects to the team's DoD page.

    Raises:
        Http404: unknown team.
        PermissionDenied: the user may not curate this team.
    """
    team = get_object_or_404(Team, slug=slug)
    if not can_curate(request.user, team):
        raise PermissionDenied("Only staff, team leads and facilitators may change the pattern settings.")
    form = PatternSettingsForm(request.POST)
    if form.is_valid():
        try:
            services.pattern_settings_update(team=team, user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, " ".join(_error_text(exc)))
        else:
            data = form.cleaned_data
            messages.success(
                request,
                f"Pattern settings saved: {data['min_incidents']} post-mortems "
                f"within {data['window_days']} days.",
            )
    else:
        messages.error(
            request, "Pattern settings not saved: " + " ".join(_error_text(ValidationError(form.errors)))
        )
    return redirect(_dod_url(team) + "#pattern-settings")


# --- proposals -----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "HEAD"])
def proposals_inbox(request: HttpRequest) -> HttpResponse:
    """DoD proposals, newest first, with their evidence side by side.

    Facilitators and team leads see the open proposals of the teams they curate
    (and the organisation's) unless they ask for ``?all=1``; filters are the
    API's (``team``, ``scope``, ``status``, ``kind``, ``factor``).
    """
    rights = curation_for(request.user)
    params = request.GET.copy()
    if "status" not in params:
        params.setlist("status", [DoDProposal.Status.OPEN])
    mine = rights.any and not rights.all_teams and not request.GET.get("all")
    queryset = selectors.proposal_list(user=request.user).order_by("-created_at", "-id")
    if mine:
        queryset = queryset.filter(Q(team_id__in=rights.team_ids) | Q(scope=Scope.ORG))
    filterset = DoDProposalFilter(params, queryset=queryset, request=request)
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    proposals = list(page.object_list)
    evidence = selectors.evidence_preview(proposals=proposals, user=request.user, per_proposal=4)
    for proposal in proposals:
        proposal.preview = evidence.get(proposal.pk, [])
        proposal.curator = rights.can(proposal.team_id)
        proposal.show_team = proposal.team_id is None
        # Readable evidence not previewed links to the proposal; restricted
        # evidence is only ever a count (``proposal.restricted_evidence_count``).
        proposal.more = max(proposal.readable_evidence_count - len(proposal.preview), 0)
        for row in proposal.preview:
            row.excerpt, row.excerpt_section = why_excerpt(
                why_it_happened=row.postmortem.why_it_happened, what_happened=row.postmortem.what_happened
            )
    context = {
        "filter": filterset,
        "page": page,
        "proposals": proposals,
        "mine": mine,
        "can_switch": rights.any and not rights.all_teams,
        "can_detect": rights.any,
        "curated_teams": (
            Team.objects.order_by("name")
            if rights.all_teams
            else Team.objects.filter(pk__in=rights.team_ids).order_by("name")
        ),
    }
    return render(request, "patterns/inbox.html", context)


def _proposal_context(request: HttpRequest, proposal: DoDProposal, **forms_) -> dict:
    # ``proposal_detail(user=…)`` prefetched only the evidence this reader may read.
    evidence = list(proposal.evidence.all())
    for row in evidence:
        row.excerpt, row.excerpt_section = why_excerpt(
            why_it_happened=row.postmortem.why_it_happened, what_happened=row.postmortem.what_happened
        )
    show_all = request.GET.get("all") == "1"
    return {
        "proposal": proposal,
        "evidence": evidence if show_all else evidence[:EVIDENCE_SHOWN],
        "evidence_total": len(evidence),
        "show_all": show_all,
        "wordings": candidate_wordings(
            factor=proposal.factor, postmortems=[row.postmortem for row in evidence]
        ),
        "dod_item": selectors.proposal_item(proposal),
        "curator": can_curate(request.user, proposal.team),
        "accept_form": forms_.get("accept_form")
        or AcceptForm(initial={"text": proposal.suggested_text}, prefix="accept"),
        "reject_form": forms_.get("reject_form") or RejectForm(prefix="reject"),
        "followed_by": list(proposal.followed_by.order_by("-created_at")[:5]),
    }


@login_required
@require_http_methods(["GET", "HEAD"])
def proposal_page(request: HttpRequest, pk: int) -> HttpResponse:
    """One DoD proposal: the pattern, the evidence side by side, candidate
    wordings, and the accept / reject forms for curators.

    Raises:
        Http404: unknown proposal.
    """
    proposal = get_object_or_404(selectors.proposal_detail(user=request.user), pk=pk)
    return render(request, "patterns/proposal.html", _proposal_context(request, proposal))


def _decide(request: HttpRequest, pk: int, form_class, decide) -> HttpResponse:
    proposal = get_object_or_404(selectors.proposal_detail(user=request.user), pk=pk)
    if not can_curate(request.user, proposal.team):
        raise PermissionDenied("Only staff, team leads and facilitators may decide this proposal.")
    form = form_class(request.POST, prefix="accept" if form_class is AcceptForm else "reject")
    if form.is_valid():
        try:
            decided = decide(proposal=proposal, user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for message in _error_text(exc):
                form.add_error(None, message)
        else:
            if decided.status == DoDProposal.Status.ACCEPTED:
                messages.success(
                    request, f"Accepted: the Definition of Done is now version {decided.dod_version.number}."
                )
            else:
                messages.success(request, "Rejected. The reason is shown on the evidence post-mortems.")
            return redirect(decided.get_absolute_url())
    messages.error(request, "Nothing was decided; see the message below.")
    key = "accept_form" if form_class is AcceptForm else "reject_form"
    proposal = get_object_or_404(selectors.proposal_detail(user=request.user), pk=pk)
    return render(
        request, "patterns/proposal.html", _proposal_context(request, proposal, **{key: form}), status=400
    )


@login_required
@require_POST
def proposal_accept(request: HttpRequest, pk: int) -> HttpResponse:
    """Accept with the edited text (curators only): a new DoD version.

    POST fields ``accept-text`` and ``accept-reason`` (optional)."""

    def accept(*, proposal, user, text, reason):
        return services.proposal_accept(proposal=proposal, user=user, text=text, reason=reason or None)

    return _decide(request, pk, AcceptForm, accept)


@login_required
@require_POST
def proposal_reject(request: HttpRequest, pk: int) -> HttpResponse:
    """Reject with a required reason (curators only). POST field ``reject-reason``."""
    return _decide(request, pk, RejectForm, services.proposal_reject)


@login_required
@require_POST
def run_detection(request: HttpRequest) -> HttpResponse:
    """Run pattern detection now for one team (``team`` slug) or everyone; curators only.

    Raises:
        PermissionDenied: the user may not curate that scope.
    """
    slug = request.POST.get("team") or None
    team = get_object_or_404(Team, slug=slug) if slug else None
    if not may_run_detection(request.user, team):
        raise PermissionDenied(
            "Only staff may run detection for everyone; a team's leads and facilitators for their team."
        )
    report = detect_patterns(team=team)
    messages.success(request, f"Pattern detection: {report.summary_line()}")
    return redirect(reverse("patterns:inbox"))


# --- quarterly quality retro -----------------------------------------------------------------


def _quarter(request: HttpRequest) -> Quarter:
    raw = request.GET.get("quarter")
    if not raw:
        return Quarter.containing(timezone.now())
    try:
        return Quarter.parse(raw)
    except ValueError as exc:
        raise Http404(str(exc)) from exc


@login_required
@require_http_methods(["GET", "HEAD"])
def retro_page(request: HttpRequest, slug: str) -> HttpResponse:
    """A team's quarterly quality retro (``?quarter=2026-Q3``; default: this quarter).

    Raises:
        Http404: unknown team or malformed quarter.
    """
    team = get_object_or_404(Team, slug=slug)
    quarter = _quarter(request)
    report = retro_report(team=team, quarter=quarter, user=request.user)
    teams = Team.objects.order_by("name")
    return render(request, "patterns/retro.html", {"report": report, "teams": teams})


@login_required
@require_http_methods(["GET", "HEAD"])
def retro_download(request: HttpRequest, slug: str) -> HttpResponse:
    """The quality retro as Markdown (attachment ``retro-<team>-<quarter>.md``).

    Raises:
        Http404: unknown team or malformed quarter.
    """
    team = get_object_or_404(Team, slug=slug)
    quarter = _quarter(request)
    report = retro_report(team=team, quarter=quarter, user=request.user)
    page = request.build_absolute_uri(
        reverse("patterns:retro", kwargs={"slug": team.slug}) + f"?quarter={quarter.slug}"
    )
    response = HttpResponse(
        retro_markdown(report, base_url=page), content_type="text/markdown; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="retro-{team.slug}-{quarter.slug}.md"'
    return response
