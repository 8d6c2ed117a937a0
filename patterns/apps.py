"""Recurring contributing factors become Definition-of-Done proposals, and each
team's Definition of Done (plus one for the organisation) becomes a versioned,
living document."""

from django.apps import AppConfig


class PatternsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "patterns"
    verbose_name = "Patterns and Definition of Done"
