"""Django admin for every domain model. Saves of a post-mortem with its inline
rows rebuild the search text through the service layer.

The post-mortem admin is where deleted documents live on (issue 9): it lists
every document, deleted ones too (``PostMortem.all_objects``), and its "Restore
selected post-mortems" action brings them back through
``services.postmortem_restore`` (admins only).
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError

from postmortems import access
from postmortems.history import record_revision
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
from postmortems.services import postmortem_delete, postmortem_reindex, postmortem_restore


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

    def get_queryset(self, request):
        # The default manager hides the items of deleted documents; the admin shows them.
        return ActionItem.all_objects.select_related("owner")


class DeclinedChangeInline(admin.TabularInline):
    model = DeclinedChange
    extra = 0


class FixPullRequestInline(admin.TabularInline):
    model = FixPullRequest
    extra = 0
    fields = ["url", "repository", "number", "title", "state", "action_item"]


class DeletedFilter(admin.SimpleListFilter):
    """The "deleted post-mortems" filter: live ones only, deleted ones only, or all (the default)."""

    title = "deleted post-mortems"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("no", "Live only"), ("yes", "Deleted only")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        return queryset


@admin.register(PostMortem)
class PostMortemAdmin(admin.ModelAdmin):
    """Every post-mortem, deleted ones included, with their deleted state and
    the "Restore selected post-mortems" action."""

    list_display = ["key", "title", "team", "severity", "status", "visibility", "started_at", "deleted"]
    list_filter = [DeletedFilter, "visibility", "status", "severity", "team", "factors"]
    search_fields = ["title", "external_id"]
    date_hierarchy = "started_at"
    autocomplete_fields = ["team", "services", "authors", "facilitator", "factors", "restricted_to"]
    readonly_fields = ["created_by", "created_at", "updated_at", "deleted_at", "deleted_by"]
    inlines = [TimelineEntryInline, ActionItemInline, DeclinedChangeInline, FixPullRequestInline]
    actions = ["restore_selected"]

    def get_queryset(self, request):
        # all_objects: the admin is where deleted documents can be found and restored.
        qs = PostMortem.all_objects.select_related("team", "deleted_by")
        ordering = self.get_ordering(request)
        return qs.order_by(*ordering) if ordering else qs

    @admin.display(description="Key", ordering="id")
    def key(self, obj: PostMortem) -> str:
        return obj.key

    @admin.display(description="Deleted", ordering="deleted_at")
    def deleted(self, obj: PostMortem) -> str:
        if obj.deleted_at is None:
            return "—"
        who = f" by {obj.deleted_by.get_username()}" if obj.deleted_by else ""
        return f"{obj.deleted_at:%Y-%m-%d %H:%M}{who}"

    @admin.action(description="Restore selected post-mortems")
    def restore_selected(self, request, queryset):
        """Restore the deleted documents among the selected ones (``services.postmortem_restore``)."""
        if not access.can_restore(request.user):
            raise PermissionDenied(access.RESTORE_REFUSED)
        restored = []
        for pm in queryset.filter(deleted_at__isnull=False):
            try:
                postmortem_restore(user=request.user, postmortem=pm)
            except ValidationError:  # restored meanwhile by someone else
                continue
            restored.append(pm.key)
        if restored:
            self.message_user(request, f"Restored {', '.join(restored)}.", messages.SUCCESS)
        else:
            self.message_user(request, "None of the selected post-mortems was deleted.", messages.WARNING)

    def save_model(self, request, obj, form, change):
        # One revision per admin save, written in save_related once the
        # relations and inlines are in; the version moves so that an edit form
        # opened before this save sees a conflict instead of overwriting it.
        if change:
            obj.version += 1
        obj.skip_history_when_saving = True
        try:
            super().save_model(request, obj, form, change)
        finally:
            del obj.skip_history_when_saving

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        postmortem_reindex(form.instance)
        record_revision(form.instance, user=request.user, reason="changed in the admin", created=not change)

    def delete_model(self, request, obj):
        """The admin's delete is the soft delete too (``services.postmortem_delete``)."""
        postmortem_delete(user=request.user, postmortem=obj)

    def delete_queryset(self, request, queryset):
        for pm in queryset.filter(deleted_at__isnull=True):
            postmortem_delete(user=request.user, postmortem=pm)

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Django's bulk action deletes rows for good; ours soft-deletes (delete_queryset).
        if "delete_selected" in actions:
            function, name, _ = actions["delete_selected"]
            actions["delete_selected"] = (function, name, "Delete selected post-mortems (restorable)")
        return actions


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
