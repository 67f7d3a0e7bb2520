"""Every covered operation's answers validate against the schemas in Codat's own document.

One test per operation, each with its success answer and, where it has one, an error answer.
"""

import uuid

import pytest
from django.utils import timezone

from connections.models import Connection, PullOperation
from portal.api import keys
from tests import factory
from tests.api.codat_schema import request_errors, validate

pytestmark = pytest.mark.django_db
P = PullOperation.Status


@pytest.fixture
def world(clearbooks):
    company = factory.make_company("Acme Ltd", description="Widgets")
    connection = factory.make_connection(company, link_token="t" * 43, link_token_created_at=timezone.now())
    done = factory.make_pull(connection, "invoices", records_fetched=3, records_created=3)
    failed = factory.make_pull(connection, "bills", status=P.FETCH_ERROR, error_message="Timed out.")
    factory.make_data_status(
        connection,
        "invoices",
        current_status=P.COMPLETE,
        latest_pull=done,
        latest_successful_pull=done,
        last_successful_sync_at=timezone.now(),
    )
    factory.make_data_status(connection, "bills", current_status=P.FETCH_ERROR, latest_pull=failed)
    deauthorized = factory.make_connection(
        factory.make_company("Gone Ltd"), status=Connection.Status.DEAUTHORIZED, status_reason="Key revoked."
    )
    return {"company": company, "connection": connection, "pull": done, "deauthorized": deauthorized}


def dataset(pull):
    return str(uuid.UUID(int=pull.pk))


def test_list_integrations(api, world):
    validate("list-integrations", api.get("/api/integrations"))
    validate("list-integrations", api.get("/api/integrations", {"query": "colour=red"}))
    validate("list-integrations", api.get("/api/integrations", {"page": 2, "pageSize": 1}))


def test_get_integration(api, world):
    validate("get-integration", api.get("/api/integrations/jhch"))
    validate("get-integration", api.get("/api/integrations/zzzz"))


def test_list_companies(api, world, anon_api):
    validate("list-companies", api.get("/api/companies"))
    factory.make_company("Tagged Ltd", tags={"region": "uk", "team": "invoice-finance"})
    tagged = api.get("/api/companies", {"tags": "region=uk && team~finance"})
    assert tagged.json()["totalResults"] == 1
    validate("list-companies", tagged)
    validate("list-companies", api.get("/api/companies", {"tags": "region>uk"}))
    validate("list-companies", api.get("/api/companies", {"query": "name=", "pageSize": 1}))
    validate("list-companies", anon_api.get("/api/companies"))


def test_create_company(api, world):
    validate("create-company", api.post("/api/companies", {"name": "New Co"}, format="json"))
    tagged = api.post("/api/companies", {"name": "Tagged Co", "tags": {"region": "uk"}}, format="json")
    assert tagged.json()["tags"] == {"region": "uk"}
    validate("create-company", tagged)
    validate("create-company", api.post("/api/companies", {"name": "Co", "tags": {"x" * 28: "v"}}, format="json"))
    validate("create-company", api.post("/api/companies", {"name": ""}, format="json"))


def test_get_company(api, world):
    validate("get-company", api.get(f"/api/companies/{world['company'].pk}"))
    validate("get-company", api.get(f"/api/companies/{world['deauthorized'].company_id}"))
    validate("get-company", api.get(f"/api/companies/{uuid.uuid4()}"))


def test_replace_company(api, world):
    validate("replace-company", api.put(f"/api/companies/{world['company'].pk}", {"name": "Acme"}, format="json"))


def test_update_company(api, world):
    url = f"/api/companies/{world['company'].pk}"
    validate("update-company", api.patch(url, {"description": "New"}, format="json"))
    validate("update-company", api.patch(url, {"tags": {"region": "us"}}, format="json"))


def test_delete_company(api, world):
    validate("delete-company", api.delete(f"/api/companies/{world['company'].pk}"))
    validate("delete-company", api.delete(f"/api/companies/{world['company'].pk}"))


def test_list_connections(api, world):
    validate("list-connections", api.get(f"/api/companies/{world['company'].pk}/connections"))
    validate("list-connections", api.get(f"/api/companies/{world['deauthorized'].company_id}/connections"))


def test_create_connection(api, world):
    company = factory.make_company("Fresh Ltd")
    url = f"/api/companies/{company.pk}/connections"
    validate("create-connection", api.post(url, {"platformKey": "jhch"}, format="json"))
    validate("create-connection", api.post(url, {"platformKey": "zzzz"}, format="json"))


def test_get_connection(api, world):
    connection = world["connection"]
    validate("get-connection", api.get(f"/api/companies/{connection.company_id}/connections/{connection.pk}"))
    validate("get-connection", api.get(f"/api/companies/{connection.company_id}/connections/{uuid.uuid4()}"))


def test_unlink_connection(api, world):
    connection = world["connection"]
    url = f"/api/companies/{connection.company_id}/connections/{connection.pk}"
    validate("unlink-connection", api.patch(url, {"status": "Unlinked"}, format="json"))


def test_delete_connection(api, world):
    connection = world["connection"]
    validate("delete-connection", api.delete(f"/api/companies/{connection.company_id}/connections/{connection.pk}"))


def test_update_connection_authorization(api, world, sandbox):
    key = sandbox.make_key(seed="schemas", invoices=1)
    company = factory.make_company("Linking Ltd")
    created = api.post(f"/api/companies/{company.pk}/connections", {"platformKey": "jhch"}, format="json").json()
    url = f"/api/companies/{company.pk}/connections/{created['id']}/authorization"
    validate("update-connection-authorization", api.put(url, {"apiKey": key}, format="json"))


