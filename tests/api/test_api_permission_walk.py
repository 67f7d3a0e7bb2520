"""The permission walk, for API keys: every API URL needs a valid key, and a key opens no page.

URLs come from the resolver (through tests.test_permission_walk), so a new API endpoint
or a new page is walked without being listed here.
"""

import pytest
from django.test import Client

from portal.api import keys
from tests.api.conftest import basic
from tests.test_permission_walk import (  # noqa: F401
    ADMIN_LOGIN,
    ANON,
    EXPECTATIONS,
    LOGIN,
    URLS,
    admin_urls,
    outcome,
    url_for,
    world,
)

API_URLS = [name for name, _ in URLS if name.startswith("api:") and name != "api:schema"]
PAGES = [name for name, _ in URLS if not name.startswith("api:") and name != "api-unknown"]
METHODS = ("get", "post", "put", "patch", "delete")


def test_it_walks_every_api_operation():
    assert len(API_URLS) >= 17 and "api:company-list" in API_URLS and "api:record-list" in API_URLS


def call(client, method, url, key=None):
    headers = {"HTTP_AUTHORIZATION": basic(key)} if key else {}
    if method == "get":
        return client.get(url, **headers)
    return getattr(client, method)(url, data="{}", content_type="application/json", **headers)


@pytest.mark.parametrize("name", API_URLS)
def test_no_api_endpoint_answers_without_a_valid_key(name, world):  # noqa: F811
    url = url_for(name, dict(URLS)[name], EXPECTATIONS[name], world)
    row, key = keys.create_key("walker")
    client = Client()
    for method in METHODS:
        for wrong in (None, "not-a-key", key[:-1]):
            response = call(client, method, url, wrong)
            assert response.status_code == 401, f"{method.upper()} {url} with {wrong!r}: {response.status_code}"
            assert response.json()["statusCode"] == 401
        assert call(client, method, url, key).status_code != 401, f"{method.upper()} {url} with a valid key"
    keys.revoke_key(row)
    for method in METHODS:
        assert call(client, method, url, key).status_code == 401, f"{method.upper()} {url} with a revoked key"


@pytest.mark.parametrize("name", PAGES)
def test_an_api_key_opens_no_page(name, world):  # noqa: F811
    """With a valid key and no login, every page answers exactly as to an anonymous visitor."""
    rule = EXPECTATIONS[name]
    url = url_for(name, dict(URLS)[name], rule, world)
    _, key = keys.create_key("walker")
    got = outcome(Client().get(url, HTTP_AUTHORIZATION=basic(key)))
    expected = rule.get[ANON]
    assert got == expected or (isinstance(expected, frozenset) and got in expected), f"GET {url}: {got}"
    public = {"login", "connections:link", "connections:link-done", "healthz"}  # open to anyone, key or not
    assert got == LOGIN or name in public, f"GET {url}: {got}"


def test_an_api_key_opens_no_django_admin_page(db):
    """Every page of Django admin (from the resolver) sends a key-only caller to admin's login."""
    _, key = keys.create_key("walker")
    urls = admin_urls()
    assert "/admin/" in urls and "/admin/integrations/integration/" in urls and "/admin/auth/user/" in urls
    for url in urls:
        got = outcome(Client().get(url, HTTP_AUTHORIZATION=basic(key)))
        assert got in (LOGIN, ADMIN_LOGIN), f"GET {url} with a key: {got}"
