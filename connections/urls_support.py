from django.urls import path

from .views import support_companies, support_connections, support_dashboard, support_pulls, support_records

urlpatterns = [
    path("dashboard/", support_dashboard.dashboard, name="dashboard"),
    path("companies/<uuid:pk>/", support_companies.company_detail, name="company-detail"),
    path("companies/<uuid:pk>/pulls/", support_pulls.company_pulls, name="company-pulls"),
    path("connections/<uuid:pk>/", support_connections.connection_detail, name="connection-detail"),
    path("connections/<uuid:pk>/test/", support_connections.connection_test, name="connection-test"),
    path("connections/<uuid:pk>/notes/", support_connections.connection_note, name="connection-note"),
    path("connections/<uuid:pk>/records/<str:data_type>/", support_records.record_list, name="record-list"),
    path("records/<int:pk>/", support_records.record_detail, name="record-detail"),
    path("pulls/", support_pulls.pull_list, name="pull-list"),
    path("pulls/<int:pk>/", support_pulls.pull_detail, name="pull-detail"),
    path("pulls/<int:pk>/progress/", support_pulls.pull_progress, name="pull-progress"),
]
