"""Webhook routes (mounted at /webhooks/github/)."""

from django.urls import path

from integrations.github import views

app_name = "github"
urlpatterns = [
    path("", views.github_webhook, name="webhook"),
]
