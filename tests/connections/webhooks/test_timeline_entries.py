"""Each delivery or final failure of an event about a connection is an entry in its timeline, in time order,
read through real requests to the connection page (the receiver is a real HTTP server on loopback)."""

import re

import pytest
from django.urls import reverse

from connections import lifecycle, status
from connections.models import Connection, ConnectionEvent
from connections.notes import add_note
from connections.webhooks import delivery, endpoints
from connections.webhooks.models import Message

pytestmark = pytest.mark.django_db
K = ConnectionEvent.Kind


def page(client, connection, **query):
    return client.get(reverse("connections:connection-detail", args=[connection.pk]), query).content.decode()


def timeline_of(html):
    """The timeline's list only (the page's other cards may say the same words)."""
    return html[html.index('<ol class="timeline">') : html.index("</ol>", html.index('<ol class="timeline">'))]


@pytest.fixture
def connection(clearbooks):
    company = lifecycle.create_company("Acme Ltd")
    return lifecycle.create_connection(company, clearbooks)


def test_a_delivery_is_a_timeline_entry_in_time_order(support_client, support_user, receiver, clearbooks, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = []
    endpoints.create(receiver.url, ["connection.created", "connection.disconnected"], actor_name="test")
    company = lifecycle.create_company("Acme Ltd")
    connection = lifecycle.create_connection(company, clearbooks)
    created = Message.objects.get()
    delivery.deliver(created.pk)
    add_note(connection, support_user, "Rang the customer.")

    html = timeline_of(page(support_client, connection))
    told = re.search(rf"Told {re.escape(receiver.url)} that the connection was created — delivered in \d+ ms\.", html)
    assert told, html
    # Newest first: the note, then the delivery, then the creation it told of.
    assert html.index("Rang the customer.") < told.start() < html.index("Connection to Clear Books created.")
    assert "Webhook delivered" in html
    assert reverse("webhooks:event-detail", args=[created.event_id]) in html  # Support reads the delivery log

    receiver.answer(500)
    status.move(connection, Connection.Status.LINKED, reason="linked")  # nobody listens to connection.connected
    lifecycle.unlink_connection(Connection.objects.get(pk=connection.pk))
    delivery.deliver(Message.objects.get(event__event_type="connection.disconnected").pk)
    failures = timeline_of(page(support_client, connection, events="failures"))
    assert "that the connection was unlinked — not delivered (HTTP 500, 1 attempts)." in failures
    assert "that the connection was created" not in failures
    webhooks = timeline_of(page(support_client, connection, events="webhooks"))
    assert "Webhook not delivered" in webhooks and "Webhook delivered" in webhooks
    assert "Rang the customer." not in webhooks and "Connection to Clear Books created." not in webhooks


def test_a_message_still_being_sent_is_in_its_own_card_not_the_timeline(support_client, receiver, connection, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [3600]  # the retry is not waited for in the task
    endpoints.create(receiver.url, ["connection.deleted", "connection.connected"], actor_name="test")
    status.move(connection, Connection.Status.LINKED, reason="linked")
    receiver.answer(503)  # the first attempt fails: retried later, so still being sent
    message = Message.objects.get()
    delivery.deliver(message.pk)
    html = page(support_client, connection)
    assert "Webhooks being sent" in html and "not delivered yet (1 attempts, retrying)" in html
    assert "that the books were linked" not in timeline_of(html)
    assert not connection.events.filter(kind__in=(K.WEBHOOK_DELIVERED, K.WEBHOOK_FAILED)).exists()

    Message.objects.filter(pk=message.pk).update(next_attempt_at=message.created_at)  # due again now
    delivery.deliver(message.pk)
    html = page(support_client, connection)
    assert "Webhooks being sent" not in html
    assert re.search(r"that the books were linked — delivered in \d+ ms\.", timeline_of(html))


def test_messages_ended_by_disabling_their_endpoint_are_told_as_failures(support_client, receiver, connection):
    endpoint, _ = endpoints.create(receiver.url, ["connection.connected"], actor_name="test")
    status.move(connection, Connection.Status.LINKED, reason="linked")  # pending, never sent
    endpoints.set_disabled(endpoint, True, actor_name="test")
    [entry] = connection.events.filter(kind=K.WEBHOOK_FAILED)
    assert "that the books were linked — not delivered (The endpoint was disabled." in entry.message
    assert "not delivered" in timeline_of(page(support_client, connection, events="failures"))


def test_a_deleted_connections_events_are_delivered_with_no_timeline_to_tell(receiver, connection):
    endpoints.create(receiver.url, ["connection.deleted"], actor_name="test")
    lifecycle.delete_connection(Connection.objects.get(pk=connection.pk))
    message = Message.objects.get()
    assert delivery.deliver(message.pk) == Message.Status.DELIVERED
    assert not ConnectionEvent.objects.filter(kind__in=(K.WEBHOOK_DELIVERED, K.WEBHOOK_FAILED)).exists()


def test_an_event_for_an_endpoint_already_disabled_is_told_as_failed_at_once(receiver, connection):
    endpoint, _ = endpoints.create(receiver.url, ["connection.connected"], disabled=True, actor_name="test")
    status.move(connection, Connection.Status.LINKED, reason="linked")
    assert Message.objects.get(endpoint=endpoint).status == Message.Status.FAILED
    [entry] = connection.events.filter(kind=K.WEBHOOK_FAILED)
    assert entry.message.startswith(f"Told {receiver.url} that the books were linked — not delivered")
    assert receiver.received == []
