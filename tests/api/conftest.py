"""Fixtures for the REST API: a key, and a client that sends it as Codat's clients do."""

import base64

import pytest
from rest_framework.test import APIClient

from portal.api import keys


def basic(key: str) -> str:
    """The Authorization header Codat's SDK sends: "Basic " + base64 of the key."""
    return "Basic " + base64.b64encode(key.encode()).decode()


@pytest.fixture
def api_key(db):
    """(ApiKey row, plaintext key) named "billing service"."""
    return keys.create_key("billing service")


@pytest.fixture
def api(api_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic(api_key[1]))
    return client


@pytest.fixture
def anon_api(db):
    return APIClient()


def assert_codat_error(response, status_code):
    """Codat's error body, with the status and the response's correlation id."""
    assert response.status_code == status_code, response.content
    body = response.json()
    assert body["statusCode"] == status_code
    assert body["service"] == "PublicApi"
    assert body["error"]
    assert body["correlationId"] == response["X-Correlation-Id"]
    assert "validation" in body
    return body


# No fixture resets the rate limit counts: they are counted per key, and each test makes its own.
