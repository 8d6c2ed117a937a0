"""Reviews of post-mortems: the meeting, its notes, its attendees' pulse.

A ``Review`` belongs to a post-mortem and moves scheduled → running → ended
(or → cancelled). The database holds the rules that must never break: at most
one open (scheduled or running) review per post-mortem, a running review has a
current step and its start time (the clock every screen shows is computed from
them), an ended review has an outcome and its actual duration, a person answers
a review's pulse at most once, and each owner gets the end-of-review summary at
most once.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse

from postmortems.models import PostMortem, Team
from reviews.agenda import STEPS, agenda_from_minutes

MAX_STEP_MINUTES = 60


def _minutes_field(default: int, label: str) -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(
        label,
        default=default,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_STEP_MINUTES)],
    )


class TeamReviewSettings(models.Model):
    """A team's review agenda: the minutes of each step (one row per team, made on demand).

    Defaults give the 30-minute review of ``reviews.agenda``.
    """

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="review_settings")
    minutes_frame = _minutes_field(3, "frame (minutes)")
    minutes_timeline = _minutes_field(12, "timeline (minutes)")
    minutes_factors = _minutes_field(7, "contributing factors (minutes)")
    minutes_actions = _minutes_field(6, "actions and owners (minutes)")
    minutes_wrapup = _minutes_field(2, "wrap-up (minutes)")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "team review settings"
        verbose_name_plural = "team review settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(minutes_frame__gte=1, minutes_frame__lte=MAX_STEP_MINUTES)
                & Q(minutes_timeline__gte=1, minutes_timeline__lte=MAX_STEP_MINUTES)
                & Q(minutes_factors__gte=1, minutes_factors__lte=MAX_STEP_MINUTES)
                & Q(minutes_actions__gte=1, minutes_actions__lte=MAX_STEP_MINUTES)
                & Q(minutes_wrapup__gte=1, minutes_wrapup__lte=MAX_STEP_MINUTES),
                name="review_settings_minutes_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Review agenda of {self.team}"

    def minutes(self) -> dict[str, int]:
        """Minutes per step key, e.g. ``{"frame": 3, "timeline": 12, ...}``."""
        return {step.key: getattr(self, f"minutes_{step.key}") for step in STEPS}

    def agenda(self) -> list[dict]:
        """The agenda a review scheduled now would get (see ``agenda_from_minutes``)."""
        return agenda_from_minutes(self.minutes())

    @property
    def total_minutes(self) -> int:
        return sum(self.minutes().values())


class Review(models.Model):
    """The review meeting of one post-mortem.

    ``agenda`` is a snapshot taken at scheduling (``[{"step", "label",
    "minutes"}]``), so changing the team's settings never moves a running
    clock. ``current_step`` (index into ``agenda``) and ``step_started_at``
    drive the countdowns; ``revision`` grows with every change made through
    the review, so other screens can tell they are behind.
    """

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        RUNNING = "running", "Running"
        ENDED = "ended", "Ended"
        CANCELLED = "cancelled", "Cancelled"

    OPEN_STATUSES = (Status.SCHEDULED, Status.RUNNING)

    postmortem = models.ForeignKey(PostMortem, on_delete=models.CASCADE, related_name="reviews")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    scheduled_at = models.DateTimeField()
    location = models.CharField(
        max_length=300, blank=True, help_text="A room or a video-call link; goes into the invite."
    )
    facilitator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="facilitated_reviews"
    )
    note_taker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="noted_reviews",
    )
    invitees = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="review_invitations", blank=True)
    attendees = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="reviews_attended", blank=True)
    agenda = models.JSONField(default=list)

    current_step = models.PositiveSmallIntegerField(null=True, blank=True)
    step_started_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    actual_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="How long the meeting ran, start to end (seconds)."
    )
    outcome = models.TextField(blank=True, max_length=4000)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The invite's SEQUENCE (RFC 5545 §3.8.7.4): one more on every reschedule or cancel.
    sequence = models.PositiveIntegerField(default=0)
    revision = models.PositiveIntegerField(default=1)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-scheduled_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["postmortem"],
                condition=Q(status__in=["scheduled", "running"]),
                name="one_open_review_per_postmortem",
            ),
            models.CheckConstraint(
                condition=~Q(status="running")
                | Q(started_at__isnull=False, current_step__isnull=False, step_started_at__isnull=False),
                name="running_review_has_a_clock",
            ),
            models.CheckConstraint(
                condition=~Q(status="ended")
                | (Q(ended_at__isnull=False, actual_seconds__isnull=False) & ~Q(outcome="")),
                name="ended_review_has_outcome_and_duration",
            ),
        ]
        indexes = [
            # "Upcoming reviews" and the list API: open reviews by time.
            models.Index(fields=["status", "scheduled_at"], name="review_status_time_idx"),
        ]

    def __str__(self) -> str:
        return f"Review of PM-{self.postmortem_id} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("reviews:review", kwargs={"pk": self.pk})

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def planned_minutes(self) -> int:
        """The agenda's total length (minutes)."""
        return sum(int(step["minutes"]) for step in self.agenda)

    @property
    def current(self) -> dict | None:
        """The current agenda entry ``{"step", "label", "minutes"}``, or None before the start."""
        if self.current_step is None or not self.agenda:
            return None
        return self.agenda[min(self.current_step, len(self.agenda) - 1)]

    @property
    def is_last_step(self) -> bool:
        return self.current_step is not None and self.current_step >= len(self.agenda) - 1


