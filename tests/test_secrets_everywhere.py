"""Secrets never leak: the Clear Books API key and the portal's API keys, through one journey with its
error paths, are searched for in every answer, every log line (all loggers at DEBUG, SQL included),
every SQL statement with its parameters, every audit event and every table.

The journey (real HTTP to the sandbox, real requests to the portal): an admin adds a company and a
connection; the company's user tries the Link page with Clear Books unreachable, then a refused key,
then the right one; the first pulls run; Support tests the connection; an admin creates API keys on
the page and through the API; the keys call the API, give a connection its Clear Books key (refused,
unreachable, malformed, accepted), fail authentication (a wrong key, a revoked one); then every page is
walked as Admin, Support and a superuser. The only answers allowed to hold a portal API key are the two
that create it (it is shown once); no answer holds a Clear Books key.
"""

import json
import logging
import socket

import pytest
from django.db import connection as db
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from connections.models import Company, Connection, PullOperation
from connections.sync import pulls
from integrations.models import AuditEvent
from portal.api.models import ApiKey
from tests import factory
from tests.api.conftest import basic
from tests.connections.test_secrets import walk

S = Connection.Status
pytestmark = pytest.mark.django_db
JSON = "application/json"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pieces(secret):
    """The secret, and the part of it no fingerprint shows (an API key's first 8 characters are its prefix)."""
    return [secret, secret[8:], secret[3:-4]]


class Seen:
    """Every answer the journey got, by where it came from."""

    def __init__(self):
        self.answers = []

    def __call__(self, where, response):
        body = b"".join(response.streaming_content) if response.streaming else response.content
        headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
        self.answers.append((where, headers + "\n" + body.decode(errors="replace")))
        return response


def leaks(text, secrets):
    return [name for name, secret in secrets.items() if any(piece in text for piece in pieces(secret))]


