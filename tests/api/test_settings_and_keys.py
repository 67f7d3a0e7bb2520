"""Sync settings (portal and per company), API keys through the API, the API keys page and command."""

import base64
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from connections.models import CompanySyncSetting
from connections.sync import effective
from integrations.models import AuditEvent, SyncSetting
from portal.api import keys
from portal.api.models import ApiKey
from tests import factory
from tests.api.conftest import assert_codat_error, basic

pytestmark = pytest.mark.django_db
KEY_LABEL = "billing service (API key)"


class TestProfileSyncSettings:
    def test_it_reads_the_portal_settings_in_hours(self, api, clearbooks):
        body = api.get("/api/profile/syncSettings").json()
        settings = {s["dataType"]: s for s in body["settings"]}
        assert set(settings) == {dt.name for dt in clearbooks.provider.data_types}
        assert settings["invoices"]["syncSchedule"] == 24 and settings["chartOfAccounts"]["syncSchedule"] == 168
        assert settings["invoices"]["fetchOnFirstLink"] is True and body["overridesDefaults"] is False

    def test_it_changes_them_as_the_manage_page_does_with_one_audit_event(self, api, clearbooks):
        client_id = api.get("/api/profile/syncSettings").json()["clientId"]
        change = [
            {"dataType": "invoices", "fetchOnFirstLink": False, "syncSchedule": 1, "syncOrder": 0},
            {"dataType": "bills", "fetchOnFirstLink": True, "syncSchedule": 0, "syncOrder": 1},
        ]
        response = api.post(
            "/api/profile/syncSettings",
            {"clientId": client_id, "settings": change, "overridesDefaults": True},
            format="json",
        )
        assert response.status_code == 204, response.content
        rows = {s.data_type: s for s in SyncSetting.objects.filter(integration=clearbooks)}
        assert (rows["invoices"].fetch_on_first_link, rows["invoices"].frequency) == (False, "hourly")
        assert rows["bills"].frequency == "none"
        event = AuditEvent.objects.get(action=AuditEvent.Action.SYNC_SETTINGS_CHANGED)
        assert event.actor_name == KEY_LABEL and event.integration == clearbooks
        assert {c["field"] for c in event.changes} == {
            "invoices.fetch_on_first_link",
            "invoices.frequency",
            "bills.frequency",
        }
        assert not AuditEvent.objects.filter(action=AuditEvent.Action.SETTINGS_CHANGED).exists()

    @pytest.mark.parametrize(
        "setting, item",
        [
            ({"dataType": "invoices", "fetchOnFirstLink": True, "syncSchedule": 5, "syncOrder": 0}, "syncSchedule"),
            ({"dataType": "balanceSheet", "fetchOnFirstLink": True, "syncSchedule": 24, "syncOrder": 0}, "dataType"),
        ],
    )
    def test_it_refuses_what_the_portal_cannot_keep(self, api, clearbooks, setting, item):
        body = {"clientId": "8a210b68-6988-11ed-a1eb-0242ac120002", "settings": [setting], "overridesDefaults": True}
        error = assert_codat_error(api.post("/api/profile/syncSettings", body, format="json"), 400)
        assert error["validation"]["errors"][0]["itemId"].endswith(item)
        assert not AuditEvent.objects.filter(action=AuditEvent.Action.SYNC_SETTINGS_CHANGED).exists()


