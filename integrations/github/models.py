"""What the GitHub webhook stores: one row per delivery.

The row is the durable record of work to do. The view inserts it and answers
at once; a task processes it after commit; when the broker was down at that
moment, the sweeper (``integrations.github.sweep_deliveries``) finds it still
pending and enqueues it again. The unique constraint on (hook id, delivery
GUID) makes a redelivery a no-op: GitHub keeps the GUID when a delivery is
redelivered, and two hooks can receive the same GUID for one event
(github/docs#32822), hence the pair.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class WebhookDelivery(models.Model):
    """One GitHub webhook delivery, its payload and what processing made of it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    # X-GitHub-Hook-ID; blank when a sender leaves it out.
    hook_id = models.CharField(max_length=40, blank=True)
    # X-GitHub-Delivery: a GUID, kept on redelivery.
    guid = models.CharField("delivery GUID", max_length=64)
    event = models.CharField(max_length=64)
    action = models.CharField(max_length=64, blank=True)
    repository = models.CharField(max_length=200, blank=True)
    pr_number = models.PositiveIntegerField("pull request number", null=True, blank=True)
    # pull_request.updated_at: orders deliveries of one pull request, so a late
    # "opened" never undoes an earlier-processed "merged".
    pr_updated_at = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    note = models.CharField(max_length=1000, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["hook_id", "guid"], name="unique_github_delivery"),
        ]
        indexes = [
            # The sweeper's scan: pending rows, oldest first.
            models.Index(
                fields=["received_at"],
                condition=Q(status="pending"),
                name="gh_delivery_pending_idx",
            ),
            # "Has a newer delivery of this pull request been processed already?"
            models.Index(fields=["repository", "pr_number"], name="gh_delivery_pr_idx"),
        ]

    def __str__(self) -> str:
        what = f"{self.event}.{self.action}" if self.action else self.event
        return f"{what} {self.guid}"
