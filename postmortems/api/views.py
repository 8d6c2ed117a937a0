"""Viewsets of the REST API under /api/v1/ (thin: read through selectors, write
through ``postmortems.services``, check shapes with serializers).

Who may see and change what is ``postmortems.access`` (through
``postmortems.api.permissions``): every queryset holds only what the caller may
read, so anything else is a 404; a reader who may not change it gets 403.
Updates are conditional (``postmortems.api.conditional``): ``ETag`` on reads,
``If-Match`` required on writes, 412 when someone else saved first.

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
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework import parsers as drf_parsers
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback

from blameless import check_text
from postmortems import access, search, selectors, services
from postmortems.api import permissions
from postmortems.api import serializers as api
from postmortems.api.conditional import (
    ErrorSerializer,
    PreconditionFailed,
    PreconditionFailedSerializer,
    etag_for,
    required_version,
)
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


def _pk(value: Any) -> int:
    """A primary key from the URL, or 404 (never a 500) for anything that is not one."""
    try:
        return int(str(value))
    except ValueError:
        raise Http404(access.NOT_FOUND) from None


# --- what the schema says about errors and conditional requests ------------------------

_ERRORS = {
    400: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description=(
            "Bad input: `{field: [messages]}` (row lists: `{list: {index: {field: [...]}}}`), "
            'or `{"detail": "..."}` for an unreadable body or `If-Match` header. Nothing is saved.'
        ),
    ),
    401: OpenApiResponse(ErrorSerializer, description="Not signed in (send a session or a token)."),
    403: OpenApiResponse(ErrorSerializer, description="You may read this but not change it."),
    404: OpenApiResponse(
        ErrorSerializer,
        description="No such object, or not one you may read (the same answer), or no such page.",
    ),
    412: OpenApiResponse(
        PreconditionFailedSerializer,
        description=(
            "`If-Match` does not name the current version: someone else changed it since you read "
            "it. The body has `current_version` and the response the current `ETag`. Nothing is saved."
        ),
    ),
    428: OpenApiResponse(
        ErrorSerializer,
        description="No `If-Match` header: send the `ETag` of your last read. Nothing is saved.",
    ),
    429: OpenApiResponse(ErrorSerializer, description="Too many requests; wait and retry."),
}


def _responses(ok: dict, *codes: int) -> dict:
    """``ok`` (status → body) plus the documented error answers ``codes``."""
    return {**ok, **{code: _ERRORS[code] for code in (401, 429, *codes)}}


IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description=(
        'The `ETag` of your last read, e.g. `"7"` (quotes included); several tags separated by '
        'commas match if any does; `*` writes whatever the current version is. Weak tags (`W/"7"`) '
        "never match. Missing: 428; stale: 412; unreadable: 400."
    ),
)


def _etag_header(*codes: int) -> OpenApiParameter:
    """The schema of the ``ETag`` response header on the answers with status ``codes``."""
    return OpenApiParameter(
        "ETag",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=list(codes),
        description='The current version in double quotes, e.g. `"7"`; send it back in `If-Match`.',
    )


class ConditionalWriteMixin:
    """Renders a lost race as HTTP 412 with ``current_version`` and the current ``ETag``.

    Both a stale ``If-Match`` (``conditional.PreconditionFailed``) and a save that
    lost to another writer between the check and the write
    (``services.StaleVersionError``) end here.
    """

    def handle_exception(self, exc):
        if isinstance(exc, services.StaleVersionError):
            exc = PreconditionFailed(exc.current_version)
        if isinstance(exc, PreconditionFailed):
            set_rollback()
            return Response(
                {"detail": str(exc), "current_version": exc.current_version},
                status=status.HTTP_412_PRECONDITION_FAILED,
                headers={"ETag": etag_for(exc.current_version)},
            )
        return super().handle_exception(exc)


def _lock_version(manager, pk: int, expected: int | None) -> None:
    """Lock post-mortem ``pk`` until the transaction ends and check its version.

    For the writes whose services take no ``expected_version`` (delete, restore);
    must run inside ``transaction.atomic``.

    Raises:
        Http404: the document is gone from ``manager`` (deleted meanwhile).
        services.StaleVersionError: ``expected`` is given and no longer current.
    """
    current = manager.select_for_update().filter(pk=pk).values_list("version", flat=True).first()
    if current is None:
        raise Http404(access.NOT_FOUND)
    if expected is not None and current != expected:
        raise services.StaleVersionError(current)


def _with_etag(body: dict, code: int = status.HTTP_200_OK, **headers: str) -> Response:
    """A response of ``body`` (a serialized post-mortem or action item) with its ``ETag``."""
    return Response(body, status=code, headers={"ETag": etag_for(body["version"]), **headers})


# --- post-mortems ------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List post-mortems",
        description=(
            "The post-mortems you may read (restricted ones only if you are in their circle). "
            "Filter with the parameters below. With `q` (websearch syntax: words, "
            '"phrases", `or`, `-excluded`) results are ranked best match first and '
            "carry `snippet` (HTML, `<mark>` around matches) and `search_rank`."
        ),
        responses=_responses({200: api.PostMortemSummarySerializer(many=True)}, 400, 404),
    ),
    retrieve=extend_schema(
        summary="Read one post-mortem with its rows",
        description="The `ETag` header carries `version`; send it in `If-Match` to change or delete it.",
        parameters=[_etag_header(200)],
        responses=_responses({200: api.PostMortemDetailSerializer}, 404),
    ),
)
class PostMortemViewSet(
    ConditionalWriteMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Post-mortems: list (filtered, searchable), read, create, PATCH, soft DELETE
    and restore.

    PUT is not offered: PATCH with row lists replaces rows.
    """

    # Any path segment reaches the view, which answers a JSON 404 for what is not an
    # id; the router's default pattern stops at "." and leaves Django's HTML 404.
    lookup_value_regex = "[^/]+"
    permission_classes = API_PERMISSIONS
    # The FilterSet brings its own ``ordering`` parameter, so no OrderingFilter here.
    filter_backends = [filters_drf.DjangoFilterBackend]
    filterset_class = PostMortemFilter
    queryset = PostMortem.objects.none()  # for introspection; get_queryset does the work
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[PostMortem]:
        user = self.request.user
        if self.action == "list":
            return selectors.postmortem_list(user=user, with_counts=True, with_readers=False)
        if self.action in ("partial_update", "destroy"):
            # No prefetches for the object handed to the service: it rebuilds the
            # search text from the rows, and prefetched rows would be stale by then.
            return selectors.postmortem_detail(user=user).prefetch_related(None)
        if self.action in ("readiness", "waivers"):
            # The checks read their rows themselves; only the authors are needed.
            return PostMortem.objects.prefetch_related("authors").visible_to(user)
        return selectors.postmortem_detail(user=user)

    def get_object(self) -> PostMortem:
        """The post-mortem of the URL if the caller may read it, else 404 (``access``)."""
        pk = _pk(self.kwargs[self.lookup_url_kwarg or self.lookup_field])
        return access.get_visible_postmortem(self.request.user, pk, queryset=self.get_queryset())

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

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        pm = self.get_object()
        return _with_etag(self.get_serializer(pm).data)

    @extend_schema(
        summary="Create a post-mortem",
        description="No `If-Match` needed; the answer's `ETag` is the new document's version.",
        request=api.PostMortemWriteSerializer,
        parameters=[_etag_header(201)],
        responses=_responses({201: api.PostMortemDetailSerializer}, 400),
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pm = _call_service(services.postmortem_save, user=request.user, **serializer.service_arguments())
        body = self._detail(pm)
        return _with_etag(body, status.HTTP_201_CREATED, Location=body["url"])

    @extend_schema(
        summary="Change a post-mortem",
        description=(
            "Only the fields given change. A row list (`timeline`, `action_items`, "
            "`declined_changes`, `fix_prs`) replaces those rows: rows with an `id` are "
            "updated, rows without one are created and rows not listed are deleted. "
            "Needs `If-Match` with the `ETag` of your last read (412 if someone else saved "
            "since, 428 without it); the answer carries the new `ETag`. Only the authors, the "
            "team, the facilitator, the creator and admins may change a post-mortem (403)."
        ),
        request=api.PostMortemWriteSerializer,
        parameters=[IF_MATCH, _etag_header(200, 412)],
        responses=_responses({200: api.PostMortemDetailSerializer}, 400, 403, 404, 412, 428),
    )
    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        pm = self.get_object()
        permissions.require_edit(request.user, pm)
        expected = required_version(request, pm.version)
        serializer = self.get_serializer(pm, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        pm = _call_service(
            services.postmortem_save,
            user=request.user,
            postmortem=pm,
            expected_version=expected,
            **serializer.service_arguments(),
        )
        return _with_etag(self._detail(pm))

    @extend_schema(
        summary="Delete a post-mortem (soft)",
        description=(
            "The document disappears from every list, search and figure; nothing is erased and "
            "an admin can restore it. Admins and the team's leads may delete (the authors too "
            "while it is a draft); others get 403. Needs `If-Match` like a change."
        ),
        parameters=[IF_MATCH, _etag_header(412)],
        responses=_responses({204: None}, 400, 403, 404, 412, 428),
    )
    def destroy(self, request: Request, *args, **kwargs) -> Response:
        pm = self.get_object()
        permissions.require_delete(request.user, pm)
        expected = required_version(request, pm.version)
        with transaction.atomic():
            # Lock and compare as postmortem_save does, so a save between the check
            # above and this delete is a 412, not a silently deleted newer version.
            _lock_version(PostMortem.objects, pm.pk, expected)
            services.postmortem_delete(user=request.user, postmortem=pm)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Restore a deleted post-mortem (admins)",
        description=(
            "Brings a soft-deleted document back. Admins only: for anyone else the route answers "
            "404, so deleted documents do not leak. 400 when the document is not deleted. Needs "
            "`If-Match` (`*` restores whatever the current version is; a 412 tells the version)."
        ),
        request=None,
        parameters=[IF_MATCH, _etag_header(200, 412)],
        responses=_responses({200: api.PostMortemDetailSerializer}, 400, 404, 412, 428),
    )
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str | None = None) -> Response:
        if not access.can_restore(request.user):
            raise Http404(access.NOT_FOUND)
        pm = PostMortem.all_objects.filter(pk=_pk(pk)).first()
        if pm is None:
            raise Http404(access.NOT_FOUND)
        expected = required_version(request, pm.version)
        with transaction.atomic():
            _lock_version(PostMortem.all_objects, pm.pk, expected)
            pm = _call_service(services.postmortem_restore, user=request.user, postmortem=pm)
        return _with_etag(self._detail(pm))

    def _detail(self, pm: PostMortem) -> dict:
        """The detail body of ``pm`` just written by the caller.

        A write can take the document out of its writer's sight (an author who
        removes themselves and restricts it); the answer then still shows what
        they saved, read without the prefetches, rather than failing after the save.
        """
        try:
            fresh = selectors.postmortem_detail(user=self.request.user).get(pk=pm.pk)
        except PostMortem.DoesNotExist:
            fresh = PostMortem.objects.get(pk=pm.pk)
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
        responses=_responses({200: api.ReadinessSerializer}, 404),
    )
    @action(detail=True, methods=["get"])
    def readiness(self, request: Request, pk: str | None = None) -> Response:
        return Response(readiness_check(self.get_object()).as_dict())

    @extend_schema(
        summary="Mark a language finding as intentional",
        description=(
            "Waive a finding of the `lint` block (by `section`, `rule` and `excerpt`), e.g. a "
            "quoted chat message; it then stops counting in `lint` and the readiness check. "
            "Waiving the same finding again replaces the reason. Only those who may change the "
            "post-mortem may waive (its authors, team, facilitator, creator and admins; 403 for "
            "other readers). A waiver "
            "is a note beside the document, not a change of it: no `If-Match` is needed and "
            "the document's version stays."
        ),
        request=api.FindingWaiverWriteSerializer,
        responses=_responses({201: api.FindingWaiverSerializer}, 400, 403, 404),
    )
    @action(detail=True, methods=["post"])
    def waivers(self, request: Request, pk: str | None = None) -> Response:
        pm = self.get_object()
        permissions.require_edit(request.user, pm)
        if not may_review_language(request.user, pm):  # today the same rule as editing
            raise exceptions.PermissionDenied(access.EDIT_REFUSED)
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
    # Plain DRF parsers: the checker takes any text, NUL included (nothing is
    # stored or looked up), unlike the rest of the API (kb/parsers.py).
    parser_classes = [drf_parsers.JSONParser, drf_parsers.FormParser, drf_parsers.MultiPartParser]

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
            400: OpenApiResponse(
                OpenApiTypes.OBJECT, description="`text` missing or not a string, or an unknown `section`."
            ),
            401: _ERRORS[401],
            413: OpenApiResponse(ErrorSerializer, description="The request body is larger than 2.5 MiB."),
            429: _ERRORS[429],
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
    list=extend_schema(
        summary="List action items",
        description="Action items of the post-mortems you may read.",
        responses=_responses({200: api.ActionItemSerializer(many=True)}, 400, 404),
    ),
    retrieve=extend_schema(
        summary="Read one action item",
        description="The `ETag` header carries `version`; send it in `If-Match` to change the item.",
        parameters=[_etag_header(200)],
        responses=_responses({200: api.ActionItemSerializer}, 404),
    ),
)
class ActionItemViewSet(
    ConditionalWriteMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Action items across post-mortems: list, read and PATCH (no create or delete:
    action items are written as rows of their post-mortem)."""

    # Any path segment reaches the view, which answers a JSON 404 for what is not an
    # id; the router's default pattern stops at "." and leaves Django's HTML 404.
    lookup_value_regex = "[^/]+"
    permission_classes = API_PERMISSIONS
    filter_backends = [filters_drf.DjangoFilterBackend, OrderingFilter]
    filterset_class = ActionItemAPIFilter
    ordering_fields = ["due_date", "created_at", "updated_at", "status", "id"]
    ordering = ["due_date", "id"]
    queryset = ActionItem.objects.none()  # for introspection; get_queryset does the work
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[ActionItem]:
        # postmortem__team__followup_policy: follow-up window fields without a query per row.
        # The post-mortem's long text columns stay out: no field here shows them, and
        # reading them (from TOAST) for each row of the page cost more than the page.
        return (
            ActionItem.objects.visible_to(self.request.user)
            .select_related("owner", "postmortem__team__followup_policy")
            .defer(*(f"postmortem__{name}" for name in selectors.LONG_TEXT_FIELDS))
        )

    def get_serializer_class(self):
        if self.action == "partial_update":
            return api.ActionItemWriteSerializer
        return api.ActionItemSerializer

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        return _with_etag(self.get_serializer(self.get_object()).data)

    @extend_schema(
        summary="Change an action item",
        description=(
            'Closing an item ("done") stamps `completed_at`; "not_doing" needs a `not_doing_reason`. '
            "The people who may change the post-mortem may change every field; the item's owner "
            "may change `status`, `not_doing_reason` and `ticket_url` (403 otherwise). Needs "
            "`If-Match` with the item's `ETag` (412 if it changed since, 428 without it)."
        ),
        request=api.ActionItemWriteSerializer,
        parameters=[IF_MATCH, _etag_header(200, 412)],
        responses=_responses({200: api.ActionItemSerializer}, 400, 403, 404, 412, 428),
    )
    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        item = self.get_object()
        permissions.require_item_change(request.user, item)
        expected = required_version(request, item.version)
        serializer = self.get_serializer(item, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        permissions.require_item_change(request.user, item, serializer.validated_data)
        _call_service(
            services.action_item_update,
            item=item,
            data=dict(serializer.validated_data),
            expected_version=expected,
            user=request.user,
        )
        fresh = self.get_queryset().get(pk=item.pk)
        return _with_etag(api.ActionItemSerializer(fresh, context=self.get_serializer_context()).data)


# --- taxonomy and organisation -------------------------------------------------------


_CATALOGUE_LIST = _responses({}, 404)  # 404: a page past the end


@extend_schema_view(
    list=extend_schema(
        summary="List contributing factors",
        responses={200: api.ContributingFactorSerializer(many=True), **_CATALOGUE_LIST},
    ),
    retrieve=extend_schema(
        summary="Read one contributing factor",
        responses=_responses({200: api.ContributingFactorSerializer}, 404),
    ),
)
class ContributingFactorViewSet(viewsets.ReadOnlyModelViewSet):
    """The contributing-factor taxonomy (read-only; admins extend it in Django admin).

    ``postmortem_count`` counts only the documents the caller may read.
    """

    permission_classes = API_PERMISSIONS
    filter_backends: list = []
    lookup_value_regex = "[^/]+"  # a JSON 404, not Django's HTML one, for "a.b"
    lookup_field = "slug"
    serializer_class = api.ContributingFactorSerializer
    queryset = ContributingFactor.objects.none()  # for introspection; get_queryset does the work

    def get_queryset(self) -> QuerySet[ContributingFactor]:
        return ContributingFactor.objects.order_by("category", "name")

    def _with_counts(self, factors) -> list[ContributingFactor]:
        """Set ``postmortem_count`` on each factor (``selectors.factor_postmortem_counts``)."""
        factors = list(factors)
        counts = selectors.factor_postmortem_counts(
            user=self.request.user, factor_ids=[f.pk for f in factors]
        )
        for factor in factors:
            factor.postmortem_count = counts.get(factor.pk, 0)
        return factors

    def list(self, request: Request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        if page is None:  # pagination switched off in settings
            return Response(self.get_serializer(self._with_counts(self.get_queryset()), many=True).data)
        return self.get_paginated_response(self.get_serializer(self._with_counts(page), many=True).data)

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        (factor,) = self._with_counts([self.get_object()])
        return Response(self.get_serializer(factor).data)


@extend_schema_view(
    list=extend_schema(
        summary="List teams", responses={200: api.TeamSerializer(many=True), **_CATALOGUE_LIST}
    ),
    retrieve=extend_schema(summary="Read one team", responses=_responses({200: api.TeamSerializer}, 404)),
)
class TeamViewSet(viewsets.ReadOnlyModelViewSet):
    """Teams and their members' usernames (read-only)."""

    permission_classes = API_PERMISSIONS
    filter_backends: list = []
    lookup_value_regex = "[^/]+"  # a JSON 404, not Django's HTML one, for "a.b"
    lookup_field = "slug"
    serializer_class = api.TeamSerializer
    queryset = Team.objects.prefetch_related("members")


@extend_schema_view(
    list=extend_schema(
        summary="List services", responses={200: api.ServiceSerializer(many=True), **_CATALOGUE_LIST}
    ),
    retrieve=extend_schema(
        summary="Read one service", responses=_responses({200: api.ServiceSerializer}, 404)
    ),
)
class ServiceViewSet(viewsets.ReadOnlyModelViewSet):
    """Services and the team that owns each (read-only)."""

    permission_classes = API_PERMISSIONS
    filter_backends: list = []
    lookup_value_regex = "[^/]+"  # a JSON 404, not Django's HTML one, for "a.b"
    lookup_field = "slug"
    serializer_class = api.ServiceSerializer
    queryset = Service.objects.select_related("team")
