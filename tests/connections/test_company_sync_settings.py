"""A company's own sync settings: what is in force everywhere a sync setting is read (first link,
refresh all, the schedule, staleness, the health rows), the portal page, and the audit trail."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connections import company_sync_settings as own
from connections.models import CompanySyncSetting, DataStatus, PullOperation
from connections.support.health import health_for_connections
from connections.sync import data_status, effective
from connections.sync import schedules as schedule
from connections.sync.queueing import queue_first_link_pulls
from connections.timeline import timeline
from integrations.models import AuditEvent, SyncSetting
from tests import factory
from tests.connections.test_tasks import active, synced

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)
A = AuditEvent.Action


@pytest.fixture
def portal_invoices_only(clearbooks):
    """The portal: only invoices fetched on first link and synced (daily); every other data type by hand."""
    SyncSetting.objects.filter(integration=clearbooks).update(frequency="none", fetch_on_first_link=False)
    SyncSetting.objects.filter(integration=clearbooks, data_type="invoices").update(
        frequency="daily", fetch_on_first_link=True
    )
    return clearbooks


def test_the_company_setting_is_in_force_else_the_portals(portal_invoices_only):
    company = factory.make_company("Own Ltd")
    mine = factory.make_connection(company)
    other = factory.make_connection()
    own.replace_settings(company, {"customers": (True, "hourly"), "invoices": (False, "none")}, actor_name="test")
    settings = effective.for_connections([mine, other])
    assert settings[(mine.pk, "customers")] == effective.EffectiveSetting("customers", True, "hourly", True)
    assert settings[(mine.pk, "invoices")] == effective.EffectiveSetting("invoices", False, "none", True)
    assert settings[(mine.pk, "bills")] == effective.EffectiveSetting("bills", False, "none", False)
    assert settings[(other.pk, "invoices")] == effective.EffectiveSetting("invoices", True, "daily", False)
    assert settings[(other.pk, "customers")].frequency == "none"


def test_first_link_pulls_follow_the_companys_own_settings(portal_invoices_only):
    company = factory.make_company()
    own.replace_settings(company, {"customers": (True, "daily"), "invoices": (False, "daily")}, actor_name="t")
    connection = factory.make_connection(company)
    pulls = queue_first_link_pulls(connection, enqueue=False)
    assert [pull.data_type for pull in pulls] == ["customers"]
    assert [p.data_type for p in queue_first_link_pulls(factory.make_connection(), enqueue=False)] == ["invoices"]


def test_the_schedule_runs_the_companys_frequency(portal_invoices_only):
    company = factory.make_company()
    own.replace_settings(company, {"customers": (False, "hourly"), "invoices": (True, "weekly")}, actor_name="t")
    mine = factory.make_connection(company)
    synced(mine, "invoices", 2 * DAY)  # due daily, not weekly
    synced(mine, "customers", timedelta(hours=2))  # due hourly; the portal never schedules it
    theirs = factory.make_connection()
    synced(theirs, "invoices", 2 * DAY)
    synced(theirs, "customers", timedelta(hours=2))
    schedule.queue_due_pulls()
    assert active(mine) == ["customers"]
    assert active(theirs) == ["invoices"]


def test_staleness_follows_the_companys_frequency_at_once_and_after_a_success(portal_invoices_only):
    linked_at = timezone.now() - 10 * DAY
    company = factory.make_company()
    connection = factory.make_connection(company, linked_at=linked_at)
    factory.make_data_status(connection, "invoices")
    factory.make_data_status(connection, "customers")

    def stale_after(data_type):
        return DataStatus.objects.get(connection=connection, data_type=data_type).stale_after

    assert (stale_after("invoices"), stale_after("customers")) == (linked_at + 2 * DAY, None)
    own.replace_settings(company, {"invoices": (True, "weekly"), "customers": (True, "hourly")}, actor_name="t")
    assert stale_after("invoices") == linked_at + 14 * DAY
    assert stale_after("customers") == linked_at + timedelta(hours=2)

    finished = timezone.now() - timedelta(minutes=7)
    pull = factory.make_pull(connection, "invoices", started_at=finished - DAY, finished_at=finished)
    data_status.ended(pull, PullOperation.Status.COMPLETE)  # its own SQL, one UPDATE: the same rule
    assert stale_after("invoices") == finished + 14 * DAY

    own.replace_settings(company, {}, actor_name="t")  # back to the portal's
    assert stale_after("invoices") == finished + 2 * DAY and stale_after("customers") is None


def test_the_health_rows_show_the_frequency_in_force(portal_invoices_only):
    company = factory.make_company()
    own.replace_settings(company, {"customers": (True, "hourly")}, actor_name="t")
    connection = factory.make_connection(company)
    rows = {row.data_type: row for row in health_for_connections([connection])[connection.pk]}
    assert (rows["customers"].frequency, rows["customers"].interval) == ("hourly", timedelta(hours=1))
    assert (rows["invoices"].frequency, rows["bills"].frequency) == ("daily", "none")


def test_each_change_is_audited_once_and_shows_on_the_connections_timeline(portal_invoices_only, admin_user):
    company = factory.make_company("Timeline Ltd")
    connection = factory.make_connection(company)
    other = factory.make_connection()
    event = own.replace_settings(company, {"invoices": (True, "hourly")}, user=admin_user)
    assert own.replace_settings(company, {"invoices": (True, "hourly")}, user=admin_user) is None  # no change
    assert (event.action, event.actor, event.target, event.target_id) == (
        A.COMPANY_SYNC_SETTINGS_CHANGED,
        admin_user,
        "Timeline Ltd",
        str(company.pk),
    )
    assert event.changes == [{"field": "invoices", "before": "the portal's", "after": "hourly, fetched on first link"}]
    assert AuditEvent.objects.filter(action=A.COMPANY_SYNC_SETTINGS_CHANGED).count() == 1
    entries = timeline(connection).entries
    assert any("Timeline Ltd: company sync settings changed (invoices:" in entry.message for entry in entries)
    assert not any("company sync settings" in entry.message for entry in timeline(other).entries)


def test_an_unknown_data_type_is_refused_and_nothing_changes(portal_invoices_only):
    company = factory.make_company()
    with pytest.raises(ValueError):
        own.replace_settings(company, {"invoices": (True, "hourly"), "spaceships": (True, "daily")}, actor_name="t")
    assert not CompanySyncSetting.objects.exists()


#
# The portal's pages
#


def form_data(company, rows):
    """The Sync settings form: every data type following the portal's unless `rows` gives it one."""
    settings = own.settings_of(company)
    data = {"sync-TOTAL_FORMS": str(len(settings)), "sync-INITIAL_FORMS": str(len(settings))}
    for index, setting in enumerate(settings):
        data[f"sync-{index}-frequency"] = setting.frequency
        if setting.data_type in rows:
            fetch, frequency = rows[setting.data_type]
            data[f"sync-{index}-own"] = "on"
            data[f"sync-{index}-frequency"] = frequency
            if fetch:
                data[f"sync-{index}-fetch_on_first_link"] = "on"
    return data


