"""The sync settings in force: a company's own (`CompanySyncSetting`), else the portal's.

The portal's settings are per integration and data type (`integrations.SyncSetting`, the
Manage pages); a company may override any data type (`/companies/{id}/syncSettings`, its
Sync settings page). Everything that reads a sync setting for a connection (first-link
pulls, refresh all, the schedule, the health rows) asks here; staleness, computed by the
database, applies the same rule in SQL (`staleness.py`).
"""

from dataclasses import dataclass

from integrations.models import SyncSetting
from integrations.registry import FREQUENCY_SECONDS, Frequency

from ..models import CompanySyncSetting


@dataclass(frozen=True)
class EffectiveSetting:
    data_type: str
    fetch_on_first_link: bool
    frequency: str
    overridden: bool  # the company's own, not the portal's

    @property
    def interval_seconds(self):
        return FREQUENCY_SECONDS[Frequency(self.frequency)]


def _effective(portal, own):
    chosen = own if own is not None else portal
    return EffectiveSetting(portal.data_type, chosen.fetch_on_first_link, chosen.frequency, own is not None)


def for_connections(connections) -> dict:
    """{(connection pk, data type): EffectiveSetting} for the data types each one's integration reads; two queries."""
    connections = list(connections)
    portal = {}
    for row in SyncSetting.objects.filter(integration_id__in={c.integration_id for c in connections}):
        portal.setdefault(row.integration_id, []).append(row)
    own = {
        (row.company_id, row.data_type): row
        for row in CompanySyncSetting.objects.filter(company_id__in={c.company_id for c in connections})
    }
    return {
        (connection.pk, row.data_type): _effective(row, own.get((connection.company_id, row.data_type)))
        for connection in connections
        for row in portal.get(connection.integration_id, ())
    }


def for_connection(connection) -> dict:
    """{data type: EffectiveSetting} for one connection."""
    return {data_type: setting for (_, data_type), setting in for_connections([connection]).items()}


def first_link_data_types(connection) -> list[str]:
    """The data types read when the connection links (and by "refresh all"), in the portal's order."""
    settings = for_connection(connection)
    return [data_type for data_type, setting in sorted(settings.items()) if setting.fetch_on_first_link]
