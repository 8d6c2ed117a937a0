"""``GET /api/v1/insights/``: the insights figures as JSON, with their definitions."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from insights.api.serializers import InsightsErrorSerializer, InsightsSerializer
from insights.caching import kept
from insights.db import tuned_reads
from insights.forms import InsightsFilterForm
from insights.report import insights_report
from postmortems.api.permissions import API_PERMISSIONS


class InsightsView(APIView):
    """Every insights figure of one team (``team``) or of the organisation, for a date range."""

    permission_classes = API_PERMISSIONS

    @extend_schema(
        operation_id="insights_retrieve",
        summary="Insights: the figures of the dashboards",
        description=(
            "The same figures as the insights pages, each with a one-line definition in "
            "`definitions`. Post-mortems count in the range when their incident started in it; "
            "open and overdue action items, the quality budget and follow-up windows are today's. "
            "Durations are medians and 90th percentiles with counts, never means."
        ),
        parameters=[
            OpenApiParameter("team", OpenApiTypes.STR, description="A team's slug; omit for all teams."),
            OpenApiParameter(
                "from", OpenApiTypes.DATE, description="Start (inclusive); default: 12 whole months ago."
            ),
            OpenApiParameter("to", OpenApiTypes.DATE, description="End (inclusive); default: today."),
        ],
        responses={
            200: InsightsSerializer,
            400: OpenApiResponse(InsightsErrorSerializer, description="Unknown team or bad dates."),
        },
        tags=["insights"],
    )
    def get(self, request: Request) -> Response:
        form = InsightsFilterForm(request.query_params)
        if not form.is_valid():
            errors = {("non_field_errors" if k == "__all__" else k): list(v) for k, v in form.errors.items()}
            return Response(errors, status=400)
        with kept(form.scope(request.user)) as scope, tuned_reads():
            report = insights_report(scope)
        return Response(InsightsSerializer(report).data)
