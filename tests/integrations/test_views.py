"""The Integrations page, the switch, the Manage page and Activity, through real requests."""

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from connections.models import Connection
from integrations import services
from integrations.models import AuditEvent, Integration, SyncSetting
from tests import factory

LIST_URL = reverse("integrations:integration-list")
MANAGE_URL = reverse("integrations:integration-manage", args=["jhch"])
TOGGLE_URL = reverse("integrations:integration-toggle", args=["jhch"])
ACTIVITY_URL = reverse("integrations:activity")

S = Connection.Status


def manage_data(integration, settings=None, sync=None):
    """The Manage form as a browser would post it: current values, with overrides.

    `sync` maps data type -> {"fetch_on_first_link": bool, "frequency": str}.
    """
    current = integration.effective_settings()
    current.update(settings or {})
    data = {f"settings-{name}": value for name, value in current.items()}
    rows = list(integration.sync_settings.order_by("id"))
    data.update(
        {
            "sync-TOTAL_FORMS": str(len(rows)),
            "sync-INITIAL_FORMS": str(len(rows)),
            "sync-MIN_NUM_FORMS": "0",
            "sync-MAX_NUM_FORMS": "1000",
        }
    )
    for i, row in enumerate(rows):
        values = {"fetch_on_first_link": row.fetch_on_first_link, "frequency": row.frequency}
        values.update((sync or {}).get(row.data_type, {}))
        data[f"sync-{i}-id"] = str(row.pk)
        data[f"sync-{i}-frequency"] = values["frequency"]
        if values["fetch_on_first_link"]:
            data[f"sync-{i}-fetch_on_first_link"] = "on"
    return data


def linked_connections(count, integration="jhch"):
    return [factory.make_connection(integration=integration, status=S.LINKED) for _ in range(count)]


#
# The Integrations page
#


def test_it_lists_integrations_by_category_and_says_when_a_category_is_empty(admin_client, clearbooks):
    response = admin_client.get(LIST_URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Clear Books" in html
    assert "<code>jhch</code>" in html
    assert "integrations/clearbooks/logo.svg" in html
    assert MANAGE_URL in html
    assert 'id="accounting"' in html and 'id="banking"' in html and 'id="commerce"' in html
    assert "No banking integrations yet." in html
    assert "No commerce integrations yet." in html
    assert "No accounting integrations" not in html


def test_it_counts_linked_and_total_connections(admin_client, clearbooks):
    linked_connections(2)
    factory.make_connection(status=S.PENDING_AUTH)
    factory.make_connection(status=S.UNLINKED)
    response = admin_client.get(LIST_URL)
    row = response.context["sections"][0]["rows"][0]["integration"]
    assert (row.linked_connections, row.total_connections) == (2, 4)


def test_it_lists_integrations_with_the_same_number_of_queries_however_many(admin_client, clearbooks, bank_integration):
    with CaptureQueriesContext(db_connection) as one_each:
        admin_client.get(LIST_URL)
    linked_connections(3)
    linked_connections(3, integration=bank_integration)
    services.set_enabled(bank_integration, True, factory.make_admin("bob"))
    with CaptureQueriesContext(db_connection) as many:
        response = admin_client.get(LIST_URL)
    assert "Test Bank" in response.content.decode()
    assert len(many) == len(one_each)


def test_it_searches_by_name_or_platform_key(admin_client, clearbooks, bank_integration):
    def names(response):
        return [row["integration"].name for section in response.context["sections"] for row in section["rows"]]

    assert names(admin_client.get(LIST_URL)) == ["Clear Books", "Test Bank"]
    assert names(admin_client.get(LIST_URL, {"q": "JHCH"})) == ["Clear Books"]
    by_name = admin_client.get(LIST_URL, {"q": "bank"})
    assert names(by_name) == ["Test Bank"]
    assert "No accounting integrations match your search." in by_name.content.decode()
    assert "<strong>Clear Books</strong>" not in by_name.content.decode()
    nothing = admin_client.get(LIST_URL, {"q": "zzz"})
    assert names(nothing) == []
    assert "0 integrations match “zzz”." in nothing.content.decode()


def test_it_shows_who_changed_an_integration_last(admin_client, admin_user, clearbooks):
    services.set_enabled(clearbooks, False, admin_user)
    html = admin_client.get(LIST_URL).content.decode()
    assert "alice" in html
    assert "<time" in html


#
# The switch
#


def test_it_switches_off_at_once_when_nothing_is_linked(admin_client, admin_user, clearbooks):
    factory.make_connection(status=S.PENDING_AUTH)
    response = admin_client.post(TOGGLE_URL, {"enabled": "off"})
    assert response.status_code == 302
    assert response["Location"] == LIST_URL
    clearbooks.refresh_from_db()
    assert clearbooks.enabled is False
    assert clearbooks.updated_by == admin_user
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.integration) == ("disabled", admin_user, clearbooks)
    assert event.changes == [{"field": "enabled", "before": True, "after": False}]


