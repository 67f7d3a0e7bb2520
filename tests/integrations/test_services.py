"""set_enabled and save_settings: audited, announced, all or nothing, never touching connections."""

import pytest

from connections.models import Connection
from integrations import services, signals
from integrations.forms import sync_formset
from integrations.models import AuditEvent, Integration
from tests import factory
from tests.integrations.test_views import manage_data

S = Connection.Status


def forms_for(integration, data):
    settings_form = integration.provider.settings_form(
        data, initial=integration.effective_settings(), prefix="settings"
    )
    return settings_form, sync_formset(integration, data)


def test_it_switches_and_records_who_and_when(clearbooks, admin_user):
    assert services.set_enabled(clearbooks, False, admin_user) is True
    row = Integration.objects.get(pk=clearbooks.pk)
    assert (row.enabled, row.updated_by) == (False, admin_user)
    assert row.updated_at is not None
    assert clearbooks.enabled is False  # the caller's object follows
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.changes) == (
        "disabled",
        admin_user,
        [{"field": "enabled", "before": True, "after": False}],
    )


def test_it_records_nothing_when_the_switch_does_not_move(clearbooks, admin_user):
    assert services.set_enabled(clearbooks, True, admin_user) is False
    assert not AuditEvent.objects.exists()
    assert Integration.objects.get(pk=clearbooks.pk).updated_by is None


def test_it_never_changes_a_connection_status_when_switching(clearbooks, admin_user):
    connections = [factory.make_connection(status=status) for status in S.values]
    before = {c.pk: (c.status, c.status_changed_at) for c in connections}
    services.set_enabled(clearbooks, False, admin_user)
    assert {c.pk: (c.status, c.status_changed_at) for c in Connection.objects.all()} == before
    services.set_enabled(clearbooks, True, admin_user)
    assert {c.pk: (c.status, c.status_changed_at) for c in Connection.objects.all()} == before
    assert not any(c.events.exists() for c in Connection.objects.all())


def test_it_saves_settings_and_masks_secrets_in_the_audit(bank_integration, admin_user):
    data = manage_data(bank_integration, settings={"api_secret": "brand-new-secret", "region": "eu"})
    events = services.save_settings(bank_integration, *forms_for(bank_integration, data), admin_user)
    assert [e.action for e in events] == ["settings_changed"]
    bank_integration.refresh_from_db()
    assert bank_integration.settings == {"api_secret": "brand-new-secret", "region": "eu"}
    assert events[0].changes == [
        {"field": "api_secret", "before": "••••••", "after": "••••••"},
        {"field": "region", "before": "uk", "after": "eu"},
    ]
    stored = AuditEvent.objects.get().changes
    assert "secret" not in str([c["before"] for c in stored] + [c["after"] for c in stored])


def test_it_saves_nothing_when_any_form_is_invalid(clearbooks, admin_user):
    data = manage_data(clearbooks, settings={"timeout": 10}, sync={"invoices": {"frequency": "yearly"}})
    with pytest.raises(services.InvalidSettings):
        services.save_settings(clearbooks, *forms_for(clearbooks, data), admin_user)
    clearbooks.refresh_from_db()
    assert clearbooks.settings == {}
    assert clearbooks.sync_settings.get(data_type="invoices").frequency == "daily"
    assert not AuditEvent.objects.exists()


def test_it_rolls_back_the_settings_when_the_sync_settings_fail_to_save(clearbooks, admin_user, monkeypatch):
    data = manage_data(clearbooks, settings={"timeout": 10}, sync={"invoices": {"frequency": "weekly"}})
    settings_form, formset = forms_for(clearbooks, data)
    assert settings_form.is_valid() and formset.is_valid()

    def fail(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services.audit, "record", fail)
    with pytest.raises(RuntimeError):
        services.save_settings(clearbooks, settings_form, formset, admin_user)
    clearbooks.refresh_from_db()
    assert clearbooks.settings == {}
    assert clearbooks.sync_settings.get(data_type="invoices").frequency == "daily"


def test_it_records_a_system_actor_for_commands(clearbooks):
    services.set_enabled(clearbooks, False, None)
    event = AuditEvent.objects.get()
    assert (event.actor, event.actor_name) == (None, "system")
    assert Integration.objects.get(pk=clearbooks.pk).updated_by is None


@pytest.fixture
def heard():
    """What the integration signals sent: (signal name, keyword arguments, the row as saved when heard)."""
    heard = []

    def listen(signal, name):
        def receiver(sender, integration, **kwargs):
            assert sender is Integration
            heard.append((name, kwargs, Integration.objects.get(pk=integration.pk)))

        signal.connect(receiver, weak=False, dispatch_uid=f"test-{name}")
        return lambda: signal.disconnect(dispatch_uid=f"test-{name}")

    stops = [
        listen(signals.integration_switched, "switched"),
        listen(signals.integration_settings_changed, "settings_changed"),
    ]
    yield heard
    for stop in stops:
        stop()


def test_it_announces_a_switch_once_saved(clearbooks, admin_user, heard):
    services.set_enabled(clearbooks, False, admin_user)
    services.set_enabled(clearbooks, False, admin_user)  # no move: nothing announced
    [(name, kwargs, row)] = heard
    assert (name, kwargs["enabled"], kwargs["actor"], row.enabled) == ("switched", False, admin_user, False)


def test_a_receiver_that_fails_rolls_the_switch_back(clearbooks, admin_user):
    def fail(sender, **kwargs):
        raise RuntimeError("a receiver failed")

    signals.integration_switched.connect(fail, dispatch_uid="test-fail")
    try:
        with pytest.raises(RuntimeError):
            services.set_enabled(clearbooks, False, admin_user)
    finally:
        signals.integration_switched.disconnect(dispatch_uid="test-fail")
    assert Integration.objects.get(pk=clearbooks.pk).enabled is True
    assert not AuditEvent.objects.exists()


def test_it_announces_saved_settings_with_their_changes(clearbooks, admin_user, heard):
    data = manage_data(clearbooks, settings={"timeout": 10}, sync={"invoices": {"frequency": "weekly"}})
    services.save_settings(clearbooks, *forms_for(clearbooks, data), admin_user)
    services.save_settings(clearbooks, *forms_for(clearbooks, data), admin_user)  # the same again: nothing
    [(name, kwargs, row)] = heard
    assert (name, row.settings) == ("settings_changed", {**row.settings, "timeout": 10})
    assert [c["field"] for c in kwargs["settings_changes"]] == ["timeout"]
    assert kwargs["sync_changes"] == [{"field": "invoices.frequency", "before": "daily", "after": "weekly"}]
    assert kwargs["actor"] == admin_user
