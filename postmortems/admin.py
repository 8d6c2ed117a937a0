"""Django admin for every domain model. Saves of a post-mortem with its inline
rows rebuild the search text through the service layer."""

from django.contrib import admin

from postmortems.models import (
    ActionItem,
    ContributingFactor,
    DeclinedChange,
    FindingWaiver,
    FixPullRequest,
    PostMortem,
    ReadinessOverride,
    Service,
    Team,
    TeamMembership,
    TimelineEntry,
)
from postmortems.services import postmortem_reindex


class TeamMembershipInline(admin.TabularInline):
    model = TeamMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [TeamMembershipInline]


@admin.register(TeamMembership)
class TeamMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role"]
    list_filter = ["team", "role"]
    autocomplete_fields = ["user", "team"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "team"]
    list_filter = ["team"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(ContributingFactor)
class ContributingFactorAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "category", "is_broad", "description"]
    list_filter = ["category", "is_broad"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}


class TimelineEntryInline(admin.TabularInline):
    model = TimelineEntry
    extra = 0


class ActionItemInline(admin.TabularInline):
    model = ActionItem
    extra = 0
    fields = ["text", "kind", "owner", "due_date", "status", "not_doing_reason", "ticket_url"]
    autocomplete_fields = ["owner"]


class DeclinedChangeInline(admin.TabularInline):
    model = DeclinedChange
    extra = 0


class FixPullRequestInline(admin.TabularInline):
    model = FixPullRequest
    extra = 0
    fields = ["url", "repository", "number", "title", "state", "action_item"]


@admin.register(PostMortem)
class PostMortemAdmin(admin.ModelAdmin):
    list_display = ["key", "title", "team", "severity", "status", "started_at"]
    list_filter = ["status", "severity", "team", "factors"]
    search_fields = ["title", "external_id"]
    date_hierarchy = "started_at"
    autocomplete_fields = ["team", "services", "authors", "facilitator", "factors"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    inlines = [TimelineEntryInline, ActionItemInline, DeclinedChangeInline, FixPullRequestInline]

    @admin.display(description="Key", ordering="id")
    def key(self, obj: PostMortem) -> str:
        return obj.key

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        postmortem_reindex(form.instance)


@admin.register(ActionItem)
class ActionItemAdmin(admin.ModelAdmin):
    list_display = ["key", "text", "owner", "due_date", "status", "postmortem"]
    list_filter = ["status", "kind"]
    search_fields = ["text", "owner__username"]
    autocomplete_fields = ["owner", "postmortem"]

    @admin.display(description="Key", ordering="id")
    def key(self, obj: ActionItem) -> str:
        return obj.key

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        postmortem_reindex(obj.postmortem)


@admin.register(DeclinedChange)
class DeclinedChangeAdmin(admin.ModelAdmin):
    list_display = ["text", "postmortem"]
    search_fields = ["text", "rationale"]
    autocomplete_fields = ["postmortem"]


@admin.register(FixPullRequest)
class FixPullRequestAdmin(admin.ModelAdmin):
    list_display = ["__str__", "title", "state", "postmortem", "action_item"]
    list_filter = ["state"]
    search_fields = ["repository", "title", "url"]
    autocomplete_fields = ["postmortem", "action_item"]


@admin.register(TimelineEntry)
class TimelineEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "text", "postmortem"]
    autocomplete_fields = ["postmortem"]


@admin.register(FindingWaiver)
class FindingWaiverAdmin(admin.ModelAdmin):
    list_display = ["postmortem", "section", "rule", "excerpt", "reason", "created_by", "created_at"]
    list_filter = ["rule", "section"]
    search_fields = ["excerpt", "reason"]
    autocomplete_fields = ["postmortem"]


@admin.register(ReadinessOverride)
class ReadinessOverrideAdmin(admin.ModelAdmin):
    """Overrides are a record of a decision: readable, never edited."""

    list_display = ["postmortem", "from_status", "to_status", "reason", "created_by", "created_at"]
    readonly_fields = ["postmortem", "from_status", "to_status", "reason", "failing_checks", "created_by"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
