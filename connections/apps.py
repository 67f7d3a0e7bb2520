from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "connections"
    verbose_name = "Companies and connections"

    def ready(self):
        from integrations import signals

        from . import receivers
        from .signals import connection_status_changed

        signals.integration_switched.connect(receivers.integration_switched, dispatch_uid="connections.switched")
        signals.integration_settings_changed.connect(
            receivers.integration_settings_changed, dispatch_uid="connections.settings_changed"
        )
        connection_status_changed.connect(
            receivers.connection_status_changed, dispatch_uid="connections.status_changed"
        )
