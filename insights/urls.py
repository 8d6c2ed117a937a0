"""Insights pages (mounted at /insights/)."""

from django.urls import path

from insights import views

app_name = "insights"
urlpatterns = [
    path("", views.organisation, name="organisation"),
    path("teams/<slug:slug>/", views.team, name="team"),
    path("me/", views.my_work, name="me"),
    path("action-items/", views.action_items, name="action_items"),
    path("csv/<slug:figure>.csv", views.figure_csv, name="csv"),
]
