"""Viewsets of the REST API under /api/v1/ (thin: read through selectors, write
through ``postmortems.services``, check shapes with serializers).

A domain ``django.core.exceptions.ValidationError`` raised by a service becomes
a DRF ``ValidationError`` (HTTP 400, ``{field: [messages]}``); the service runs in
one transaction, so nothing is saved then.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import django_filters.rest_framework as filters_drf
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from blameless import check_text
from postmortems import search, selectors, services
from postmortems.api import serializers as api
from postmortems.api.permissions import API_PERMISSIONS
from postmortems.filters import ActionItemFilter, PostMortemFilter
from postmortems.models import ActionItem, ContributingFactor, PostMortem, Service, Team
from postmortems.readiness import readiness_check
from postmortems.writing_aids import may_review_language


def _call_service(function: Callable[..., Any], **kwargs: Any) -> Any:
    """Call a service; turn its domain ValidationError into an HTTP 400."""
    try:
        return function(**kwargs)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc


# --- post-mortems ------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List post-mortems",
        description=(
            "Filter with the parameters below. With `q` (websearch syntax: words, "
            '"phrases", `or`, `-excluded`) results are ranked best match first and '
            "carry `snippet` (HTML, `<mark>` around matches) and `search_rank`."
        ),
    ),
    retrieve=extend_schema(summary="Read one post-mortem with its rows"),
)
class PostMortemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Post-mortems: list (filtered, searchable), read, create and PATCH.

    There is no DELETE, and PUT is not offered: PATCH with row lists replaces rows.
    """

    permission_classes = API_PERMISSIONS
    # The FilterSet brings its own ``ordering`` parameter, so no OrderingFilter here.
    filter_backends = [filters_drf.DjangoFilterBackend]
    filterset_class = PostMortemFilter
    queryset = PostMortem.objects.none()  # for introspection; get_queryset does the work

    def get_queryset(self) -> QuerySet[PostMortem]:
        user = self.request.user
        if self.action == "list":
            return selectors.postmortem_list(user=user, with_counts=True)
        if self.action == "partial_update":
            # No prefetches for the object handed to the service: it rebuilds the
            # search text from the rows, and prefetched rows would be stale by then.
            return selectors.postmortem_detail(user=user).prefetch_related(None)
        if self.action in ("readiness", "waivers"):
            # The checks read their rows themselves; only the authors are needed.
            return PostMortem.objects.prefetch_related("authors")
        return selectors.postmortem_detail(user=user)

    def get_serializer_class(self):
        if self.action == "list":
            return api.PostMortemSummarySerializer
        if self.action == "readiness":
            return api.ReadinessSerializer
        if self.action == "waivers":
            return api.FindingWaiverWriteSerializer
        if self.action in ("create", "partial_update"):
            return api.PostMortemWriteSerializer
        return api.PostMortemDetailSerializer

    def list(self, request: Request, *args, **kwargs) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        query = (request.query_params.get("q") or "").strip()
        if query:
            # Highlighting reads each document's text: one page only.
            search.attach_snippets(page, query)
        serializer = self.get_serializer(page, many=True)
        return self.get_paginated_response(serializer.data)

    @extend_schema(
        summary="Create a post-mortem",
        request=api.PostMortemWriteSerializer,
        responses={201: api.PostMortemDetailSerializer},
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pm = _call_service(services.postmortem_save, user=request.user, **serializer.service_arguments())
        body = self._detail(pm)
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})

    @extend_schema(
        summary="Change a post-mortem",
        description=(
            "Only the fields given change. A row list (`timeline`, `action_items`, "
            "`declined_changes`, `fix_prs`) replaces those rows: rows with an `id` are "
            "updated, rows without one are created and rows not listed are deleted."
        ),
        request=api.PostMortemWriteSerializer,
        responses={200: api.PostMortemDetailSerializer},
    )
    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        pm = self.get_object()
        serializer = self.get_serializer(pm, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        pm = _call_service(
            services.postmortem_save,
            user=request.user,
            postmortem=pm,
            **serializer.service_arguments(),
        )
        return Response(self._detail(pm))

    def _detail(self, pm: PostMortem) -> dict:
        fresh = selectors.postmortem_detail(user=self.request.user).get(pk=pm.pk)
        return api.PostMortemDetailSerializer(fresh, context=self.get_serializer_context()).data

    @extend_schema(
        summary="Is this post-mortem ready for review?",
        description=(
            "The checklist a draft must pass before it moves to review: the four sections, "
            "a timeline, contributing factors, 3–5 action items with owners and future due "
            "dates, declined changes with a rationale, and no open blame or vague-action "
            "findings. `blocking: false` checks only warn. A PATCH of `status` out of "
            "draft is refused (400, the failing checks under `status`) until `ready` is true."
        ),
        responses={200: api.ReadinessSerializer},
    )
    @action(detail=True, methods=["get"])
    def readiness(self, request: Request, pk: str | None = None) -> Response:
        return Response(readiness_check(self.get_object()).as_dict())

    @extend_schema(
        summary="Mark a language finding as intentional",
        description=(
            "Waive a finding of the `lint` block (by `section`, `rule` and `excerpt`), e.g. a "
            "quoted chat message; it then stops counting in `lint` and the readiness check. "
            "Waiving the same finding again replaces the reason. Only the post-mortem's "
            "authors, its facilitator and admins may waive."
        ),
        request=api.FindingWaiverWriteSerializer,
        responses={201: api.FindingWaiverSerializer},
    )
    @action(detail=True, methods=["post"])
    def waivers(self, request: Request, pk: str | None = None) -> Response:
        pm = self.get_object()
        if not may_review_language(request.user, pm):
            raise exceptions.PermissionDenied(
                "Only the post-mortem's authors, its facilitator and admins can waive findings."
            )
        serializer = api.FindingWaiverWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        waiver = _call_service(
            services.finding_waive, postmortem=pm, user=request.user, **serializer.validated_data
        )
        return Response(api.FindingWaiverSerializer(waiver).data, status=status.HTTP_201_CREATED)


# --- the language check ------------------------------------------------------------


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def _refuse_oversized_body(request: Request) -> None:
    """Refuse a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` before it is read.

    DRF's JSON parser reads the request stream directly, so Django's own limit
    (enforced on ``request.body`` and ``request.POST``) does not apply to it.

    Raises:
        PayloadTooLarge: HTTP 413 with the limit in the message.
    """
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if limit is not None and length > limit:
        raise PayloadTooLarge(f"The request body is {length} bytes; the limit is {limit} bytes.")


_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(text: str) -> str:
    """``text`` with each lone surrogate (valid in JSON, not encodable as UTF-8)
    replaced by U+FFFD: one code point for one, so offsets stay valid and the
    response can be encoded."""
    return _SURROGATE.sub("\ufffd", text)


class LintView(APIView):
    """``POST /api/v1/lint/``: run the blameless-language checker over a piece of text."""

    permission_classes = API_PERMISSIONS

    @extend_schema(
        summary="Check wording for blame, human error, hindsight and vague actions",
        description=(
            "Runs the blameless-language checker over Markdown `text` (code blocks and "
            "inline code are not checked). `section` selects the rules: `vague-action` "
            "only applies to `what_we_change` and `action_item`; without a section every "
            "rule runs. `start`/`end` are offsets in Unicode code points into `text`. Texts "
            "longer than the checker's cap (200,000 characters) are checked up to the cap "
            "and answered with `truncated: true`. Bodies over 2.5 MiB are refused with 413."
        ),
        request=api.LintRequestSerializer,
        responses={
            200: api.LintResponseSerializer,
            400: OpenApiResponse(description="`text` missing or not a string, or an unknown `section`."),
            413: OpenApiResponse(description="The request body is larger than 2.5 MiB."),
        },
    )
    def post(self, request: Request) -> Response:
        _refuse_oversized_body(request)
        serializer = api.LintRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        findings = check_text(
            _without_lone_surrogates(serializer.validated_data["text"]),
            serializer.validated_data.get("section"),
        )
        body = {
            "findings": [
                {
                    "rule": f.rule,
                    "message": f.message,
                    "start": f.start,
                    "end": f.end,
                    "excerpt": f.excerpt,
                    "suggestion": f.suggestion,
                }
                for f in findings
            ],
            "truncated": findings.truncated,
            "checked_chars": findings.checked_chars,
        }
        return Response(body)


# --- action items ------------------------------------------------------------------


class ActionItemAPIFilter(ActionItemFilter):
    """The shared action-item filters plus ``mine`` (the signed-in user's items)."""

    mine = filters_drf.BooleanFilter(method="filter_mine", label="Only the signed-in user's action items")

    class Meta(ActionItemFilter.Meta):
        fields = [*ActionItemFilter.Meta.fields, "mine"]

    def filter_mine(self, queryset, name, value):
        return queryset.filter(owner=self.request.user) if value else queryset


@extend_schema_view(
    list=extend_schema(summary="List action items"),
    retrieve=extend_schema(summary="Read one action item"),
)
class ActionItemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Action items across post-mortems: list, read and PATCH (no create or delete:
    action items are written as rows of their post-mortem)."""

    permission_classes = API_PERMISSIONS
    filter_backends = [filters_drf.DjangoFilterBackend, OrderingFilter]
    filterset_class = ActionItemAPIFilter
    ordering_fields = ["due_date", "created_at", "updated_at", "status", "id"]
    ordering = ["due_date", "id"]
    # postmortem__team__followup_policy: follow-up window fields without a query per row.
    queryset = ActionItem.objects.select_related("owner", "postmortem__team__followup_policy")

    def get_serializer_class(self):
        if self.action == "partial_update":
            return api.ActionItemWriteSerializer
        return api.ActionItemSerializer

    @extend_schema(
        summary="Change an action item",
        description=(
            'Closing an item ("done") stamps `completed_at`; "not_doing" needs a `not_doing_reason`.'
        ),
        request=api.ActionItemWriteSerializer,
        responses={200: api.ActionItemSerializer},
    )
    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        item = self.get_object()
        serializer = self.get_serializer(item, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        _call_service(services.action_item_update, item=item, data=dict(serializer.validated_data))
        fresh = self.get_queryset().get(pk=item.pk)
        return Response(api.ActionItemSerializer(fresh, context=self.get_serializer_context()).data)


# --- taxonomy and organisation -------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List contributing factors"),
    retrieve=extend_schema(summary="Read one contributing factor"),
)
class ContributingFactorViewSet(viewsets.ReadOnlyModelViewSet):
    """The contributing-factor taxonomy (read-only; admins extend it in Django admin)."""

    permission_classes = API_PERMISSIONS
    filter_backends: list = []
    lookup_field = "slug"
    serializer_class = api.ContributingFactorSerializer
    queryset = ContributingFactor.objects.annotate(postmortem_count=Count("postmortems")).order_by(
        "category", "name"
    )


@extend_schema_view(
    list=extend_schema(summary="List teams"),
    retrieve=extend_schema(summary="Read one team"),
)
class TeamViewSet(viewsets.ReadOnlyModelViewSet):
    """Teams and their members' usernames (read-only)."""

    permission_classes = API_PERMISSIONS
    filter_backends: list = []
    lookup_field = "slug"
    serializer_class = api.TeamSerializer
    queryset = Team.objects.prefetch_related("members")


@extend_schema_view(
    list=extend_schema(summary="List services"),
    retrieve=extend_schema(summary="Read one service"),
)
class ServiceViewSet(viewsets.ReadOnlyModelViewSet):
    """Services and the team that owns each (read-only)."""

    permission_classes = API_PERMISSIONS
    filter_backends: list = []
    lookup_field = "slug"
    serializer_class = api.ServiceSerializer
    queryset = Service.objects.select_related("team")
