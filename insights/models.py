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


class FiguresSnapshot(models.Model):
    """The precomputed figures of one shared audience's default organisation page
    (``insights.snapshots``), refreshed in the background every few minutes.

    ``data`` is the pickled ``InsightsScope.cache`` (selector results) the
    ``insights.refresh_snapshots`` task computed; it is written and read only by
    this application. Kept in the database rather than Django's cache because the
    cache is per process unless ``CACHE_URL`` is set, so a worker's snapshot would
    never reach the web processes, and an evicted entry would send a reader back
    to the slow live computation.
    """

    key = models.CharField(max_length=64, unique=True)
    audience = models.CharField(max_length=40)
    day = models.DateField(help_text="The day (server time zone) the default range ends on.")
    computed_at = models.DateTimeField(help_text="When the figures were read from the database.")
    duration_ms = models.PositiveIntegerField(default=0)
    data = models.BinaryField()

    class Meta:
        verbose_name = "figures snapshot"

    def __str__(self) -> str:
        return f"Insights snapshot for {self.audience} as of {self.computed_at:%Y-%m-%d %H:%M}"


class SnapshotEpoch(models.Model):
    """One row: a counter raised whenever a post-mortem is restricted or deleted.

    A snapshot task keeps what it computed only if the counter did not move while
    it computed (``insights.snapshots``), so figures read before a restriction
    committed are never kept after it.
    """

    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"Insights snapshot epoch {self.value}"
