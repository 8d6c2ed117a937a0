from django.apps import AppConfig


class GitHubConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations.github"
    label = "github_integration"
    verbose_name = "GitHub integration"
