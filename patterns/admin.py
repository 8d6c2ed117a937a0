"""Admin for the patterns app: read-mostly views of DoDs, versions, proposals
and evidence; pattern settings are editable. Decisions and DoD changes go
through the pages or the API (the service layer), not the admin."""

from django.contrib import admin

from patterns.models import (
    DefinitionOfDone,
    DoDItem,
    DoDProposal,
    DoDVersion,
    PatternSettings,
    ProposalEvidence,
)


@admin.register(PatternSettings)
class PatternSettingsAdmin(admin.ModelAdmin):
    list_display = ["team", "min_incidents", "window_days", "updated_by", "updated_at"]
    search_fields = ["team__name", "team__slug"]
    readonly_fields = ["updated_by", "updated_at"]


class DoDItemInline(admin.TabularInline):
    model = DoDItem
    extra = 0
    fields = ["position", "text", "factor", "adopted_at", "uid"]
    readonly_fields = fields
    can_delete = False
    show_change_link = False


@admin.register(DefinitionOfDone)
class DefinitionOfDoneAdmin(admin.ModelAdmin):
    list_display = ["__str__", "scope", "team", "created_at"]
    list_filter = ["scope"]
    readonly_fields = ["scope", "team", "created_at"]


@admin.register(DoDVersion)
class DoDVersionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "number", "created_by", "created_at"]
    list_filter = ["dod__scope"]
    readonly_fields = ["dod", "number", "created_by", "created_at", "reason"]
    inlines = [DoDItemInline]

    def has_add_permission(self, request) -> bool:
        return False


class EvidenceInline(admin.TabularInline):
    model = ProposalEvidence
    extra = 0
    fields = ["postmortem", "started_at", "added_at"]
    readonly_fields = fields
    can_delete = False


@admin.register(DoDProposal)
class DoDProposalAdmin(admin.ModelAdmin):
    list_display = ["__str__", "scope", "team", "factor", "kind", "status", "created_at", "decided_at"]
    list_filter = ["status", "kind", "scope", "factor"]
    search_fields = ["suggested_text", "accepted_text", "reason", "team__name"]
    readonly_fields = [field.name for field in DoDProposal._meta.fields]
    inlines = [EvidenceInline]

    def has_add_permission(self, request) -> bool:
        return False
