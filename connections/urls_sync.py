from django.urls import path

from .views import sync

urlpatterns = [
    path("connections/<uuid:pk>/refresh/", sync.connection_refresh, name="connection-refresh"),
    path("pulls/<int:pk>/cancel/", sync.pull_cancel, name="pull-cancel"),
]