class ReviewStepTime(models.Model):
    """When one agenda step of a review started and ended (the step log).

    Written when the facilitator moves on; ``ended_at`` is None for the current step.
    """

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="step_times")
    index = models.PositiveSmallIntegerField()
    step = models.CharField(max_length=16)
    planned_minutes = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["review", "index"]
        constraints = [
            models.UniqueConstraint(fields=["review", "index"], name="unique_review_step_time"),
        ]

    def __str__(self) -> str:
        return f"{self.step} of review {self.review_id}"

    @property
    def seconds(self) -> int | None:
        """How long the step ran (seconds), or None while it runs."""
        if self.ended_at is None:
            return None
        return int((self.ended_at - self.started_at).total_seconds())


class ReviewNote(models.Model):
    """A line the room wants on record: a decision, or an idea for the parking lot
    (raised early, picked up later; ``done`` once it is dealt with)."""

    class Kind(models.TextChoices):
        DECISION = "decision", "Decision"
        PARKING_LOT = "parking_lot", "Parking lot"

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="notes")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    text = models.CharField(max_length=1000)
    step = models.CharField(max_length=16, blank=True, help_text="The agenda step it was raised in.")
    done = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="review_note_has_text"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.text[:60]}"


class PulseResponse(models.Model):
    """One attendee's answers to the three-question pulse after a review.

    The questions follow the common "retro of the retro" check (Etsy's
    facilitation guide suggests asking participants whether the debrief was
    worth their time): did you learn something that will change your work
    (1 = nothing, 5 = a lot), would you come to another review, what should
    change.
    """

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="pulses")
    respondent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    learned = models.PositiveSmallIntegerField(
        "learned something that will change my work (1–5)",
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )
    come_again = models.BooleanField("would come to another review")
    what_should_change = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["review", "respondent"], name="one_pulse_per_person_per_review"),
            models.CheckConstraint(condition=Q(learned__gte=1, learned__lte=5), name="pulse_learned_1_to_5"),
        ]

    def __str__(self) -> str:
        return f"Pulse of {self.respondent} on review {self.review_id}"


class ReviewOwnerNotice(models.Model):
    """The end-of-review summary owed to one action-item owner.

    Made in the transaction that ends the review (so a broker outage loses
    nothing), claimed and sent by ``reviews.send_owner_summary``; the unique
    constraint and the conditional claim on ``sent_at`` make it at most once.
    """

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="owner_notices")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["review", "owner"], name="one_summary_per_owner_per_review"),
        ]
        indexes = [
            # The sweep looks for summaries still owed.
            models.Index(
                fields=["created_at"], condition=Q(sent_at__isnull=True), name="review_notice_unsent_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"Summary of review {self.review_id} for {self.owner}"
