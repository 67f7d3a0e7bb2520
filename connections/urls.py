from django.urls import path

from .views import companies, company_sync, connections, dashboard, link, pulls, records

app_name = "connections"

urlpatterns = [
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    # Companies
    path("companies/", companies.company_list, name="company-list"),
    path("companies/new/", companies.company_create, name="company-create"),
    path("companies/<uuid:pk>/", companies.company_detail, name="company-detail"),
    path("companies/<uuid:pk>/edit/", companies.company_edit, name="company-edit"),
    path("companies/<uuid:pk>/delete/", companies.company_delete, name="company-delete"),
    path("companies/<uuid:pk>/pulls/", pulls.company_pulls, name="company-pulls"),
    path(
        "companies/<uuid:pk>/sync-settings/",
        company_sync.company_sync_settings_edit,
        name="company-sync-settings",
    ),
    # Connections
    path("companies/<uuid:pk>/connections/new/", connections.connection_create, name="connection-create"),
    path("connections/<uuid:pk>/", connections.connection_detail, name="connection-detail"),
    path("connections/<uuid:pk>/test/", connections.connection_test, name="connection-test"),
    path("connections/<uuid:pk>/notes/", connections.connection_note, name="connection-note"),
    path("connections/<uuid:pk>/refresh/", connections.connection_refresh, name="connection-refresh"),
    path("connections/<uuid:pk>/unlink/", connections.connection_unlink, name="connection-unlink"),
    path("connections/<uuid:pk>/delete/", connections.connection_delete, name="connection-delete"),
    path("connections/<uuid:pk>/new-link-url/", connections.connection_new_link_url, name="connection-new-link-url"),
    # Pulls and records
    path("pulls/", pulls.pull_list, name="pull-list"),
    path("pulls/<int:pk>/", pulls.pull_detail, name="pull-detail"),
    path("pulls/<int:pk>/progress/", pulls.pull_progress_part, name="pull-progress"),
    path("pulls/<int:pk>/cancel/", pulls.pull_cancel, name="pull-cancel"),
    path("connections/<uuid:pk>/records/<str:data_type>/", records.record_list, name="record-list"),
    path("records/<int:pk>/", records.record_detail, name="record-detail"),
    # Public: no login. The token is the only thing that grants access, and only to submit a key.
    path("link/<str:token>/", link.link, name="link"),
    path("link/<str:token>/done/", link.link_done, name="link-done"),
]
