"""The `/webhooks` API: Codat's list, create and delete, and ours (get, enable/disable, rotate, test, log, replay)."""

import pytest
from django.utils import timezone

from connections import lifecycle
from connections.webhooks import delivery
from connections.webhooks.models import Endpoint, Message
from integrations.models import AuditEvent
from tests.api.codat_schema import validate
from tests.api.conftest import assert_codat_error

from ..connections.webhooks.helpers import verify_both

pytestmark = pytest.mark.django_db


def create(api, url, types=("company.created",), **extra):
    return api.post("/api/webhooks", {"url": url, "eventTypes": list(types), **extra}, format="json")


def test_create_shows_the_secret_once_and_nothing_else_ever_does(api, receiver):
    made = create(api, receiver.url, companyTags=["region:uk"])
    assert made.status_code == 201, made.content
    body = made.json()
    secret = body["secret"]
    assert secret.startswith("whsec_") and body["companyTags"] == ["region:uk"] and body["disabled"] is False
    validate("create-webhook-consumer", made)

    listed = api.get("/api/webhooks")
    validate("list-webhook-consumers", listed)
    got = api.get(f"/api/webhooks/{body['id']}")
    for answer in (listed, got, api.get(f"/api/webhooks/{body['id']}/messages")):
        assert answer.status_code == 200 and secret not in answer.content.decode()
        assert "whsec_" not in answer.content.decode()
    assert got.json()["secretFingerprint"] == Endpoint.objects.get().secret_fingerprint
    audit = AuditEvent.objects.get(action="webhook_created")
    assert secret not in str(audit.changes) and audit.actor_name == "billing service (API key)"


def test_create_refuses_bad_input_with_codat_errors_and_saves_nothing(api, settings):
    settings.WEBHOOK_ALLOW_LOCAL_TARGETS = False
    cases = [
        ({"url": "http://example.com/hook", "eventTypes": ["company.created"]}, "url"),
        ({"url": "https://127.0.0.1/hook", "eventTypes": ["company.created"]}, "url"),
        ({"url": "https://93.184.216.34/hook", "eventTypes": ["no.such"]}, "eventTypes"),
        ({"url": "https://93.184.216.34/hook", "eventTypes": []}, "eventTypes"),
        ({"url": "https://93.184.216.34/hook", "eventTypes": ["company.created"], "companyTags": ["x"]}, "companyTags"),
    ]
    for data, field in cases:
        body = assert_codat_error(api.post("/api/webhooks", data, format="json"), 400)
        assert field in [item["itemId"] for item in body["validation"]["errors"]], (data, body)
    assert not Endpoint.objects.exists()


def test_disable_enable_rotate_and_delete(api, receiver):
    made = create(api, receiver.url).json()
    url = f"/api/webhooks/{made['id']}"
    assert api.patch(url, {"disabled": True}, format="json").json()["disabled"] is True
    assert api.patch(url, {"disabled": False}, format="json").json()["disabled"] is False
    assert_codat_error(api.patch(url, {"disabled": "maybe"}, format="json"), 400)

    rotated = api.post(url + "/secret")
    assert rotated.status_code == 201
    new = rotated.json()["secret"]
    assert new != made["secret"]
    lifecycle.create_company("Acme Ltd")
    delivery.deliver(Message.objects.get().pk)
    verify_both(made["secret"], receiver.received[0])  # the overlap: both sign
    verify_both(new, receiver.received[0])

    assert api.delete(url).status_code == 204
    assert_codat_error(api.get(url), 404)
    assert_codat_error(api.delete(url), 404)


def test_the_delivery_log_filters_and_a_replay_resends(api, receiver, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = []
    made = create(api, receiver.url, types=["company.created", "company.deleted"]).json()
    url = f"/api/webhooks/{made['id']}"
    receiver.answer(500)
    acme = lifecycle.create_company("Acme Ltd")
    lifecycle.create_company("Other Ltd")
    for message in Message.objects.all():
        delivery.deliver(message.pk)

    log = api.get(url + "/messages").json()
    assert log["totalResults"] == 2
    failed = api.get(url + "/messages", {"status": "failed"}).json()["results"]
    assert len(failed) == 1 and failed[0]["attempts"][0]["statusCode"] == 500
    assert failed[0]["attempts"][0]["responseStart"] == "receiver says 500"
    assert api.get(url + "/messages", {"companyId": str(acme.pk)}).json()["totalResults"] == 1
    assert api.get(url + "/messages", {"eventType": "company.deleted"}).json()["totalResults"] == 0
    assert_codat_error(api.get(url + "/messages", {"status": "lost"}), 400)

    replay = api.post(f"{url}/messages/{failed[0]['id']}/replay")
    assert replay.status_code == 202 and replay.json() == {"replayed": 1}
    delivery.deliver(failed[0]["id"])
    assert Message.objects.get(pk=failed[0]["id"]).status == Message.Status.DELIVERED
    since = (timezone.now() - timezone.timedelta(hours=1)).isoformat()
    assert api.post(url + "/replay", {"since": since}, format="json").json() == {"replayed": 0}
    assert_codat_error(api.post(url + "/replay", {"since": "yesterday"}, format="json"), 400)


def test_send_test_event(api, receiver):
    made = create(api, receiver.url).json()
    sent = api.post(f"/api/webhooks/{made['id']}/test")
    assert sent.status_code == 202 and sent.json()["eventType"] == "webhook.test"
    delivery.deliver(sent.json()["id"])
    assert verify_both(made["secret"], receiver.received[0])["eventType"] == "webhook.test"


def test_at_most_fifty_endpoints(api, receiver, monkeypatch):
    from connections.webhooks import endpoints

    monkeypatch.setattr(endpoints, "MAX_ENDPOINTS", 2)  # the rule, not the number, is under test
    assert create(api, receiver.url).status_code == 201
    assert create(api, receiver.url).status_code == 201
    body = assert_codat_error(create(api, receiver.url), 400)
    assert "At most 2 endpoints" in body["error"] and Endpoint.objects.count() == 2
