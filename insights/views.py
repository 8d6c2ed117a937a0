"""Insights pages: the organisation, a team, "my work", the action-item list
behind the figures, and the CSV of any figure.

Views stay thin: the filter form makes an ``InsightsScope``, ``insights.figures``
builds the figures from ``insights.selectors``. Invalid filters re-render the
page with the errors (HTTP 400) and no figures.
"""

from __future__ import annotations

import csv
from collections.abc import Callable

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from insights import conf, figures, selectors
from insights.caching import COMPUTED_AT, FROM_SNAPSHOT, kept
from insights.db import tuned_reads
from insights.filters import InsightsActionItemFilter
from insights.forms import InsightsFilterForm
from insights.selectors import InsightsScope
from postmortems.models import ActionItem, Team

ITEMS_PAGE_SIZE = 50
GET = require_http_methods(["GET", "HEAD"])


def _form(request: HttpRequest, **fixed) -> InsightsFilterForm:
    data = request.GET.copy()
    for key, value in fixed.items():
        data[key] = value
    return InsightsFilterForm(data)


def _page(
    request, template: str, form: InsightsFilterForm, context: dict, build: Callable, keep: bool = True
) -> HttpResponse:
    """Render ``template`` with the figures ``build(scope)`` makes, or with the form errors.

    With ``keep``, the numbers are shared through ``insights.caching`` for a few minutes.
    """
    base = {"form": form, "teams": Team.objects.order_by("name").only("slug", "name"), **context}
    if not form.is_valid():
        return render(request, template, {**base, "figures": [], "invalid": True}, status=400)
    scope = form.scope(request.user)
    figures_context = _compute(scope, build, keep)
    context = {
        **base,
        "scope": scope,
        "query": form.query(),
        "computed_at": scope.cache[COMPUTED_AT] if keep else None,
        "from_snapshot": bool(keep and scope.cache.get(FROM_SNAPSHOT)),
        "snapshot_minutes": max(1, conf.snapshot_seconds() // 60),
        **figures_context,
    }
    return render(request, template, context)


def _compute(scope: InsightsScope, build: Callable, keep: bool) -> dict:
    if not keep:
        with tuned_reads():
            return build(scope)
    with kept(scope):
        if scope.cache.get(FROM_SNAPSHOT):  # precomputed: nothing heavy to tune for
            return build(scope)
        with tuned_reads():
            return build(scope)


def _organisation_figures(scope: InsightsScope) -> dict:
    return {"figures": [make(scope) for make in figures.ORG_FIGURES.values()]}


def _team_figures(scope: InsightsScope) -> dict:
    return {"figures": [make(scope) for make in figures.TEAM_FIGURES.values()]}


@login_required
@GET
def organisation(request: HttpRequest) -> HttpResponse:
    """All teams side by side, then the organisation's figures. ``?team=`` goes to that team's page."""
    form = _form(request)
    if form.is_valid() and form.cleaned_data.get("team"):
        team = form.cleaned_data["team"]
        url = reverse("insights:team", kwargs={"slug": team.slug})
        return redirect(f"{url}?{form.query(team='')}")

    return _page(
        request,
        "insights/organisation.html",
        form,
        {"level": "organisation"},
        _organisation_figures,
        "organisation",
    )


@login_required
@GET
def team(request: HttpRequest, slug: str) -> HttpResponse:
    """One team's figures (``from``/``to`` filter; the team select leads to another team's page)."""
    the_team = get_object_or_404(Team, slug=slug)
    form = _form(request, team=the_team.slug)

    context = {"level": "team", "team": the_team}
    return _page(request, "insights/team.html", form, context, _team_figures)


@login_required
@GET
def my_work(request: HttpRequest) -> HttpResponse:
    """The signed-in person's page: my open and overdue action items, reviews I
    facilitate, post-mortems I author."""
    form = _form(request)

    def build(scope: InsightsScope) -> dict:
        work = selectors.my_work(user=request.user, scope=scope)
        return {
            "work": work,
            "figures": figures.my_figures(scope, work),
            "definitions": figures.definitions(),
        }

    return _page(request, "insights/my_work.html", form, {"level": "me"}, build, keep=False)


@login_required
@GET
def action_items(request: HttpRequest) -> HttpResponse:
    """The action items behind a figure (only of post-mortems the viewer may read):
    ``InsightsActionItemFilter``'s parameters, 50 a page."""
    queryset = (
        ActionItem.objects.visible_to(request.user)
        .select_related("postmortem", "postmortem__team", "owner")
        .order_by("due_date", "id")
    )
    filterset = InsightsActionItemFilter(request.GET or None, queryset=queryset, request=request)
    items = filterset.qs
    if filterset.form.errors:
        return render(
            request, "insights/action_items.html", {"filter": filterset, "invalid": True}, status=400
        )
    page = Paginator(items, ITEMS_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    summary = [(name, ", ".join(query.getlist(name))) for name in query if any(query.getlist(name))]
    context = {
        "filter": filterset,
        "page": page,
        "items": list(page.object_list),
        "query": query.urlencode(),
        "summary": summary,
    }
    return render(request, "insights/action_items.html", context)


@login_required
@GET
def figure_csv(request: HttpRequest, figure: str) -> HttpResponse:
    """The table of one figure as CSV (the same numbers as the page and its chart).

    ``figure`` is a slug of ``figures.ORG_FIGURES`` (without ``team``),
    ``figures.TEAM_FIGURES`` (with ``team``) or ``my-open-items`` /
    ``my-postmortems``; the query takes the page's ``team``, ``from``, ``to``.

    Raises:
        Http404: for an unknown figure, or one without a table.
    """
    form = _form(request)
    if not form.is_valid():
        return HttpResponse(
            "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    scope = form.scope(request.user)
    # The page's own figures (kept ones too), so the CSV has the numbers the page shows.
    if figure.startswith("my-"):

        def build(scope):
            work = selectors.my_work(user=request.user, scope=scope)
            return {"figures": figures.my_figures(scope, work)}

        computed = _compute(scope, build, keep=False)
    elif scope.team:
        computed = _compute(scope, _team_figures, keep=True)
    else:
        computed = _compute(scope, _organisation_figures, keep=True)
    found = {f.slug: f for f in computed["figures"]}.get(figure)
    if found is None or found.table is None:
        raise Http404("No such figure.")
    name = scope.team.slug if scope.team else ("me" if figure.startswith("my-") else "organisation")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="insights-{figure}-{name}-{scope.start:%Y%m%d}-{scope.end:%Y%m%d}.csv"'
    )
    csv.writer(response).writerows(found.table.csv_rows())
    return response
