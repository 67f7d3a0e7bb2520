"""End to end: a real `qcluster` process runs pull operations against the sandbox over HTTP.

Each test commits its data (transactional database) so the worker process sees it,
and waits with a bound for what the worker does.
"""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from connections.credentials import store_credentials
from connections.models import Connection, PullOperation, Record
from connections.sync import tasks
from connections.sync.queueing import queue_first_link_pulls, queue_pull, queue_refresh
from integrations.models import SyncSetting
from tests import factory
from tests.plugins.worker import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

P = PullOperation.Status
ENDED = {P.COMPLETE, P.FETCH_ERROR, P.AUTH_ERROR, P.INTERNAL_ERROR, P.NOT_SUPPORTED, P.CANCELLED, P.RATE_LIMIT_ERROR}
SPEC = {
    "customers": 30,
    "suppliers": 12,
    "both": 4,
    "invoices": 230,
    "bills": 40,
    "projects": 4,
    "anchor": "2025-06-01",  # every date well before the test's clock: modifiedSince sees only touches
}


def linked(sandbox, seed, **spec):
    key = sandbox.make_key(seed=seed, **{**SPEC, **spec})
    connection = factory.make_connection(integration=factory.get_integration("jhch", enabled=True))
    store_credentials(connection, {"api_key": key}, validated_by="link")
    return connection, key


def pulls_of(connection, **filters):
    return list(PullOperation.objects.filter(connection=connection, **filters).order_by("pk"))


def all_ended(pulls):
    """The pulls, fresh and in the order given, once every one has ended; else None."""
    fresh = PullOperation.objects.in_bulk([p.pk for p in pulls])
    ended = [fresh[p.pk] for p in pulls if p.pk in fresh]
    return ended if ended and all(p.status in ENDED for p in ended) else None


def stored_counts(connection):
    rows = Record.objects.filter(connection=connection, is_deleted=False).values("data_type").annotate(n=Count("id"))
    return {row["data_type"]: row["n"] for row in rows}


def test_first_link_reads_every_data_type_and_a_second_run_changes_nothing(clearbooks, sandbox, start_worker):
    connection, key = linked(sandbox, "e2e-first")
    worker = start_worker()
    books = sandbox.counts(key)

    first = queue_first_link_pulls(connection)
    done = wait_for(lambda: all_ended(first), timeout=45, message="first-link pulls", worker=worker)

    names = {dt.name for dt in clearbooks.provider.data_types}
    assert {p.data_type for p in done} == names
    for pull in done:
        assert pull.status == P.COMPLETE, (pull.data_type, pull.error_message, pull.error_detail)
        assert pull.trigger == PullOperation.Trigger.FIRST_LINK and pull.mode == PullOperation.Mode.FULL
        assert pull.records_fetched == pull.records_created == books[pull.data_type]
    assert stored_counts(connection) == {name: books[name] for name in names if books[name]}
    before = dict(Record.objects.filter(connection=connection).values_list("pk", "updated_at"))

    second, _ = queue_refresh(connection, [])
    again = wait_for(lambda: all_ended(second), timeout=45, message="second run", worker=worker)

    for pull in again:
        assert pull.status == P.COMPLETE, (pull.data_type, pull.error_message)
        assert (pull.records_created, pull.records_updated, pull.records_deleted) == (0, 0, 0)
        assert pull.records_unchanged == pull.records_fetched
    assert dict(Record.objects.filter(connection=connection).values_list("pk", "updated_at")) == before
    connection.company.refresh_from_db()
    assert connection.company.last_synced_at is not None


def test_an_incremental_run_picks_up_exactly_the_changed_records(clearbooks, sandbox, start_worker):
    connection, key = linked(sandbox, "e2e-incremental")
    worker = start_worker()
    first = [
        queue_pull(connection, name, PullOperation.Trigger.FIRST_LINK, full=True)[0]
        for name in ("customers", "invoices")
    ]
    wait_for(lambda: all_ended(first), timeout=40, message="first pulls", worker=worker)
    touched = {
        "customers": set(sandbox.touch(key, "customers", 5)),
        "invoices": set(sandbox.touch(key, "invoices", 7)),
    }

    second, _ = queue_refresh(connection, ["customers", "invoices"])
    done = {p.data_type: p for p in wait_for(lambda: all_ended(second), timeout=40, message="refresh", worker=worker)}

    customers, invoices = done["customers"], done["invoices"]
    assert customers.mode == PullOperation.Mode.INCREMENTAL and customers.modified_since is not None
    assert (customers.records_fetched, customers.records_updated, customers.records_created) == (5, 5, 0)
    # Invoices cannot be read incrementally: all of them are read, only the changed are written.
    assert invoices.mode == PullOperation.Mode.FULL
    assert (invoices.records_fetched, invoices.records_updated, invoices.records_unchanged) == (230, 7, 223)
    for data_type, pull in done.items():
        written = Record.objects.filter(connection=connection, data_type=data_type, last_pull=pull)
        assert set(written.values_list("remote_id", flat=True)) == touched[data_type]


