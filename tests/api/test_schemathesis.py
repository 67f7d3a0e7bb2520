"""Schemathesis against the schema we serve: generated requests to every operation, a few each.

A live server on a free loopback port; the schema is read from /api/schema/ with an API key,
and every answer must not be a server error and must conform to that schema (status codes,
content types, headers, bodies).
"""

import base64

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from portal.api import keys
from tests import factory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
MAX_EXAMPLES = 5


@pytest.fixture
def served(live_server, settings, sandbox):
    settings.API_RATE_LIMIT = "100000/minute"
    factory.get_integration("jhch", enabled=True)
    company = factory.make_company("Fuzzed Ltd")
    factory.make_connection(company)
    _, key = keys.create_key("schemathesis")
    auth = {"Authorization": "Basic " + base64.b64encode(key.encode()).decode()}
    return live_server.url, auth


@pytest.fixture
def api_schema(served):
    base_url, auth = served
    schema = schemathesis.openapi.from_url(f"{base_url}/api/schema/?format=json", headers=auth)
    # Query parameters the schema does not name are ignored, as most APIs do (Codat's SDK sends
    # none): not one of schemathesis's "invalid requests". Deterministic: the same cases each run.
    schema.config.generation.update(allow_extra_parameters=False, deterministic=True, max_examples=MAX_EXAMPLES)
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_its_schema_says(case, served):
    base_url, auth = served
    # Every check but "schema-valid requests are accepted": a random `query` or `orderBy` is a
    # valid string that Codat's query language refuses (400), as it should.
    case.call_and_validate(
        base_url=f"{base_url}/api", headers=auth, excluded_checks=[schemathesis.checks.positive_data_acceptance]
    )
