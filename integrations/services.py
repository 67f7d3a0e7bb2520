"""Changing integrations: the switch and the settings. Views, commands and tests call these.

Each change runs in one transaction with the integration row locked, records one audit
event per kind of change and announces it (`signals`), all only when something changed.
Neither function touches connections: a disabled integration pauses schedules and
refuses new links through `Integration.schedules_paused` / `refuse_new_links_reason`,
and every connection keeps its status; what else follows from a change, the apps that
listen do.
"""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from . import audit, signals
from .models import Integration


class InvalidSettings(ValueError):
    """Raised when asked to save forms that did not validate (views check first)."""


def set_enabled(integration, enabled, user):
    """Switch an integration on or off; returns True when it changed."""
    enabled = bool(enabled)
    with transaction.atomic():
        locked = Integration.objects.select_for_update().get(pk=integration.pk)
        changed = locked.enabled != enabled
        if changed:
            locked.enabled = enabled
            _stamp(locked, user)
            locked.save(update_fields=["enabled", "updated_at", "updated_by"])
            audit.record(
                audit.Action.ENABLED if enabled else audit.Action.DISABLED,
                actor=user,
                integration=locked,
                changes=audit.diff({"enabled": not enabled}, {"enabled": enabled}),
            )
            signals.integration_switched.send(Integration, integration=locked, enabled=enabled, actor=user)
    integration.enabled, integration.updated_at, integration.updated_by = (
        locked.enabled,
        locked.updated_at,
        locked.updated_by,
    )
    return changed


def save_settings(integration, settings_form, sync_formset, user, *, actor_name=None):
    """Save the provider's settings and the sync settings together, or nothing at all.

    Both forms must be valid (InvalidSettings otherwise). Returns the audit events
    recorded: none when nothing changed, else one per kind of change. `actor_name` names
    who acted when no portal user did (an API key).
    """
    settings_valid = settings_form.is_valid()
    sync_valid = sync_formset.is_valid()
    if not (settings_valid and sync_valid):
        raise InvalidSettings("The settings did not validate; nothing was saved.")
    provider = integration.provider
    events = []
    with transaction.atomic():
        locked = Integration.objects.select_for_update().get(pk=integration.pk)
        before = locked.effective_settings()
        after = _json_safe(settings_form.cleaned_data)
        setting_changes = audit.diff(before, after, sensitive=provider.sensitive_settings)
        sync_changes = _save_sync_settings(sync_formset)
        if setting_changes:
            locked.settings = after
            events.append(
                audit.record(
                    audit.Action.SETTINGS_CHANGED,
                    actor=user,
                    integration=locked,
                    changes=setting_changes,
                    actor_name=actor_name,
                )
            )
        if sync_changes:
            events.append(
                audit.record(
                    audit.Action.SYNC_SETTINGS_CHANGED,
                    actor=user,
                    integration=locked,
                    changes=sync_changes,
                    actor_name=actor_name,
                )
            )
        if events:
            _stamp(locked, user)
            locked.save(update_fields=["settings", "updated_at", "updated_by"])
            signals.integration_settings_changed.send(
                Integration,
                integration=locked,
                settings_changes=setting_changes,
                sync_changes=sync_changes,
                actor=user,
            )
    integration.settings, integration.updated_at, integration.updated_by = (
        locked.settings,
        locked.updated_at,
        locked.updated_by,
    )
    return events


def _save_sync_settings(formset):
    """Save the rows that changed; return their changes as "<data type>.<field>"."""
    changes = []
    for form in formset.initial_forms:
        if not form.has_changed():
            continue
        row = form.instance
        before = {name: form.initial.get(name) for name in form.changed_data}
        after = {name: form.cleaned_data[name] for name in form.changed_data}
        changes += audit.diff(before, after, prefix=f"{row.data_type}.")
        form.save()
    return changes


def _stamp(integration, user):
    integration.updated_at = timezone.now()
    integration.updated_by = user if user is not None and user.is_authenticated else None


def _json_safe(data):
    # Settings live in a JSONField and in audit events: store what JSON can hold.
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))
