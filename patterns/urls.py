"""Pages of the patterns app (mounted at /patterns/)."""

from django.urls import path

from patterns import views

app_name = "patterns"
urlpatterns = [
    path("dod/", views.dod_index, name="dod_index"),
    path("org/dod/", views.dod_page, name="org_dod"),
    path("org/dod/edit/", views.dod_edit, name="org_dod_edit"),
    path("teams/<slug:slug>/dod/", views.dod_page, name="team_dod"),
    path("teams/<slug:slug>/dod/edit/", views.dod_edit, name="team_dod_edit"),
    path("teams/<slug:slug>/pattern-settings/", views.pattern_settings, name="pattern_settings"),
    path("teams/<slug:slug>/retro/", views.retro_page, name="retro"),
    path("teams/<slug:slug>/retro.md", views.retro_download, name="retro_md"),
    path("proposals/", views.proposals_inbox, name="inbox"),
    path("proposals/<int:pk>/", views.proposal_page, name="proposal"),
    path("proposals/<int:pk>/accept/", views.proposal_accept, name="proposal_accept"),
    path("proposals/<int:pk>/reject/", views.proposal_reject, name="proposal_reject"),
    path("detect/", views.run_detection, name="detect"),
]
