"""The API key never shows: not in the database in clear, pages, logs, events or exception reports.

A connection is linked through the real Link page against the sandbox (after an
unreachable and a rejected attempt), its first-link pulls run for real, support tests
it; then every page of the project is rendered for Admin, Support and a superuser and
searched for the keys, as are the logs captured at DEBUG and every column of every table.
"""

import logging
import socket

import pytest
from django.apps import apps
from django.db import connection as db
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.views.debug import ExceptionReporter

from connections import lifecycle
from connections.link_urls import issue_link_url
from connections.models import Connection, PullOperation, Record
from connections.sync import pulls
from tests import factory

S = Connection.Status


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fragments(secret):
    """The secret and a long piece of it (the last 4 characters may show in a fingerprint)."""
    return [secret, secret[3:-4]]


def assert_no_secret(text, secrets, where):
    for secret in secrets:
        for piece in fragments(secret):
            assert piece not in text, f"a key showed in {where}"


@pytest.fixture
def world(sandbox, settings, admin_user, caplog):
    """A connection linked through the Link page, with real pulls; the keys it met."""
    caplog.set_level(logging.DEBUG)
    settings.CLEARBOOKS_RETRY_BASE_DELAY = 0.05
    settings.CLEARBOOKS_RETRY_MAX_DELAY = 0.1
    clearbooks = factory.get_integration("jhch", enabled=True)
    key = sandbox.make_key(seed="secret-books", invoices=30, bills=20, customers=8, suppliers=6)
    wrong = sandbox.make_key(seed="secret-books", revoked=True)
    company = factory.make_company("Secretive Ltd")
    conn = lifecycle.create_connection(company, clearbooks, admin_user)
    public = Client()
    url = reverse("connections:link", args=[conn.link_token])

    sandbox_url = settings.CLEARBOOKS_WSDL_URL
    settings.CLEARBOOKS_WSDL_URL = f"http://127.0.0.1:{closed_port()}/api/accounting/wsdl/"
    assert public.post(url, {"api_key": key}).status_code == 200  # unreachable
    settings.CLEARBOOKS_WSDL_URL = sandbox_url
    assert public.post(url, {"api_key": wrong}).status_code == 200  # rejected
    assert public.post(url, {"api_key": key}).status_code == 302  # linked
    conn.refresh_from_db()
    assert conn.status == S.LINKED

    for pull in conn.pulls.filter(status=PullOperation.Status.QUEUED):
        pulls.sync(pull)
    assert Record.objects.filter(connection=conn, data_type="invoices").count() == 30

    pending = factory.make_connection(status=S.PENDING_AUTH)
    issue_link_url(pending)
    return {"connection": conn, "pending": pending, "secrets": [key, wrong], "caplog": caplog}


def url_patterns(patterns=None, namespace=None):
    """(name, pattern) for every named URL of the project, namespaces included."""
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(p, URLResolver):
            yield from url_patterns(p.url_patterns, p.namespace or namespace)
        elif isinstance(p, URLPattern) and p.name:
            yield (f"{namespace}:{p.name}" if namespace else p.name), p


def kwargs_for(name, pattern, objects):
    """Fill a URL's arguments from real objects; None when it cannot be (then it is skipped)."""
    conn, pull, record = objects["connection"], objects["pull"], objects["record"]
    by_name = {"company": conn.company_id, "connection": conn.pk, "pull": pull.pk, "record": record.pk}
    values = {"token": conn.link_token, "key": "jhch", "data_type": "invoices", "app_label": "integrations"}
    kwargs = {}
    for arg in pattern.pattern.regex.groupindex:
        if arg == "pk":
            short = name.split(":")[-1]
            special = {"record-list": "connection", "connection-create": "company"}
            kind = special.get(short, short.split("-")[0])
            if kind not in by_name:
                return None
            kwargs[arg] = by_name[kind]
        elif arg == "object_id" and name.startswith("admin:"):
            obj = admin_object(name)
            if obj is None:
                return None
            kwargs[arg] = obj.pk
        elif arg in values:
            kwargs[arg] = values[arg]
        else:
            return None
    return kwargs


def admin_object(name):
    """For "admin:<app>_<model>_<action>", an object of that model (or None)."""
    short = name.split(":", 1)[1]
    for model in apps.get_models():
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        if short.startswith(prefix):
            return model._default_manager.first()
    return None


def walk(client, objects, secrets):
    """GET every page the client can reach; return {name: status}. Fails on a 5xx or a key."""
    seen = {}
    for name, pattern in url_patterns():
        kwargs = kwargs_for(name, pattern, objects)
        if kwargs is None:
            continue
        url = reverse(name, kwargs=kwargs)
        response = client.get(url)
        # /healthz answers 503 by design here: no worker runs in this test.
        assert response.status_code < 500 or name == "healthz", f"{name} answered {response.status_code}"
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert_no_secret(body.decode(errors="replace"), secrets, f"{name} ({url})")
        seen[name] = response.status_code
    return seen


