"""Definition of Done documents, their versions and items; per-team pattern
settings; and the DoD proposals that pattern detection opens, with their evidence.

A Definition of Done (DoD) is the checklist a change must pass before it counts
as done (Scrum Guide 2020, "Commitment: Definition of Done"). Here every team has
one and the organisation has one. Each change makes a new ``DoDVersion`` that
holds the whole ordered list of items (a snapshot), who made it, when and why;
an item keeps its ``uid`` across versions so two versions can be compared item
by item. Items link to the contributing factor they address and to the
post-mortems that motivated them.

A ``DoDProposal`` is opened by pattern detection (``patterns.detection``) when a
contributing factor recurs; the database guarantees at most one *open* proposal
per (team, factor) and per organisation-wide factor, so concurrent detection
runs cannot duplicate one.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from patterns.conf import (
    MIN_INCIDENTS_FLOOR,
    WINDOW_DAYS_MAX,
    default_min_incidents,
    default_window_days,
)
from postmortems.models import ContributingFactor, PostMortem, Team

ITEM_TEXT_MAX = 500
REASON_MAX = 2000


class Scope(models.TextChoices):
    """Whose Definition of Done: one team's, or the organisation's."""

    TEAM = "team", "Team"
    ORG = "org", "Organisation"


def _scope_matches_team(prefix: str = "") -> Q:
    """``scope`` is "team" with a team, or "org" without one."""
    return Q(**{f"{prefix}scope": Scope.TEAM, f"{prefix}team__isnull": False}) | Q(
        **{f"{prefix}scope": Scope.ORG, f"{prefix}team__isnull": True}
    )


class PatternSettings(models.Model):
    """A team's recurrence thresholds: K post-mortems with one factor inside W days.

    Created on demand (``services.pattern_settings_for``); a team without a row
    uses ``PATTERNS_MIN_INCIDENTS`` / ``PATTERNS_WINDOW_DAYS`` (3 in 90 days).
    """

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="pattern_settings")
    min_incidents = models.PositiveSmallIntegerField(
        "K: post-mortems with the same factor",
        default=default_min_incidents,
        validators=[MinValueValidator(MIN_INCIDENTS_FLOOR), MaxValueValidator(100)],
    )
    window_days = models.PositiveSmallIntegerField(
        "W: window in days",
        default=default_window_days,
        validators=[MinValueValidator(1), MaxValueValidator(WINDOW_DAYS_MAX)],
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "pattern settings"
        verbose_name_plural = "pattern settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(min_incidents__gte=MIN_INCIDENTS_FLOOR) & Q(min_incidents__lte=100),
                name="pattern_settings_min_incidents_range",
            ),
            models.CheckConstraint(
                condition=Q(window_days__gte=1) & Q(window_days__lte=WINDOW_DAYS_MAX),
                name="pattern_settings_window_days_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.team}: {self.min_incidents} in {self.window_days} days"


class DefinitionOfDone(models.Model):
    """The Definition of Done of one team, or the organisation's (``team`` empty)."""

    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.TEAM)
    team = models.OneToOneField(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="definition_of_done"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "Definition of Done"
        verbose_name_plural = "Definitions of Done"
        constraints = [
            models.CheckConstraint(condition=_scope_matches_team(), name="dod_scope_matches_team"),
            # One organisation-wide DoD (team-scoped ones are unique through the one-to-one).
            models.UniqueConstraint(fields=["scope"], condition=Q(scope=Scope.ORG), name="one_org_dod"),
        ]

    def __str__(self) -> str:
        return f"Definition of Done: {self.scope_name}"

    def get_absolute_url(self) -> str:
        if self.team_id:
            return reverse("patterns:team_dod", kwargs={"slug": self.team.slug})
        return reverse("patterns:org_dod")

    @property
    def scope_name(self) -> str:
        return self.team.name if self.team_id else "Organisation"


class DoDVersion(models.Model):
    """One state of a Definition of Done: the whole ordered item list, who, when, why."""

    dod = models.ForeignKey(DefinitionOfDone, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField("why", max_length=REASON_MAX)

    class Meta:
        ordering = ["dod", "-number"]
        constraints = [
            # Two writers at once cannot both make "version 4".
            models.UniqueConstraint(fields=["dod", "number"], name="unique_dod_version_number"),
            models.CheckConstraint(condition=Q(number__gte=1), name="dod_version_number_positive"),
            models.CheckConstraint(condition=~Q(reason=""), name="dod_version_needs_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.dod.scope_name} DoD v{self.number}"


class DoDItem(models.Model):
    """One checklist item of one version.

    ``uid`` is shared by the copies of an item across versions, so a diff can say
    "changed" rather than "removed + added". ``adopted_at`` is when the current
    wording was adopted: it moves when the text changes, and pattern detection
    counts only incidents that started after it when it asks whether the item is
    working.
    """

    version = models.ForeignKey(DoDVersion, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField()
    uid = models.UUIDField(default=uuid.uuid4)
    text = models.CharField(max_length=ITEM_TEXT_MAX)
    factor = models.ForeignKey(
        ContributingFactor, on_delete=models.PROTECT, null=True, blank=True, related_name="dod_items"
    )
    adopted_at = models.DateTimeField(default=timezone.now)
    postmortems = models.ManyToManyField(PostMortem, related_name="dod_items", blank=True)

    class Meta:
        ordering = ["version", "position"]
        verbose_name = "DoD item"
        constraints = [
            models.UniqueConstraint(fields=["version", "position"], name="unique_dod_item_position"),
            models.UniqueConstraint(fields=["version", "uid"], name="unique_dod_item_uid"),
            models.CheckConstraint(condition=~Q(text=""), name="dod_item_needs_text"),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.text[:60]}"


class DoDProposal(models.Model):
    """A proposed change to a Definition of Done, opened because a factor recurs.

    ``kind`` is "new_item" when the scope's DoD has no item for the factor, and
    "item_not_working" when it has one but the factor recurred after that item
    was adopted (``dod_item_uid``).
    """

    class Kind(models.TextChoices):
        NEW_ITEM = "new_item", "New DoD item"
        ITEM_NOT_WORKING = "item_not_working", "DoD item not working"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.TEAM)
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="dod_proposals"
    )
    factor = models.ForeignKey(ContributingFactor, on_delete=models.PROTECT, related_name="dod_proposals")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.NEW_ITEM)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    suggested_text = models.CharField(max_length=ITEM_TEXT_MAX)
    dod_item_uid = models.UUIDField(null=True, blank=True)
    # The rule and the window that triggered the proposal (first and last start in it).
    min_incidents = models.PositiveSmallIntegerField()
    window_days = models.PositiveSmallIntegerField()
    min_teams = models.PositiveSmallIntegerField(default=1)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    # The decided proposal for the same pattern that this one follows (a rejected
    # pattern that came back with new evidence, or an accepted item that is not working).
    previous = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="followed_by"
    )
    created_at = models.DateTimeField(default=timezone.now)
    evidence_updated_at = models.DateTimeField(default=timezone.now)
    # SHA-1 of the incidents detection last saw for this pattern: when
    # a run finds the same set, it skips reading the evidence (the nightly case).
    members_digest = models.CharField(max_length=40, blank=True, editable=False)

    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    accepted_text = models.CharField(max_length=ITEM_TEXT_MAX, blank=True)
    reason = models.CharField("reason for rejecting", max_length=REASON_MAX, blank=True)
    dod_version = models.OneToOneField(
        DoDVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="proposal"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "DoD proposal"
        constraints = [
            models.CheckConstraint(condition=_scope_matches_team(), name="dod_proposal_scope_matches_team"),
            # Detection is idempotent under concurrency because of these two: a
            # second run's INSERT fails and it adds evidence to the first's row.
            models.UniqueConstraint(
                fields=["team", "factor"],
                condition=Q(status="open", scope=Scope.TEAM),
                name="one_open_proposal_per_team_factor",
            ),
            models.UniqueConstraint(
                fields=["factor"],
                condition=Q(status="open", scope=Scope.ORG),
                name="one_open_org_proposal_per_factor",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(reason=""), name="dod_proposal_rejection_needs_reason"
            ),
            models.CheckConstraint(
                condition=Q(status="open") | Q(decided_at__isnull=False), name="dod_proposal_decided_has_time"
            ),
            models.CheckConstraint(
                condition=Q(window_end__gte=models.F("window_start")), name="dod_proposal_window_ordered"
            ),
        ]
        indexes = [
            # The inbox: open proposals of some teams, newest first.
            models.Index(fields=["status", "team", "-created_at"], name="dodprop_status_team_idx"),
            # Detection's look-up of the latest decided proposal per (scope, factor).
            models.Index(
                fields=["factor", "scope", "team", "-decided_at"], name="dodprop_factor_decided_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"DoD proposal #{self.pk}: {self.factor} ({self.scope_name})"

    def get_absolute_url(self) -> str:
        return reverse("patterns:proposal", kwargs={"pk": self.pk})

    @property
    def scope_name(self) -> str:
        return self.team.name if self.team_id else "Organisation"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    @property
    def restricted_evidence_count(self) -> int:
        """Evidence the current reader may not read: the difference of the two
        counts ``patterns.selectors.proposal_list`` annotates (0 without them)."""
        total = getattr(self, "evidence_count", 0) or 0
        return max(total - (getattr(self, "readable_evidence_count", total) or 0), 0)


class ProposalEvidence(models.Model):
    """One incident behind a proposal: a post-mortem inside a qualifying window.

    When an incident was imported more than once, the kept copy is the evidence
    (``patterns.windows.dedupe_sorted``), so each incident is evidence once.
    """

    # No index of its own: the unique (proposal, postmortem) index starts with it
    # and serves every lookup by proposal; one index less to fill on a first
    # detection run that writes ~285,000 rows (bench/patterns_bench.py).
    proposal = models.ForeignKey(
        DoDProposal, on_delete=models.CASCADE, related_name="evidence", db_index=False
    )
    postmortem = models.ForeignKey(PostMortem, on_delete=models.CASCADE, related_name="dod_evidence")
    started_at = models.DateTimeField()
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["proposal", "started_at", "postmortem"]
        verbose_name_plural = "proposal evidence"
        constraints = [
            # Two detection runs adding the same incident: one row (ON CONFLICT DO NOTHING).
            models.UniqueConstraint(fields=["proposal", "postmortem"], name="unique_evidence_postmortem"),
        ]

    def __str__(self) -> str:
        return f"PM-{self.postmortem_id} for proposal #{self.proposal_id}"
