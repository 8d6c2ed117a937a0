"""Review pages (mounted at /reviews/)."""

from django.urls import path

from reviews import views

app_name = "reviews"
urlpatterns = [
    path("new/<str:key>/", views.schedule, name="schedule"),
    path("teams/<slug:slug>/", views.team, name="team"),
    path("<int:pk>/", views.detail, name="review"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/invite.ics", views.invite, name="invite"),
    path("<int:pk>/start/", views.start, name="start"),
    path("<int:pk>/next/", views.next_step, name="next"),
    path("<int:pk>/end/", views.end, name="end"),
    path("<int:pk>/sections/<str:name>/", views.section, name="section"),
    path("<int:pk>/action-items/", views.add_action_item, name="add_action_item"),
    path("<int:pk>/declined-changes/", views.add_declined_change, name="add_declined_change"),
    path(
        "<int:pk>/action-items/<int:item_id>/decline/", views.decline_action_item, name="decline_action_item"
    ),
    path("<int:pk>/factors/", views.set_factor, name="set_factor"),
    path("<int:pk>/notes/", views.add_note, name="add_note"),
    path("<int:pk>/notes/<int:note_id>/", views.update_note, name="update_note"),
    path("<int:pk>/attendance/", views.attendance, name="attendance"),
    path("<int:pk>/waivers/", views.waive, name="waive"),
    path("<int:pk>/pulse/", views.pulse, name="pulse"),
]
