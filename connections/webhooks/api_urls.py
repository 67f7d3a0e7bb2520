"""The `/webhooks` API's routes, mounted under /api/ by the project's wiring (namespace `api`)."""

from django.urls import path

from . import api

WEBHOOK = "webhooks/<uuid:webhook_id>"

urlpatterns = [
    path("webhooks", api.WebhookList.as_view(), name="webhook-list"),
    path(WEBHOOK, api.WebhookDetail.as_view(), name="webhook-detail"),
    path(WEBHOOK + "/secret", api.WebhookSecret.as_view(), name="webhook-secret"),
    path(WEBHOOK + "/test", api.WebhookTest.as_view(), name="webhook-test"),
    path(WEBHOOK + "/messages", api.WebhookMessages.as_view(), name="webhook-messages"),
    path(WEBHOOK + "/replay", api.WebhookReplay.as_view(), name="webhook-replay"),
    path(
        WEBHOOK + "/messages/<uuid:message_id>/replay",
        api.WebhookMessageReplay.as_view(),
        name="webhook-message-replay",
    ),
]
