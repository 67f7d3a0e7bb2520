from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import registry
        from .catalogue import sync_catalogue_after_migrate

        registry.load()
        post_migrate.connect(sync_catalogue_after_migrate, sender=self, dispatch_uid="integrations.catalogue")
