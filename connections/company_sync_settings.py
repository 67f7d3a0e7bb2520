"""A company's own sync settings: what they are beside the portal's, and replacing them, audited.

A company follows the portal's sync settings (per integration and data type, the Manage
pages) unless it has its own for a data type. Its own are replaced as a whole, from the
API (`POST /companies/{id}/syncSettings`) or its Sync settings page; each change is one
audit event (on the Activity page and on the timeline of each of its connections), and the
data statuses' staleness follows in the same transaction. Which setting is in force for a
connection is `sync.effective`.
"""

from dataclasses import dataclass

from django.db import transaction

from integrations import audit
from integrations.models import SyncSetting

from .models import Company, CompanySyncSetting
from .sync import data_status

PORTAL = "the portal's"


@dataclass(frozen=True)
class CompanySetting:
    """One data type for a company: the portal's values, and the company's own (None: it follows the portal)."""

    data_type: str
    portal: tuple  # (fetch on first link, frequency)
    own: tuple | None

    @property
    def in_force(self) -> tuple:
        return self.own if self.own is not None else self.portal

    @property
    def fetch_on_first_link(self) -> bool:
        return self.in_force[0]

    @property
    def frequency(self) -> str:
        return self.in_force[1]


def portal_defaults() -> dict:
    """{data type: (fetch on first link, frequency)}: per data type, the first integration's (by key) that reads it."""
    defaults = {}
    for row in SyncSetting.objects.order_by("integration__key", "id"):
        defaults.setdefault(row.data_type, (row.fetch_on_first_link, row.frequency))
    return defaults


def own_settings(company) -> dict:
    return {row.data_type: (row.fetch_on_first_link, row.frequency) for row in company.sync_settings.all()}


def settings_of(company) -> list[CompanySetting]:
    """Every data type the portal reads, with the company's own setting where it has one, by data type."""
    own = own_settings(company)
    return [CompanySetting(data_type, portal, own.get(data_type)) for data_type, portal in portal_defaults().items()]


def describe(setting) -> str:
    """A setting as the audit trail says it: "hourly, fetched on first link", or the portal's."""
    if setting is None:
        return PORTAL
    fetch, frequency = setting
    return f"{frequency}, {'fetched' if fetch else 'not fetched'} on first link"


def replace_settings(company, wanted: dict, *, user=None, actor_name=None):
    """Make `wanted` ({data type: (fetch on first link, frequency)}) the company's own settings; every
    other data type follows the portal. Returns the audit event, or None when nothing changed.

    Data types the portal does not read raise ValueError; the caller checks them first.
    """
    unknown = set(wanted) - set(portal_defaults())
    if unknown:
        raise ValueError(f"No integration in this portal reads {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        # One writer at a time per company: two saves at once would both read the same "before".
        Company.objects.select_for_update().only("pk").get(pk=company.pk)
        before = own_settings(company)
        changes = [
            {"field": data_type, "before": describe(before.get(data_type)), "after": describe(wanted.get(data_type))}
            for data_type in sorted(set(before) | set(wanted))
            if before.get(data_type) != wanted.get(data_type)
        ]
        if not changes:
            return None
        company.sync_settings.exclude(data_type__in=list(wanted)).delete()
        for data_type, (fetch, frequency) in wanted.items():
            CompanySyncSetting.objects.update_or_create(
                company=company,
                data_type=data_type,
                defaults={"fetch_on_first_link": fetch, "frequency": frequency},
            )
        data_status.company_changed(company)
        return audit.record(
            audit.Action.COMPANY_SYNC_SETTINGS_CHANGED,
            actor=user,
            actor_name=actor_name,
            target=company.name,
            target_id=company.pk,
            changes=changes,
        )