@pytest.fixture
def debug_logs(caplog):
    """Every logger at DEBUG, SQL statements included (django.db.backends logs them with a debug cursor)."""
    caplog.set_level(logging.DEBUG)
    for name in ("django.db.backends", "django.request", "django.server", "zeep", "urllib3", "portal", "axes"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def test_no_secret_shows_anywhere(sandbox, settings, debug_logs, admin_user, support_user):
    settings.CLEARBOOKS_RETRY_BASE_DELAY = settings.CLEARBOOKS_RETRY_MAX_DELAY = 0.01
    clearbooks = factory.get_integration("jhch", enabled=True)
    right = sandbox.make_key(seed="leak-books", invoices=12, customers=3, suppliers=2, bills=4)
    refused = sandbox.make_key(seed="leak-books", revoked=True)
    api_right = sandbox.make_key(seed="leak-api-books", invoices=3)
    secrets = {"Clear Books key": right, "refused Clear Books key": refused, "API-given Clear Books key": api_right}
    seen = Seen()
    admin, support, public = Client(), Client(), Client()
    admin.force_login(admin_user)
    support.force_login(support_user)

    with CaptureQueriesContext(db) as queries:
        # An admin adds the company and its connection; the company's user links the books.
        seen("company-create", admin.post(reverse("connections:company-create"), {"name": "Leaky Ltd"}))
        company = Company.objects.get(name="Leaky Ltd")
        seen("connection-create", admin.post(reverse("connections:connection-create", args=[company.pk]),
                                             {"integration": clearbooks.pk}))  # fmt: skip
        connection = Connection.objects.get(company=company)
        link = reverse("connections:link", args=[connection.link_token])
        sandbox_url = settings.CLEARBOOKS_WSDL_URL
        settings.CLEARBOOKS_WSDL_URL = f"http://127.0.0.1:{closed_port()}/api/accounting/wsdl/"
        seen("link: unreachable", public.post(link, {"api_key": right}))
        settings.CLEARBOOKS_WSDL_URL = sandbox_url
        seen("link: refused", public.post(link, {"api_key": refused}))
        seen("link: accepted", public.post(link, {"api_key": right}))
        connection.refresh_from_db()
        assert connection.status == S.LINKED
        for pull in connection.pulls.filter(status=PullOperation.Status.QUEUED):
            pulls.sync(pull)
        assert connection.records.filter(data_type="invoices").count() == 12
        seen("connection-test", support.post(reverse("connections:connection-test", args=[connection.pk])))

        # API keys: one from the page, one from the API; each shown once, in the answer that made it.
        made_on_page = admin.post(reverse("api-keys:apikey-list"), {"name": "page key"})
        page_key = made_on_page.context["new_key"]["key"]
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=basic(page_key))
        made_by_api = api.post("/api/apiKeys", {"name": "api key"}, format="json")
        assert made_by_api.status_code == 201
        api_key = made_by_api.json()["apiKey"]
        secrets |= {"API key (page)": page_key, "API key (API)": api_key}
        for answer in (made_on_page, made_by_api):
            text = answer.content.decode()
            assert any(key in text for key in (page_key, api_key))  # the one answer that shows it

        # The API, as a client would use it, and its error paths.
        other = factory.make_connection(factory.make_company("Via API Ltd"), status=S.PENDING_AUTH)
        authorization = f"/api/companies/{other.company_id}/connections/{other.pk}/authorization"
        for where, response in (
            ("companies", api.get("/api/companies")),
            ("connection", api.get(f"/api/companies/{company.pk}/connections/{connection.pk}")),
            ("api keys", api.get("/api/apiKeys")),
            ("authorization: refused", api.put(authorization, {"apiKey": refused}, format="json")),
            ("authorization: malformed", api.put(authorization, '{"apiKey": "' + right, content_type=JSON)),
            ("authorization: too long", api.put(authorization, {"apiKey": right * 20}, format="json")),
        ):  # fmt: skip
            seen(f"API {where}", response)
            assert response.status_code < 500, (where, response.status_code)
        settings.CLEARBOOKS_WSDL_URL = f"http://127.0.0.1:{closed_port()}/api/accounting/wsdl/"
        seen("API authorization: unreachable", api.put(authorization, {"apiKey": api_right}, format="json"))
        settings.CLEARBOOKS_WSDL_URL = sandbox_url
        accepted = seen("API authorization: accepted", api.put(authorization, {"apiKey": api_right}, format="json"))
        assert accepted.status_code == 200 and accepted.json()["status"] == "Linked"
        wrong = APIClient()
        wrong.credentials(HTTP_AUTHORIZATION=basic(page_key[:-2] + "zz"))
        seen("API: a wrong key", wrong.get("/api/companies"))
        row = ApiKey.objects.get(name="api key")
        seen("revoke on the page", admin.post(reverse("api-keys:apikey-revoke", args=[row.pk])))
        revoked = APIClient()
        revoked.credentials(HTTP_AUTHORIZATION=basic(api_key))
        assert seen("API: a revoked key", revoked.get("/api/companies")).status_code == 401
        seen("API: a key in the query", APIClient().get(f"/api/companies?apiKey={api_key}"))

        # Every page, as each role, and the API keys page again (a key is shown only once).
        objects = {
            "connection": connection,
            "pull": connection.pulls.filter(data_type="invoices").latest("requested_at"),
            "record": connection.records.filter(data_type="invoices").first(),
        }
        superuser = Client()
        superuser.force_login(factory.make_user("root", is_staff=True, is_superuser=True))
        for client in (admin, support, superuser):
            walk(client, objects, list(secrets.values()))
        seen("api keys page, again", admin.get(reverse("api-keys:apikey-list")))

    # Answers: none holds a secret (the key-making answers were checked above and are not in `seen`).
    # A failure names the secret and the place, never the secret itself: test output is no place for one.
    for where, text in seen.answers:
        found = leaks(text, secrets)
        assert not found, f"{found} in the answer to {where}"
    # Logs, at DEBUG, every logger: the SQL log lines included.
    sql_lines = [r for r in debug_logs.records if r.name == "django.db.backends"]
    assert len(sql_lines) > 100, "the SQL log was not captured"
    for record in debug_logs.records:
        trace = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        found = leaks(record.getMessage() + " " + trace, secrets)
        assert not found, f"{found} logged by {record.name} at {record.pathname}:{record.lineno}"
    # Every SQL statement with its parameters: encrypted values and hashes only.
    assert len(queries.captured_queries) > 100
    for number, query in enumerate(queries.captured_queries):
        found = leaks(query["sql"], secrets)
        assert not found, f"{found} in SQL statement {number}: {query['sql'][:60]}…"
    # Audit events and the connections' timelines, and then every table.
    audit = [json.dumps([e.action, e.target, e.changes, e.actor_name], default=str) for e in AuditEvent.objects.all()]
    timeline = [
        json.dumps([e.message, e.detail], default=str) for c in Connection.objects.all() for e in c.events.all()
    ]
    assert audit and len(timeline) > 5
    for number, text in enumerate(audit + timeline):
        found = leaks(text, secrets)
        assert not found, f"{found} in audit or timeline event {number}"
    with db.cursor() as cursor:
        for table in db.introspection.table_names():
            cursor.execute(f"SELECT * FROM {db.ops.quote_name(table)}")
            for row in cursor.fetchall():
                found = leaks(" ".join(str(value) for value in row), secrets)
                assert not found, f"{found} in table {table}"
