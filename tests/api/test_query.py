"""Codat's query language on every kind of field: a value of the wrong kind is a 400, never a 500."""

from decimal import Decimal

import pytest

from tests import factory
from tests.api.conftest import assert_codat_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def urls(clearbooks):
    connection = factory.make_connection(factory.make_company("Acme"))
    factory.make_record(connection, "invoices", remote_id="a", total=Decimal("5"), issued_on="2024-03-01")
    factory.make_record(connection, "invoices", remote_id="b", total=Decimal("500"), issued_on="2025-03-01")
    factory.make_pull(connection, "invoices")
    company = connection.company_id
    return {
        "companies": "/api/companies",
        "history": f"/api/companies/{company}/data/history",
        "records": f"/api/companies/{company}/connections/{connection.pk}/data/invoices",
        "connection": str(connection.pk),
        "company": str(company),
    }


@pytest.mark.parametrize(
    "where, query, found",
    [
        ("companies", "id={company}", 1),
        ("companies", "created>2020-01-01", 1),
        ("companies", "created<2020-01-01T00:00:00Z", 0),
        ("history", "connectionId={connection} && status=Complete", 1),
        ("records", "total>100", 1),
        ("records", "total<=5", 1),
        ("records", "issuedOn>=2025-01-01", 1),
        ("records", "issuedOn<2025-01-01T12:00:00+01:00", 1),
        ("records", "isDeleted=false && {{id=a || id=b}}", 2),
    ],
)
def test_it_filters_by_kind(api, urls, where, query, found):
    response = api.get(urls[where], {"query": query.format(**urls)})
    assert response.status_code == 200, response.json()
    assert response.json()["totalResults"] == found


@pytest.mark.parametrize(
    "where, query, message",
    [
        ("companies", "id=abc", "id must be a UUID"),
        ("companies", "id~abc", "Operator ~ is not supported for property id"),
        ("companies", "created>yesterday", "created must be a date or date-time (ISO 8601)"),
        ("companies", "created>2020-13-45", "created must be a date or date-time (ISO 8601)"),
        ("history", "connectionId=abc", "connectionId must be a UUID"),
        ("history", "status=Sleeping", "'Sleeping' is not a valid value for status"),
        ("records", "total>NaN", "total must be a number"),
        ("records", "total>Infinity", "total must be a number"),
        ("records", "total>ten", "total must be a number"),
        ("records", "name>b", "Operator > is not supported for property name"),
    ],
)
def test_a_value_of_the_wrong_kind_answers_400(api, urls, where, query, message):
    body = assert_codat_error(api.get(urls[where], {"query": query}), 400)
    assert body["error"] == f"Error parsing query - {message}"
