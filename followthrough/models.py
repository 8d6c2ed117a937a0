"""Follow-through on action items: each team's follow-up policy, people's
opt-outs, and the record of every digest sent.

The digest tables are the idempotency keys of the nudges (shared
RELIABILITY.md §4.5): a row is claimed *before* the e-mail or Slack message
goes out, and a unique constraint on (person, day, kind) — or (team, day) —
means two beat processes, a retry or a re-delivered task can never send the
same digest twice in a day.
"""

from __future__ import annotations

from urllib.parse import urlparse

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from postmortems.models import PostMortem, Team

DEFAULT_WINDOW_DAYS = {
    PostMortem.Severity.SEV1: 28,
    PostMortem.Severity.SEV2: 28,
    PostMortem.Severity.SEV3: 56,
    PostMortem.Severity.SEV4: 56,
}
DEFAULT_UNRATED_WINDOW_DAYS = 56


def _window_field(default: int, label: str) -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(
        label,
        default=default,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Days after the review by which the action items should be done.",
    )


def slack_webhook_url_error(url: str) -> str | None:
    """Why ``url`` may not receive team digests, or None when it may.

    Allowed: https on a host in ``settings.SLACK_WEBHOOK_HOSTS`` (default
    ``hooks.slack.com``), or http/https on a loopback host listed there (local
    stand-ins in tests). Anything else would let a settings page make the
    server POST to arbitrary addresses (SSRF, OWASP API7).
    """
    parsed = urlparse(url)
    host = (parsed.hostname or "").lower()
    if host not in settings.SLACK_WEBHOOK_HOSTS:
        return f"The host must be one of: {', '.join(settings.SLACK_WEBHOOK_HOSTS)}."
    loopback = host in ("127.0.0.1", "localhost", "::1")
    if parsed.scheme != "https" and not (loopback and parsed.scheme == "http"):
        return "Use an https:// incoming-webhook URL."
    return None


class TeamFollowUpPolicy(models.Model):
    """A team's follow-up policy and nudge settings (one per team, made on demand).

    Due windows follow the common practice of giving the most severe incidents'
    action items the shortest window (Google SRE workbook, "Postmortem
    Culture": action items need owners and deadlines, and high-priority ones
    are tracked to completion); the defaults are 4 weeks for SEV1/SEV2 and 8
    weeks otherwise.
    """

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="followup_policy")
    window_days_sev1 = _window_field(DEFAULT_WINDOW_DAYS[PostMortem.Severity.SEV1], "SEV1 window (days)")
    window_days_sev2 = _window_field(DEFAULT_WINDOW_DAYS[PostMortem.Severity.SEV2], "SEV2 window (days)")
    window_days_sev3 = _window_field(DEFAULT_WINDOW_DAYS[PostMortem.Severity.SEV3], "SEV3 window (days)")
    window_days_sev4 = _window_field(DEFAULT_WINDOW_DAYS[PostMortem.Severity.SEV4], "SEV4 window (days)")
    window_days_unrated = _window_field(DEFAULT_UNRATED_WINDOW_DAYS, "Unrated window (days)")

    nudges_enabled = models.BooleanField(
        "send daily digests", default=True, help_text="E-mail owners a daily digest of due and overdue items."
    )
    due_soon_days = models.PositiveSmallIntegerField(
        "due-soon horizon (days)",
        default=3,
        validators=[MaxValueValidator(30)],
        help_text="Items due within this many days are in the owner's digest.",
    )
    escalation_enabled = models.BooleanField(
        "escalate overdue items", default=True, help_text="Tell the facilitator and team leads."
    )
    escalate_after_days = models.PositiveSmallIntegerField(
        "escalate after (days overdue)",
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
    )
    slack_webhook_url = models.URLField(
        "Slack incoming-webhook URL",
        max_length=500,
        blank=True,
        help_text="Optional: the team digest is posted here once a day.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "team follow-up policy"
        verbose_name_plural = "team follow-up policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(window_days_sev1__gte=1)
                & Q(window_days_sev2__gte=1)
                & Q(window_days_sev3__gte=1)
                & Q(window_days_sev4__gte=1)
                & Q(window_days_unrated__gte=1),
                name="followup_windows_positive",
            ),
            models.CheckConstraint(
                condition=Q(escalate_after_days__gte=1), name="followup_escalate_after_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"Follow-up policy of {self.team}"

    def window_days(self, severity: str) -> int:
        """Days in the due window for a post-mortem of ``severity`` ("SEV1".."SEV4" or "")."""
        field = f"window_days_{severity.lower()}" if severity else "window_days_unrated"
        return getattr(self, field, self.window_days_unrated)

    def clean(self) -> None:
        """Check the Slack URL against the allowed hosts.

        Raises:
            ValidationError: on ``slack_webhook_url``.
        """
        if self.slack_webhook_url:
            error = slack_webhook_url_error(self.slack_webhook_url)
            if error:
                raise ValidationError({"slack_webhook_url": error})


class NudgeOptOut(models.Model):
    """A person who asked for no follow-through e-mail (digests and escalations)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="nudge_opt_out"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "nudge opt-out"

    def __str__(self) -> str:
        return f"{self.user} opted out"


class DeliveryStatus(models.TextChoices):
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class _DigestRecord(models.Model):
    status = models.CharField(max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.SENDING)
    item_ids = models.JSONField("action item ids", default=list)
    attempts = models.PositiveIntegerField(default=1)
    claimed_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=1000, blank=True)

    class Meta:
        abstract = True


class Digest(_DigestRecord):
    """One e-mail digest for one person on one day.

    ``status`` "sending" is the claim taken before the send: a worker killed
    after that point leaves it, and the digest is not sent again that day
    (at most once; see README "Nudges").
    """

    class Kind(models.TextChoices):
        OWNER = "owner", "Owner digest"
        ESCALATION = "escalation", "Escalation"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="followthrough_digests"
    )
    day = models.DateField()
    kind = models.CharField(max_length=16, choices=Kind.choices)

    class Meta:
        ordering = ["-day", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "day", "kind"], name="unique_digest_per_user_day_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.user} on {self.day}"


class TeamDigest(_DigestRecord):
    """One Slack team digest for one team on one day."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="followthrough_digests")
    day = models.DateField()

    class Meta:
        ordering = ["-day", "id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "day"], name="unique_team_digest_per_day"),
        ]

    def __str__(self) -> str:
        return f"Slack digest for {self.team} on {self.day}"


class DigestRun(models.Model):
    """Marks that the daily digests were started for a day; the sweep starts them
    when beat's run was lost (the broker was down at that moment)."""

    day = models.DateField(unique=True)
    started_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"Digests of {self.day}"