def test_it_asks_for_confirmation_before_switching_off_linked_connections(admin_client, clearbooks):
    connections = linked_connections(3) + [factory.make_connection(status=S.DEAUTHORIZED)]
    response = admin_client.post(TOGGLE_URL, {"enabled": "off", "next": MANAGE_URL})
    assert response.status_code == 200
    html = response.content.decode()
    assert "3 linked connections" in html
    assert 'name="confirmed" value="yes"' in html
    assert f'name="next" value="{MANAGE_URL}"' in html
    clearbooks.refresh_from_db()
    assert clearbooks.enabled is True
    assert not AuditEvent.objects.exists()

    response = admin_client.post(TOGGLE_URL, {"enabled": "off", "confirmed": "yes", "next": MANAGE_URL})
    assert response.status_code == 302
    assert response["Location"] == MANAGE_URL
    assert (
        "Clear Books is switched off: new links are refused and scheduled syncs are paused for its "
        "3 linked connections, which stay Linked."
    ) in admin_client.get(MANAGE_URL).content.decode()
    clearbooks.refresh_from_db()
    assert clearbooks.enabled is False
    assert [c.status for c in Connection.objects.order_by("created_at")] == [c.status for c in connections]


def test_it_switches_on_again(admin_client, clearbooks):
    factory.get_integration("jhch", enabled=False)
    response = admin_client.post(TOGGLE_URL, {"enabled": "on"}, follow=True)
    assert "Clear Books is switched on" in response.content.decode()
    assert Integration.objects.get(key="jhch").enabled is True
    assert AuditEvent.objects.get().action == "enabled"


def test_it_records_nothing_when_the_switch_is_already_there(admin_client, clearbooks):
    response = admin_client.post(TOGGLE_URL, {"enabled": "on"}, follow=True)
    assert "already switched on" in response.content.decode()
    assert not AuditEvent.objects.exists()


def test_it_refuses_a_switch_without_a_choice(admin_client, clearbooks):
    response = admin_client.post(TOGGLE_URL, {"enabled": "maybe"}, follow=True)
    assert "Choose whether to switch the integration on or off." in response.content.decode()
    assert Integration.objects.get(key="jhch").enabled is True


def test_it_never_returns_to_another_site_after_switching(admin_client, clearbooks):
    response = admin_client.post(TOGGLE_URL, {"enabled": "off", "next": "https://evil.example/"})
    assert response["Location"] == LIST_URL


def test_it_switches_only_by_post(admin_client, clearbooks):
    assert admin_client.get(TOGGLE_URL).status_code == 405
    assert Integration.objects.get(key="jhch").enabled is True


def test_it_answers_404_for_an_unknown_platform_key(admin_client, clearbooks):
    assert admin_client.get(reverse("integrations:integration-manage", args=["nope"])).status_code == 404
    toggle = reverse("integrations:integration-toggle", args=["nope"])
    assert admin_client.post(toggle, {"enabled": "on"}).status_code == 404


