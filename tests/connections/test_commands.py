"""Management commands for operations: connect_company (scripted onboarding)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse

from connections.models import Company, Connection
from integrations.models import AuditEvent
from tests import factory

S = Connection.Status


def connect(*args):
    out = StringIO()
    call_command("connect_company", *args, stdout=out)
    return out.getvalue().splitlines()


@override_settings(PORTAL_BASE_URL="https://portal.example.test")
def test_it_creates_the_company_and_prints_an_absolute_link_url_last(clearbooks):
    lines = connect("Acme Ltd", "--integration", "jhch")
    company = Company.objects.get(name="Acme Ltd")
    conn = company.connections.get()
    assert conn.status == S.PENDING_AUTH
    assert lines[-1] == "https://portal.example.test" + reverse("connections:link", args=[conn.link_token])
    assert any("Created company Acme Ltd" in line for line in lines)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.COMPANY_CREATED, actor_name="system").exists()


def test_it_reuses_the_company_and_its_pending_connection(clearbooks):
    first = connect("Acme Ltd", "--integration", "jhch")
    second = connect("Acme Ltd", "--integration", "jhch")
    assert Company.objects.count() == 1 and Connection.objects.count() == 1
    assert first[-1] == second[-1]  # the Link URL still works, so it is the same
    assert any("Using existing company" in line for line in second)


def test_it_issues_a_fresh_link_url_when_the_pending_one_expired(clearbooks):
    first = connect("Acme Ltd", "--integration", "jhch")
    Connection.objects.update(link_token_expires_at=Connection.objects.get().link_token_created_at)
    second = connect("Acme Ltd", "--integration", "jhch")
    assert first[-1] != second[-1]
    assert Connection.objects.get().link_token in second[-1]


def test_it_refuses_a_company_that_is_already_linked(clearbooks):
    company = factory.make_company("Acme Ltd")
    factory.make_connection(company, status=S.LINKED)
    with pytest.raises(CommandError, match="already has an active Accounting connection"):
        connect("Acme Ltd", "--integration", "jhch")
    assert company.connections.count() == 1


def test_it_refuses_an_unknown_or_disabled_integration(db):
    with pytest.raises(CommandError, match="no integration with platform key 'nope'"):
        connect("Acme Ltd", "--integration", "nope")
    factory.get_integration("jhch", enabled=False)
    with pytest.raises(CommandError, match="switched off"):
        connect("Acme Ltd", "--integration", "jhch")
    assert not Company.objects.exists()


def test_it_seeds_demo_companies_in_every_status_once(clearbooks, sandbox, settings):
    from django.test import Client

    from portal.demo import companies as demo

    settings.PORTAL_BASE_URL = "http://testserver"
    lines = demo.seed_companies(StringIO())
    statuses = {c.company.name: c.status for c in Connection.objects.select_related("company")}
    assert statuses == {
        demo.LINKED: S.LINKED,
        demo.PENDING: S.PENDING_AUTH,
        demo.DEAUTHORIZED: S.DEAUTHORIZED,
        demo.UNLINKED: S.UNLINKED,
    }
    linked = Connection.objects.get(company__name=demo.LINKED)
    assert linked.pulls.filter(trigger="first_link").exists()  # the worker fills its data
    deauthorized = Connection.objects.get(company__name=demo.DEAUTHORIZED)
    assert "revoked" in deauthorized.status_reason
    assert not Connection.objects.get(company__name=demo.UNLINKED).has_credentials

    again = demo.seed_companies(StringIO())
    assert Company.objects.count() == 4 and Connection.objects.count() == 4

    # The printed Link URL works with the printed sandbox key.
    url = next(line for line in again if "Link URL" in line).split()[-1]
    key = next(line for line in again if "sandbox API key" in line).split()[-1]
    assert url == next(line for line in lines if "Link URL" in line).split()[-1]
    response = Client().post(url.removeprefix("http://testserver"), {"api_key": key})
    assert response.status_code == 302
    assert Connection.objects.get(company__name=demo.PENDING).status == S.LINKED
