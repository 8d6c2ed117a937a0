"""The reviews API under /api/v1/reviews/ (thin: reads through selectors, writes
through ``reviews.scheduling`` and ``reviews.services``, permissions from ``reviews.permissions``).

A domain ``ValidationError`` becomes HTTP 400 (``{field: [messages]}``, nothing
saved); a section edit on a stale copy becomes 409 with both texts; a person
the rules do not allow gets 403; anonymous requests get 401.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import django_filters.rest_framework as filters_drf
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, renderers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from postmortems.access import get_visible_postmortem
from postmortems.api import serializers as pm_api
from postmortems.api.permissions import API_PERMISSIONS
from postmortems.models import ActionItem, PostMortem, Team
from postmortems.readiness import readiness_check
from reviews import permissions, scheduling, selectors, services
from reviews.api import serializers as api
from reviews.invite import review_ics
from reviews.models import PulseResponse, Review, ReviewNote


def _call(function: Callable[..., Any], **kwargs: Any) -> Any:
    """Call a service; turn its domain ValidationError into an HTTP 400."""
    try:
        return function(**kwargs)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc


class ICalendarRenderer(renderers.BaseRenderer):
    """Lets clients ask for ``Accept: text/calendar``; the invite itself is
    returned as ready bytes, anything else (an error) as JSON text."""

    media_type = "text/calendar"
    format = "ics"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return renderers.JSONRenderer().render(data)


class ReviewFilter(filters_drf.FilterSet):
    """Filters of the review list: ``postmortem`` (id), ``team`` (slug),
    ``status``, ``facilitator`` (username), ``scheduled_from``/``scheduled_to``."""

    postmortem = filters_drf.NumberFilter(field_name="postmortem_id")
    team = filters_drf.CharFilter(field_name="postmortem__team__slug")
    status = filters_drf.MultipleChoiceFilter(choices=Review.Status.choices)
    facilitator = filters_drf.CharFilter(field_name="facilitator__username")
    scheduled_from = filters_drf.IsoDateTimeFilter(field_name="scheduled_at", lookup_expr="gte")
    scheduled_to = filters_drf.IsoDateTimeFilter(field_name="scheduled_at", lookup_expr="lte")

    class Meta:
        model = Review
        fields = ["postmortem", "team", "status", "facilitator", "scheduled_from", "scheduled_to"]


@extend_schema_view(
    list=extend_schema(summary="List reviews", description="Newest first. Any signed-in user may read."),
    retrieve=extend_schema(summary="Read one review with its notes, step log and facilitator warnings"),
)
class ReviewViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Reviews of post-mortems: schedule, run, end, and the pulse afterwards."""

    permission_classes = API_PERMISSIONS
    filter_backends = [filters_drf.DjangoFilterBackend]
    filterset_class = ReviewFilter
    lookup_value_regex = r"[0-9]{1,18}"
    queryset = Review.objects.none()

    def get_queryset(self) -> QuerySet[Review]:
        user = self.request.user
        if self.action == "list":
            return selectors.review_list(user=user).order_by("-scheduled_at", "-id")
        if self.action == "state":
            # Polled every few seconds by every screen: only what the clock reads.
            return (
                Review.objects.filter(selectors.readable_reviews_q(user))
                .select_related("postmortem")
                .prefetch_related("step_times")
            )
        return selectors.review_detail(user=user)

    def get_serializer_class(self):
        return {
            "list": api.ReviewSerializer,
            "create": api.ReviewScheduleSerializer,
            "partial_update": api.ReviewUpdateSerializer,
        }.get(self.action, api.ReviewDetailSerializer)

    def _detail(self, review: Review, code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.review_detail(user=self.request.user).get(pk=review.pk)
        return Response(
            api.ReviewDetailSerializer(fresh, context=self.get_serializer_context()).data, status=code
        )

    def _body(self, serializer_class, request: Request) -> dict:
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    # --- scheduling -------------------------------------------------------------

    @extend_schema(
        summary="Schedule a review",
        description=(
            "Only when the post-mortem passes the readiness check (400 with the failing checks "
            "under `readiness` otherwise). A draft moves to `in_review`. The response carries "
            "`facilitator_warnings` when the facilitator wrote the post-mortem, is named in its "
            "timeline or owns one of its action items. Leave `invitees` out to invite the "
            "suggested people. Authors, the post-mortem's facilitator, team leads and admins may schedule."
        ),
        request=api.ReviewScheduleSerializer,
        responses={201: api.ReviewDetailSerializer},
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = api.ReviewScheduleSerializer(data=request.data)
        # A post-mortem the user may not read answers like a missing one (400, same text).
        serializer.fields["postmortem"].queryset = PostMortem.objects.visible_to(request.user)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        pm = (
            PostMortem.objects.select_related("team")
            .prefetch_related("authors")
            .get(pk=data["postmortem"].pk)
        )
        permissions.require_schedule(request.user, pm)
        if "invitees" not in data:
            data["invitees"] = [s.user for s in selectors.invitee_suggestions(pm)]
        review = _call(
            scheduling.review_schedule,
            user=request.user,
            postmortem=pm,
            scheduled_at=data["scheduled_at"],
            facilitator=data["facilitator"],
            note_taker=data.get("note_taker"),
            invitees=data["invitees"],
            location=data.get("location", ""),
        )
        response = self._detail(review, status.HTTP_201_CREATED)
        response["Location"] = response.data["url"]
        return response

    @extend_schema(
        summary="Reschedule a review",
        description="Change the time, place or people of a scheduled review (facilitator and admins).",
        request=api.ReviewUpdateSerializer,
        responses={200: api.ReviewDetailSerializer},
    )
    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        review = self.get_object()
        permissions.require_run(request.user, review)
        data = self._body(api.ReviewUpdateSerializer, request)
        _call(scheduling.review_reschedule, review=review, user=request.user, data=data)
        return self._detail(review)

    @extend_schema(
        summary="Prepare scheduling: readiness, whom to invite, facilitator warnings",
        parameters=[
            OpenApiParameter("postmortem", OpenApiTypes.INT, required=True, description="Post-mortem id."),
            OpenApiParameter(
                "facilitator", OpenApiTypes.STR, description="Username of a candidate facilitator."
            ),
        ],
        responses={200: api.PlanSerializer},
    )
    @action(detail=False, methods=["get"])
    def plan(self, request: Request) -> Response:
        raw = request.query_params.get("postmortem", "")
        if not raw.isdigit() or len(raw) > 18:
            raise serializers.ValidationError({"postmortem": ["Give the post-mortem's id."]})
        pm = get_visible_postmortem(
            request.user, int(raw), queryset=PostMortem.objects.select_related("team")
        )
        warnings: list[str] = []
        username = request.query_params.get("facilitator")
        if username:
            facilitator = api.User.objects.filter(username=username, is_active=True).first()
            if facilitator is None:
                raise serializers.ValidationError({"facilitator": [f"No active user {username!r}."]})
            warnings = selectors.facilitator_warnings(pm, facilitator)
        readiness = readiness_check(pm)
        open_review = selectors.open_review_for(pm)
        body = {
            "postmortem": pm.pk,
            **readiness.as_dict(),
            "open_review": open_review.pk if open_review else None,
            "suggestions": selectors.invitee_suggestions(pm),
            "facilitator_warnings": warnings,
            "agenda": selectors.team_agenda(pm.team),
        }
        return Response(api.PlanSerializer(body).data)

    @extend_schema(
        summary="Download the calendar invite (.ics)",
        description="RFC 5545 VCALENDAR with one VEVENT; `SEQUENCE` grows with each reschedule.",
        responses={
            (200, "text/calendar"): OpenApiResponse(
                response=OpenApiTypes.BINARY, description="iCalendar file"
            )
        },
    )
    @action(detail=True, methods=["get"], renderer_classes=[renderers.JSONRenderer, ICalendarRenderer])
    def ics(self, request: Request, pk: str | None = None) -> HttpResponse:
        review = self.get_object()
        response = HttpResponse(review_ics(review), content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="review-{review.postmortem.key}.ics"'
        return response

    @extend_schema(
        summary="Cancel a review",
        request=None,
        responses={200: api.ReviewDetailSerializer},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        review = self.get_object()
        permissions.require_run(request.user, review)
        _call(scheduling.review_cancel, review=review, user=request.user)
        return self._detail(review)

    # --- running ----------------------------------------------------------------

    @extend_schema(
        summary="The review's clock",
        description="Poll this (every few seconds) to keep a second screen on the same step and countdown.",
        responses={200: api.ClockSerializer},
    )
    @action(detail=True, methods=["get"])
    def state(self, request: Request, pk: str | None = None) -> Response:
        return Response(api.ClockSerializer(selectors.review_clock(self.get_object())).data)

    def _clock(self, review: Review) -> Response:
        fresh = selectors.review_detail(user=self.request.user).get(pk=review.pk)
        return Response(api.ClockSerializer(selectors.review_clock(fresh)).data)

    @extend_schema(summary="Start the review's clock", request=None, responses={200: api.ClockSerializer})
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: str | None = None) -> Response:
        review = self.get_object()
        permissions.require_run(request.user, review)
        _call(services.review_start, review=review, user=request.user)
        return self._clock(review)

    @extend_schema(
        summary="Move to the next agenda step",
        description=(
            "`from_step` is the step the screen showed: if another screen moved on already, nothing changes."
        ),
        request=api.StepRequestSerializer,
        responses={200: api.ClockSerializer},
    )
    @action(detail=True, methods=["post"])
    def next(self, request: Request, pk: str | None = None) -> Response:
        review = self.get_object()
        permissions.require_run(request.user, review)
        data = self._body(api.StepRequestSerializer, request)
        _call(services.review_next_step, review=review, user=request.user, from_step=data["from_step"])
        return self._clock(review)

    @extend_schema(
        summary="End the review",
        description=(
            "The readiness check must pass again (400 with the failing checks under `readiness`). "
            "The post-mortem moves to `reviewed`, the outcome and the actual duration are stored and "
            "each owner of an open action item is e-mailed a summary."
        ),
        request=api.EndRequestSerializer,
        responses={200: api.ReviewDetailSerializer},
    )
    @action(detail=True, methods=["post"])
    def end(self, request: Request, pk: str | None = None) -> Response:
        review = self.get_object()
        permissions.require_run(request.user, review)
        data = self._body(api.EndRequestSerializer, request)
        _call(services.review_end, review=review, user=request.user, outcome=data["outcome"])
        return self._detail(review)

    @extend_schema(
        summary="Save one section of the post-mortem",
        description=(
            "Send the post-mortem `version` you read (and the section as you read it, `base_text`). "
            "When the section changed since, nothing is saved and the answer is 409 with both texts; "
            "send yours again with `version` = `current_version` to keep it."
        ),
        request=api.SectionRequestSerializer,
        responses={200: api.SectionResponseSerializer, 409: api.SectionConflictSerializer},
    )
    @action(detail=True, methods=["post"])
    def sections(self, request: Request, pk: str | None = None) -> Response:
        review = self.get_object()
        permissions.require_edit(request.user, review)
        data = self._body(api.SectionRequestSerializer, request)
        try:
            pm = _call(services.review_section_save, review=review, user=request.user, **data)
        except services.SectionConflict as conflict:
            body = {
                "detail": str(conflict),
                "section": conflict.section,
                "yours": conflict.yours,
                "theirs": conflict.theirs,
                "current_version": conflict.current_version,
            }
            return Response(api.SectionConflictSerializer(body).data, status=status.HTTP_409_CONFLICT)
        body = {"section": data["section"], "text": getattr(pm, data["section"]), "version": pm.version}
        return Response(api.SectionResponseSerializer(body).data)

    @extend_schema(
        summary="Quick-add an action item",
        description="The owner is e-mailed after commit. The due date must be after today.",
        request=api.ActionItemAddSerializer,
        responses={201: pm_api.ActionItemInlineSerializer},
    )
    @action(detail=True, methods=["post"], url_path="action-items")
    def action_items(self, request: Request, pk: str | None = None) -> Response:
        review = self.get_object()
        permissions.require_edit(request.user, review)
        data = self._body(api.ActionItemAddSerializer, request)
        item = _call(services.review_action_item_add, review=review, user=request.user, **data)
        item = ActionItem.objects.select_related("owner", "postmortem__team").get(pk=item.pk)
        return Response(pm_api.ActionItemInlineSerializer(item).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Decline an action item",
        description="The item leaves the list and becomes a declined change with the reason, in one save.",
        parameters=[OpenApiParameter("item_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        request=api.DeclineItemSerializer,
        responses={201: pm_api.DeclinedChangeSerializer},
    )
    @action(detail=True, methods=["post"], url_path=r"action-items/(?P<item_id>[0-9]{1,18})/decline")
    def decline_action_item(
        self, request: Request, pk: str | None = None, item_id: str | None = None
    ) -> Response:
        review = self.get_object()
        permissions.require_edit(request.user, review)
        item = get_object_or_404(ActionItem, pk=int(item_id), postmortem_id=review.postmortem_id)
        data = self._body(api.DeclineItemSerializer, request)
        change = _call(
            services.review_action_item_decline,
            review=review,
            user=request.user,
            item=item,
            rationale=data["rationale"],
        )
        return Response(pm_api.DeclinedChangeSerializer(change).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Record a declined change",
        request=api.DeclinedChangeAddSerializer,
        responses={201: pm_api.DeclinedChangeSerializer},
    )
    @action(detail=True, methods=["post"], url_path="declined-changes")
    def declined_changes(self, request: Request, pk: str | None = None) -> Response:
        review = self.get_object()
        permissions.require_edit(request.user, review)
        data = self._body(api.DeclinedChangeAddSerializer, request)
        change = _call(services.review_declined_change_add, review=review, user=request.user, **data)
        return Response(pm_api.DeclinedChangeSerializer(change).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Tag or untag a contributing factor",
        request=api.FactorSetSerializer,
        responses={200: api.FactorListSerializer},
    )
    @action(detail=True, methods=["post"])
    def factors(self, request: Request, pk: str | None = None) -> Response:
        review = self.get_object()
        permissions.require_edit(request.user, review)
        data = self._body(api.FactorSetSerializer, request)
        factors = _call(services.review_factor_set, review=review, user=request.user, **data)
        return Response({"factors": [f.slug for f in factors]})

    @extend_schema(
        summary="Add a decision or a parking-lot idea",
        request=api.NoteCreateSerializer,
        responses={201: api.ReviewNoteSerializer},
    )
    @action(detail=True, methods=["post"])
    def notes(self, request: Request, pk: str | None = None) -> Response:
        review = self.get_object()
        permissions.require_edit(request.user, review)
        data = self._body(api.NoteCreateSerializer, request)
        note = _call(services.review_note_add, review=review, user=request.user, **data)
        return Response(api.ReviewNoteSerializer(note).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Mark a note done, or delete it",
        parameters=[OpenApiParameter("note_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        request=api.NoteUpdateSerializer,
        responses={200: api.ReviewNoteSerializer, 204: None},
    )
    @action(detail=True, methods=["patch", "delete"], url_path=r"notes/(?P<note_id>[0-9]{1,18})")
    def note(self, request: Request, pk: str | None = None, note_id: str | None = None) -> Response:
        review = self.get_object()
        permissions.require_edit(request.user, review)
        note = get_object_or_404(ReviewNote, pk=int(note_id), review=review)
        if request.method == "DELETE":
            _call(services.review_note_delete, note=note, user=request.user)
            return Response(status=status.HTTP_204_NO_CONTENT)
        data = self._body(api.NoteUpdateSerializer, request)
        note = _call(services.review_note_update, note=note, user=request.user, done=data["done"])
        return Response(api.ReviewNoteSerializer(note).data)

    @extend_schema(
        summary="Record attendance",
        request=api.AttendanceSerializer,
        responses={200: api.AttendanceResultSerializer},
    )
    @action(detail=True, methods=["post"])
    def attendance(self, request: Request, pk: str | None = None) -> Response:
        review = self.get_object()
        permissions.require_edit(request.user, review)
        data = self._body(api.AttendanceSerializer, request)
        people = _call(
            services.review_attendance_set,
            review=review,
            user=request.user,
            attendees=data["attendees"],
            replace=data["replace"],
        )
        return Response({"attendees": [p.username for p in people]})

    @extend_schema(
        summary="Mark a language finding intentional",
        request=pm_api.FindingWaiverWriteSerializer,
        responses={201: pm_api.FindingWaiverSerializer},
    )
    @action(detail=True, methods=["post"])
    def waivers(self, request: Request, pk: str | None = None) -> Response:
        review = self.get_object()
        permissions.require_edit(request.user, review)
        data = self._body(pm_api.FindingWaiverWriteSerializer, request)
        waiver = _call(services.review_finding_waive, review=review, user=request.user, **data)
        return Response(pm_api.FindingWaiverSerializer(waiver).data, status=status.HTTP_201_CREATED)

    # --- afterwards -----------------------------------------------------------------

    @extend_schema(
        summary="Answer the review's pulse",
        description=(
            "Once per person, after the end: invitees, attendees, the facilitator and the note-taker."
        ),
        request=api.PulseRequestSerializer,
        responses={201: api.PulseResponseSerializer},
    )
    @action(detail=True, methods=["post"])
    def pulse(self, request: Request, pk: str | None = None) -> Response:
        review = self.get_object()
        permissions.require_pulse(request.user, review)
        data = self._body(api.PulseRequestSerializer, request)
        answer = _call(services.pulse_submit, review=review, user=request.user, **data)
        return Response(api.PulseResponseSerializer(answer).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Pulse results of a post-mortem's or a team's reviews",
        parameters=[
            OpenApiParameter("postmortem", OpenApiTypes.INT, description="Post-mortem id."),
            OpenApiParameter("team", OpenApiTypes.STR, description="Team slug."),
        ],
        responses={200: api.PulseSummarySerializer},
    )
    @action(detail=False, methods=["get"], url_path="pulse-summary")
    def pulse_summary(self, request: Request) -> Response:
        pm_raw = request.query_params.get("postmortem", "")
        team_slug = request.query_params.get("team", "")
        answers = PulseResponse.objects.filter(selectors.readable_reviews_q(request.user, prefix="review__"))
        if pm_raw:
            if not pm_raw.isdigit() or len(pm_raw) > 18:
                raise serializers.ValidationError({"postmortem": ["Give the post-mortem's id."]})
            answers = answers.filter(review__postmortem=get_visible_postmortem(request.user, int(pm_raw)))
        if team_slug:
            answers = answers.filter(review__postmortem__team=get_object_or_404(Team, slug=team_slug))
        if not pm_raw and not team_slug:
            raise serializers.ValidationError({"detail": "Give `postmortem` or `team`."})
        return Response(api.PulseSummarySerializer(selectors.pulse_summary(answers).as_dict()).data)


@extend_schema_view(
    retrieve=extend_schema(summary="A team's review agenda"),
)
class TeamAgendaViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A team's review agenda (minutes per step); its leads and admins change it."""

    permission_classes = API_PERMISSIONS
    serializer_class = api.TeamAgendaSerializer
    lookup_field = "slug"
    queryset = Team.objects.all()

    def _body(self, team: Team) -> dict:
        row = selectors.team_review_settings(team)
        return {"team": team.slug, "agenda": row.agenda(), "total_minutes": row.total_minutes}

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        return Response(api.TeamAgendaSerializer(self._body(self.get_object())).data)

    @extend_schema(
        summary="Change a team's review agenda",
        request=api.TeamAgendaUpdateSerializer,
        responses={200: api.TeamAgendaSerializer},
    )
    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        team = self.get_object()
        permissions.require_agenda(request.user, team)
        serializer = api.TeamAgendaUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        _call(services.team_agenda_update, team=team, minutes=serializer.validated_data["minutes"])
        return Response(api.TeamAgendaSerializer(self._body(team)).data)
