"""CSRF on every form: a POST without the token is refused (403, the "form expired" page) and changes
nothing, for every URL of the portal, as anonymous, Support and Admin; with the token the same POST
gets past the check (so the refusal was the token's doing, not the role's).

URLs come from the resolver (tests.test_permission_walk), so a new form or action is walked without
being listed here. The REST API takes no cookie, only API keys: a logged-in browser's POST there
without a key is refused (401) and changes nothing too.
"""

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse

from tests.test_permission_walk import (  # noqa: F401
    ADMIN,
    ANON,
    DONE,
    EXPECTATIONS,
    SUPPORT,
    URLS,
    url_for,
    world,
)

ROOT = Path(__file__).resolve().parent.parent
CSRF_REFUSAL = "This form has expired"  # portal.errors.FORM_EXPIRED, the CSRF failure page
PERSONAS = (ANON, SUPPORT, ADMIN)
# Tables a refused request may touch without changing the portal: the login session itself.
NOT_DATA = {"sessions.session", "axes.accessattempt", "axes.accesslog", "axes.accessfailurelog"}
# The REST API and its docs page (GET only) are DRF views, which Django's CSRF check leaves to DRF.
DRF_URLS = [name for name, _ in URLS if name.startswith("api:") or name in ("api-unknown", "api-docs")]
PORTAL_URLS = [name for name, _ in URLS if name not in DRF_URLS]


def test_no_portal_view_is_exempt_from_the_check():
    """A new csrf_exempt view (an inbound webhook, say) must be a decision: it fails here until it is listed."""
    exempt = sorted(
        name for name, pattern in URLS if name in PORTAL_URLS and getattr(pattern.callback, "csrf_exempt", False)
    )
    assert exempt == []


def database():
    """Every row of every table that holds the portal's data: equal means nothing changed."""
    return {
        model._meta.label_lower: list(model.objects.order_by("pk").values_list())
        for model in apps.get_models()
        if model._meta.label_lower not in NOT_DATA and model._meta.managed
    }


def data_for(name, things):
    rule = EXPECTATIONS[name]
    data = rule.data(things) if callable(rule.data) else (rule.data or {})
    return dict(data)


def browser_for(persona, things):
    client = Client(enforce_csrf_checks=True)
    if persona != ANON:
        client.force_login(things["users"][persona])
    return client


def token_of(client):
    """The CSRF token a page gives this visitor (the login page sets one for anyone)."""
    client.get(reverse("login"))
    client.get(reverse("connections:dashboard"))
    return client.cookies["csrftoken"].value


@pytest.mark.parametrize("name", PORTAL_URLS)
def test_a_post_without_the_token_is_refused_and_changes_nothing(name, world):  # noqa: F811
    url = url_for(name, dict(URLS)[name], EXPECTATIONS[name], world)
    for persona in PERSONAS:
        client = browser_for(persona, world)
        before = database()
        response = client.post(url, data_for(name, world))
        assert response.status_code == 403, f"POST {url} as {persona} without a token: {response.status_code}"
        assert CSRF_REFUSAL in response.content.decode(), f"POST {url} as {persona}: refused, but not for CSRF"
        assert database() == before, f"POST {url} as {persona} without a token changed the database"


ACTIONS = [name for name in PORTAL_URLS if EXPECTATIONS[name].post is not None]


def test_it_walks_every_form_of_the_portal():
    assert len(ACTIONS) >= 15
    assert {"login", "connections:link", "connections:company-create", "api-keys:apikey-list"} <= set(PORTAL_URLS)


@pytest.mark.parametrize("name", ACTIONS)
def test_the_same_post_with_the_token_gets_past_the_check(name, world):  # noqa: F811
    rule = EXPECTATIONS[name]
    url = url_for(name, dict(URLS)[name], rule, world)
    allowed = [persona for persona in (SUPPORT, ADMIN) if rule.post[persona] == DONE]
    for persona in allowed or [ANON]:
        client = browser_for(persona, world)
        data = data_for(name, world) | {"csrfmiddlewaretoken": token_of(client)}
        response = client.post(url, data)
        assert CSRF_REFUSAL not in response.content.decode(), f"POST {url} as {persona} with the token"
        assert response.status_code != 403 or persona == ANON, f"POST {url} as {persona}: {response.status_code}"


def test_the_snapshot_sees_what_a_form_changes(world):  # noqa: F811
    """The "changes nothing" above can fail: the same snapshot sees a company created with the token."""
    client = browser_for(ADMIN, world)
    data = {"name": "Snapshot Ltd", "csrfmiddlewaretoken": token_of(client)}
    before = database()
    assert client.post(reverse("connections:company-create"), data).status_code == 302
    assert database() != before


def test_the_link_page_and_the_login_refuse_a_post_without_the_token(world):  # noqa: F811
    """The two public forms: the Link page (a company's user, no login) and the login page."""
    link = reverse("connections:link", kwargs={"token": world["pending_token"]})
    for url, data in ((link, {"api_key": "x" * 24}), (reverse("login"), {"username": "alice", "password": "x"})):
        before = database()
        response = Client(enforce_csrf_checks=True).post(url, data)
        assert response.status_code == 403 and CSRF_REFUSAL in response.content.decode(), url
        assert database() == before, url


@pytest.mark.parametrize("name", DRF_URLS)
def test_the_api_takes_no_cookie_for_a_key(name, world):  # noqa: F811
    """A browser's session opens nothing there: refused (401 no key, 403/405 the docs page, 404 unknown)."""
    url = url_for(name, dict(URLS)[name], EXPECTATIONS[name], world)
    for persona in PERSONAS:
        client = browser_for(persona, world)
        before = database()
        response = client.post(url, data="{}", content_type="application/json")
        refused = {401, 403, 404, 405} | ({302} if name == "api-docs" and persona == ANON else set())
        assert response.status_code in refused, f"POST {url} as {persona}, no key: {response.status_code}"
        assert database() == before, f"POST {url} as {persona}, no key: the database changed"


POST_FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)


def test_every_post_form_in_the_templates_carries_the_token():
    forms = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        for attributes, body in POST_FORM.findall(path.read_text()):
            if re.search(r"method=[\"']post[\"']", attributes, re.I):
                forms.append((path.relative_to(ROOT), "{% csrf_token %}" in body))
    assert len(forms) >= 15
    assert [path for path, has_token in forms if not has_token] == []
