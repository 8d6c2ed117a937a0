"""Admin for follow-up policies, opt-outs and the digest records (read-only)."""

from django.contrib import admin

from followthrough.models import Digest, DigestRun, NudgeOptOut, TeamDigest, TeamFollowUpPolicy


@admin.register(TeamFollowUpPolicy)
class TeamFollowUpPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "team",
        "window_days_sev1",
        "window_days_sev2",
        "window_days_sev3",
        "window_days_sev4",
        "nudges_enabled",
        "due_soon_days",
        "escalation_enabled",
        "escalate_after_days",
    ]
    autocomplete_fields = ["team"]


@admin.register(NudgeOptOut)
class NudgeOptOutAdmin(admin.ModelAdmin):
    list_display = ["user", "created_at"]
    autocomplete_fields = ["user"]


class _ReadOnly(admin.ModelAdmin):
    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Digest)
class DigestAdmin(_ReadOnly):
    list_display = ["day", "kind", "user", "status", "attempts", "sent_at"]
    list_filter = ["kind", "status", "day"]
    search_fields = ["user__username", "user__email"]


@admin.register(TeamDigest)
class TeamDigestAdmin(_ReadOnly):
    list_display = ["day", "team", "status", "attempts", "sent_at"]
    list_filter = ["status", "day"]


@admin.register(DigestRun)
class DigestRunAdmin(_ReadOnly):
    list_display = ["day", "started_at"]
