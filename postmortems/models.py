"""The post-mortem domain model.

A post-mortem is a blameless one-page root-cause document with four sections
(what happened, why it happened, what we change, what we don't change and why),
following the structure of Google's SRE book, chapter 15 "Postmortem Culture",
and its example post-mortem. Rows hang off it: timeline entries, action items,
declined changes and fix pull requests. Contributing factors come from a shared
taxonomy (``ContributingFactor``) that deliberately has no "human error" entry.

Invariants that must never be broken are enforced by the database
(``Meta.constraints``); friendlier checks that need several fields live in
``clean()`` and are run by the service layer (``postmortems.services``).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

KEY_PATTERN = re.compile(r"\bPM-(\d+)\b", re.IGNORECASE)
ACTION_ITEM_KEY_PATTERN = re.compile(r"\bAI-(\d+)\b", re.IGNORECASE)


def _section_validators() -> list:
    return [MaxLengthValidator(settings.KB_MAX_SECTION_CHARS)]


class Team(models.Model):
    """A team that owns services and writes post-mortems; users belong to teams."""

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=2000)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TeamMembership", related_name="teams", blank=True
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    """A user's membership of a team, with a role.

    Roles (issue 9; ``postmortems.access`` says what each may do): a *member*
    reads the team's restricted post-mortems and edits the team's documents; a
    *team lead* also curates the team's Definition of Done, review agenda and
    follow-up policy and may delete the team's documents; a *facilitator* is a
    member who runs the team's post-mortem reviews. Admins are ``is_staff`` users.
    """

    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        LEAD = "lead", "Team lead"
        FACILITATOR = "facilitator", "Facilitator"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="unique_team_membership"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class Service(models.Model):
    """A service or system that incidents can affect, optionally owned by a team."""

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=120)
    team = models.ForeignKey(Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="services")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ContributingFactor(models.Model):
    """A tag from the shared contributing-factor taxonomy.

    Factors name conditions of the system (code, process, organisation), never a
    person: the taxonomy deliberately has no "human error" entry, following the
    "new view" of human error (Dekker, *The Field Guide to Understanding Human
    Error*). Each factor carries a suggested Definition-of-Done item, the check a
    team could add so that the same condition is caught before release.
    """

    class Category(models.TextChoices):
        CHANGE = "change", "Change"
        VERIFICATION = "verification", "Verification"
        DESIGN = "design", "Design"
        OPERATIONS = "operations", "Operations"
        EXTERNAL = "external", "External"
        ORGANISATION = "organisation", "Organisation"

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=100)
    category = models.CharField(max_length=20, choices=Category.choices)
    description = models.CharField(max_length=300)
    suggested_dod_item = models.CharField("suggested Definition-of-Done item", max_length=300, blank=True)
    # A broad factor (e.g. "code change") is true of most incidents and explains
    # little on its own; the readiness check warns when it is the only one.
    is_broad = models.BooleanField(default=False)

    class Meta:
        ordering = ["category", "name"]

    def __str__(self) -> str:
        return self.name


class PostMortemQuerySet(models.QuerySet):
    """Queries over post-mortems; ``visible_to`` is the one visibility filter."""

    def visible_to(self, user) -> PostMortemQuerySet:
        """The documents ``user`` may read (``postmortems.access.visibility_q``)."""
        from postmortems.access import visibility_q

        return self.filter(visibility_q(user))

    def editable_by(self, user) -> PostMortemQuerySet:
        """The documents ``user`` may change (``postmortems.access.edit_q``)."""
        from postmortems.access import edit_q

        return self.filter(edit_q(user))


class LivePostMortemManager(models.Manager.from_queryset(PostMortemQuerySet)):
    """The default manager: soft-deleted documents are left out of everything.

    Lists, search, figures, pattern detection and the API all start from
    ``PostMortem.objects`` and so never see a deleted document; the admin's
    restore page and backups use ``PostMortem.all_objects``.
    """

    def get_queryset(self) -> PostMortemQuerySet:
        return super().get_queryset().filter(deleted_at__isnull=True)


class PostMortemRevision(models.Model):
    """Extra columns of each historical post-mortem row (django-simple-history).

    ``related`` holds what the plain columns cannot: the factors, authors,
    services and named readers, and the timeline, action items and declined
    changes as they were at that revision (``postmortems.history.snapshot``),
    so that a revision can be compared and restored as a whole document.
    """

    related = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True


class PostMortem(models.Model):
    """A blameless one-page root-cause document (human key ``PM-<id>``)."""

    class Visibility(models.TextChoices):
        ORGANISATION = "organisation", "Organisation — everyone signed in"
        RESTRICTED = "restricted", "Restricted — the team and named people"

    class Severity(models.TextChoices):
        SEV1 = "SEV1", "SEV1 — critical"
        SEV2 = "SEV2", "SEV2 — major"
        SEV3 = "SEV3", "SEV3 — minor"
        SEV4 = "SEV4", "SEV4 — low"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        REVIEWED = "reviewed", "Reviewed"
        PUBLISHED = "published", "Published"

    title = models.CharField(max_length=200)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="postmortems")
    services = models.ManyToManyField(Service, related_name="postmortems", blank=True)
    # Blank only for imported documents: the public corpora do not rate severity,
    # and inventing one would mislead the severity figures. Forms require it.
    severity = models.CharField(max_length=4, choices=Severity.choices, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)

    started_at = models.DateTimeField(null=True, blank=True)
    detected_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    authors = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="authored_postmortems", blank=True
    )
    facilitator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="facilitated_postmortems",
    )

    what_happened = models.TextField(blank=True, validators=_section_validators())
    why_it_happened = models.TextField(blank=True, validators=_section_validators())
    what_we_change = models.TextField(blank=True, validators=_section_validators())
    what_we_dont_change = models.TextField(
        "what we don't change, and why", blank=True, validators=_section_validators()
    )

    factors = models.ManyToManyField(ContributingFactor, related_name="postmortems", blank=True)
    source_url = models.URLField(max_length=500, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    # Denormalised text of the rows (timeline, action items, names) that search
    # indexes besides the title and sections; rebuilt by services.postmortem_reindex.
    search_body = models.TextField(blank=True, editable=False)
    # Optimistic locking: every save adds one; writers that read version v may
    # only save while it is still v (services.postmortem_save, expected_version).
    version = models.PositiveIntegerField(default=1, editable=False)

    # Who may read it (postmortems.access): everyone signed in, or only the
    # team, the authors, the facilitator, the named people and admins.
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.ORGANISATION
    )
    restricted_to = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="postmortems_shared_with",
        blank=True,
        verbose_name="named readers",
        help_text="People outside the team who may read a restricted post-mortem.",
    )
    # Soft delete: set by services.postmortem_delete, cleared by an admin's restore.
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LivePostMortemManager()
    all_objects = PostMortemQuerySet.as_manager()
    # One revision per postmortem_save (postmortems.history.record_revision),
    # not one per model save: the service saves the row before its relations.
    history = HistoricalRecords(
        excluded_fields=["search_body", "updated_at"],
        bases=[PostMortemRevision],
    )

    class Meta:
        base_manager_name = "all_objects"
        ordering = ["-started_at", "-id"]
        constraints = [
            # Re-import updates by external id, so it must never repeat.
            models.UniqueConstraint(
                fields=["external_id"],
                condition=~Q(external_id=""),
                name="unique_postmortem_external_id",
            ),
            models.CheckConstraint(
                condition=Q(detected_at__isnull=True)
                | Q(started_at__isnull=True)
                | Q(detected_at__gte=F("started_at")),
                name="postmortem_detected_after_start",
            ),
            models.CheckConstraint(
                condition=Q(mitigated_at__isnull=True)
                | Q(started_at__isnull=True)
                | Q(mitigated_at__gte=F("started_at")),
                name="postmortem_mitigated_after_start",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True)
                | Q(started_at__isnull=True)
                | Q(resolved_at__gte=F("started_at")),
                name="postmortem_resolved_after_start",
            ),
        ]
        indexes = [
            # The list page filters by team and severity and sorts by start time.
            models.Index(fields=["team", "-started_at"], name="pm_team_started_idx"),
            # Newest first: the list, the search's walk (postmortems.search). On
            # PostgreSQL, migration 0009 builds it with INCLUDE columns (see
            # PG_STARTED_INDEX_COVERING there); keep the two in step if it changes.
            models.Index(fields=["-started_at", "-id"], name="pm_started_idx"),
            # "Does this user see any restricted document?" (access.sees_restricted),
            # asked on every insights request: restricted documents are few.
            models.Index(
                fields=["visibility"], condition=Q(visibility="restricted"), name="pm_restricted_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key}: {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("postmortems:detail", kwargs={"key": self.key})

    @property
    def key(self) -> str:
        """Human key, ``PM-<id>``; empty before the first save."""
        return f"PM-{self.pk}" if self.pk else ""

    def clean(self) -> None:
        """Check that the incident timestamps are in order.

        Raises:
            ValidationError: keyed by field, when detection, mitigation or
                resolution precede the start, or resolution precedes mitigation.
        """
        errors: dict[str, str] = {}
        start = self.started_at
        for field in ("detected_at", "mitigated_at", "resolved_at"):
            value = getattr(self, field)
            if start and value and value < start:
                errors[field] = "Must not be before the incident started."
        if self.mitigated_at and self.resolved_at and self.resolved_at < self.mitigated_at:
            errors.setdefault("resolved_at", "Must not be before the incident was mitigated.")
        if errors:
            raise ValidationError(errors)

    # Durations in the field's standard terms (Google SRE workbook, "Incident
    # metrics"): time to detect / mitigate / resolve, measured from the start.
    def _since_start(self, moment):
        if self.started_at and moment:
            return moment - self.started_at
        return None

    @property
    def time_to_detect(self):
        """``timedelta`` from start to detection, or None when either is unknown."""
        return self._since_start(self.detected_at)

    @property
    def time_to_mitigate(self):
        """``timedelta`` from start to mitigation, or None when either is unknown."""
        return self._since_start(self.mitigated_at)

    @property
    def time_to_resolve(self):
        """``timedelta`` from start to resolution, or None when either is unknown."""
        return self._since_start(self.resolved_at)


class TimelineEntry(models.Model):
    """One row of the incident timeline: a moment, what happened, optional evidence."""

    postmortem = models.ForeignKey(PostMortem, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField("time")
    text = models.CharField(max_length=1000)
    evidence_url = models.URLField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name_plural = "timeline entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.text[:60]}"


class ActionItemQuerySet(models.QuerySet):
    """Queries over action items; ``visible_to`` follows the post-mortem's visibility."""

    def visible_to(self, user) -> ActionItemQuerySet:
        """The items of the post-mortems ``user`` may read (``postmortems.access``)."""
        from postmortems.access import visibility_q

        return self.filter(visibility_q(user, prefix="postmortem__"))