class TestCompanySyncSettings:
    def test_a_company_follows_the_portal_settings(self, api, clearbooks):
        company = factory.make_company()
        body = api.get(f"/api/companies/{company.pk}/syncSettings").json()
        assert body["companyId"] == str(company.pk) and body["overridesDefaults"] is False
        assert body["settings"] == api.get("/api/profile/syncSettings").json()["settings"]

    def test_its_own_settings_are_kept_in_force_audited_and_undone(self, api, clearbooks):
        company = factory.make_company("Own Ltd")
        connection = factory.make_connection(company)
        url = f"/api/companies/{company.pk}/syncSettings"
        portal = api.get(url).json()
        invoices = next(s for s in portal["settings"] if s["dataType"] == "invoices")
        mine = {**invoices, "syncSchedule": 1, "fetchOnFirstLink": False}
        posted = api.post(url, {"companyId": str(company.pk), "settings": [mine], "overridesDefaults": True}, "json")
        assert posted.status_code == 204
        body = api.get(url).json()
        assert body["overridesDefaults"] is True
        got = next(s for s in body["settings"] if s["dataType"] == "invoices")
        assert (got["syncSchedule"], got["fetchOnFirstLink"]) == (1, False)
        assert [s for s in body["settings"] if s["dataType"] != "invoices"] == [
            s for s in portal["settings"] if s["dataType"] != "invoices"
        ]
        assert api.get("/api/profile/syncSettings").json()["settings"] == portal["settings"]  # the portal's stay
        assert effective.for_connection(connection)["invoices"].frequency == "hourly"
        event = AuditEvent.objects.get(action=AuditEvent.Action.COMPANY_SYNC_SETTINGS_CHANGED)
        assert (event.actor_name, event.target_id) == (KEY_LABEL, str(company.pk))
        assert event.changes == [
            {"field": "invoices", "before": "the portal's", "after": "hourly, not fetched on first link"}
        ]

        back = api.post(url, {"companyId": str(company.pk), "settings": [], "overridesDefaults": False}, "json")
        assert back.status_code == 204
        assert api.get(url).json() == portal
        assert AuditEvent.objects.filter(action=AuditEvent.Action.COMPANY_SYNC_SETTINGS_CHANGED).count() == 2

    @pytest.mark.parametrize(
        "change, item",
        [
            ({"syncSchedule": 5}, "settings[0].syncSchedule"),
            ({"dataType": "spaceships"}, "settings[0].dataType"),
            ({"fetchOnFirstLink": "yes"}, "settings.0.fetchOnFirstLink"),
        ],
    )
    def test_it_refuses_what_it_cannot_keep_and_changes_nothing(self, api, clearbooks, change, item):
        company = factory.make_company()
        url = f"/api/companies/{company.pk}/syncSettings"
        setting = {**api.get(url).json()["settings"][0], **change}
        body = {"companyId": str(company.pk), "settings": [setting], "overridesDefaults": True}
        error = assert_codat_error(api.post(url, body, format="json"), 400)
        assert (
            error["validation"]["errors"][0]["itemId"]
            .replace("[", ".")
            .replace("]", "")
            .endswith(item.replace("[", ".").replace("]", ""))
        )
        assert not CompanySyncSetting.objects.exists()
        assert not AuditEvent.objects.filter(action=AuditEvent.Action.COMPANY_SYNC_SETTINGS_CHANGED).exists()

    def test_the_body_must_name_the_company_of_the_url(self, api, clearbooks):
        company, other = factory.make_company(), factory.make_company()
        url = f"/api/companies/{company.pk}/syncSettings"
        body = {"companyId": str(other.pk), "settings": api.get(url).json()["settings"], "overridesDefaults": True}
        error = assert_codat_error(api.post(url, body, format="json"), 400)
        assert error["validation"]["errors"][0]["itemId"] == "companyId"
        assert not CompanySyncSetting.objects.exists()
        assert_codat_error(api.get(f"/api/companies/{uuid.uuid4()}/syncSettings"), 404)


class TestApiKeysEndpoint:
    def test_create_shows_the_key_once_and_it_works(self, api, anon_api):
        response = api.post("/api/apiKeys", {"name": "ci"}, format="json")
        assert response.status_code == 201
        created = response.json()
        assert created["name"] == "ci" and len(created["apiKey"]) == 40
        anon_api.credentials(HTTP_AUTHORIZATION=basic(created["apiKey"]))
        assert anon_api.get("/api/integrations").status_code == 200
        listed = api.get("/api/apiKeys").json()["results"]
        assert {k["name"] for k in listed} == {"billing service", "ci"}
        assert all("apiKey" not in k for k in listed)
        assert created["apiKey"] not in api.get("/api/apiKeys").content.decode()

    def test_delete_revokes_at_once(self, api, anon_api):
        created = api.post("/api/apiKeys", {}, format="json").json()
        assert created["name"] is None
        anon_api.credentials(HTTP_AUTHORIZATION=basic(created["apiKey"]))
        assert api.delete(f"/api/apiKeys/{created['id']}").status_code == 204
        assert_codat_error(anon_api.get("/api/integrations"), 401)
        assert_codat_error(api.delete(f"/api/apiKeys/{created['id']}"), 404)

    def test_names_are_limited_and_so_is_the_number_of_keys(self, api):
        assert_codat_error(api.post("/api/apiKeys", {"name": "x" * 51}, format="json"), 400)
        for n in range(9):
            assert api.post("/api/apiKeys", {"name": f"k{n}"}, format="json").status_code == 201
        body = assert_codat_error(api.post("/api/apiKeys", {"name": "one too many"}, format="json"), 409)
        assert body["error"].startswith("Maximum number of API keys reached")