#
# Support: sees everything, changes nothing
#


def test_it_shows_support_the_pages_with_the_controls_disabled(support_client, clearbooks):
    html = support_client.get(LIST_URL).content.decode()
    assert 'disabled title="Only admins can switch integrations on or off"' in html
    assert "is for admins" in html
    html = support_client.get(MANAGE_URL).content.decode()
    assert '<fieldset class="plain" disabled>' in html
    assert "Save settings" not in html
    assert "Settings &gt; Configure system &gt; API keys" in html


def test_it_shows_admins_the_controls_enabled(admin_client, clearbooks):
    html = admin_client.get(MANAGE_URL).content.decode()
    assert '<fieldset class="plain" >' in html
    assert "Save settings" in html
    assert "Only admins can switch" not in html


def test_it_forbids_support_every_change(support_client, clearbooks):
    assert support_client.post(TOGGLE_URL, {"enabled": "off", "confirmed": "yes"}).status_code == 403
    data = manage_data(clearbooks, settings={"timeout": 5}, sync={"invoices": {"frequency": "hourly"}})
    assert support_client.post(MANAGE_URL, data).status_code == 403
    clearbooks.refresh_from_db()
    assert clearbooks.enabled is True
    assert clearbooks.settings == {}
    assert SyncSetting.objects.get(integration=clearbooks, data_type="invoices").frequency == "daily"
    assert not AuditEvent.objects.exists()


#
# The Manage page
#


def test_it_explains_what_clear_books_needs(admin_client, clearbooks):
    html = admin_client.get(MANAGE_URL).content.decode()
    assert "None required: there is no app to register with Clear Books." in html
    assert "asked for their Clear Books <strong>API key</strong>" in html
    assert "<strong>Settings &gt; Configure system &gt; API keys</strong>" in html
    assert "<strong>Provide required information</strong>" in html
    assert "I want to connect Clear Books with a piece of third-party software, exclusively for my own use" in html
    assert "first box (<strong>Integration Portal</strong>)" in html
    assert "under <strong>SOAP API</strong>" in html


def test_it_fills_the_link_help_with_the_saved_names(admin_client, clearbooks):
    from django.template.loader import render_to_string

    html = render_to_string(
        clearbooks.provider.link_help_template,
        {"integration_settings": {"app_name": "Acme Books Sync", "portal_name": "Acme Portal"}},
    )
    assert "Type <strong>Acme Books Sync</strong> in the first box and <strong>Acme Portal</strong>" in html
    assert "Settings &gt; Configure system &gt; API keys" in html
    assert "exclusively for my own use" in html


def test_it_shows_the_data_coverage_with_the_sync_settings(admin_client, clearbooks):
    html = admin_client.get(MANAGE_URL).content.decode()
    for data_type in clearbooks.provider.data_types:
        assert f'<code class="muted">{data_type.name}</code>' in html
        assert data_type.source in html
    assert "Incremental: only what changed since the last sync" in html
    assert "Full: everything, each time" in html


def test_it_saves_settings_and_sync_settings_together(admin_client, admin_user, clearbooks):
    data = manage_data(
        clearbooks,
        settings={"timeout": 30, "app_name": "  Acme Sync  "},
        sync={"invoices": {"frequency": "hourly"}, "bills": {"fetch_on_first_link": False}},
    )
    response = admin_client.post(MANAGE_URL, data)
    assert response.status_code == 302
    clearbooks.refresh_from_db()
    assert clearbooks.settings["timeout"] == 30
    assert clearbooks.settings["app_name"] == "Acme Sync"
    assert clearbooks.updated_by == admin_user
    rows = {s.data_type: s for s in clearbooks.sync_settings.all()}
    assert rows["invoices"].frequency == "hourly"
    assert rows["bills"].fetch_on_first_link is False
    assert rows["customers"].frequency == "daily"
    settings_event = AuditEvent.objects.get(action="settings_changed")
    assert settings_event.changes == [
        {"field": "timeout", "before": 60, "after": 30},
        {"field": "app_name", "before": "Integration Portal", "after": "Acme Sync"},
    ]
    sync_event = AuditEvent.objects.get(action="sync_settings_changed")
    assert sorted(sync_event.changes, key=lambda c: c["field"]) == [
        {"field": "bills.fetch_on_first_link", "before": True, "after": False},
        {"field": "invoices.frequency", "before": "daily", "after": "hourly"},
    ]