def test_an_admin_gives_a_company_its_own_settings_and_everyone_sees_them(
    portal_invoices_only, admin_client, admin_user, support_user
):
    support_client = Client()  # admin_client is the `client` fixture: Support needs a browser of its own
    support_client.force_login(support_user)
    company = factory.make_company("Page Ltd")
    url = reverse("connections:company-sync-settings", args=[company.pk])
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, form_data(company, {"customers": (True, "weekly")}))
    assert response.status_code == 302
    assert own.own_settings(company) == {"customers": (True, "weekly")}
    assert AuditEvent.objects.get(action=A.COMPANY_SYNC_SETTINGS_CHANGED).actor == admin_user
    page = support_client.get(reverse("connections:company-detail", args=[company.pk])).content.decode()
    assert "Sync settings" in page and "Weekly" in page and "Own" in page
    assert url not in page  # Support reads them; only Admins get the edit button
    assert support_client.post(url, form_data(company, {})).status_code == 403
    assert own.own_settings(company) == {"customers": (True, "weekly")}
    admin_client.post(url, form_data(company, {}))  # every row back to the portal's
    assert own.own_settings(company) == {}


def test_a_bad_form_is_refused_and_nothing_changes(portal_invoices_only, admin_client):
    company = factory.make_company()
    url = reverse("connections:company-sync-settings", args=[company.pk])
    data = form_data(company, {"customers": (True, "fortnightly")})
    response = admin_client.post(url, data)
    assert response.status_code == 200 and "Choose one of none, hourly" in response.content.decode()
    short = form_data(company, {"customers": (True, "hourly")}) | {"sync-TOTAL_FORMS": "1"}
    assert admin_client.post(url, short).status_code == 200
    assert not CompanySyncSetting.objects.exists()
