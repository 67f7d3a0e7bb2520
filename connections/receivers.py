"""What connections does when `integrations` or a connection announces a change (connected in `ready()`).

Both run inside the change's transaction: the data statuses follow it, or neither is saved.
"""

from .sync import data_status


def integration_switched(sender, integration, **kwargs):
    """Its connections' data is scheduled, and so can go stale, only while it is on."""
    data_status.integration_changed(integration)


def integration_settings_changed(sender, integration, sync_changes, **kwargs):
    """Sync settings saved: the frequencies that say when data goes stale may have changed."""
    if sync_changes:
        data_status.integration_changed(integration)


def connection_status_changed(sender, connection, **kwargs):
    """Stale data is only counted while Linked, from the link time."""
    data_status.connection_moved(connection)