def test_get_company_sync_settings(api, world):
    url = f"/api/companies/{world['company'].pk}/syncSettings"
    validate("get-company-syncSettings", api.get(url))
    current = api.get(url).json()
    own = {**current, "settings": [{**current["settings"][0], "syncSchedule": 168}], "overridesDefaults": True}
    assert api.post(url, own, format="json").status_code == 204
    overridden = api.get(url)
    assert overridden.json()["overridesDefaults"] is True
    validate("get-company-syncSettings", overridden)
    validate("get-company-syncSettings", api.get(f"/api/companies/{uuid.uuid4()}/syncSettings"))


def test_set_company_sync_settings(api, world):
    url = f"/api/companies/{world['company'].pk}/syncSettings"
    current = api.get(url).json()
    validate("set-company-syncSettings", api.post(url, current, format="json"))
    changed = {**current, "settings": [{**current["settings"][0], "syncSchedule": 1}], "overridesDefaults": True}
    validate("set-company-syncSettings", api.post(url, changed, format="json"))
    assert api.get(url).json()["settings"][0]["syncSchedule"] == 1
    refused = {**current, "settings": [{**current["settings"][0], "syncSchedule": 2}], "overridesDefaults": True}
    validate("set-company-syncSettings", api.post(url, refused, format="json"))


def test_refresh_company_data(api, world):
    validate("refresh-company-data", api.post(f"/api/companies/{world['company'].pk}/data/all"))
    validate("refresh-company-data", api.post(f"/api/companies/{world['deauthorized'].company_id}/data/all"))


def test_refresh_data_type(api, world):
    validate("refresh-data-type", api.post(f"/api/companies/{world['company'].pk}/data/queue/customers"))
    validate("refresh-data-type", api.post(f"/api/companies/{world['company'].pk}/data/queue/balanceSheet"))


def test_get_company_data_status(api, world):
    validate("get-company-data-status", api.get(f"/api/companies/{world['company'].pk}/dataStatus"))


def test_list_pull_operations(api, world):
    url = f"/api/companies/{world['company'].pk}/data/history"
    validate("list-pull-operations", api.get(url))
    validate("list-pull-operations", api.get(url, {"query": "isCompleted=true"}))


def test_get_pull_operation(api, world):
    url = f"/api/companies/{world['company'].pk}/data/history"
    validate("get-pull-operation", api.get(f"{url}/{dataset(world['pull'])}"))
    validate("get-pull-operation", api.get(f"{url}/{uuid.uuid4()}"))


def test_get_profile_sync_settings(api, world):
    validate("get-profile-syncSettings", api.get("/api/profile/syncSettings"))


def test_update_profile_sync_settings(api, world):
    current = api.get("/api/profile/syncSettings").json()
    validate("update-profile-syncSettings", api.post("/api/profile/syncSettings", current, format="json"))


def test_list_api_keys(api, world):
    keys.create_key("")
    validate("list-api-keys", api.get("/api/apiKeys"))


def test_create_api_key(api, world):
    validate("create-api-key", api.post("/api/apiKeys", {"name": "ci"}, format="json"))
    validate("create-api-key", api.post("/api/apiKeys", {"name": "x" * 51}, format="json"))


def test_delete_api_key(api, world):
    row, _ = keys.create_key("spare")
    validate("delete-api-key", api.delete(f"/api/apiKeys/{row.pk}"))
    validate("delete-api-key", api.delete(f"/api/apiKeys/{row.pk}"))


def test_the_validator_would_catch_a_wrong_shape():
    """The check itself: a body that breaks Codat's schema fails it (nested refs and enums included)."""

    class Fake:
        status_code = 200
        content = b"{}"

        def __init__(self, body):
            self.body = body

        def json(self):
            return self.body

    with pytest.raises(AssertionError, match="redirect"):
        validate("get-company", Fake({"id": str(uuid.uuid4()), "name": "x"}))
    bad_connection = {"id": str(uuid.uuid4()), "name": "x", "redirect": "https://x", "dataConnections": [{"id": 1}]}
    with pytest.raises(AssertionError, match="dataConnections"):
        validate("get-company", Fake(bad_connection))
    with pytest.raises(AssertionError, match="Sleeping"):
        validate("list-pull-operations", Fake({"results": [{"status": "Sleeping"}], "pageNumber": 1, "pageSize": 1,
                                               "totalResults": 1, "_links": {"self": {}, "current": {}}}))  # fmt: skip


@pytest.mark.parametrize(
    "tags",
    [
        {"region": "uk"},
        {f"t{i}": "v" for i in range(10)},
        {"x" * 27: "v" * 100},
        {f"t{i}": "v" for i in range(11)},
        {"x" * 28: "v"},
        {"region": "v" * 101},
        {"": "v"},
    ],
)
def test_tags_are_accepted_exactly_when_codats_schema_accepts_them(api, world, tags):
    """The tag limits are Codat's: a body its schema refuses we refuse (400), one it accepts we keep."""
    body = {"name": "Tagged Co", "tags": tags}
    response = api.post("/api/companies", body, format="json")
    assert (response.status_code == 200) == (not request_errors("create-company", body)), response.json()


def test_the_company_sync_settings_we_accept_are_codats_shape(api, world):
    url = f"/api/companies/{world['company'].pk}/syncSettings"
    current = api.get(url).json()
    body = {**current, "settings": [{**current["settings"][0], "syncSchedule": 1}], "overridesDefaults": True}
    assert request_errors("set-company-syncSettings", body) == []
    assert api.post(url, body, format="json").status_code == 204
    without_company = {key: value for key, value in body.items() if key != "companyId"}
    assert request_errors("set-company-syncSettings", without_company)  # Codat requires companyId: so do we
    assert api.post(url, without_company, format="json").status_code == 400
