"""Routes of the reviews API under /api/v1/reviews/ (namespace ``reviews-api``)."""

from rest_framework.routers import SimpleRouter

from reviews.api import views

app_name = "reviews-api"

router = SimpleRouter()
router.include_format_suffixes = False
# Before "reviews": its ids are digits only, so "agendas" never reads as an id.
router.register("reviews/agendas", views.TeamAgendaViewSet, basename="agenda")
router.register("reviews", views.ReviewViewSet, basename="review")

urlpatterns = router.urls
