"""Derive integration rows and their sync settings from the provider registry."""

from . import registry
from .models import Integration, SyncSetting


def sync_catalogue() -> list[Integration]:
    """Create or update one Integration per registered provider; idempotent.

    Only code-owned fields (name, category) are overwritten; the admin's switch and
    settings are kept. Missing sync settings get the provider's defaults.
    """
    rows = []
    for provider in registry.all_providers():
        integration, _ = Integration.objects.update_or_create(
            key=provider.key, defaults={"name": provider.name, "category": provider.category}
        )
        existing = set(integration.sync_settings.values_list("data_type", flat=True))
        SyncSetting.objects.bulk_create(
            [
                SyncSetting(
                    integration=integration,
                    data_type=dt.name,
                    fetch_on_first_link=dt.fetch_on_first_link,
                    frequency=dt.frequency,
                )
                for dt in provider.data_types
                if dt.name not in existing
            ]
        )
        rows.append(integration)
    return rows


def sync_catalogue_after_migrate(sender, **kwargs):
    sync_catalogue()
