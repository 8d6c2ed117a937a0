"""API routes under /api/v1/ (namespace ``api``), one router for the app."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from postmortems.api import views

app_name = "api"

router = DefaultRouter()
router.include_format_suffixes = False
router.register("postmortems", views.PostMortemViewSet, basename="postmortem")
router.register("action-items", views.ActionItemViewSet, basename="actionitem")
router.register("factors", views.ContributingFactorViewSet, basename="factor")
router.register("teams", views.TeamViewSet, basename="team")
router.register("services", views.ServiceViewSet, basename="service")

urlpatterns = [
    path("lint/", views.LintView.as_view(), name="lint"),
    *router.urls,
]
