"""End to end: a real `qcluster` delivers webhooks to a real HTTP receiver started by the test.

Linking a sandbox company through the Link page tells the receiver connection.created,
connection.connected and read.completed (its counts equal to the records stored); every
signature verifies with `standardwebhooks` and `svix`. Retries run on a compressed schedule
(a setting, passed to the worker); a worker SIGKILLed mid-delivery loses nothing.
"""

import signal
import subprocess
import sys
import time

import pytest
from django.db.models import Count
from django.test import Client
from django.urls import reverse
from django_q.models import OrmQ

from connections import lifecycle
from connections.models import Record
from connections.webhooks import endpoints, tasks
from connections.webhooks.events import EVENT_TYPES
from connections.webhooks.models import Attempt, Endpoint, Event, Message
from tests.plugins.worker import ROOT, wait_for, worker_env

from .helpers import verify_both

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SPEC = {"customers": 7, "suppliers": 3, "both": 1, "invoices": 25, "bills": 6, "projects": 2, "anchor": "2025-06-01"}


def stored(connection) -> dict:
    rows = Record.objects.filter(connection=connection, is_deleted=False).values("data_type").annotate(n=Count("id"))
    return {row["data_type"]: row["n"] for row in rows}


def test_linking_a_company_tells_the_receiver_created_connected_then_read_completed(
    clearbooks, sandbox, receiver, start_worker
):
    endpoint, secret = endpoints.create(receiver.url, list(EVENT_TYPES), actor_name="test")
    worker = start_worker(WEBHOOK_RETRY_SCHEDULE="0.5,0.5")
    key = sandbox.make_key(seed="hooks-e2e", **SPEC)
    company = lifecycle.create_company("Hooked Ltd")
    connection = lifecycle.create_connection(company, clearbooks)

    page = Client().post(reverse("connections:link", args=[connection.link_token]), {"api_key": key})
    assert page.status_code == 302 and page["Location"].endswith("/done/")

    receiver.wait_for(1, timeout=60, event_type="read.completed")
    time.sleep(1)  # anything sent twice would arrive now
    got = receiver.delivered()
    types = [r.json["eventType"] for r in got]
    assert sorted(types) == sorted(
        ["company.created", "connection.created", "connection.connected", "read.completed"]
    ), worker.log_tail()
    assert types.index("connection.connected") < types.index("read.completed")
    payloads = [verify_both(secret, r) for r in got]
    assert len({p["id"] for p in payloads}) == len(payloads) == Event.objects.count()  # none twice

    read = next(p for p in payloads if p["eventType"] == "read.completed")["payload"]
    summary = {d["dataType"]: d for d in read["dataTypes"]}
    names = {dt.name for dt in clearbooks.provider.data_types}
    assert set(summary) == names
    counts = stored(connection)
    books = sandbox.counts(key)
    for name, line in summary.items():
        assert line["connectionId"] == str(connection.pk) and line["status"] == "Complete"
        assert line["counts"]["stored"] == counts.get(name, 0) == books[name]
        assert line["counts"]["created"] == books[name]
    connected = next(p for p in payloads if p["eventType"] == "connection.connected")["payload"]
    assert connected["connection"]["status"] == "Linked" and connected["referenceCompany"]["id"] == str(company.pk)
    delivered = Message.objects.filter(endpoint=endpoint, status=Message.Status.DELIVERED)
    wait_for(lambda: delivered.count() == 4, timeout=30, message="four messages logged delivered")
    assert key not in "".join(r.body for r in got)
    assert secret not in worker.log_tail(5000) and secret.removeprefix("whsec_") not in worker.log_tail(5000)


def test_three_500s_then_the_fourth_attempt_delivers_on_the_compressed_schedule(receiver, start_worker):
    endpoint, secret = endpoints.create(receiver.url, ["company.created"], actor_name="test")
    start_worker(WEBHOOK_RETRY_SCHEDULE="0.4,0.4,0.4,0.4")
    receiver.answer(500, 500, 500)

    lifecycle.create_company("Retried Ltd")

    [got] = receiver.wait_for(1, timeout=60)
    verify_both(secret, got)
    assert [r.status for r in receiver.received] == [500, 500, 500, 200]
    gaps = [b.at - a.at for a, b in zip(receiver.received, receiver.received[1:], strict=False)]
    assert all(gap >= 0.4 for gap in gaps), gaps
    # The receiver answered before the worker logged the attempt: wait for the log.
    wait_for(lambda: Message.objects.filter(status=Message.Status.DELIVERED).exists(), timeout=30, message="logged")
    attempts = list(Attempt.objects.filter(message__endpoint=endpoint).order_by("started_at", "pk"))
    assert [(a.status_code, a.ok) for a in attempts] == [(500, False)] * 3 + [(200, True)]
    assert all(a.duration_ms >= 0 and a.response_start for a in attempts)


