"""Connections: list, create, get, unlink, delete and update authorization (validated live)."""

import uuid

import pytest

from connections.models import Connection, ConnectionEvent, PullOperation
from integrations.models import AuditEvent
from tests import factory
from tests.api.conftest import assert_codat_error

pytestmark = pytest.mark.django_db
A, K, S = AuditEvent.Action, ConnectionEvent.Kind, Connection.Status
KEY_LABEL = "billing service (API key)"


@pytest.fixture
def company(db):
    return factory.make_company("Acme")


def create(api, company, key="jhch"):
    return api.post(f"/api/companies/{company.pk}/connections", {"platformKey": key}, format="json")


def test_it_creates_a_pending_connection_with_its_link_url(api, clearbooks, company):
    response = create(api, company)
    assert response.status_code == 200, response.json()
    body = response.json()
    connection = Connection.objects.get(pk=body["id"])
    assert body["status"] == "PendingAuth" and body["integrationKey"] == "jhch" and body["sourceType"] == "Accounting"
    assert body["linkUrl"] == f"http://testserver/link/{connection.link_token}/"
    assert AuditEvent.objects.get(action=A.CONNECTION_CREATED).actor_name == KEY_LABEL
    assert AuditEvent.objects.get(action=A.LINK_URL_ISSUED).actor_name == KEY_LABEL
    assert {e.actor_label for e in connection.events.all()} == {KEY_LABEL}


def test_it_refuses_a_second_active_accounting_connection_and_a_disabled_integration(api, clearbooks, company):
    create(api, company)
    body = assert_codat_error(create(api, company), 400)
    assert "already" in body["error"]
    factory.get_integration("jhch", enabled=False)
    assert_codat_error(create(api, factory.make_company("Other")), 400)


def test_it_refuses_unknown_and_missing_platform_keys(api, clearbooks, company):
    assert_codat_error(create(api, company, "zzzz"), 404)
    assert_codat_error(api.post(f"/api/companies/{company.pk}/connections", {}, format="json"), 400)


def test_it_lists_and_gets_connections(api, clearbooks, company):
    connection = factory.make_connection(company)
    body = api.get(f"/api/companies/{company.pk}/connections", {"query": "status=Linked"}).json()
    assert [c["id"] for c in body["results"]] == [str(connection.pk)]
    assert api.get(f"/api/companies/{company.pk}/connections", {"query": "status=Unlinked"}).json()["results"] == []
    assert api.get(f"/api/companies/{company.pk}/connections/{connection.pk}").json()["status"] == "Linked"
    other = factory.make_company("Other")
    assert_codat_error(api.get(f"/api/companies/{other.pk}/connections/{connection.pk}"), 404)
    assert_codat_error(api.get(f"/api/companies/{company.pk}/connections/{uuid.uuid4()}"), 404)


def test_unlink_moves_to_unlinked_forgets_credentials_and_is_audited(api, clearbooks, company):
    connection = factory.make_connection(company, credentials_encrypted="x", credentials_fingerprint="f")
    url = f"/api/companies/{company.pk}/connections/{connection.pk}"
    response = api.patch(url, {"status": "Unlinked"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "Unlinked"
    connection.refresh_from_db()
    assert connection.status == S.UNLINKED and not connection.has_credentials
    assert AuditEvent.objects.get(action=A.CONNECTION_UNLINKED).actor_name == KEY_LABEL
    assert connection.events.get(kind=K.STATUS_CHANGED).actor_label == KEY_LABEL
    assert api.patch(url, {"status": "Unlinked"}, format="json").status_code == 200  # already: nothing to do
    assert_codat_error(api.patch(url, {"status": "Linked"}, format="json"), 400)


def test_only_a_linked_connection_can_be_unlinked(api, clearbooks, company):
    connection = factory.make_connection(company, status=S.PENDING_AUTH)
    url = f"/api/companies/{company.pk}/connections/{connection.pk}"
    assert_codat_error(api.patch(url, {"status": "Unlinked"}, format="json"), 400)


def test_delete_removes_the_connection(api, clearbooks, company):
    connection = factory.make_connection(company)
    url = f"/api/companies/{company.pk}/connections/{connection.pk}"
    assert api.delete(url).status_code == 200
    assert not Connection.objects.filter(pk=connection.pk).exists()
    assert AuditEvent.objects.get(action=A.CONNECTION_DELETED).actor_name == KEY_LABEL


class TestAuthorization:
    def url(self, connection):
        return f"/api/companies/{connection.company_id}/connections/{connection.pk}/authorization"

    def pending(self, api, company):
        return Connection.objects.get(pk=create(api, company).json()["id"])

    def test_a_key_the_platform_rejects_is_refused_and_nothing_is_stored(self, api, clearbooks, company, sandbox):
        connection = self.pending(api, company)
        response = api.put(self.url(connection), {"apiKey": "not-a-real-clear-books-key"}, format="json")
        body = assert_codat_error(response, 400)
        assert body["error"] == "Clear Books did not accept this API key."
        assert "not-a-real-clear-books-key" not in response.content.decode()
        connection.refresh_from_db()
        assert connection.status == S.PENDING_AUTH and not connection.has_credentials
        assert connection.events.get(kind=K.LINK_REJECTED).actor_label == KEY_LABEL

    def test_a_valid_key_links_the_connection_and_queues_first_link_pulls(self, api, clearbooks, company, sandbox):
        key = sandbox.make_key(seed="api-auth", invoices=3, customers=2)
        connection = self.pending(api, company)
        response = api.put(self.url(connection), {"apiKey": key}, format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == "Linked" and key not in response.content.decode()
        connection.refresh_from_db()
        assert connection.status == S.LINKED and connection.has_credentials
        assert key not in connection.credentials_encrypted
        assert connection.link_token_used_at is not None
        assert PullOperation.objects.filter(connection=connection, trigger="first_link").count() == len(
            clearbooks.provider.data_types
        )
        kinds = {e.kind: e.actor_label for e in connection.events.all()}
        assert kinds[K.LINK_ACCEPTED] == KEY_LABEL and kinds[K.STATUS_CHANGED] == KEY_LABEL

    def test_an_unreachable_platform_answers_503_and_stores_nothing(self, api, clearbooks, company, settings):
        settings.CLEARBOOKS_WSDL_URL = "http://127.0.0.1:9/api/accounting/wsdl/"
        connection = self.pending(api, company)
        assert_codat_error(api.put(self.url(connection), {"apiKey": "whatever-key"}, format="json"), 503)
        connection.refresh_from_db()
        assert not connection.has_credentials
        assert connection.events.filter(kind=K.LINK_UNREACHABLE).exists()

    def test_it_needs_an_api_key_in_the_body(self, api, clearbooks, company):
        connection = self.pending(api, company)
        body = assert_codat_error(api.put(self.url(connection), {"password": "x"}, format="json"), 400)
        assert body["validation"]["errors"][0]["itemId"] == "apiKey"
