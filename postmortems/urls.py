"""Web pages of the post-mortem app (placeholder until the views land)."""

from django.urls import path
from django.views.generic import TemplateView

app_name = "postmortems"
urlpatterns = [
    path("", TemplateView.as_view(template_name="base.html"), name="list"),
    path("<str:key>/", TemplateView.as_view(template_name="base.html"), name="detail"),
]
