"""Top-level URL configuration (wiring only)."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from kb.apidocs import docs_csp, redoc_csp

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="postmortems:list", permanent=False)),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("postmortems/", include("postmortems.urls")),
    path("patterns/", include("patterns.urls")),
    path("reviews/", include("reviews.urls")),
    path("followthrough/", include("followthrough.urls")),
    path("webhooks/github/", include("integrations.github.urls")),
    path("insights/", include("insights.urls")),
    path("api/v1/insights/", include("insights.api.urls")),
    path("api/v1/", include("postmortems.api.urls")),
    path("api/v1/", include("patterns.api.urls")),
    path("api/v1/", include("reviews.api.urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file, so no inline script.
    path("api/v1/docs/", docs_csp(SpectacularSwaggerSplitView.as_view(url_name="schema")), name="api-docs"),
    path("api/v1/redoc/", redoc_csp(SpectacularRedocView.as_view(url_name="schema")), name="api-redoc"),
    path("", include("operations.urls")),
]

# JSON under /api/ (what the OpenAPI schema promises), the HTML page elsewhere.
handler404 = "kb.openapi.page_not_found"