class LiveActionItemManager(models.Manager.from_queryset(ActionItemQuerySet)):
    """The default manager: items of soft-deleted post-mortems are left out."""

    def get_queryset(self) -> ActionItemQuerySet:
        return super().get_queryset().filter(postmortem__deleted_at__isnull=True)


class ActionItem(models.Model):
    """A specific change with an owner and a due date (human key ``AI-<id>``)."""

    class Kind(models.TextChoices):
        TEST = "test", "Test"
        CHECK = "check", "Check / alert"
        PROCESS = "process", "Process"
        CODE = "code", "Code"
        DOCUMENTATION = "documentation", "Documentation"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        NOT_DOING = "not_doing", "Not doing"

    postmortem = models.ForeignKey(PostMortem, on_delete=models.CASCADE, related_name="action_items")
    text = models.CharField(max_length=500)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CODE)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="action_items")
    due_date = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    not_doing_reason = models.CharField(max_length=1000, blank=True)
    ticket_url = models.URLField(max_length=500, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # The owner last told about this item; makes the assignment e-mail idempotent.
    notified_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LiveActionItemManager()
    all_objects = ActionItemQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["updated_at", "notified_owner"])

    class Meta:
        base_manager_name = "all_objects"
        ordering = ["due_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="not_doing") | ~Q(not_doing_reason=""),
                name="action_item_not_doing_needs_reason",
            ),
        ]
        indexes = [
            # "My action items" and overdue scans: owner + status, by due date.
            models.Index(fields=["owner", "status", "due_date"], name="ai_owner_status_due_idx"),
            # The API list's default order (Meta.ordering): a page of the earliest due
            # items walks this index instead of sorting every readable item (~350k
            # at 100k post-mortems: 180 ms of sort for 20 rows; docs/benchmarks.md).
            models.Index(fields=["due_date", "id"], name="ai_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.key}: {self.text[:60]}"

    @property
    def key(self) -> str:
        """Human key, ``AI-<id>``; empty before the first save."""
        return f"AI-{self.pk}" if self.pk else ""

    @property
    def is_closed(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.NOT_DOING)

    @property
    def is_overdue(self) -> bool:
        """True when the item is still open and its due date has passed (today, UTC)."""
        return not self.is_closed and self.due_date < timezone.localdate()

    def clean(self) -> None:
        """Require a reason for "not doing".

        Raises:
            ValidationError: on ``not_doing_reason`` when status is "not doing"
                and no reason is given.
        """
        if self.status == self.Status.NOT_DOING and not self.not_doing_reason.strip():
            raise ValidationError(
                {"not_doing_reason": "Say why this will not be done; it is part of the record."}
            )


class DeclinedChange(models.Model):
    """A change the team considered and decided not to make, with the rationale."""

    postmortem = models.ForeignKey(PostMortem, on_delete=models.CASCADE, related_name="declined_changes")
    text = models.CharField(max_length=500)
    rationale = models.CharField(max_length=2000)

    history = HistoricalRecords()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~Q(rationale=""), name="declined_change_needs_rationale"),
        ]

    def __str__(self) -> str:
        return self.text[:80]


