"""A running pull's retries, as the provider reports them, saved on the pull (connections.sync.retrying)."""

import threading
from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.utils import timezone

from connections.credentials import store_credentials
from connections.models import PullOperation
from connections.sync.pulls import sync
from connections.sync.queueing import queue_pull
from connections.sync.retrying import RetryReport
from integrations.clearbooks import retries
from integrations.registry import RetryNotice
from tests import factory

P = PullOperation.Status
FIELDS = ("retry_attempt", "retry_attempts", "retry_at", "retry_reason")


def retry_of(pull):
    return PullOperation.objects.values_list(*FIELDS).get(pk=pull.pk)


def test_it_saves_the_try_about_to_be_made_and_clears_it_once_one_goes_through(clearbooks):
    pull = factory.make_pull(factory.make_connection(), "invoices", P.FETCHING)
    report = RetryReport(pull.pk)
    before = timezone.now()

    report(RetryNotice(3, 5, 12.5, "Clear Books had a temporary problem (HTTP 503)."))

    attempt, attempts, at, reason = retry_of(pull)
    assert (attempt, attempts, reason) == (3, 5, "Clear Books had a temporary problem (HTTP 503).")
    assert before + timedelta(seconds=12.5) <= at <= timezone.now() + timedelta(seconds=12.5)
    report(None)
    assert retry_of(pull) == (None, None, None, "")


def test_it_never_writes_on_a_pull_that_ended(clearbooks):
    pull = factory.make_pull(factory.make_connection(), "invoices", P.CANCELLED)
    RetryReport(pull.pk)(RetryNotice(2, 5, 1, "We couldn't reach Clear Books (timed out)."))
    assert retry_of(pull) == (None, None, None, "")


@pytest.mark.django_db(transaction=True)
def test_it_writes_from_the_reader_thread_on_that_threads_own_connection():
    factory.get_integration("jhch", enabled=True)
    pull = factory.make_pull(factory.make_connection(), "bills", P.FETCHING)
    report = RetryReport(pull.pk)
    closed = []

    def reader():
        report(RetryNotice(2, 5, 3, "x" * 400))  # longer than the column: cut, not refused
        closed.append(db_connection.connection is None)

    thread = threading.Thread(target=reader)
    thread.start()
    thread.join(10)

    attempt, _, _, reason = retry_of(pull)
    assert attempt == 2 and len(reason) == 300 and reason.endswith("…")
    assert closed == [True]


@pytest.mark.django_db(transaction=True)
def test_a_sync_records_each_retry_while_it_waits_and_clears_it_after(sandbox, monkeypatch):
    clearbooks = factory.get_integration("jhch", enabled=True)
    assert clearbooks.enabled
    key = sandbox.make_key(seed="retrying", invoices=30, customers=0, suppliers=0, both=0)
    connection = factory.make_connection()
    store_credentials(connection, {"api_key": key}, validated_by="link")
    sandbox.fail_next(kind="http500", count=2, key=key, operation="listInvoices")
    pull, _ = queue_pull(connection, "invoices", PullOperation.Trigger.MANUAL, full=True, enqueue=False)
    seen = []

    def sleep(seconds):  # the policy's wait, in the reader thread: what does the pull say meanwhile?
        seen.append(retry_of(pull))
        db_connection.close()

    policy = retries.RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.02, sleep=sleep)
    monkeypatch.setattr(retries.RetryPolicy, "from_settings", classmethod(lambda cls: policy))

    done = sync(pull)

    assert done.status == P.COMPLETE and done.records_created == 30
    assert [(attempt, attempts, reason) for attempt, attempts, _, reason in seen] == [
        (2, 4, "Clear Books had a temporary problem (HTTP 500)."),
        (3, 4, "Clear Books had a temporary problem (HTTP 500)."),
    ]
    assert all(at is not None for _, _, at, _ in seen)
    assert retry_of(done) == (None, None, None, "")
