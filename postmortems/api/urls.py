"""API routes under /api/v1/ (placeholder until the viewsets land)."""

urlpatterns: list = []
