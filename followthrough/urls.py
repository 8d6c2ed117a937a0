"""Follow-through pages (mounted at /followthrough/)."""

from django.urls import path

from followthrough import views

app_name = "followthrough"
urlpatterns = [
    path("preferences/", views.preferences, name="preferences"),
    path("teams/<slug:slug>/", views.team_policy, name="team_policy"),
]