def test_it_saves_nothing_when_nothing_changed(admin_client, clearbooks):
    response = admin_client.post(MANAGE_URL, manage_data(clearbooks), follow=True)
    assert "Nothing changed, so nothing was saved." in response.content.decode()
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("wsdl_url", "not a url", "Enter a full web address starting with https://."),
        ("wsdl_url", "ftp://example.com/wsdl", "Enter a full web address starting with https://."),
        ("timeout", "0", "The timeout must be at least 1 second."),
        ("timeout", "301", "The timeout can be at most 300 seconds."),
        ("timeout", "soon", "Enter the timeout as a whole number of seconds, from 1 to 300."),
        ("app_name", "   ", "Enter the app name the company&#x27;s user types in the first box."),
    ],
)
def test_it_refuses_bad_settings_with_the_reason_next_to_the_field(admin_client, clearbooks, field, value, message):
    data = manage_data(clearbooks, settings={field: value}, sync={"invoices": {"frequency": "hourly"}})
    response = admin_client.post(MANAGE_URL, data)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<p class="field-error" id="id_settings-{field}_error">{message}</p>' in html
    assert "Nothing was saved" in html
    if value.strip():
        assert f'value="{value}"' in html  # what was typed is kept, to correct
    clearbooks.refresh_from_db()
    assert clearbooks.settings == {}
    assert SyncSetting.objects.get(integration=clearbooks, data_type="invoices").frequency == "daily"
    assert not AuditEvent.objects.exists()


def test_it_refuses_a_bad_frequency_and_saves_none_of_the_rest(admin_client, clearbooks):
    data = manage_data(clearbooks, settings={"timeout": 45}, sync={"bills": {"frequency": "fortnightly"}})
    response = admin_client.post(MANAGE_URL, data)
    assert response.status_code == 200
    html = response.content.decode()
    bills = [i for i, s in enumerate(clearbooks.sync_settings.order_by("id")) if s.data_type == "bills"][0]
    assert (
        f'<p class="field-error" id="id_sync-{bills}-frequency_error">'
        "Choose one of none, hourly, daily, weekly or monthly.</p>" in html
    )
    clearbooks.refresh_from_db()
    assert clearbooks.settings == {}
    assert not AuditEvent.objects.exists()


def test_it_refuses_a_sync_setting_of_another_integration(admin_client, clearbooks, bank_integration):
    data = manage_data(clearbooks)
    data["sync-0-id"] = str(bank_integration.sync_settings.get().pk)
    data["sync-0-frequency"] = "monthly"
    response = admin_client.post(MANAGE_URL, data)
    assert response.status_code == 200
    assert "These sync settings no longer match this integration." in response.content.decode()
    assert bank_integration.sync_settings.get().frequency == "daily"
    assert not AuditEvent.objects.exists()


def test_it_says_once_when_the_environment_overrides_the_wsdl_url(admin_client, clearbooks, settings):
    url = "http://127.0.0.1:8001/api/accounting/wsdl/"
    settings.CLEARBOOKS_WSDL_URL = url
    html = admin_client.get(MANAGE_URL).content.decode()
    assert f"WSDL URL is set by this server's environment to <code>{url}</code>" in html
    assert html.count(url) == 1  # issue #13: the field's help said it all again
    assert "Overridden" not in html


