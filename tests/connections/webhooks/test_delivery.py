"""Delivery in the test process against a real HTTP receiver: signing, retries, 410, the failure window.

`delivery.deliver` runs here (no worker): the same function the django-q2 task calls.
"""

import json
from datetime import timedelta

import pytest
import standardwebhooks
from django.utils import timezone

from connections import lifecycle
from connections.webhooks import delivery, endpoints, sweeper
from connections.webhooks.models import Attempt, Endpoint, Event, Message

from .helpers import verify_both

pytestmark = pytest.mark.django_db

M = Message.Status


@pytest.fixture
def fast(settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [0.05, 0.05, 0.05]
    settings.WEBHOOK_INLINE_RETRY_SECONDS = 1
    return settings


def make_endpoint(receiver, types=("company.created",), **kwargs):
    return endpoints.create(receiver.url, list(types), actor_name="test", **kwargs)


def test_a_company_created_is_written_with_its_message_and_delivered_signed(receiver, fast):
    endpoint, secret = make_endpoint(receiver)
    company = lifecycle.create_company("Acme Ltd")

    event = Event.objects.get(event_type="company.created")
    message = Message.objects.get(event=event)
    assert (message.endpoint, message.status) == (endpoint, M.PENDING)
    assert delivery.deliver(message.pk) == M.DELIVERED

    [got] = receiver.received
    payload = verify_both(secret, got)
    assert payload["id"] == str(event.id) == got.headers["webhook-id"] == got.headers["svix-id"]
    assert payload["eventType"] == "company.created"
    assert payload["payload"]["id"] == str(company.pk) and payload["payload"]["name"] == "Acme Ltd"
    assert got.body == event.body  # the exact bytes recorded
    [attempt] = Attempt.objects.filter(message=message)
    assert attempt.ok and attempt.status_code == 200 and attempt.response_start == "ok"


def test_a_wrong_secret_does_not_verify(receiver, fast):
    make_endpoint(receiver)
    lifecycle.create_company("Acme Ltd")
    delivery.deliver(Message.objects.get().pk)
    other = endpoints.secrets.new_secret()
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        verify_both(other, receiver.received[0])


def test_three_500s_then_success_is_four_attempts_on_the_schedule(receiver, fast):
    make_endpoint(receiver)
    receiver.answer(500, 500, 500)
    lifecycle.create_company("Acme Ltd")
    message = Message.objects.get()

    assert delivery.deliver(message.pk) == M.DELIVERED

    assert [r.status for r in receiver.received] == [500, 500, 500, 200]
    attempts = list(Attempt.objects.filter(message=message).order_by("started_at", "pk"))
    assert [a.status_code for a in attempts] == [500, 500, 500, 200]
    assert attempts[0].response_start == "receiver says 500"
    gaps = [b.at - a.at for a, b in zip(receiver.received, receiver.received[1:], strict=False)]
    assert all(gap >= 0.05 for gap in gaps)
    message.refresh_from_db()
    assert message.attempts == 4 and message.delivered_at is not None
    assert Endpoint.objects.get().failing_since is None  # a success ends the failure run


def test_when_the_schedule_runs_out_the_message_fails_and_a_replay_sends_the_same_event(receiver, fast):
    endpoint, secret = make_endpoint(receiver)
    receiver.answer(*[503] * 4)
    lifecycle.create_company("Acme Ltd")
    message = Message.objects.get()

    assert delivery.deliver(message.pk) == M.FAILED
    assert Attempt.objects.filter(message=message).count() == 4  # the first try and three retries

    assert endpoints.replay_one(Message.objects.get()) == 1
    assert delivery.deliver(message.pk) == M.DELIVERED
    last = receiver.received[-1]
    assert verify_both(secret, last)["id"] == receiver.received[0].json["id"]
    assert last.body == receiver.received[0].body
    assert Attempt.objects.filter(message=message, trigger=Attempt.Trigger.REPLAY).count() == 1


def test_410_gone_disables_the_endpoint_with_the_reason(receiver, fast):
    endpoint, _ = make_endpoint(receiver)
    receiver.answer(410)
    lifecycle.create_company("Acme Ltd")
    assert delivery.deliver(Message.objects.get().pk) == M.FAILED
    endpoint.refresh_from_db()
    assert endpoint.disabled and "410 Gone" in endpoint.disabled_reason
    assert len(receiver.received) == 1  # no retry after Gone


def test_an_endpoint_failing_for_the_window_is_disabled_and_its_waiting_messages_fail(receiver, fast):
    fast.WEBHOOK_RETRY_SCHEDULE = [3600]  # the next retry is an hour away: the sweeper's job
    fast.WEBHOOK_DISABLE_AFTER_SECONDS = 60
    endpoint, _ = make_endpoint(receiver)
    receiver.answer(500, 500)
    lifecycle.create_company("One")
    first = Message.objects.get()
    delivery.deliver(first.pk)
    endpoint.refresh_from_db()
    assert not endpoint.disabled and endpoint.failing_since is not None

    Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(seconds=61))
    lifecycle.create_company("Two")
    second = Message.objects.exclude(pk=first.pk).get()
    delivery.deliver(second.pk)

    endpoint.refresh_from_db()
    assert endpoint.disabled and "Every delivery failed" in endpoint.disabled_reason
    assert set(Message.objects.values_list("status", flat=True)) == {M.FAILED}
    # Events while it is disabled are kept, failed, for a replay.
    lifecycle.create_company("Three")
    assert Message.objects.filter(event__company_name="Three", status=M.FAILED).exists()


