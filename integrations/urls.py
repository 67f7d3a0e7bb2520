from django.urls import path

from . import views

app_name = "integrations"

urlpatterns = [
    path("integrations/", views.integration_list, name="integration-list"),
    path("integrations/<str:key>/", views.integration_manage, name="integration-manage"),
    path("integrations/<str:key>/toggle/", views.integration_toggle, name="integration-toggle"),
    path("activity/", views.activity, name="activity"),
]
