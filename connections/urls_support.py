from django.urls import path

from .views import support

urlpatterns = [
    path("dashboard/", support.dashboard, name="dashboard"),
]