def test_the_sweeper_hands_over_due_messages_and_those_whose_lease_ran_out(receiver, fast):
    make_endpoint(receiver)
    lifecycle.create_company("Acme Ltd")
    message = Message.objects.get()
    queued = []
    assert sweeper.sweep(queued.append)["queued"] == 1 and queued == [message.pk]

    Message.objects.filter(pk=message.pk).update(leased_until=timezone.now() + timedelta(seconds=30))
    queued.clear()
    sweeper.sweep(queued.append)
    assert queued == []  # a worker holds it
    assert delivery.deliver(message.pk) == "not due"

    Message.objects.filter(pk=message.pk).update(leased_until=timezone.now() - timedelta(seconds=1))
    sweeper.sweep(queued.append)
    assert queued == [message.pk]  # its worker died: taken again
    assert delivery.deliver(message.pk) == M.DELIVERED


def test_during_a_rotation_both_secrets_sign(receiver, fast):
    endpoint, old = make_endpoint(receiver)
    new = endpoints.rotate_secret(endpoint, actor_name="test")
    assert new != old and new.startswith("whsec_")
    lifecycle.create_company("Acme Ltd")
    delivery.deliver(Message.objects.get().pk)
    got = receiver.received[0]
    assert len(got.headers["webhook-signature"].split()) == 2
    verify_both(old, got)
    verify_both(new, got)


def test_after_the_overlap_only_the_new_secret_signs(receiver, fast):
    endpoint, old = make_endpoint(receiver)
    new = endpoints.rotate_secret(endpoint, actor_name="test")
    Endpoint.objects.filter(pk=endpoint.pk).update(previous_secret_expires_at=timezone.now() - timedelta(seconds=1))
    lifecycle.create_company("Acme Ltd")
    delivery.deliver(Message.objects.get().pk)
    verify_both(new, receiver.received[0])
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        verify_both(old, receiver.received[0])


def test_company_tags_route_events(receiver, fast):
    tagged, _ = make_endpoint(receiver, types=["company.deleted"], company_tags=["region:uk"])
    everyone, _ = make_endpoint(receiver, types=["company.deleted"])
    uk = lifecycle.create_company("In the UK")
    uk.tags = {"region": "uk"}
    uk.save()
    us = lifecycle.create_company("In the US")
    us.tags = {"region": "us"}
    us.save()
    lifecycle.delete_company(uk)
    lifecycle.delete_company(us)
    routed = {(m.event.company_name, m.endpoint_id) for m in Message.objects.select_related("event")}
    assert routed == {("In the UK", tagged.pk), ("In the UK", everyone.pk), ("In the US", everyone.pk)}


def test_a_rolled_back_change_leaves_no_event(receiver, fast):
    from django.db import transaction

    make_endpoint(receiver)
    with pytest.raises(RuntimeError), transaction.atomic():
        lifecycle.create_company("Never")
        raise RuntimeError
    assert not Event.objects.exists() and not Message.objects.exists()


def test_the_sweeper_forgets_events_past_the_retention_with_their_log(receiver, fast):
    make_endpoint(receiver)
    lifecycle.create_company("Old Ltd")
    lifecycle.create_company("New Ltd")
    for message in Message.objects.all():
        delivery.deliver(message.pk)
    Event.objects.filter(company_name="Old Ltd").update(generated_at=timezone.now() - timedelta(days=15))

    assert sweeper.sweep(lambda message_id: None)["forgotten"] >= 1
    assert list(Event.objects.values_list("company_name", flat=True)) == ["New Ltd"]
    assert Message.objects.count() == Attempt.objects.count() == 1


