"""Django admin for reviews: read and correct; writes that matter go through the pages and the API."""

from django.contrib import admin

from reviews.models import (
    PulseResponse,
    Review,
    ReviewNote,
    ReviewOwnerNotice,
    ReviewStepTime,
    TeamReviewSettings,
)


class ReviewNoteInline(admin.TabularInline):
    model = ReviewNote
    extra = 0
    fields = ["kind", "text", "step", "done", "created_by"]
    raw_id_fields = ["created_by"]


class ReviewStepTimeInline(admin.TabularInline):
    model = ReviewStepTime
    extra = 0
    readonly_fields = ["index", "step", "planned_minutes", "started_at", "ended_at"]
    can_delete = False


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["__str__", "status", "scheduled_at", "facilitator", "actual_seconds"]
    list_filter = ["status"]
    search_fields = ["postmortem__title", "facilitator__username"]
    raw_id_fields = ["postmortem", "facilitator", "note_taker", "ended_by", "created_by"]
    filter_horizontal = ["invitees", "attendees"]
    readonly_fields = ["revision", "sequence", "created_at", "updated_at"]
    inlines = [ReviewStepTimeInline, ReviewNoteInline]


@admin.register(TeamReviewSettings)
class TeamReviewSettingsAdmin(admin.ModelAdmin):
    list_display = [
        "team",
        "minutes_frame",
        "minutes_timeline",
        "minutes_factors",
        "minutes_actions",
        "minutes_wrapup",
    ]


@admin.register(PulseResponse)
class PulseResponseAdmin(admin.ModelAdmin):
    list_display = ["review", "respondent", "learned", "come_again", "created_at"]
    raw_id_fields = ["review", "respondent"]


@admin.register(ReviewOwnerNotice)
class ReviewOwnerNoticeAdmin(admin.ModelAdmin):
    list_display = ["review", "owner", "created_at", "sent_at"]
    raw_id_fields = ["review", "owner"]
