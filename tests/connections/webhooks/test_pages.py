"""The Webhooks pages through real requests: Admins create (secret shown once), rotate, test, replay;
Support reads the log and never a secret; the dashboard, company and connection pages tell of webhooks."""

import re

import pytest
from django.urls import reverse

from connections import lifecycle
from connections.webhooks import delivery, endpoints
from connections.webhooks.models import Endpoint, Message
from tests import factory

pytestmark = pytest.mark.django_db

LIST = reverse("webhooks:endpoint-list")
SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]+")


def detail(endpoint):
    return reverse("webhooks:endpoint-detail", args=[endpoint.pk])


def test_an_admin_adds_an_endpoint_and_sees_its_secret_only_once(admin_client, receiver):
    made = admin_client.post(LIST, {"url": receiver.url, "event_types": ["company.created", "read.completed"]})
    assert made.status_code == 200
    [secret] = SECRET.findall(made.content.decode())
    endpoint = Endpoint.objects.get()
    assert endpoint.event_types == ["company.created", "read.completed"]

    for url in (LIST, detail(endpoint)):
        page = admin_client.get(url).content.decode()
        assert secret not in page and not SECRET.search(page)
        assert endpoint.secret_fingerprint in page


def test_bad_input_is_shown_on_the_form_and_nothing_is_saved(admin_client, settings):
    settings.WEBHOOK_ALLOW_LOCAL_TARGETS = False
    page = admin_client.post(LIST, {"url": "https://127.0.0.1/hook", "event_types": ["company.created"]})
    assert page.status_code == 200 and "a loopback address" in page.content.decode()
    page = admin_client.post(LIST, {"url": "https://93.184.216.34/hook"})
    assert "Choose at least one event type." in page.content.decode()
    assert not Endpoint.objects.exists()


def test_support_reads_the_log_but_changes_nothing(client, support_user, receiver):
    endpoint, secret = endpoints.create(receiver.url, ["company.created"], actor_name="test")
    receiver.answer(500)
    lifecycle.create_company("Acme Ltd")
    delivery.deliver(Message.objects.get().pk)
    client.force_login(support_user)

    page = client.get(detail(endpoint)).content.decode()
    assert "HTTP 500" in page and "receiver says 500" in page and secret not in page
    assert "Rotate secret" not in page and "Send test event" not in page
    assert client.post(reverse("webhooks:endpoint-rotate", args=[endpoint.pk])).status_code == 403
    assert client.post(LIST, {"url": receiver.url, "event_types": ["company.created"]}).status_code == 403


def test_rotating_shows_the_new_secret_once_and_both_sign_for_a_day(admin_client, receiver):
    endpoint, old = endpoints.create(receiver.url, ["company.created"], actor_name="test")
    page = admin_client.post(reverse("webhooks:endpoint-rotate", args=[endpoint.pk])).content.decode()
    [new] = SECRET.findall(page)
    assert new != old
    again = admin_client.get(detail(endpoint)).content.decode()
    assert new not in again and "the previous one signs until" in again


def test_the_log_filters_by_status_event_type_and_company(admin_client, receiver, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = []
    endpoint, _ = endpoints.create(receiver.url, ["company.created"], actor_name="test")
    receiver.answer(500)
    lifecycle.create_company("Failed Ltd")
    other = lifecycle.create_company("Delivered Ltd")
    for message in Message.objects.order_by("created_at"):
        delivery.deliver(message.pk)

    failed = admin_client.get(detail(endpoint), {"status": "failed"}).content.decode()
    assert "Failed Ltd" in failed and "Delivered Ltd" not in failed
    by_company = admin_client.get(detail(endpoint), {"companyId": str(other.pk)}).content.decode()
    assert "Delivered Ltd" in by_company and "Failed Ltd" not in by_company
    none = admin_client.get(detail(endpoint), {"eventType": "read.completed"}).content.decode()
    assert "No deliveries to show." in none
    bad = admin_client.get(detail(endpoint), {"companyId": "nope"})
    assert bad.status_code == 200 and "A company&#x27;s id is a UUID." in bad.content.decode()


def test_send_test_event_and_replay_from_the_page(admin_client, receiver, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = []
    endpoint, _ = endpoints.create(receiver.url, ["company.created"], actor_name="test")
    assert admin_client.post(reverse("webhooks:endpoint-test", args=[endpoint.pk])).status_code == 302
    message = Message.objects.get(event__event_type="webhook.test")
    receiver.answer(500)
    delivery.deliver(message.pk)
    assert Message.objects.get(pk=message.pk).status == Message.Status.FAILED

    admin_client.post(reverse("webhooks:message-replay", args=[message.pk]))
    delivery.deliver(message.pk)
    assert Message.objects.get(pk=message.pk).status == Message.Status.DELIVERED
    assert [r.json["id"] for r in receiver.received] == [str(message.event_id)] * 2


def test_a_disabled_endpoint_is_on_the_dashboards_needs_attention(admin_client, receiver):
    endpoint, _ = endpoints.create(receiver.url, ["company.created"], actor_name="test")
    receiver.answer(410)
    lifecycle.create_company("Acme Ltd")
    delivery.deliver(Message.objects.get().pk)
    page = admin_client.get(reverse("connections:dashboard")).content.decode()
    assert "Disabled webhook endpoints" in page and "410 Gone" in page and detail(endpoint) in page

    endpoints.set_disabled(Endpoint.objects.get(), True, actor_name="test")  # by hand: not a problem to act on
    Endpoint.objects.update(disabled_reason="Disabled by hand.")
    assert "Disabled webhook endpoints" not in admin_client.get(reverse("connections:dashboard")).content.decode()


def test_the_connection_and_company_pages_say_what_endpoints_were_told(support_client, receiver, clearbooks):
    endpoints.create(receiver.url, ["connection.created"], actor_name="test")
    company = factory.make_company("Acme Ltd")
    connection = lifecycle.create_connection(company, clearbooks)
    delivery.deliver(Message.objects.get().pk)
    expected = re.compile(rf"Told {re.escape(receiver.url)} that the connection was created — delivered in \d+ ms")
    for url in (
        reverse("connections:connection-detail", args=[connection.pk]),
        reverse("connections:company-detail", args=[company.pk]),
    ):
        assert expected.search(support_client.get(url).content.decode()), url


def test_deleting_an_endpoint_asks_first(admin_client, receiver):
    endpoint, _ = endpoints.create(receiver.url, ["company.created"], actor_name="test")
    url = reverse("webhooks:endpoint-delete", args=[endpoint.pk])
    page = admin_client.get(url)
    assert page.status_code == 200 and "Delete this endpoint?" in page.content.decode()
    assert Endpoint.objects.exists()
    assert admin_client.post(url).status_code == 302
    assert not Endpoint.objects.exists()


def test_an_events_page_lists_its_deliveries_not_as_flash_messages(support_client, receiver):
    endpoints.create(receiver.url, ["company.created"], actor_name="test")
    lifecycle.create_company("Acme Ltd")
    message = Message.objects.get()
    delivery.deliver(message.pk)
    page = support_client.get(reverse("webhooks:event-detail", args=[message.event_id]))
    assert page.status_code == 200
    html = page.content.decode()
    assert receiver.url in html and "HTTP 200" in html and "Acme Ltd" in html
    assert 'class="messages"' not in html  # the flash list: nothing was flashed
