"""Team targets (``TeamTargets`` or the settings' defaults) and the business-day
arithmetic of the review target, in Python and as an SQL expression."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Case, ExpressionWrapper, IntegerField, Q, Value, When
from django.db.models.functions import Cast, ExtractIsoWeekDay
from django.db.models.lookups import GreaterThan

from insights import conf
from insights.models import TeamTargets
from insights.selectors.scope import InsightsScope
from postmortems.models import Team


def business_day_allowance(target: int) -> dict[int, int]:
    """Calendar days from a resolution on each ISO weekday (1 = Monday) to the end
    of the ``target``-th business day after it (Monday–Friday; holidays unknown).

    Example: target 5 from a Monday gives 7 (the next Monday); from a Saturday, 6.
    """
    allowance = {}
    for weekday in range(1, 8):
        counted, offset = 0, 0
        while counted < target:
            offset += 1
            if (weekday - 1 + offset) % 7 < 5:
                counted += 1
        allowance[weekday] = offset
    return allowance


def scope_targets(scope: InsightsScope) -> dict[int, dict[str, int]]:
    """``team_targets`` of the scope's teams, read once per scope."""
    if "targets" not in scope.cache:
        scope.cache["targets"] = team_targets(scope.teams())
    return scope.cache["targets"]


class IsoWeekDay(ExtractIsoWeekDay):
    """``ExtractIsoWeekDay`` (1 = Monday … 7 = Sunday), as a float on PostgreSQL:
    ``EXTRACT`` returns ``numeric`` there since version 14, several times slower
    per row than ``date_part``'s double precision."""

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = self.as_sql(compiler, connection, **extra_context)
        return sql.replace("EXTRACT(ISODOW FROM ", "date_part('isodow', ", 1), params


def business_day_allowance_expression(moment: str, target) -> Any:
    """``business_day_allowance(target)[isoweekday(moment)]`` as an SQL expression.

    From a weekday at position p (Monday 0 … Friday 4), T business days later is
    T + 2 × ((p + T) div 5) calendar days (two weekend days per week boundary
    crossed); from Saturday or Sunday count from Friday, one or two days fewer.
    ``target`` is an integer expression (the team's target).
    """
    weekday = Cast(IsoWeekDay(moment), IntegerField())
    weekend = Q(GreaterThan(weekday, 5))
    position = Case(When(weekend, then=Value(4)), default=weekday - Value(1), output_field=IntegerField())
    back = Case(When(weekend, then=weekday - Value(5)), default=Value(0), output_field=IntegerField())
    return ExpressionWrapper(
        target + Value(2) * ((position + target) / Value(5)) - back, output_field=IntegerField()
    )


def team_targets(teams: Sequence[Team]) -> dict[int, dict[str, int]]:
    """Each team's review target and quality budget (its ``TeamTargets`` or the defaults)."""
    defaults = {
        "review_target_business_days": conf.review_target_business_days(),
        "budget_max_overdue": conf.budget_max_overdue(),
        "budget_severe_grace_days": conf.budget_severe_grace_days(),
    }
    rows = TeamTargets.objects.filter(team__in=teams).values("team_id", *defaults)
    targets = {team.pk: dict(defaults) for team in teams}
    for row in rows:
        targets[row.pop("team_id")] = row
    return targets
