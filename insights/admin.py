from django.contrib import admin

from insights.models import TeamTargets


@admin.register(TeamTargets)
class TeamTargetsAdmin(admin.ModelAdmin):
    list_display = ["team", "review_target_business_days", "budget_max_overdue", "budget_severe_grace_days"]
    list_select_related = ["team"]
    autocomplete_fields = ["team"]
