"""Shapes of ``GET /api/v1/insights/`` (output only; documented in the OpenAPI schema)."""

from __future__ import annotations

from rest_framework import serializers

from insights.selectors import SEVERITIES


class InsightsMonthSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM")
    unrated = serializers.IntegerField()
    total = serializers.IntegerField()


for _severity in SEVERITIES:
    InsightsMonthSerializer._declared_fields[_severity] = serializers.IntegerField()


class InsightsFactorRowSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    counts = serializers.ListField(child=serializers.IntegerField(), help_text="One count per quarter.")
    total = serializers.IntegerField()


class InsightsFactorsSerializer(serializers.Serializer):
    quarters = serializers.ListField(child=serializers.CharField(), help_text="YYYY-Qn")
    factors = InsightsFactorRowSerializer(many=True)


class InsightsDurationSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Incidents with both times known.")
    median_minutes = serializers.FloatField(allow_null=True)
    p90_minutes = serializers.FloatField(allow_null=True)


class InsightsServiceDurationsSerializer(serializers.Serializer):
    service = serializers.CharField(allow_null=True, help_text="Service slug; null: no service named.")
    name = serializers.CharField()
    postmortems = serializers.IntegerField()
    detect = InsightsDurationSerializer()
    mitigate = InsightsDurationSerializer()
    resolve = InsightsDurationSerializer()


class InsightsFollowThroughSerializer(serializers.Serializer):
    due = serializers.IntegerField()
    done_on_time = serializers.IntegerField()
    completion_rate = serializers.FloatField(allow_null=True, help_text="0–1; null when nothing was due.")
    open = serializers.IntegerField()
    overdue = serializers.IntegerField()
    median_open_age_days = serializers.FloatField(allow_null=True)
    closed = serializers.IntegerField()
    median_days_to_close = serializers.FloatField(allow_null=True)


class InsightsFollowThroughMonthSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM (of the due date)")
    due = serializers.IntegerField()
    done_on_time = serializers.IntegerField()
    done_late = serializers.IntegerField()
    not_done = serializers.IntegerField()
    not_doing = serializers.IntegerField()


class InsightsReviewSerializer(serializers.Serializer):
    reviewed = serializers.IntegerField()
    median_days = serializers.FloatField(allow_null=True)
    p90_days = serializers.FloatField(allow_null=True)
    within_target = serializers.IntegerField()
    late = serializers.IntegerField()
    pending = serializers.IntegerField()
    date_unknown = serializers.IntegerField(help_text="Marked reviewed, but no review date is known.")
    unresolved = serializers.IntegerField()
    share_within_target = serializers.FloatField(allow_null=True)
    target_business_days = serializers.IntegerField(
        allow_null=True, help_text="null when the teams in scope have different targets."
    )


class InsightsBudgetSerializer(serializers.Serializer):
    overdue = serializers.IntegerField()
    severe_overdue = serializers.IntegerField(
        help_text="Overdue items of SEV1/SEV2 post-mortems past the grace."
    )
    oldest_overdue_days = serializers.IntegerField(allow_null=True)
    max_overdue = serializers.IntegerField()
    severe_grace_days = serializers.IntegerField()
    within = serializers.BooleanField()


class InsightsTeamBudgetSerializer(InsightsBudgetSerializer):
    team = serializers.CharField()


class InsightsDoDSerializer(serializers.Serializer):
    versions_in_range = serializers.IntegerField()
    current_version = serializers.IntegerField(allow_null=True)
    open_proposals = serializers.IntegerField()
    proposals_opened = serializers.IntegerField()
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField()


class InsightsTeamDoDSerializer(InsightsDoDSerializer):
    team = serializers.CharField()


class InsightsDefinitionOfDoneSerializer(serializers.Serializer):
    available = serializers.BooleanField(help_text="False when the Definition-of-Done capability is absent.")
    organisation = InsightsDoDSerializer(allow_null=True)
    teams = InsightsTeamDoDSerializer(many=True)


class InsightsTeamWindowSerializer(serializers.Serializer):
    team = serializers.CharField()
    open_past_window = serializers.IntegerField()


class InsightsFollowUpWindowsSerializer(serializers.Serializer):
    available = serializers.BooleanField(help_text="False when follow-up policies are absent.")
    teams = InsightsTeamWindowSerializer(many=True)


class InsightsTeamRowSerializer(serializers.Serializer):
    team = serializers.CharField()
    name = serializers.CharField()
    postmortems = serializers.IntegerField()
    severe = serializers.IntegerField(help_text="Of them SEV1 or SEV2.")
    follow_through = InsightsFollowThroughSerializer()
    review_timeliness = InsightsReviewSerializer()
    quality_budget = InsightsBudgetSerializer()
    open_past_window = serializers.IntegerField(allow_null=True)
    definition_of_done = InsightsDoDSerializer(allow_null=True)


class InsightsSerializer(serializers.Serializer):
    """Every insights figure for a team (or all teams) and a date range."""

    team = serializers.CharField(allow_null=True, help_text="The team's slug; null for the organisation.")
    today = serializers.DateField()
    definitions = serializers.DictField(child=serializers.CharField(), help_text="One line per figure.")
    review_date_source = serializers.CharField()
    undated_postmortems = serializers.IntegerField(
        help_text="Post-mortems without a start time (in no figure)."
    )
    postmortems_by_month = InsightsMonthSerializer(many=True)
    factors_by_quarter = InsightsFactorsSerializer()
    incident_durations = InsightsServiceDurationsSerializer(many=True)
    follow_through = InsightsFollowThroughSerializer()
    follow_through_by_month = InsightsFollowThroughMonthSerializer(many=True)
    review_timeliness = InsightsReviewSerializer()
    quality_budget = InsightsTeamBudgetSerializer(many=True)
    definition_of_done = InsightsDefinitionOfDoneSerializer()
    follow_up_windows = InsightsFollowUpWindowsSerializer()
    teams = InsightsTeamRowSerializer(many=True)


# "from" and "to" are Python keywords: declared here, first in the output.
InsightsSerializer._declared_fields = {
    "team": InsightsSerializer._declared_fields["team"],
    "from": serializers.DateField(help_text="Start of the range (inclusive)."),
    "to": serializers.DateField(help_text="End of the range (inclusive)."),
    **{k: v for k, v in InsightsSerializer._declared_fields.items() if k != "team"},
}


class InsightsErrorSerializer(serializers.Serializer):
    team = serializers.ListField(child=serializers.CharField(), required=False)
    to = serializers.ListField(child=serializers.CharField(), required=False)


InsightsErrorSerializer._declared_fields["from"] = serializers.ListField(
    child=serializers.CharField(), required=False
)
