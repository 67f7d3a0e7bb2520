from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Outgoing webhooks; listens to `connections.signals` (connected here, never imported back)."""

    name = "connections.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"

    def ready(self):
        from . import checks  # noqa: F401  (registers the deploy check)
        from .receivers import connect

        connect()
