"""The insights API route (mounted at /api/v1/insights/)."""

from django.urls import path

from insights.api.views import InsightsView

app_name = "insights_api"
urlpatterns = [path("", InsightsView.as_view(), name="insights")]