def test_a_20_percent_server_error_rate_still_completes_with_exact_counts(clearbooks, sandbox, start_worker):
    connection, key = linked(sandbox, "e2e-flaky")
    sandbox.configure(failure_rate=0.2, page_sizes={"listInvoices": 25, "listEntities": 10})
    worker = start_worker(CLEARBOOKS_RETRY_BASE_DELAY=0.05, CLEARBOOKS_RETRY_MAX_DELAY=0.2, CLEARBOOKS_RETRY_ATTEMPTS=8)
    books = sandbox.counts(key)

    pulls = queue_first_link_pulls(connection)
    done = wait_for(lambda: all_ended(pulls), timeout=50, message="pulls under failures", worker=worker)

    for pull in done:
        assert pull.status == P.COMPLETE, (pull.data_type, pull.error_message, pull.error_detail)
        assert pull.records_created == books[pull.data_type]
    assert sum(stored_counts(connection).values()) == sum(books[p.data_type] for p in done)
    assert "HTTP 500" in worker.log_tail(400)  # failures did happen, and were retried


def test_a_key_revoked_mid_sync_ends_auth_error_deauthorizes_and_keeps_data(clearbooks, sandbox, start_worker):
    connection, key = linked(sandbox, "e2e-revoked")
    sandbox.configure(page_sizes={"listInvoices": 20})
    worker = start_worker(Q_WORKERS=1)  # one at a time: invoices first, then bills would follow
    customers, _ = queue_pull(connection, "customers", PullOperation.Trigger.FIRST_LINK, full=True)
    wait_for(lambda: all_ended([customers]), timeout=30, message="customers", worker=worker)

    sandbox.revoke(key, after_calls=4)  # listCurrencies and three pages of invoices, then Login Failed
    invoices, _ = queue_pull(connection, "invoices", PullOperation.Trigger.MANUAL, full=True)
    bills, _ = queue_pull(connection, "bills", PullOperation.Trigger.MANUAL, full=True)
    invoices, bills = wait_for(lambda: all_ended([invoices, bills]), timeout=30, message="revoked", worker=worker)

    assert invoices.status == P.AUTH_ERROR and "relink" in invoices.error_message
    assert invoices.pages_fetched == 3 and invoices.records_created == 60
    assert bills.status == P.CANCELLED and "rejected the API key" in bills.error_message
    connection.refresh_from_db()
    assert connection.status == Connection.Status.DEAUTHORIZED
    assert stored_counts(connection) == {"customers": 30, "invoices": 60}  # data kept
    assert tasks.queue_due_pulls() == 0  # and nothing is scheduled until relinked
    assert key not in invoices.error_detail


def test_a_worker_killed_mid_pull_recovers_through_the_watchdog(clearbooks, sandbox, start_worker, settings):
    connection, _ = linked(sandbox, "e2e-killed", invoices=600)
    sandbox.configure(latency_ms=120, page_sizes={"listInvoices": 20})
    worker = start_worker()
    settings.SYNC_STALE_SECONDS = 3

    pull, _ = queue_pull(connection, "invoices", PullOperation.Trigger.MANUAL, full=True)
    wait_for(
        lambda: PullOperation.objects.filter(pk=pull.pk, pages_fetched__gte=3).exists(),
        timeout=30,
        message="the pull under way",
        worker=worker,
    )
    assert tasks.watchdog()["failed"] == 0  # alive: its heartbeat is fresh
    worker.kill()
    killed = PullOperation.objects.get(pk=pull.pk)
    assert killed.status == P.FETCHING and 0 < killed.records_created < 600

    wait_for(lambda: tasks.watchdog()["failed"], timeout=15, interval=0.5, message="the watchdog to notice")
    restarted = start_worker()
    retry = PullOperation.objects.get(connection=connection, trigger=PullOperation.Trigger.RETRY)
    (retry,) = wait_for(lambda: all_ended([retry]), timeout=40, message="the retry", worker=restarted)

    killed.refresh_from_db()
    assert killed.status == P.INTERNAL_ERROR
    assert killed.error_message.startswith("The worker stopped while reading invoices")
    assert retry.status == P.COMPLETE and retry.mode == PullOperation.Mode.FULL
    assert retry.records_fetched == 600
    assert retry.records_created == 600 - killed.records_created
    assert retry.records_unchanged == killed.records_created
    records = Record.objects.filter(connection=connection, data_type="invoices")
    assert records.count() == records.values("remote_id").distinct().count() == 600


def test_a_disabled_integration_pauses_schedules_which_resume_when_switched_on(clearbooks, sandbox, start_worker):
    connection, _ = linked(sandbox, "e2e-paused")
    Connection.objects.filter(pk=connection.pk).update(linked_at=timezone.now() - timedelta(days=2))
    SyncSetting.objects.filter(integration=clearbooks).exclude(data_type="paymentMethods").update(frequency="none")
    SyncSetting.objects.filter(integration=clearbooks, data_type="paymentMethods").update(frequency="daily")
    call_command("schedule_syncs", stdout=open("/dev/null", "w"))  # noqa: SIM115
    factory.get_integration("jhch", enabled=False)
    worker = start_worker()

    assert tasks.queue_due_pulls() == 0
    assert not PullOperation.objects.exists()

    factory.get_integration("jhch", enabled=True)
    # The cluster's own scheduler runs the schedule_syncs rows (its first pass is ~30 s after start).
    done = wait_for(
        lambda: PullOperation.objects.filter(connection=connection, status=P.COMPLETE).first(),
        timeout=55,
        interval=0.5,
        message="the scheduled pull",
        worker=worker,
    )
    assert done.trigger == PullOperation.Trigger.SCHEDULE and done.data_type == "paymentMethods"
    assert done.records_created == 5
    assert pulls_of(connection) == [done]
