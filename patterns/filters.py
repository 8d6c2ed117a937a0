"""The DoD-proposal FilterSet, shared by the proposals inbox and the API list
(one FilterSet per list, NetBox's habit)."""

from __future__ import annotations

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from patterns.models import DoDProposal, Scope
from postmortems.models import ContributingFactor, Team


def _slug_filter(**kwargs) -> django_filters.ModelMultipleChoiceFilter:
    """A "one or more slugs" filter, documented as a string in the schema."""
    return extend_schema_field(OpenApiTypes.STR)(django_filters.ModelMultipleChoiceFilter(**kwargs))


class DoDProposalFilter(django_filters.FilterSet):
    """Filters: ``team`` (slugs; repeat for "any of"), ``scope`` ("team" or
    "org"), ``status``, ``kind`` and ``factor`` (slugs)."""

    team = _slug_filter(
        field_name="team__slug", to_field_name="slug", queryset=Team.objects.all(), label="Team"
    )
    scope = django_filters.ChoiceFilter(choices=Scope.choices, label="Scope", empty_label="Any scope")
    status = django_filters.MultipleChoiceFilter(choices=DoDProposal.Status.choices, label="Status")
    kind = django_filters.ChoiceFilter(choices=DoDProposal.Kind.choices, label="Kind", empty_label="Any kind")
    factor = _slug_filter(
        field_name="factor__slug",
        to_field_name="slug",
        queryset=ContributingFactor.objects.all(),
        label="Contributing factor",
    )

    class Meta:
        model = DoDProposal
        fields = ["team", "scope", "status", "kind", "factor"]
