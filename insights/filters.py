"""The action-item list behind the insights figures: the shared
``ActionItemFilter`` plus what some figures count and it cannot say."""

from __future__ import annotations

import django_filters
from django.utils import timezone

from insights.selectors import ON_TIME, action_items_past_window, followup_windows_available
from postmortems.filters import ActionItemFilter
from postmortems.models import ActionItem, PostMortem


class InsightsActionItemFilter(ActionItemFilter):
    """``ActionItemFilter`` plus ``severity`` (of the post-mortem), ``on_time``
    (done by the due date, or not), ``completed_from`` / ``completed_to`` and
    ``past_window`` (open past the follow-up window, when followthrough is installed)."""

    severity = django_filters.MultipleChoiceFilter(
        field_name="postmortem__severity", choices=PostMortem.Severity.choices
    )
    on_time = django_filters.BooleanFilter(method="filter_on_time", label="Done by the due date")
    completed_from = django_filters.DateFilter(field_name="completed_at", lookup_expr="date__gte")
    completed_to = django_filters.DateFilter(field_name="completed_at", lookup_expr="date__lte")
    past_window = django_filters.BooleanFilter(method="filter_past_window", label="Past the follow-up window")

    class Meta(ActionItemFilter.Meta):
        model = ActionItem

    def filter_on_time(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(ON_TIME) if value else queryset.exclude(ON_TIME)

    def filter_past_window(self, queryset, name, value):
        if value is None or not followup_windows_available():
            return queryset
        past = action_items_past_window(queryset, today=timezone.localdate())
        return past if value else queryset.exclude(pk__in=past.values("pk"))
