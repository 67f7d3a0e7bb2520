from django.urls import path

from . import views

urlpatterns = [
    path("integrations", views.IntegrationList.as_view(), name="integration-list"),
    path("integrations/<str:platform_key>", views.IntegrationDetail.as_view(), name="integration-detail"),
    path("profile/syncSettings", views.ProfileSyncSettings.as_view(), name="profile-sync-settings"),
]
