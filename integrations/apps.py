from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self):
        from django.db.models.signals import post_migrate

        from portal.api.signals import api_key_created, api_key_revoked

        from . import receivers, registry
        from .catalogue import sync_catalogue_after_migrate

        registry.load()
        post_migrate.connect(sync_catalogue_after_migrate, sender=self, dispatch_uid="integrations.catalogue")
        api_key_created.connect(receivers.api_key_created, dispatch_uid="integrations.api_key_created")
        api_key_revoked.connect(receivers.api_key_revoked, dispatch_uid="integrations.api_key_revoked")