def test_no_secret_reaches_the_log_or_the_audit_trail(receiver, fast, caplog):
    from integrations.models import AuditEvent

    caplog.set_level("DEBUG")
    endpoint, secret = make_endpoint(receiver)
    rotated = endpoints.rotate_secret(endpoint, actor_name="test")
    receiver.answer(500)
    lifecycle.create_company("Acme Ltd")
    delivery.deliver(Message.objects.get().pk)
    trail = str(list(AuditEvent.objects.values_list("changes", flat=True)))
    for value in (secret, rotated, secret.removeprefix("whsec_"), rotated.removeprefix("whsec_")):
        assert value not in caplog.text and value not in trail
    assert endpoint.secret_fingerprint in trail


def test_read_completed_summarises_the_overlapping_pulls_once_the_last_ends(receiver, fast, clearbooks):
    from connections.models import PullOperation
    from connections.sync import outcomes
    from tests import factory

    make_endpoint(receiver, types=["read.completed"])
    connection = factory.make_connection(factory.make_company("Acme Ltd"), integration=clearbooks)
    now = timezone.now()
    old = factory.make_pull(
        connection, "bills", requested_at=now - timedelta(hours=2), finished_at=now - timedelta(hours=1)
    )
    first = factory.make_pull(connection, "invoices", status=PullOperation.Status.FETCHING, requested_at=now)
    second = factory.make_pull(connection, "customers", status=PullOperation.Status.FETCHING, requested_at=now)

    assert outcomes.end_pull(first, PullOperation.Status.FETCH_ERROR, "Timed out.")
    assert not Event.objects.filter(event_type="read.completed").exists()  # another pull still runs
    assert outcomes.end_pull(second, PullOperation.Status.CANCELLED, "Cancelled.")

    [event] = Event.objects.filter(event_type="read.completed")
    lines = json.loads(event.body)["payload"]["dataTypes"]
    assert {line["dataType"]: line["status"] for line in lines} == {"invoices": "FetchError", "customers": "Cancelled"}
    assert old.data_type not in {line["dataType"] for line in lines}  # an earlier read's pull


def test_a_slow_receiver_times_out_and_a_redirect_is_not_followed(receiver, fast):
    fast.WEBHOOK_TIMEOUT_SECONDS = 0.5
    fast.WEBHOOK_RETRY_SCHEDULE = [0.05]
    make_endpoint(receiver)
    receiver.hang(2)
    receiver.answer(500, 302)  # the hung request's answer (never read), then a redirect
    lifecycle.create_company("Slow Ltd")
    message = Message.objects.get()
    assert delivery.deliver(message.pk) == M.FAILED
    attempts = list(Attempt.objects.filter(message=message).order_by("started_at", "pk"))
    assert attempts[0].error == "No answer within 0.5 s." and attempts[0].status_code is None
    assert attempts[1].status_code == 302 and not attempts[1].ok
    assert receiver.started == 2  # the redirect's target was never asked


def test_a_dns_name_is_resolved_once_and_named_in_the_host_header(receiver, fast):
    port = receiver.url.split(":")[2].split("/")[0]
    endpoints.create(f"http://localhost:{port}/hook?source=portal", ["company.created"], actor_name="test")
    lifecycle.create_company("Named Ltd")
    assert delivery.deliver(Message.objects.get().pk) == M.DELIVERED
    assert receiver.received[0].headers["Host"] == f"localhost:{port}"


def test_an_unreachable_endpoint_is_a_failed_attempt(receiver, fast):
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    fast.WEBHOOK_RETRY_SCHEDULE = []
    endpoints.create(f"http://127.0.0.1:{port}/hook", ["company.created"], actor_name="test")
    lifecycle.create_company("Nobody Ltd")
    assert delivery.deliver(Message.objects.get().pk) == M.FAILED
    assert Attempt.objects.get().error == "Could not connect to the endpoint."


def test_an_endpoint_deleted_while_its_request_is_out_loses_nothing_else(receiver, fast, monkeypatch):
    endpoint, _ = make_endpoint(receiver)
    lifecycle.create_company("Acme Ltd")
    message = Message.objects.get()
    sent = delivery.send

    def send_then_delete(message):
        outcome = sent(message)
        endpoints.delete(Endpoint.objects.get(pk=endpoint.pk), actor_name="test")
        return outcome

    monkeypatch.setattr(delivery, "send", send_then_delete)  # the delete lands mid-delivery
    assert delivery.deliver(message.pk) == "gone"
    assert not Message.objects.exists() and Event.objects.count() == 1
