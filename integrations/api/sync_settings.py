"""The portal's sync settings in Codat's shape, read and changed through `services.save_settings`.

Codat keeps one setting per data type (`fetchOnFirstLink`, `syncSchedule` in hours); the
portal keeps one per integration and data type, edited on each integration's Manage page.
Reading gives, per data type, the first integration's row that has it; changing a data type
changes it on every integration that reads it, through the same formset the Manage page
posts, so the audit trail records it the same way.
"""

from ..forms import NoSettingsForm, sync_formset
from ..models import Integration, SyncSetting
from ..registry import Frequency
from ..services import save_settings

HOURS = {Frequency.NONE: 0, Frequency.HOURLY: 1, Frequency.DAILY: 24, Frequency.WEEKLY: 168, Frequency.MONTHLY: 720}
FREQUENCY_OF_HOURS = {hours: frequency for frequency, hours in HOURS.items()}


class UnknownSetting(ValueError):
    """A data type no integration reads, or a schedule the portal cannot keep."""

    def __init__(self, message, item):
        super().__init__(message)
        self.item = item


def as_codat(rows) -> list[dict]:
    """One Codat SyncSetting per data type (first row wins), in the registry's order."""
    seen, settings = set(), []
    for row in rows:
        if row.data_type in seen:
            continue
        seen.add(row.data_type)
        settings.append(
            {
                "dataType": row.data_type,
                "fetchOnFirstLink": row.fetch_on_first_link,
                "syncSchedule": HOURS[Frequency(row.frequency)],
                "syncOrder": len(settings),
            }
        )
    return settings


def portal_rows():
    return SyncSetting.objects.select_related("integration").order_by("integration__key", "id")


def portal_settings() -> list[dict]:
    return as_codat(portal_rows())


def wanted(items) -> dict:
    """{data type: (fetch on first link, frequency)} from Codat SyncSettings; UnknownSetting if one cannot be kept."""
    result = {}
    for index, item in enumerate(items):
        hours = item["syncSchedule"]
        if hours not in FREQUENCY_OF_HOURS:
            raise UnknownSetting(
                f"syncSchedule {hours} is not one the portal keeps: use 0 (only when asked), 1 (hourly), "
                "24 (daily), 168 (weekly) or 720 (monthly).",
                f"settings[{index}].syncSchedule",
            )
        result[item["dataType"]] = (item["fetchOnFirstLink"], FREQUENCY_OF_HOURS[hours].value)
    known = set(SyncSetting.objects.values_list("data_type", flat=True))
    for index, item in enumerate(items):
        if item["dataType"] not in known:
            raise UnknownSetting(
                f"No integration in this portal reads the data type {item['dataType']}.", f"settings[{index}].dataType"
            )
    return result


def _formset_data(integration, wanted) -> dict:
    rows = list(integration.sync_settings.order_by("id"))
    data = {"sync-TOTAL_FORMS": str(len(rows)), "sync-INITIAL_FORMS": str(len(rows))}
    for index, row in enumerate(rows):
        fetch, frequency = wanted.get(row.data_type, (row.fetch_on_first_link, row.frequency))
        data[f"sync-{index}-id"] = str(row.pk)
        data[f"sync-{index}-frequency"] = frequency
        if fetch:
            data[f"sync-{index}-fetch_on_first_link"] = "on"
    return data


def _unchanged_settings_form(integration):
    """The provider's own settings as they are: save_settings saves both forms or neither."""
    form_class = integration.provider.settings_form or NoSettingsForm
    current = integration.effective_settings()
    return form_class({f"settings-{name}": value for name, value in current.items()}, prefix="settings")


def update_portal_settings(items, *, actor_name) -> list:
    """Apply Codat SyncSettings to every integration that reads each data type; returns audit events."""
    wanted_settings = wanted(items)
    events = []
    for integration in Integration.objects.filter(sync_settings__data_type__in=list(wanted_settings)).distinct():
        formset = sync_formset(integration, _formset_data(integration, wanted_settings))
        settings_form = _unchanged_settings_form(integration)
        events += save_settings(integration, settings_form, formset, None, actor_name=actor_name)
    return events
