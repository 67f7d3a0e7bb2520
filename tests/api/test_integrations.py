"""GET /integrations and /integrations/{platformKey}, with Codat's paging and query."""

import pytest

from tests import factory
from tests.api.conftest import assert_codat_error

pytestmark = pytest.mark.django_db


def test_it_lists_integrations_in_codats_envelope(api, clearbooks):
    body = api.get("/api/integrations").json()
    assert body["pageNumber"] == 1 and body["pageSize"] == 100 and body["totalResults"] == 1
    assert body["_links"]["self"] == {"href": "/integrations"}
    assert body["_links"]["current"] == {"href": "/integrations?page=1&pageSize=100"}
    (clear_books,) = body["results"]
    assert clear_books["key"] == "jhch" and clear_books["name"] == "Clear Books"
    assert clear_books["enabled"] is True and clear_books["sourceType"] == "Accounting"
    assert clear_books["logoUrl"].startswith("http://testserver/static/")
    features = {f["dataType"]: f["supportedFeatures"] for f in clear_books["datatypeFeatures"]}
    assert features["invoices"] == [{"featureType": "Get", "featureState": "Release"}]


def test_enabled_follows_the_admins_switch(api):
    factory.get_integration("jhch", enabled=False)
    assert api.get("/api/integrations/jhch").json()["enabled"] is False


@pytest.mark.parametrize(
    "query, found",
    [
        ("sourceType=Accounting", 1),
        ("sourceType=Banking", 0),
        ("name~clear", 1),
        ("name~CLEAR", 1),
        ("name=Clear Books", 1),
        ("name='Clear Books'", 1),
        ("name!=Clear Books", 0),
        ("key=jhch && enabled=true", 1),
        ("key=abcd || sourceType=Accounting", 1),
        ("{key=abcd || name~books} && enabled=true", 1),
        ("enabled=false", 0),
    ],
)
def test_it_filters_with_codats_query_language(api, clearbooks, query, found):
    response = api.get("/api/integrations", {"query": query})
    assert response.status_code == 200, response.json()
    assert response.json()["totalResults"] == found


@pytest.mark.parametrize(
    "query, message",
    [
        ("colour=blue", "Could not resolve property colour on Integration"),
        ("enabled~tr", "Operator ~ is not supported for property enabled"),
        ("enabled=maybe", "enabled must be true or false"),
        ("sourceType=Nonsense", "'Nonsense' is not a valid value for sourceType"),
        ("name", "Malformed query."),
        ("name=x &&", "Malformed query."),
        ("{name=x", "Malformed query."),
        ("name='x", "Malformed query."),
    ],
)
def test_a_bad_query_answers_400_with_codats_body(api, clearbooks, query, message):
    body = assert_codat_error(api.get("/api/integrations", {"query": query}), 400)
    assert body["error"] == f"Error parsing query - {message}"
    assert body["validation"]["errors"][0]["itemId"] == "query"


def test_it_orders_and_refuses_unknown_order_fields(api, clearbooks):
    assert api.get("/api/integrations", {"orderBy": "-name"}).status_code == 200
    body = assert_codat_error(api.get("/api/integrations", {"orderBy": "colour"}), 400)
    assert "colour" in body["error"]


@pytest.mark.parametrize("params", [{"page": "0"}, {"page": "x"}, {"pageSize": "0"}, {"pageSize": "5001"}])
def test_bad_paging_answers_400(api, params):
    assert_codat_error(api.get("/api/integrations", params), 400)


def test_a_page_past_the_end_is_empty(api, clearbooks):
    body = api.get("/api/integrations", {"page": 3, "pageSize": 1}).json()
    assert body["results"] == [] and body["totalResults"] == 1 and "next" not in body["_links"]


def test_it_gets_one_integration_by_platform_key(api, clearbooks):
    body = api.get("/api/integrations/jhch").json()
    assert body["key"] == "jhch" and body["integrationId"] and body["sourceId"]


def test_an_unknown_platform_key_answers_404(api):
    body = assert_codat_error(api.get("/api/integrations/zzzz"), 404)
    assert body["error"] == "Integration zzzz not found"
