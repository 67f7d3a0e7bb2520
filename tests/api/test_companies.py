"""Companies: list, create, get, replace, update, delete; each write audited under the key's name."""

import uuid

import pytest

from connections.models import Company
from integrations.models import AuditEvent
from tests import factory
from tests.api.conftest import assert_codat_error

pytestmark = pytest.mark.django_db
A = AuditEvent.Action
KEY_LABEL = "billing service (API key)"


def test_it_creates_a_company_and_audits_it_under_the_keys_name(api):
    response = api.post("/api/companies", {"name": "Acme  Ltd", "description": "Widgets"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    company = Company.objects.get(pk=body["id"])
    assert (company.name, company.description) == ("Acme Ltd", "Widgets")
    assert body["name"] == "Acme Ltd" and body["dataConnections"] == [] and body["redirect"].startswith("http")
    event = AuditEvent.objects.get(action=A.COMPANY_CREATED)
    assert event.actor is None and event.actor_name == KEY_LABEL and event.target_id == str(company.pk)


@pytest.mark.parametrize(
    "data, item",
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "Bad <name>"}, "name"),
        ({"name": "A", "tags": {"x": "y"}}, "tags"),
    ],
)
def test_it_refuses_invalid_companies_with_codats_validation_body(api, data, item):
    body = assert_codat_error(api.post("/api/companies", data, format="json"), 400)
    assert body["validation"]["errors"][0]["itemId"] == item
    assert not Company.objects.exists()


def test_it_lists_filters_and_pages_companies(api):
    for name in ("Alpha", "Beta", "Gamma"):
        factory.make_company(name)
    body = api.get("/api/companies", {"pageSize": 2}).json()
    assert [c["name"] for c in body["results"]] == ["Alpha", "Beta"]
    assert body["totalResults"] == 3 and body["_links"]["next"]["href"] == "/companies?page=2&pageSize=2"
    assert api.get("/api/companies", {"query": "name~amm"}).json()["totalResults"] == 1
    assert [c["name"] for c in api.get("/api/companies", {"orderBy": "-name"}).json()["results"]][0] == "Gamma"
    assert_codat_error(api.get("/api/companies", {"query": "modifiedDate>2020-01-01"}), 400)


def test_it_gets_a_company_with_its_connections(api, clearbooks):
    connection = factory.make_connection(factory.make_company("Acme"))
    body = api.get(f"/api/companies/{connection.company_id}").json()
    (data_connection,) = body["dataConnections"]
    assert data_connection["id"] == str(connection.pk) and data_connection["platformName"] == "Clear Books"


def test_an_unknown_company_answers_404(api):
    missing = uuid.uuid4()
    body = assert_codat_error(api.get(f"/api/companies/{missing}"), 404)
    assert body["error"] == f"No company was found with ID {missing}"


def test_put_replaces_and_patch_updates_with_one_audit_event_each(api):
    company = factory.make_company("Acme", description="Old")
    response = api.put(f"/api/companies/{company.pk}", {"name": "Acme Two"}, format="json")
    assert response.json()["name"] == "Acme Two" and response.json()["description"] == ""
    response = api.patch(f"/api/companies/{company.pk}", {"description": "New"}, format="json")
    assert response.json()["name"] == "Acme Two" and response.json()["description"] == "New"
    events = list(AuditEvent.objects.filter(action=A.COMPANY_CHANGED).order_by("created_at", "id"))
    assert [e.changes for e in events] == [
        [
            {"field": "name", "before": "Acme", "after": "Acme Two"},
            {"field": "description", "before": "Old", "after": ""},
        ],
        [{"field": "description", "before": "", "after": "New"}],
    ]
    assert {e.actor_name for e in events} == {KEY_LABEL}


def test_delete_removes_the_company_and_audits_it(api):
    company = factory.make_company("Acme")
    assert api.delete(f"/api/companies/{company.pk}").status_code == 204
    assert not Company.objects.filter(pk=company.pk).exists()
    assert AuditEvent.objects.get(action=A.COMPANY_DELETED).actor_name == KEY_LABEL
    assert_codat_error(api.delete(f"/api/companies/{company.pk}"), 404)


def test_a_tag_filter_matches_no_company_since_none_has_tags(api):
    factory.make_company("Alpha")
    assert api.get("/api/companies", {"tags": "region=uk"}).json()["totalResults"] == 0
    assert api.get("/api/companies", {"tags": ""}).json()["totalResults"] == 1
