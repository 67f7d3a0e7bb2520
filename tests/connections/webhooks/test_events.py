"""Events from real changes, each written in the change's transaction with Codat's name and shape."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from connections import lifecycle, status
from connections.models import Connection, PullOperation
from connections.sync import outcomes
from connections.webhooks import endpoints
from connections.webhooks.events import EVENT_TYPES
from connections.webhooks.models import Event
from tests import factory

pytestmark = pytest.mark.django_db
S = Connection.Status


@pytest.fixture
def listening(receiver):
    return endpoints.create(receiver.url, list(EVENT_TYPES), actor_name="test")[0]


def bodies(event_type):
    return [json.loads(e.body) for e in Event.objects.filter(event_type=event_type).order_by("generated_at")]


def test_every_connection_event_comes_from_its_change(listening, clearbooks, sandbox, settings):
    settings.CLEARBOOKS_RETRY_BASE_DELAY = 0.05
    company = lifecycle.create_company("Acme Ltd")
    connection = lifecycle.create_connection(company, clearbooks)
    [created] = bodies("connection.created")
    assert created["payload"]["connection"]["status"] == "PendingAuth"
    assert created["payload"]["referenceCompany"]["name"] == "Acme Ltd"

    Client().post(reverse("connections:link", args=[connection.link_token]), {"api_key": "not-a-real-key"})
    [failed] = bodies("connection.failed")
    assert failed["payload"]["connection"]["id"] == str(connection.pk)
    assert "not-a-real-key" not in Event.objects.get(event_type="connection.failed").body

    status.move(connection, S.LINKED, reason="linked")
    status.move(connection, S.DEAUTHORIZED, reason="key revoked")
    status.move(connection, S.LINKED, reason="relinked")
    lifecycle.unlink_connection(Connection.objects.get(pk=connection.pk))
    assert [b["payload"]["connection"]["status"] for b in bodies("connection.connected")] == ["Linked"]
    assert len(bodies("connection.reconnected")) == 1
    assert [b["payload"]["connection"]["status"] for b in bodies("connection.disconnected")] == [
        "Deauthorized",
        "Unlinked",
    ]

    lifecycle.delete_connection(Connection.objects.get(pk=connection.pk))
    [deleted] = bodies("connection.deleted")
    assert deleted["payload"]["connection"]["id"] == str(connection.pk)
    company_id = str(company.pk)
    lifecycle.delete_company(company)
    [gone] = bodies("company.deleted")
    assert gone["payload"]["id"] == company_id and Event.objects.get(event_type="company.deleted").company_id
    for event in Event.objects.all():
        body = json.loads(event.body)
        assert body["id"] == str(event.id) and body["eventType"] == event.event_type
        assert body["generatedDate"].endswith("Z")


def test_a_data_type_failing_is_told_once_per_run_of_failures(listening, clearbooks):
    connection = factory.make_connection(integration=clearbooks)
    for _ in range(2):
        pull = factory.make_pull(connection, "invoices", status=PullOperation.Status.FETCHING)
        outcomes.end_pull(pull, PullOperation.Status.FETCH_ERROR, "Clear Books timed out.")
    [error] = bodies("dataType.status.error")
    assert error["payload"]["dataType"] == "invoices" and error["payload"]["status"] == "FetchError"
    assert error["payload"]["message"] == "Clear Books timed out."
    assert len(bodies("read.completed")) == 2  # each pull was a read of its own


def test_nothing_is_written_when_no_endpoint_listens(clearbooks):
    company = lifecycle.create_company("Quiet Ltd")
    lifecycle.create_connection(company, clearbooks)
    assert not Event.objects.exists()


def test_deleting_a_company_tells_of_each_connection_before_the_company(admin_client, receiver, clearbooks):
    endpoints.create(receiver.url, ["connection.deleted", "company.deleted"], actor_name="test")
    company = lifecycle.create_company("Acme Ltd", tags={"region": "uk"})
    linked = factory.make_connection(company=company, integration=clearbooks)
    unlinked = factory.make_connection(company=company, integration=clearbooks, status=S.UNLINKED)
    other = factory.make_connection(integration=clearbooks)  # another company's: not told of

    response = admin_client.post(reverse("connections:company-delete", args=[company.pk]))
    assert response.status_code == 302
    events = list(Event.objects.order_by("generated_at"))
    assert [e.event_type for e in events] == ["connection.deleted", "connection.deleted", "company.deleted"]
    told = {json.loads(e.body)["payload"]["connection"]["id"]: e for e in events[:2]}
    assert set(told) == {str(linked.pk), str(unlinked.pk)} and str(other.pk) not in told
    assert {e.company_id for e in events} == {company.pk}
    assert json.loads(told[str(unlinked.pk)].body)["payload"]["connection"]["status"] == "Unlinked"
    assert max(e.generated_at for e in events[:2]) <= events[2].generated_at