def test_it_shows_no_override_without_the_environment_variable(admin_client, clearbooks, settings):
    settings.CLEARBOOKS_WSDL_URL = ""
    html = admin_client.get(MANAGE_URL).content.decode()
    assert "Overridden" not in html


def test_it_shows_switches_and_setting_changes_in_the_history(admin_client, clearbooks):
    admin_client.post(TOGGLE_URL, {"enabled": "off"})
    admin_client.post(TOGGLE_URL, {"enabled": "on"})
    admin_client.post(MANAGE_URL, manage_data(clearbooks, settings={"portal_name": "Acme Portal"}))
    response = admin_client.get(MANAGE_URL)
    assert [e.action for e in response.context["history"]] == ["settings_changed", "enabled", "disabled"]
    assert response.context["history_count"] == 3
    html = response.content.decode()
    assert "Switched off" in html and "Switched on" in html and "Settings changed" in html
    assert "<code>portal_name</code>" in html and "Acme Portal" in html
    assert '<code>enabled</code>: <span class="before">on</span> → <strong>off</strong>' in html


def test_it_shows_the_last_few_changes_and_links_to_the_rest_on_the_activity_page(admin_client, admin_user, clearbooks):
    for i in range(8):
        services.set_enabled(clearbooks, i % 2 == 1, admin_user)
    response = admin_client.get(MANAGE_URL)
    assert len(response.context["history"]) == 5
    html = response.content.decode()
    link = f'href="{ACTIVITY_URL}?integration={clearbooks.pk}">All 8 changes to Clear Books on the Activity page'
    assert link in html


def test_it_warns_on_the_manage_page_when_switched_off(admin_client, clearbooks):
    linked_connections(2)
    factory.get_integration("jhch", enabled=False)
    html = admin_client.get(MANAGE_URL).content.decode()
    assert "Clear Books is switched off in this portal, so new links are not accepted right now." in html
    assert "2 linked connections are paused" in html


#
# Activity
#


def test_it_lists_every_audit_event_filterable_by_integration_and_user(
    admin_client, admin_user, clearbooks, bank_integration
):
    bob = factory.make_admin("bob")
    services.set_enabled(clearbooks, False, admin_user)
    services.set_enabled(bank_integration, True, bob)
    everything = admin_client.get(ACTIVITY_URL)
    assert len(everything.context["events"]) == 2
    by_integration = admin_client.get(ACTIVITY_URL, {"integration": bank_integration.pk})
    assert [e.actor for e in by_integration.context["events"]] == [bob]
    by_user = admin_client.get(ACTIVITY_URL, {"actor": admin_user.pk})
    assert [e.integration for e in by_user.context["events"]] == [clearbooks]
    nothing = admin_client.get(ACTIVITY_URL, {"actor": admin_user.pk, "integration": bank_integration.pk})
    assert "No activity matches these filters." in nothing.content.decode()


def test_it_pages_the_activity(support_client, admin_user, clearbooks):
    for i in range(55):
        services.set_enabled(clearbooks, i % 2 == 1, admin_user)
    first = support_client.get(ACTIVITY_URL)
    assert len(first.context["events"]) == 50
    assert "Page 1 of 2" in first.content.decode()
    second = support_client.get(ACTIVITY_URL, {"page": 2})
    assert len(second.context["events"]) == 5


def test_it_shows_everything_for_a_filter_that_is_not_a_choice(admin_client, admin_user, clearbooks):
    services.set_enabled(clearbooks, False, admin_user)
    response = admin_client.get(ACTIVITY_URL, {"integration": "999999"})
    assert response.status_code == 200
    assert len(response.context["events"]) == 1
    assert "That filter is not one of the choices" in response.content.decode()


def test_it_says_so_when_nothing_has_happened_yet(admin_client, clearbooks):
    assert "Nothing has been changed yet." in admin_client.get(ACTIVITY_URL).content.decode()
