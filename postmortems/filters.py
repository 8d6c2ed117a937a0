"""FilterSets shared by the list page and the API, so both filter the same way
(NetBox's one-FilterSet-per-list habit)."""

from __future__ import annotations

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from postmortems.models import ActionItem, ContributingFactor, PostMortem, Service, Team
from postmortems.search import search_postmortems


def _slug_filter(**kwargs) -> django_filters.ModelMultipleChoiceFilter:
    """A "one or more slugs/usernames" filter, documented as a string in the schema
    (drf-spectacular cannot follow ``field_name="team__slug"`` + ``to_field_name``).

    django-filter's multiple-choice filters add ``DISTINCT`` by default. Only a
    filter across a many-to-many (services, factors) can repeat a row; on a
    foreign key or the row's own column the filters here say ``distinct=False``:
    ``SELECT DISTINCT`` over every column of a page sorted all ~160k open action
    items at 100k post-mortems (755 ms for ``?status=open``, docs/benchmarks.md).
    """
    return extend_schema_field(OpenApiTypes.STR)(django_filters.ModelMultipleChoiceFilter(**kwargs))


def _unset(value) -> bool:
    """True for a model filter left empty: django-filter cleans it to ``queryset.none()``.

    ``ModelMultipleChoiceFilter.filter`` tests such a value with ``not value``, which
    evaluates the queryset (compiling it costs ~1 ms a search request, three of
    these filters each time); ``is_empty()`` reads the same answer without that.
    """
    return isinstance(value, QuerySet) and value.query.is_empty()


class PostMortemFilter(django_filters.FilterSet):
    """Filters: ``q`` (full-text, websearch syntax), ``team``, ``service``,
    ``severity``, ``status``, ``factor`` (slugs; repeat a parameter for "any of"),
    ``started_from`` / ``started_to`` (dates, inclusive) and ``ordering``.

    With ``q`` and no ``ordering``, results come best match first.
    """

    q = django_filters.CharFilter(method="filter_q", label="Search", max_length=200)
    team = _slug_filter(
        field_name="team__slug",
        to_field_name="slug",
        queryset=Team.objects.all(),
        label="Team",
        distinct=False,
    )
    service = _slug_filter(
        field_name="services__slug",
        to_field_name="slug",
        queryset=Service.objects.all(),
        label="Service",
        distinct=True,
    )
    severity = django_filters.MultipleChoiceFilter(choices=PostMortem.Severity.choices, distinct=False)
    status = django_filters.MultipleChoiceFilter(choices=PostMortem.Status.choices, distinct=False)
    factor = _slug_filter(
        field_name="factors__slug",
        to_field_name="slug",
        queryset=ContributingFactor.objects.all(),
        label="Contributing factor",
        distinct=True,
    )
    started_from = django_filters.DateFilter(
        field_name="started_at",
        lookup_expr="date__gte",
        label="Started on or after",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    started_to = django_filters.DateFilter(
        field_name="started_at",
        lookup_expr="date__lte",
        label="Started on or before",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    ordering = django_filters.OrderingFilter(
        fields=(
            ("started_at", "started_at"),
            ("created_at", "created_at"),
            ("updated_at", "updated_at"),
            ("severity", "severity"),
            ("title", "title"),
            ("id", "id"),
        ),
        label="Order by",
    )

    class Meta:
        model = PostMortem
        fields = ["q", "team", "service", "severity", "status", "factor"]

    def filter_queryset(self, queryset):
        """Apply the field filters, then ``q``, then ``ordering``.

        Search ranks a bounded candidate set on PostgreSQL (``search.py``), so it
        must see the already-filtered queryset: searching first and filtering by
        team afterwards would drop that team's matches that are not among the
        organisation's newest candidates. ``ordering``, when given, overrides the
        ranking, so it comes last.
        """
        data = self.form.cleaned_data
        later = ("q", "ordering")
        for name, value in data.items():
            if name not in later and not _unset(value):
                queryset = self.filters[name].filter(queryset, value)
        for name in later:
            if name in data:
                queryset = self.filters[name].filter(queryset, data[name])
        return queryset

    def filter_q(self, queryset, name, value):
        if not value or not value.strip():
            return queryset
        return search_postmortems(queryset, value)


class ActionItemFilter(django_filters.FilterSet):
    """Filters for action items: ``owner`` (username), ``status``, ``kind``,
    ``team`` (slug of the post-mortem's team), ``postmortem`` (id), ``overdue``
    (true/false) and ``due_from`` / ``due_to`` (dates, inclusive)."""

    owner = _slug_filter(
        field_name="owner__username",
        to_field_name="username",
        queryset=get_user_model().objects.all(),
        distinct=False,
    )
    status = django_filters.MultipleChoiceFilter(choices=ActionItem.Status.choices, distinct=False)
    kind = django_filters.MultipleChoiceFilter(choices=ActionItem.Kind.choices, distinct=False)
    team = _slug_filter(
        field_name="postmortem__team__slug",
        to_field_name="slug",
        queryset=Team.objects.all(),
        distinct=False,
    )
    postmortem = django_filters.NumberFilter(field_name="postmortem_id")
    due_from = django_filters.DateFilter(field_name="due_date", lookup_expr="gte")
    due_to = django_filters.DateFilter(field_name="due_date", lookup_expr="lte")
    overdue = django_filters.BooleanFilter(method="filter_overdue")

    class Meta:
        model = ActionItem
        fields = ["owner", "status", "kind", "team", "postmortem"]

    def filter_overdue(self, queryset, name, value):
        from postmortems.selectors import action_items_overdue

        overdue = action_items_overdue(queryset)
        if value is None:
            return queryset
        return overdue if value else queryset.exclude(pk__in=overdue.values("pk"))
