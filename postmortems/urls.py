"""Web pages of the post-mortem app (mounted at /postmortems/)."""

from django.urls import path

from postmortems import history_views, views

app_name = "postmortems"
urlpatterns = [
    path("", views.postmortem_list, name="list"),
    # Fixed paths come before "<str:key>/" so "new" is never read as a key.
    path("new/", views.postmortem_create, name="create"),
    path("action-items/mine/", views.my_action_items, name="my_action_items"),
    path("action-items/<int:pk>/status/", views.action_item_status, name="action_item_status"),
    path("lint/", views.lint_fragment, name="lint"),
    path("<str:key>/", views.postmortem_detail, name="detail"),
    path("<str:key>/edit/", views.postmortem_edit, name="edit"),
    path("<str:key>/delete/", views.postmortem_delete, name="delete"),
    path("<str:key>/export.md", views.postmortem_export, name="export"),
    path("<str:key>/waivers/", views.finding_waive, name="waive"),
    path("<str:key>/review/", views.postmortem_move_to_review, name="move_to_review"),
    path("<str:key>/history/", history_views.postmortem_history, name="history"),
    path("<str:key>/history/compare/", history_views.postmortem_history_compare, name="history_compare"),
    path(
        "<str:key>/history/<int:history_id>/restore/",
        history_views.postmortem_history_restore,
        name="history_restore",
    ),
]
