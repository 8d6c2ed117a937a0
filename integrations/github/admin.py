"""Admin for webhook deliveries: read-only records, with "process again"."""

from django.contrib import admin, messages

from integrations.github import services
from integrations.github.models import WebhookDelivery


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["guid", "event", "action", "repository", "pr_number", "status", "attempts", "received_at"]
    list_filter = ["status", "event"]
    search_fields = ["guid", "repository", "note"]
    date_hierarchy = "received_at"
    actions = ["process_again"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Process again")
    def process_again(self, request, queryset):
        for delivery in queryset:
            services.delivery_retry(delivery=delivery)
        self.message_user(request, f"{queryset.count()} deliveries queued again.", messages.SUCCESS)
