"""Routes of the patterns API under /api/v1/ (namespace ``patterns-api``)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from patterns.api import views

app_name = "patterns-api"

router = SimpleRouter()
router.include_format_suffixes = False
router.register("dod-proposals", views.DoDProposalViewSet, basename="dodproposal")

_dod_routes = [
    ("dod/", views.DoDView, "dod"),
    ("dod.md", views.DoDMarkdownView, "dod-md"),
    ("dod/versions/", views.DoDVersionListView, "dod-versions"),
    ("dod/versions/<int:number>/", views.DoDVersionDetailView, "dod-version"),
    ("dod/diff/", views.DoDDiffView, "dod-diff"),
]

urlpatterns = [
    *[
        path(f"teams/<slug:slug>/{route}", view.as_view(), name=f"team-{name}")
        for route, view, name in _dod_routes
    ],
    *[path(f"org/{route}", view.as_view(), name=f"org-{name}") for route, view, name in _dod_routes],
    path(
        "teams/<slug:slug>/pattern-settings/",
        views.PatternSettingsView.as_view(),
        name="team-pattern-settings",
    ),
    path("patterns/detect/", views.DetectView.as_view(), name="detect"),
    *router.urls,
]
