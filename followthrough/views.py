"""Pages of the follow-through app: a person's nudge preferences and a team's
follow-up policy. Views stay thin: reads from ``selectors``/``windows``, writes
through ``services``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from followthrough import selectors, services
from followthrough.forms import NudgePreferencesForm, TeamFollowUpPolicyForm
from followthrough.models import NudgeOptOut
from followthrough.windows import policy_for_team
from postmortems.models import Team, TeamMembership


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    """Whether the signed-in person gets follow-through e-mail (POST ``send_me_nudges``).

    A POST saves and redirects back; it cannot fail validation (the one field
    is a checkbox).
    """
    opted_out = NudgeOptOut.objects.filter(user=request.user).exists()
    if request.method == "POST":
        form = NudgePreferencesForm(request.POST)
        form.is_valid()
        send = form.cleaned_data.get("send_me_nudges", False)
        services.nudge_opt_out_set(user=request.user, opted_out=not send)
        messages.success(
            request, "You will get follow-through e-mail." if send else "No more follow-through e-mail."
        )
        return redirect("followthrough:preferences")
    form = NudgePreferencesForm(initial={"send_me_nudges": not opted_out})
    teams = (
        Team.objects.filter(memberships__user=request.user)
        .select_related("followup_policy")
        .order_by("name")
        .distinct()
    )
    context = {
        "form": form,
        "opted_out": opted_out,
        "has_email": bool(request.user.email),
        "teams": [(team, policy_for_team(team)) for team in teams],
    }
    return render(request, "followthrough/preferences.html", context)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def team_policy(request: HttpRequest, slug: str) -> HttpResponse:
    """A team's follow-up policy: anyone signed in may read it; team leads and
    staff may change it.

    Returns:
        200 with the form; a redirect after a valid POST; 400 with the errors
        and nothing saved for invalid input.

    Raises:
        Http404: unknown team.
        PermissionDenied: a POST by someone who is not a lead of the team or staff (403).
    """
    team = get_object_or_404(Team.objects.select_related("followup_policy"), slug=slug)
    can_edit = selectors.can_edit_policy(user=request.user, team=team)
    policy = policy_for_team(team)
    status = 200
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only the team's leads can change its follow-up policy.")
        form = TeamFollowUpPolicyForm(request.POST, instance=policy)
        if form.is_valid():
            data = {name: form.cleaned_data[name] for name in form.Meta.fields}
            try:
                services.policy_update(team=team, data=data)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, f"Follow-up policy of {team.name} saved.")
                return redirect("followthrough:team_policy", slug=team.slug)
        messages.error(request, "Please correct the errors below; nothing was saved.")
        status = 400
    else:
        form = TeamFollowUpPolicyForm(instance=policy)
    if not can_edit:
        for field in form.fields.values():
            field.disabled = True
    leads = TeamMembership.objects.filter(team=team, role=TeamMembership.Role.LEAD).select_related("user")
    context = {"team": team, "form": form, "can_edit": can_edit, "leads": [m.user for m in leads]}
    return render(request, "followthrough/team_policy.html", context, status=status)
