"""The patterns API under /api/v1/: Definitions of Done (team and organisation),
their versions and diffs, the Markdown checklist, per-team pattern settings,
DoD proposals with accept/reject, and "run detection".

Views stay thin: reads through ``patterns.selectors``, writes through
``patterns.services`` / ``patterns.detection``, who-may-curate through
``patterns.permissions.can_curate``. Domain ``ValidationError`` → 400;
``StaleVersion`` and ``ProposalDecided`` → 409 (the state moved on; nothing saved).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import django_filters.rest_framework as filters_drf
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, PermissionDenied
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from patterns import selectors, services
from patterns.api import serializers as api
from patterns.detection import detect_patterns
from patterns.filters import DoDProposalFilter
from patterns.models import DoDItem, DoDProposal, DoDVersion, PatternSettings
from patterns.permissions import can_curate, may_run_detection
from patterns.suggestions import candidate_wordings
from postmortems.api.permissions import API_PERMISSIONS
from postmortems.models import Team


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The resource changed; reload it and try again."
    default_code = "conflict"


def _call_service(function: Callable[..., Any], **kwargs: Any) -> Any:
    """Call a service; 409 when the state moved on, 400 for invalid input."""
    try:
        return function(**kwargs)
    except (services.StaleVersion, services.ProposalDecided) as exc:
        raise Conflict(exc.messages[0]) from exc
    except DjangoValidationError as exc:
        raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc


def _require_curator(request: Request, team: Team | None) -> None:
    if not can_curate(request.user, team):
        whose = f"team {team.slug}'s" if team else "the organisation's"
        raise PermissionDenied(
            f"Only staff, {whose} team leads and facilitators may change {whose} Definition of Done."
        )


class ScopeMixin:
    """Views under ``teams/<slug>/…`` act on that team; the others on the organisation."""

    def scope_team(self) -> Team | None:
        slug = self.kwargs.get("slug")
        if slug is None:
            return None
        return get_object_or_404(Team, slug=slug)


def _hidden_links(team: Team | None, user) -> dict:
    """``{item uid: [post-mortems linked to it that user may not read]}`` of the
    scope's current DoD: an API change that names an item's post-mortems keeps
    these links, since a curator who cannot see a document cannot unlink it."""
    current = selectors.dod_current_for(team=team, user=user)
    return {
        item.uid: [pm for pm in item.postmortems.all() if pm not in item.shown_postmortems]
        for item in current.items
        if item.hidden_postmortems
    }


def _current_payload(current: services.CurrentDoD, team: Team | None) -> dict:
    version = current.version
    return {
        "scope": "team" if team else "org",
        "team": team.slug if team else None,
        "version": current.number,
        "created_at": version.created_at if version else None,
        "created_by": version.created_by.get_username() if version and version.created_by else None,
        "reason": version.reason if version else "",
        "items": current.items,
    }


# --- Definition of Done ------------------------------------------------------------------


class DoDView(ScopeMixin, APIView):
    """The Definition of Done as it stands (GET) and changes to it (POST)."""

    permission_classes = API_PERMISSIONS

    @extend_schema(
        summary="Read a Definition of Done (its newest version and items)", responses=api.DoDSerializer
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        team = self.scope_team()
        current = selectors.dod_current_for(team=team, user=request.user)
        return Response(api.DoDSerializer(_current_payload(current, team), context={"request": request}).data)

    @extend_schema(
        summary="Change a Definition of Done (makes a new version)",
        description=(
            "Send the complete new item list in order. Items with a `uid` are existing items "
            "(their post-mortem links are kept unless `postmortems` is given); items without one "
            "are new; items left out are removed. `reason` (why) is required. With `base_version`, "
            "a change based on an older version is refused with 409. Staff, the team's leads and "
            "facilitators only."
        ),
        request=api.DoDWriteSerializer,
        responses={201: api.DoDSerializer},
    )
    def post(self, request: Request, slug: str | None = None) -> Response:
        team = self.scope_team()
        _require_curator(request, team)
        serializer = api.DoDWriteSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        hidden = _hidden_links(team, request.user)
        items = [
            services.ItemData(
                text=row["text"],
                uid=row.get("uid"),
                factor=row.get("factor", services.KEEP),
                postmortems=(
                    None
                    if row.get("postmortems") is None
                    else [*row["postmortems"], *hidden.get(row.get("uid"), [])]
                ),
            )
            for row in data["items"]
        ]
        dod = services.dod_get_or_create(team=team)
        _call_service(
            services.dod_change,
            dod=dod,
            user=request.user,
            items=items,
            reason=data["reason"],
            base_version=data.get("base_version"),
        )
        current = selectors.dod_current_for(team=team, user=request.user)
        body = api.DoDSerializer(_current_payload(current, team), context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class MarkdownRenderer(BaseRenderer):
    """``text/markdown``; error bodies become one line of text."""

    media_type = "text/markdown"
    format = "md"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, str):
            return data.encode(self.charset)
        if isinstance(data, dict) and "detail" in data:
            return f"{data['detail']}\n".encode(self.charset)
        return json.dumps(data).encode(self.charset)


class DoDMarkdownView(ScopeMixin, APIView):
    """The Definition of Done as a Markdown checklist for a pull-request template."""

    permission_classes = API_PERMISSIONS
    renderer_classes = [MarkdownRenderer, JSONRenderer]

    @extend_schema(
        summary="Download a Definition of Done as a Markdown checklist",
        description="`- [ ] item` lines under a `## Definition of Done` heading, ready for a PR template.",
        responses={(200, "text/markdown"): OpenApiTypes.STR},
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        team = self.scope_team()
        current = selectors.dod_current_for(team=team)
        page = request.build_absolute_uri(current.dod.get_absolute_url()) if current.dod else ""
        text = selectors.dod_markdown(
            current=current, scope_name=team.name if team else "Organisation", url=page
        )
        name = f"definition-of-done-{team.slug if team else 'organisation'}-v{current.number}.md"
        return Response(
            text,
            content_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": f'inline; filename="{name}"'},
        )


class DoDVersionListView(ScopeMixin, APIView):
    permission_classes = API_PERMISSIONS

    @extend_schema(
        summary="List the versions of a Definition of Done, newest first",
        responses=api.DoDVersionSerializer(many=True),
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        dod = selectors.dod_for(team=self.scope_team())
        versions = selectors.dod_versions(dod=dod)
        return Response(api.DoDVersionSerializer(versions, many=True).data)


class DoDVersionDetailView(ScopeMixin, APIView):
    permission_classes = API_PERMISSIONS

    @extend_schema(
        summary="Read one version of a Definition of Done", responses=api.DoDVersionDetailSerializer
    )
    def get(self, request: Request, number: int, slug: str | None = None) -> Response:
        dod = selectors.dod_for(team=self.scope_team())
        items = DoDItem.objects.select_related("factor").prefetch_related("postmortems")
        version = (
            selectors.dod_versions(dod=dod)
            .prefetch_related(Prefetch("items", queryset=items))
            .filter(number=number)
            .first()
        )
        if version is None:
            raise NotFound(f"No version {number}.")
        selectors.item_links_annotate(list(version.items.all()), user=request.user)
        return Response(api.DoDVersionDetailSerializer(version, context={"request": request}).data)


class DoDDiffView(ScopeMixin, APIView):
    permission_classes = API_PERMISSIONS

    @extend_schema(
        summary="Compare two versions of a Definition of Done",
        parameters=[
            OpenApiParameter(
                "from", int, description="Older version number (0: the empty list). Default: `to` − 1."
            ),
            OpenApiParameter("to", int, description="Newer version number. Default: the newest."),
        ],
        responses=api.DoDDiffSerializer,
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        dod = selectors.dod_for(team=self.scope_team())
        numbers = {}
        for name in ("from", "to"):
            raw = request.query_params.get(name)
            if raw in (None, ""):
                numbers[name] = None
                continue
            if not raw.isdigit() or len(raw) > 9:
                raise serializers.ValidationError({name: "A version number (0 or more)."})
            numbers[name] = int(raw)
        try:
            old, new = selectors.version_pair(dod=dod, old=numbers["from"], new=numbers["to"])
        except DoDVersion.DoesNotExist as exc:
            raise NotFound(str(exc)) from exc
        diff = selectors.dod_diff(old=old, new=new)
        return Response(api.DoDDiffSerializer(diff).data)


class PatternSettingsView(APIView):
    """A team's recurrence rule (K, W). Reading returns the defaults until a
    curator sets them."""

    permission_classes = API_PERMISSIONS

    def _team(self, slug: str) -> Team:
        return get_object_or_404(Team, slug=slug)

    @extend_schema(summary="Read a team's pattern settings", responses=api.PatternSettingsSerializer)
    def get(self, request: Request, slug: str) -> Response:
        team = self._team(slug)
        found = PatternSettings.objects.filter(team=team).first() or PatternSettings(team=team)
        return Response(api.PatternSettingsSerializer(found).data)

    @extend_schema(
        summary="Change a team's pattern settings",
        request=api.PatternSettingsSerializer,
        responses=api.PatternSettingsSerializer,
    )
    def patch(self, request: Request, slug: str) -> Response:
        team = self._team(slug)
        _require_curator(request, team)
        current = PatternSettings.objects.filter(team=team).first() or PatternSettings(team=team)
        serializer = api.PatternSettingsSerializer(current, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        saved = _call_service(
            services.pattern_settings_update,
            team=team,
            user=request.user,
            min_incidents=data.get("min_incidents", current.min_incidents),
            window_days=data.get("window_days", current.window_days),
        )
        return Response(api.PatternSettingsSerializer(saved).data)


# --- proposals -------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List DoD proposals", description="Newest first; filter by team, scope, status, kind, factor."
    ),
    retrieve=extend_schema(summary="Read a DoD proposal with its evidence"),
)
class DoDProposalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """DoD proposals opened by pattern detection; accept or reject them."""

    permission_classes = API_PERMISSIONS
    filter_backends = [filters_drf.DjangoFilterBackend]
    filterset_class = DoDProposalFilter
    queryset = DoDProposal.objects.none()  # for introspection

    def get_queryset(self) -> QuerySet[DoDProposal]:
        if self.action == "retrieve":
            return selectors.proposal_detail(user=self.request.user)
        return selectors.proposal_list(user=self.request.user).order_by("-created_at", "-id")

    def get_serializer_class(self):
        if self.action == "retrieve":
            return api.DoDProposalDetailSerializer
        if self.action == "accept":
            return api.AcceptSerializer
        if self.action == "reject":
            return api.RejectSerializer
        return api.DoDProposalSerializer

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        proposal = self.get_object()
        return Response(self._detail(proposal))

    def _detail(self, proposal: DoDProposal) -> dict:
        # Only the evidence the reader may read was prefetched (``proposal_detail``).
        evidence = list(proposal.evidence.all())
        proposal.candidate_wordings = candidate_wordings(
            factor=proposal.factor, postmortems=[row.postmortem for row in evidence]
        )
        proposal.dod_item = selectors.proposal_item(proposal)
        return api.DoDProposalDetailSerializer(proposal, context=self.get_serializer_context()).data

    def _decide(self, request: Request, function, **kwargs) -> Response:
        pk = str(self.kwargs["pk"])
        if not pk.isdigit():  # e.g. /dod-proposals/abc/accept/: no such proposal, not a 500
            raise Http404("No such proposal.")
        proposal = get_object_or_404(DoDProposal.objects.select_related("team", "factor"), pk=int(pk))
        _require_curator(request, proposal.team)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        _call_service(function, proposal=proposal, user=request.user, **serializer.validated_data)
        return Response(self._detail(selectors.proposal_detail(user=request.user).get(pk=proposal.pk)))

    @extend_schema(
        summary="Accept a DoD proposal",
        description=(
            "Adds the item (`text`, default: the suggested text) to the scope's Definition of Done as a "
            'new version, linked to the evidence post-mortems; for a "DoD item not working" proposal '
            "the item is rewritten instead. 409 when the proposal was already decided."
        ),
        request=api.AcceptSerializer,
        responses={200: api.DoDProposalDetailSerializer},
    )
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str | None = None) -> Response:
        return self._decide(request, services.proposal_accept)

    @extend_schema(
        summary="Reject a DoD proposal",
        description=(
            "`reason` is required; it is recorded and shown on the evidence post-mortems under "
            '"what we don\'t change". The pattern reopens only when new evidence arrives. '
            "409 when the proposal was already decided."
        ),
        request=api.RejectSerializer,
        responses={200: api.DoDProposalDetailSerializer},
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        return self._decide(request, services.proposal_reject)


class DetectView(APIView):
    """Run pattern detection now (the nightly job does the same for everyone)."""

    permission_classes = API_PERMISSIONS

    @extend_schema(
        summary="Run pattern detection",
        description=(
            "With `team`: that team only (its leads, facilitators and staff); without: every team "
            "and the organisation (staff only: the report spans every team's documents). "
            "`dry_run` reports without writing."
        ),
        request=api.DetectSerializer,
        responses=api.DetectionReportSerializer,
    )
    def post(self, request: Request) -> Response:
        serializer = api.DetectSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        team = None
        slug = serializer.validated_data.get("team")
        if slug:
            team = Team.objects.filter(slug=slug).first()
            if team is None:
                raise serializers.ValidationError({"team": f"No team with slug {slug!r}."})
        if not may_run_detection(request.user, team):
            raise PermissionDenied(
                "Only staff may run detection for everyone; a team's leads and facilitators for their team."
            )
        report = detect_patterns(team=team, dry_run=serializer.validated_data["dry_run"])
        return Response(api.DetectionReportSerializer(report).data)
