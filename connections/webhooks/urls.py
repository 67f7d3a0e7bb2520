from django.urls import path

from . import views

app_name = "webhooks"

urlpatterns = [
    path("", views.endpoint_list, name="endpoint-list"),
    path("<uuid:pk>/", views.endpoint_detail, name="endpoint-detail"),
    path("<uuid:pk>/toggle/", views.endpoint_toggle, name="endpoint-toggle"),
    path("<uuid:pk>/rotate/", views.endpoint_rotate, name="endpoint-rotate"),
    path("<uuid:pk>/test/", views.endpoint_test, name="endpoint-test"),
    path("<uuid:pk>/delete/", views.endpoint_delete, name="endpoint-delete"),
    path("<uuid:pk>/replay/", views.endpoint_replay, name="endpoint-replay"),
    path("messages/<uuid:pk>/replay/", views.message_replay, name="message-replay"),
    path("events/<uuid:pk>/", views.event_detail, name="event-detail"),
]
