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
        ({"name": "A", "tags": {f"t{i}": "v" for i in range(11)}}, "tags"),
        ({"name": "A", "tags": {"x" * 28: "v"}}, "tags"),
        ({"name": "A", "tags": {"": "v"}}, "tags"),
        ({"name": "A", "tags": {"region": "x" * 101}}, "tags.region"),
        ({"name": "A", "tags": {"region": 1}}, "tags.region"),
        ({"name": "A", "tags": ["region"]}, "tags"),
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


def test_it_keeps_returns_and_audits_tags_on_create_replace_and_update(api):
    created = api.post("/api/companies", {"name": "Acme", "tags": {"region": "uk", "team": "ops"}}, format="json")
    assert created.status_code == 200, created.json()
    company_id = created.json()["id"]
    assert created.json()["tags"] == {"region": "uk", "team": "ops"}
    assert Company.objects.get(pk=company_id).tags == {"region": "uk", "team": "ops"}
    created_event = AuditEvent.objects.get(action=A.COMPANY_CREATED)
    assert {"field": "tag region", "before": None, "after": "uk"} in created_event.changes

    patched = api.patch(f"/api/companies/{company_id}", {"tags": {"region": "us"}}, format="json").json()
    assert patched["tags"] == {"region": "us"}  # PATCH replaces the map when it is given
    assert api.patch(f"/api/companies/{company_id}", {"name": "Acme 2"}, format="json").json()["tags"] == {
        "region": "us"
    }  # and leaves it alone when it is not
    changed = AuditEvent.objects.filter(action=A.COMPANY_CHANGED).order_by("created_at", "id").first()
    assert {"field": "tag region", "before": "uk", "after": "us"} in changed.changes
    assert {"field": "tag team", "before": "ops", "after": None} in changed.changes
    assert changed.actor_name == KEY_LABEL

    assert api.get(f"/api/companies/{company_id}").json()["tags"] == {"region": "us"}
    assert api.get("/api/companies").json()["results"][0]["tags"] == {"region": "us"}
    replaced = api.put(f"/api/companies/{company_id}", {"name": "Acme"}, format="json").json()
    assert replaced["tags"] == {}  # PUT replaces everything: no tags given, none kept
    assert Company.objects.get(pk=company_id).tags == {}


def test_a_refused_tag_change_keeps_the_tags_there_were(api):
    company = factory.make_company("Acme", tags={"region": "uk"})
    too_many = {f"t{i}": "v" for i in range(11)}
    assert_codat_error(api.patch(f"/api/companies/{company.pk}", {"tags": too_many}, format="json"), 400)
    company.refresh_from_db()
    assert company.tags == {"region": "uk"}
    assert not AuditEvent.objects.filter(action=A.COMPANY_CHANGED).exists()


@pytest.mark.parametrize(
    "query, names",
    [
        ("region=uk", ["Alpha", "Gamma"]),
        ("region=UK", ["Alpha", "Gamma"]),  # text compares without regard to case, as in `query`
        ("region!=uk", ["Beta", "Delta"]),  # Delta has no region: it equals no value
        ("region=uk && team=invoice-finance", ["Alpha"]),
        ("region=us || team~finance", ["Alpha", "Beta"]),
        ("team~FIN", ["Alpha"]),
        ("{region=uk || region=us} && team!=ops", ["Alpha", "Beta"]),
        ("a__b=1", ["Delta"]),  # one key, not a path into the map
        ("cost.centre='12 b'", ["Delta"]),
    ],
)
def test_the_tags_filter_speaks_codats_query_language(api, query, names):
    factory.make_company("Alpha", tags={"region": "uk", "team": "invoice-finance"})
    factory.make_company("Beta", tags={"region": "us"})
    factory.make_company("Gamma", tags={"region": "uk", "team": "ops"})
    factory.make_company("Delta", tags={"a__b": "1", "cost.centre": "12 b"})
    body = api.get("/api/companies", {"tags": query}).json()
    assert [company["name"] for company in body["results"]] == names
    assert body["totalResults"] == len(names)


@pytest.mark.parametrize("query", ["region", "region>uk", "{region=uk", "region=uk &&"])
def test_a_malformed_tags_filter_is_a_400_naming_the_parameter(api, query):
    body = assert_codat_error(api.get("/api/companies", {"tags": query}), 400)
    assert body["validation"]["errors"][0]["itemId"] == "tags"


def test_a_blank_tags_filter_matches_every_company(api):
    factory.make_company("Alpha")
    assert api.get("/api/companies", {"tags": ""}).json()["totalResults"] == 1