class TestApiKeysPage:
    def test_an_admin_creates_a_key_that_is_shown_once(self, admin_client):
        response = admin_client.post("/settings/api-keys/", {"name": "warehouse"})
        assert response.status_code == 200
        row = ApiKey.objects.get(name="warehouse")
        shown = response.context["new_key"]["key"]
        assert keys.hash_key(shown) == row.key_hash and shown in response.content.decode()
        assert row.created_by_name == "alice"
        again = admin_client.get("/settings/api-keys/")
        assert shown not in again.content.decode() and "warehouse" in again.content.decode()
        assert "no-store" in again["Cache-Control"] or "max-age=0" in again["Cache-Control"]

    def test_an_admin_revokes_a_key(self, admin_client, api, api_key):
        response = admin_client.post(f"/settings/api-keys/{api_key[0].pk}/revoke/")
        assert response.status_code == 302
        assert_codat_error(api.get("/api/integrations"), 401)
        api_key[0].refresh_from_db()
        assert api_key[0].revoked_by_name == "alice"

    def test_support_sees_the_keys_but_cannot_create_or_revoke(self, support_client, api_key):
        page = support_client.get("/settings/api-keys/")
        assert page.status_code == 200 and "billing service" in page.content.decode()
        assert "Create key" not in page.content.decode()
        assert support_client.post("/settings/api-keys/", {"name": "x"}).status_code == 403
        assert support_client.post(f"/settings/api-keys/{api_key[0].pk}/revoke/").status_code == 403


class TestCommand:
    def test_it_prints_the_key_on_its_last_line_only(self, capsys):
        call_command("create_api_key", "nightly export")
        lines = capsys.readouterr().out.strip().splitlines()
        key = lines[-1]
        row = ApiKey.objects.get(name="nightly export")
        assert keys.hash_key(key) == row.key_hash
        assert not any(key in line for line in lines[:-1])
        assert base64.b64encode(key.encode())  # usable as Codat's header

    def test_it_refuses_an_empty_name(self):
        with pytest.raises(CommandError):
            call_command("create_api_key", " ")


def test_the_docs_page_is_for_portal_users_with_local_assets(admin_client, api_key):
    page = admin_client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
    assert Client().get("/api/docs/", HTTP_AUTHORIZATION=basic(api_key[1])).status_code == 302  # a key is no login
    # A logged-in admin whose browser also sends a key still sees the page as the admin.
    assert admin_client.get("/api/docs/", HTTP_AUTHORIZATION=basic(api_key[1])).status_code == 200


def test_the_schema_is_served_to_keys_and_portal_users(api, admin_client, anon_api):
    for client in (api, admin_client):
        response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
        assert response.status_code == 200
    assert anon_api.get("/api/schema/").status_code == 401


def test_the_schema_generates_without_warnings_and_documents_paging(api):
    from io import StringIO

    from django.core.management import call_command

    errors = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null", stderr=errors)
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    parameters = {p["name"]: p for p in schema["paths"]["/companies"]["get"]["parameters"]}
    assert parameters["pageSize"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 5000, "default": 100}
    assert {"query", "orderBy", "page"} <= set(parameters)
    assert "/companies/{companyId}/connections/{connectionId}/data/{dataType}" in schema["paths"]
    assert {"query", "orderBy", "page", "tags"} <= set(parameters)
    tags = schema["components"]["schemas"]["Company"]["properties"]["tags"]
    assert (tags["maxProperties"], tags["additionalProperties"]["maxLength"]) == (10, 100)
    too_many = schema["paths"]["/integrations"]["get"]["responses"]["429"]["headers"]
    assert {"Retry-After", "X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"} == set(too_many)


def test_the_navigation_links_the_api_keys_page_for_portal_roles(admin_client):
    html = admin_client.get("/settings/api-keys/").content.decode()
    assert '<a href="/settings/api-keys/" aria-current="page">API keys</a>' in html
