"""The catalogue from the registry, and what switching an integration off means for links and schedules."""

from connections.models import Connection
from integrations import services
from integrations.catalogue import sync_catalogue
from integrations.models import Integration, SyncSetting
from tests import factory


def test_it_derives_one_row_per_provider_and_keeps_the_admins_choices(db):
    integration = Integration.objects.get(key="jhch")
    integration.enabled = True
    integration.settings = {"timeout": 12}
    integration.name = "Typed by hand"
    integration.save()
    SyncSetting.objects.filter(integration=integration, data_type="invoices").update(frequency="monthly")
    sync_catalogue()
    sync_catalogue()
    integration.refresh_from_db()
    assert Integration.objects.filter(key="jhch").count() == 1
    assert (integration.name, integration.enabled, integration.settings) == ("Clear Books", True, {"timeout": 12})
    assert integration.sync_settings.count() == len(integration.provider.data_types)
    assert integration.sync_settings.get(data_type="invoices").frequency == "monthly"


def test_it_refuses_new_links_with_a_clear_message_when_switched_off(clearbooks, admin_user):
    assert clearbooks.refuse_new_links_reason() == ""
    services.set_enabled(clearbooks, False, admin_user)
    assert (
        Integration.objects.get(pk=clearbooks.pk).refuse_new_links_reason()
        == "Clear Books is switched off in this portal, so new links are not accepted right now."
    )


def test_it_pauses_schedules_when_off_and_resumes_them_when_on(clearbooks, admin_user):
    linked = factory.make_connection(status=Connection.Status.LINKED)
    assert clearbooks.schedules_paused is False
    services.set_enabled(clearbooks, False, admin_user)
    assert Integration.objects.get(pk=clearbooks.pk).schedules_paused is True
    linked.refresh_from_db()
    assert linked.status == Connection.Status.LINKED
    services.set_enabled(clearbooks, True, admin_user)
    assert Integration.objects.get(pk=clearbooks.pk).schedules_paused is False
    linked.refresh_from_db()
    assert linked.status == Connection.Status.LINKED


def test_it_uses_the_saved_settings_over_the_providers_defaults(clearbooks):
    clearbooks.settings = {"timeout": 5}
    assert clearbooks.effective_settings()["timeout"] == 5
    assert clearbooks.effective_settings()["app_name"] == "Integration Portal"
