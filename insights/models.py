"""A team's own targets for the insights figures (one row per team, optional).

Teams without a row use the defaults in ``insights.conf`` (settings).
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from insights import conf
from postmortems.models import Team


class TeamTargets(models.Model):
    """Review target and quality budget of one team.

    The quality budget is an error-budget-like ceiling on follow-through debt
    (the SRE book's error budgets, ch. 3, applied to action items): a team is
    *within* it while no action item of a SEV1/SEV2 post-mortem is more than
    ``budget_severe_grace_days`` past due and at most ``budget_max_overdue``
    action items are overdue in total.
    """

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="insights_targets")
    review_target_business_days = models.PositiveSmallIntegerField(
        "review target (business days after resolution)",
        default=conf.review_target_business_days,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
    )
    budget_max_overdue = models.PositiveIntegerField(
        "quality budget: at most this many overdue action items",
        default=conf.budget_max_overdue,
        validators=[MaxValueValidator(100_000)],
    )
    budget_severe_grace_days = models.PositiveSmallIntegerField(
        "quality budget: SEV1/SEV2 items at most this many days past due",
        default=conf.budget_severe_grace_days,
        validators=[MaxValueValidator(365)],
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "team targets"
        verbose_name_plural = "team targets"
        constraints = [
            models.CheckConstraint(
                condition=Q(review_target_business_days__gte=1) & Q(review_target_business_days__lte=60),
                name="insights_review_target_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Targets of {self.team}"
