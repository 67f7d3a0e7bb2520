"""The Content-Security-Policy: every page of the permission walk, every Django admin page and every
error page answers with the strict policy, and no template carries what the policy would block.

URLs come from the resolver (tests.test_permission_walk), so a new page is checked without being
listed here. The browser side (no violation on the pages a person sees) is tests/browser/test_security.py.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests import factory
from tests.test_permission_walk import (  # noqa: F401
    ADMIN,
    ANON,
    EXPECTATIONS,
    SUPPORT,
    URLS,
    WALKED,
    admin_urls,
    url_for,
    world,
)

ROOT = Path(__file__).resolve().parent.parent
STRICT = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "connect-src": "'self'",
    "font-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# The one documented exception: Swagger UI draws its icons as data: images (portal/api_urls.py).
EXCEPTIONS = {"api-docs": {"img-src": "'self' data:"}}


def policy_of(response):
    header = response.get("Content-Security-Policy")
    assert header, f"{response.status_code} {response.request['PATH_INFO']}: no Content-Security-Policy"
    directives = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
    return dict(directives)


def test_the_policy_is_strict():
    policy = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    assert {name: " ".join(values) for name, values in policy.items()} == STRICT
    assert not any("unsafe" in value for values in policy.values() for value in values)


@pytest.mark.parametrize("name", WALKED)
def test_every_page_answers_with_the_policy(name, world):  # noqa: F811
    url = url_for(name, dict(URLS)[name], EXPECTATIONS[name], world)
    for persona in (ANON, SUPPORT, ADMIN):
        client = Client()
        if persona != ANON:
            client.force_login(world["users"][persona])
        response = client.get(url)
        # The exception is the page's own: a redirect to the login page carries the strict policy.
        expected = STRICT | EXCEPTIONS.get(name, {}) if response.status_code == 200 else STRICT
        assert policy_of(response) == expected, f"GET {url} as {persona}: {response.status_code}"


def test_the_api_docs_script_comes_from_the_page_itself(admin_client):
    """Swagger UI's start-up script is served by the docs URL (?script), not written inline."""
    page = admin_client.get(reverse("api-docs")).content.decode()
    assert re.search(r'<script src="/api/docs/\?script="></script>', page), page
    assert not re.search(r"<script>|<style", page)
    script = admin_client.get(reverse("api-docs") + "?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()


def test_every_django_admin_page_answers_with_the_policy(db, client):
    client.force_login(factory.make_user("root", is_staff=True, is_superuser=True))
    urls = admin_urls() + [reverse("admin:login")]
    assert {"/admin/", "/admin/auth/user/", "/admin/integrations/integration/"} <= set(urls)
    for url in urls:
        response = client.get(url)
        # 302: an object page of a made-up id goes back to its list; 403: autocomplete without its query.
        assert response.status_code in (200, 302, 403), (url, response.status_code)
        assert policy_of(response) == STRICT, url


def test_error_pages_answer_with_the_policy(admin_client):
    assert policy_of(admin_client.get("/no-such-page/")) == STRICT
    refused = Client(enforce_csrf_checks=True)
    refused.force_login(factory.make_support("csp-support"))
    assert policy_of(refused.post(reverse("connections:company-create"), {"name": "x"})) == STRICT
    csrf_failure = Client(enforce_csrf_checks=True).post(reverse("login"), {"username": "a", "password": "b"})
    assert csrf_failure.status_code == 403 and policy_of(csrf_failure) == STRICT


TEMPLATE_DIRS = [ROOT / "templates", *ROOT.glob("*/templates"), *ROOT.glob("*/*/templates")]
BLOCKED = {
    "an inline style attribute": re.compile(r"\sstyle\s*=", re.I),
    "an inline <style> element": re.compile(r"<style[\s>]", re.I),
    "an inline script": re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.I),
    "an event handler attribute": re.compile(r"\son[a-z]+\s*=\s*[\"']", re.I),
    "a javascript: URL": re.compile(r"javascript:", re.I),
}


COMMENTS = re.compile(r"{% comment %}.*?{% endcomment %}|{#.*?#}", re.S)


def templates():
    return sorted(path for folder in TEMPLATE_DIRS for path in folder.rglob("*.html"))


def markup(path):
    """The template without its comments (which may well name what they avoid)."""
    return COMMENTS.sub("", path.read_text())


def test_no_template_carries_what_the_policy_blocks():
    found = templates()
    assert len(found) > 30 and ROOT / "templates" / "connections" / "dashboard.html" in found
    problems = [
        f"{path.relative_to(ROOT)}: {what}"
        for path in found
        for what, pattern in BLOCKED.items()
        if pattern.search(markup(path))
    ]
    assert not problems, "\n".join(problems)