class FixPullRequest(models.Model):
    """A pull request that fixes (part of) the incident, optionally for one action item."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        MERGED = "merged", "Merged"
        CLOSED = "closed", "Closed"

    postmortem = models.ForeignKey(PostMortem, on_delete=models.CASCADE, related_name="fix_prs")
    url = models.URLField(max_length=500)
    repository = models.CharField(max_length=200)
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=300, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.OPEN)
    action_item = models.ForeignKey(
        ActionItem, on_delete=models.SET_NULL, null=True, blank=True, related_name="fix_prs"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "fix pull request"
        constraints = [
            models.UniqueConstraint(fields=["postmortem", "url"], name="unique_fix_pr_per_postmortem"),
        ]

    def __str__(self) -> str:
        return f"{self.repository}#{self.number}"

    def clean(self) -> None:
        """Check that the linked action item belongs to the same post-mortem.

        Raises:
            ValidationError: on ``action_item`` when it belongs to another document.
        """
        if self.action_item_id and self.action_item.postmortem_id != self.postmortem_id:
            raise ValidationError({"action_item": "The action item must belong to the same post-mortem."})


class FindingWaiver(models.Model):
    """An author's note that a blameless-language finding is intentional.

    Example: a quoted chat message that says "I forgot to…". A waiver matches
    findings by section, rule and excerpt (not offsets, which move as the text
    is edited); a waived finding stops counting in the lint summary and the
    readiness check.
    """

    postmortem = models.ForeignKey(PostMortem, on_delete=models.CASCADE, related_name="finding_waivers")
    section = models.CharField(max_length=32)
    rule = models.CharField(max_length=32)
    excerpt = models.CharField(max_length=300)
    reason = models.CharField(max_length=500)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["postmortem", "section", "rule", "excerpt"], name="unique_finding_waiver"
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="finding_waiver_needs_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.rule} in {self.section}: {self.excerpt[:40]}"


class ReadinessOverride(models.Model):
    """A recorded decision by an admin to move a post-mortem on although the
    readiness check failed: who, when, why, and which checks were failing."""

    postmortem = models.ForeignKey(
        PostMortem, on_delete=models.CASCADE, related_name="readiness_overrides"
    )
    from_status = models.CharField(max_length=16)
    to_status = models.CharField(max_length=16)
    reason = models.CharField(max_length=1000)
    failing_checks = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="readiness_override_needs_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.postmortem.key}: {self.from_status} → {self.to_status} (override)"
