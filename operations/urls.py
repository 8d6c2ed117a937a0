"""Health endpoints, mounted at the site root by kb/urls.py."""

from django.urls import path

from operations import views

urlpatterns = [
    path("livez", views.livez, name="livez"),
    path("healthz", views.healthz, name="healthz"),
]