def test_a_receiver_down_past_the_window_disables_the_endpoint_and_a_replay_delivers_every_missed_event(
    receiver, start_worker
):
    endpoint, secret = endpoints.create(receiver.url, ["company.created"], actor_name="test")
    start_worker(WEBHOOK_RETRY_SCHEDULE="0.3,0.3", WEBHOOK_DISABLE_AFTER_SECONDS="1")
    receiver.down()

    lifecycle.create_company("First")
    wait_for(lambda: Message.objects.filter(status=Message.Status.FAILED).exists(), timeout=60, message="first fails")
    time.sleep(1.1)
    lifecycle.create_company("Second")
    wait_for(lambda: Endpoint.objects.get().disabled, timeout=60, message="the endpoint disabled")
    lifecycle.create_company("Third")  # while it is disabled: kept, failed

    endpoint.refresh_from_db()
    assert "Every delivery failed" in endpoint.disabled_reason
    assert Message.objects.filter(status=Message.Status.FAILED).count() == 3
    assert not receiver.delivered()

    receiver.up()
    endpoints.set_disabled(endpoint, False, actor_name="test")
    since = Event.objects.order_by("generated_at").first().generated_at
    assert endpoints.replay_failed_since(endpoint, since) == 3

    got = receiver.wait_for(3, timeout=60)
    wait_for(lambda: Message.objects.filter(status=Message.Status.DELIVERED).count() == 3, timeout=30, message="log")
    recorded = {str(e.id): e.body for e in Event.objects.all()}
    assert {r.json["id"]: r.body for r in got} == recorded  # every missed event, exactly as recorded
    for r in got:
        verify_both(secret, r)


def test_a_worker_killed_mid_delivery_loses_nothing(receiver, start_worker):
    endpoint, secret = endpoints.create(receiver.url, ["company.created"], actor_name="test")
    first = start_worker(WEBHOOK_LEASE_SECONDS="3")
    receiver.hang(4)  # the first request is in flight when the worker dies

    lifecycle.create_company("Killed Ltd")
    wait_for(lambda: receiver.started >= 1, timeout=60, message="the first request", worker=first)
    first.kill()
    message = Message.objects.get()
    assert message.status == Message.Status.PENDING and message.leased_until is not None

    start_worker(WEBHOOK_LEASE_SECONDS="3")
    wait_for(lambda: tasks.sweep()["queued"], timeout=15, interval=0.5, message="the lease to run out")
    wait_for(lambda: Message.objects.get().status == Message.Status.DELIVERED, timeout=60, message="delivered again")
    delivered = receiver.wait_for(1)
    verify_both(secret, delivered[-1])
    assert {r.json["id"] for r in delivered} == {str(message.event_id)}
    assert Attempt.objects.filter(message=message, ok=True).count() == 1


CRASH_AFTER_COMMIT = """
import os, signal
import django
django.setup()
from django.db import transaction
from connections import lifecycle
with transaction.atomic():
    # Registered first, so it runs first once the change commits: the process dies before
    # the outbox hands the message to django-q2 (as a crash or the OOM killer would).
    transaction.on_commit(lambda: os.kill(os.getpid(), signal.SIGKILL))
    lifecycle.create_company("Crashed Ltd")
"""


def test_a_process_killed_between_the_change_and_the_hand_over_loses_nothing(receiver, start_worker):
    endpoint, secret = endpoints.create(receiver.url, ["company.created"], actor_name="test")
    crashed = subprocess.run(
        [sys.executable, "-c", CRASH_AFTER_COMMIT], cwd=ROOT, env=worker_env(), capture_output=True, timeout=60
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr.decode()[-2000:]
    message = Message.objects.get()
    assert message.status == Message.Status.PENDING and message.event.company_name == "Crashed Ltd"
    assert not OrmQ.objects.exists()  # nothing was handed to django-q2

    start_worker()
    assert tasks.sweep()["queued"] == 1
    [got] = receiver.wait_for(1, timeout=60)
    assert verify_both(secret, got)["id"] == str(message.event_id)


def test_a_message_queued_several_times_is_sent_once(receiver, start_worker):
    endpoints.create(receiver.url, ["company.created"], actor_name="test")
    lifecycle.create_company("Once Ltd")  # handed over once on commit
    tasks.sweep()
    tasks.sweep()  # and twice more, as a sweeper would before a worker took it
    assert OrmQ.objects.count() == 3

    start_worker()
    wait_for(lambda: not OrmQ.objects.exists(), timeout=60, message="all three tasks to run")
    time.sleep(0.5)
    assert len(receiver.received) == 1
    assert Attempt.objects.count() == 1 and Message.objects.get().status == Message.Status.DELIVERED