def test_it_never_shows_the_key_on_any_page_or_in_the_logs(world, admin_client, client, support_user):
    conn = world["connection"]
    secrets = world["secrets"]
    support = Client()
    support.force_login(support_user)
    # Support's safe action that reads the stored key: test the connection.
    assert support.post(reverse("connections:connection-test", args=[conn.pk])).status_code == 302

    objects = {
        "connection": conn,
        "pull": conn.pulls.filter(data_type="invoices").latest("requested_at"),
        "record": conn.records.filter(data_type="invoices").first(),
    }
    as_admin = walk(admin_client, objects, secrets)
    as_support = walk(support, objects, secrets)
    superuser = Client()
    superuser.force_login(factory.make_user("root", is_staff=True, is_superuser=True))
    as_superuser = walk(superuser, objects, secrets)
    # The public form page of another (pending) connection, too.
    pending_form = Client().get(reverse("connections:link", args=[world["pending"].link_token]))
    assert pending_form.status_code == 200
    assert_no_secret(pending_form.content.decode(), secrets, "the Link page")

    must_render = {
        "connections:dashboard",
        "connections:company-list",
        "connections:company-pulls",
        "connections:company-detail",
        "connections:connection-detail",
        "connections:record-list",
        "connections:record-detail",
        "connections:pull-detail",
        "connections:pull-list",
    }
    for seen in (as_admin, as_support):
        missing = {name for name in must_render if seen.get(name) != 200}
        assert not missing, f"pages that did not render: {missing}"
    assert as_admin["connections:connection-create"] == 200
    assert as_admin["connections:connection-delete"] == 200
    assert as_admin.get("connections:link") == 410  # the used Link URL
    assert as_admin.get("connections:company-delete") == 200 and as_support.get("connections:company-delete") == 403
    assert sum(1 for status in as_superuser.values() if status == 200) > 20  # the Django admin too
    assert_no_secret(world["caplog"].text, secrets, "the logs")


def test_it_keeps_no_plaintext_key_in_any_table(world):
    secrets = world["secrets"]
    with db.cursor() as cursor:
        for table in db.introspection.table_names():
            cursor.execute(f"SELECT * FROM {db.ops.quote_name(table)}")
            for row in cursor.fetchall():
                assert_no_secret(" ".join(str(value) for value in row), secrets, f"table {table}")
    conn = world["connection"]
    with db.cursor() as cursor:
        cursor.execute(
            f"SELECT credentials_encrypted FROM {Connection._meta.db_table} WHERE id = %s",
            [conn.pk.hex if db.vendor == "sqlite" else conn.pk],
        )
        (stored,) = cursor.fetchone()
    assert stored.startswith("gAAAA")  # a Fernet token, not the key


def test_it_keeps_the_key_out_of_exception_reports(sandbox, settings, clearbooks, caplog):
    settings.CREDENTIAL_KEYS = ["not-a-fernet-key"]  # misconfigured: storing the key fails
    key = sandbox.make_key(seed="exception-books")
    conn = factory.make_connection(status=S.PENDING_AUTH)
    issue_link_url(conn)
    caplog.set_level(logging.DEBUG)
    response = Client(raise_request_exception=False).post(
        reverse("connections:link", args=[conn.link_token]), {"api_key": key}
    )
    assert response.status_code == 500
    assert_no_secret(response.content.decode(), [key], "the error page")
    (record,) = [r for r in caplog.records if r.name == "django.request" and r.exc_info]
    reporter = ExceptionReporter(record.request, *record.exc_info, is_email=True)
    assert_no_secret(reporter.get_traceback_text(), [key], "the exception report (text)")
    assert_no_secret(reporter.get_traceback_html(), [key], "the exception report (HTML)")
    assert "api_key" in reporter.get_traceback_text()  # the report is there, with the value hidden
    conn.refresh_from_db()
    assert conn.status == S.PENDING_AUTH and not conn.has_credentials


def test_it_scrubs_the_key_from_an_unexpected_provider_failure(sandbox, clearbooks, caplog, monkeypatch):
    from connections.link import Outcome, submit_credentials

    key = sandbox.make_key(seed="buggy-books")
    provider = clearbooks.provider

    def broken(settings, credentials):
        # A provider bug that puts the key in its exception message and traceback.
        raise RuntimeError(f"could not build a request for {credentials['api_key']}")

    monkeypatch.setattr(provider, "validate_credentials", broken)
    conn = factory.make_connection(status=S.PENDING_AUTH)
    token = issue_link_url(conn)
    caplog.set_level(logging.DEBUG)
    result = submit_credentials(token, key, "127.0.0.1")
    assert result.outcome == Outcome.UNREACHABLE
    assert "[redacted]" in caplog.text
    assert_no_secret(caplog.text, [key], "the logs")
    assert_no_secret(str(list(conn.events.values_list("message", "detail"))), [key], "the timeline")
