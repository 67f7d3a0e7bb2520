"""Faults on the production path: real `qcluster` processes on PostgreSQL and Redis, the
sandbox over real HTTP with its fault injection, and after each fault the same checks.

After recovery: each connection's records equal the sandbox's books (exact counts per data
type), no record stored twice, statuses and their sentences as support would read them,
nothing left Fetching or Queued, and the time it took to recover, printed as a `[fault]`
line (run with `-s`; docs/RELIABILITY.md lists them). Timings are compressed through
settings (fast retries, a 3-second watchdog threshold, a 1-second client timeout) so each
scenario takes seconds. The watchdog is the real `tasks.watchdog`, called by the test every
half second where the clusters' scheduler would call it twice a minute.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import time
import uuid

import pytest
from django.db import connection as db
from django.db import transaction
from django.db.models import Count
from django.test import Client
from django.urls import reverse

from connections.credentials import store_credentials
from connections.link import accept_credentials
from connections.models import (
    ACTIVE_PULL_STATUSES,
    Connection,
    ConnectionEvent,
    PullOperation,
    Record,
)
from connections.sync import tasks
from connections.sync.queueing import queue_first_link_pulls, queue_pull, queue_refresh
from integrations.clearbooks.errors import RELINK
from integrations.models import Integration
from tests import factory
from tests.plugins.worker import wait_for

from .conftest import closed_port, redis_answers, use_broker

pytestmark = [pytest.mark.e2e]

P = PullOperation.Status
S = Connection.Status
ENDED = set(P.values) - set(ACTIVE_PULL_STATUSES)
# Small books (103 records over the eight data types), read in small pages so faults land mid-pull.
BOOKS = {
    "customers": 8,
    "suppliers": 5,
    "both": 2,
    "invoices": 60,
    "bills": 12,
    "voided": 0,
    "voided_bills": 0,
    "account_codes": 6,
    "bank_accounts": 1,
    "projects": 3,
    "payment_methods": 2,
    "currencies": 1,
    "anchor": "2025-06-01",
}
PAGES = {"listInvoices": 10, "listEntities": 5}
FAST_RETRIES = {"CLEARBOOKS_RETRY_BASE_DELAY": 0.05, "CLEARBOOKS_RETRY_MAX_DELAY": 0.2, "CLEARBOOKS_RETRY_ATTEMPTS": 6}


# Helpers


def report(scenario, seconds, **figures):
    extra = "".join(f"; {name.replace('_', ' ')} {value}" for name, value in figures.items())
    print(f"\n[fault] {scenario}: recovered in {seconds:.1f} s{extra}")


def link(sandbox, seed, **spec):
    key = sandbox.make_key(seed=f"fault-{seed}", **{**BOOKS, **spec})
    company = factory.make_company(f"Fault {seed}")
    connection = factory.make_connection(company=company, integration=factory.get_integration("jhch"))
    store_credentials(connection, {"api_key": key}, validated_by="link")
    return connection, key


def fresh(pulls):
    found = PullOperation.objects.in_bulk([p.pk for p in pulls])
    return [found[p.pk] for p in pulls]


def ended(pulls):
    """The pulls, fresh, once all have ended; else None."""
    now = fresh(pulls)
    return now if all(p.status in ENDED for p in now) else None


def settled():
    """True once no pull anywhere is Queued, Fetching or Processing (the watchdog run on the way)."""
    tasks.watchdog()
    return not PullOperation.objects.filter(status__in=ACTIVE_PULL_STATUSES).exists()


def stored(connection) -> dict:
    rows = Record.objects.filter(connection=connection, is_deleted=False).values("data_type").annotate(n=Count("id"))
    return {row["data_type"]: row["n"] for row in rows}


def data_types():
    return [dt.name for dt in factory.get_integration("jhch").provider.data_types]


def assert_books_exact(sandbox, connection, key):
    """Records equal the books per data type, none twice, nothing left running."""
    books = sandbox.counts(key)
    assert stored(connection) == {name: books[name] for name in data_types() if books[name]}
    twice = Record.objects.values("connection_id", "data_type", "remote_id").annotate(n=Count("id")).filter(n__gt=1)
    assert not twice.exists()
    assert not PullOperation.objects.filter(connection=connection, status__in=ACTIVE_PULL_STATUSES).exists()


def latest_complete(connection, data_type):
    return PullOperation.objects.filter(connection=connection, data_type=data_type, status=P.COMPLETE).latest(
        "finished_at"
    )


def set_timeout(seconds):
    integration = Integration.objects.get(key="jhch")
    integration.settings = {**(integration.settings or {}), "timeout": seconds}
    integration.save(update_fields=["settings"])


@pytest.fixture
def fast_watchdog(settings):
    settings.SYNC_STALE_SECONDS = 3
    settings.SYNC_REOFFER_SECONDS = 3


# Scenarios


def test_a_fifth_of_requests_failing_with_http_500_still_reads_the_books_exactly(
    production_stack, clearbooks, sandbox, start_worker
):
    connection, key = link(sandbox, "http500")
    sandbox.configure(failure_rate=0.2, seed=1, page_sizes=PAGES)  # seed 0 happens to start with few failures
    worker = start_worker(**production_stack.env, **FAST_RETRIES)
    started = time.monotonic()

    pulls = queue_first_link_pulls(connection)
    done = wait_for(lambda: ended(pulls), timeout=60, message="the pulls under failures", worker=worker)
    seconds = time.monotonic() - started

    books = sandbox.counts(key)
    for pull in done:
        assert pull.status == P.COMPLETE, (pull.data_type, pull.error_message)
        assert pull.records_fetched == pull.records_created == books[pull.data_type]
        assert pull.retry_attempt is None  # the last retry went through and was cleared
    assert_books_exact(sandbox, connection, key)
    failures, answered = sandbox.injected().get("http500", 0), sandbox.calls()
    assert failures >= 3  # failures did happen (about a fifth of the answers), and were retried
    connection.refresh_from_db()
    assert connection.status == S.LINKED
    report("20% HTTP 500", seconds, pulls=len(done), http_500_answered=f"{failures} of {failures + answered}")


def test_answers_slower_than_the_timeout_are_retried_and_a_dead_slow_service_changes_no_status(
    production_stack, clearbooks, sandbox, start_worker
):
    connection, key = link(sandbox, "slow")
    set_timeout(1)  # the Manage page's request timeout, at its minimum
    sandbox.configure(page_sizes=PAGES)
    worker = start_worker(**production_stack.env, **{**FAST_RETRIES, "CLEARBOOKS_RETRY_ATTEMPTS": 3})

    # A few answers later than the timeout: each is given up on after a second and tried again.
    sandbox.fail_next("slow", count=3, key=key, delay_ms=1500, after=2)
    pulls = queue_first_link_pulls(connection)
    done = wait_for(lambda: ended(pulls), timeout=60, message="the pulls past slow answers", worker=worker)
    assert [p.data_type for p in done if p.status != P.COMPLETE] == []
    assert sandbox.injected() == {"slow": 3}
    assert_books_exact(sandbox, connection, key)

    # Every answer later than the timeout: the pull ends FetchError saying so, the status stays.
    sandbox.configure(latency_ms=1500)
    (slow,), _ = queue_refresh(connection, ["customers"])
    (slow,) = wait_for(lambda: ended([slow]), timeout=30, message="the timed-out pull", worker=worker)
    assert slow.status == P.FETCH_ERROR
    assert slow.error_message == "We couldn't reach Clear Books after 3 tries (timed out)."
    connection.refresh_from_db()
    assert connection.status == S.LINKED  # an unreachable service never changes a connection's status
    assert_books_exact(sandbox, connection, key)  # nothing lost

    sandbox.configure(latency_ms=0)
    recovering = time.monotonic()
    (again,), _ = queue_refresh(connection, ["customers"])
    (again,) = wait_for(lambda: ended([again]), timeout=30, message="the pull after recovery", worker=worker)
    seconds = time.monotonic() - recovering
    assert again.status == P.COMPLETE
    assert_books_exact(sandbox, connection, key)
    report(
        "latency above the 1 s timeout",
        seconds,
        failed_pull_took=f"{(slow.finished_at - slow.started_at).total_seconds():.1f} s",
    )


def test_a_key_revoked_mid_sync_deauthorizes_keeps_the_data_and_a_relink_reads_the_rest(
    production_stack, clearbooks, sandbox, start_worker
):
    connection, key = link(sandbox, "revoked")
    sandbox.configure(page_sizes=PAGES)
    worker = start_worker(**production_stack.env, **FAST_RETRIES, Q_WORKERS=1)  # one pull at a time
    sandbox.revoke(key, after_calls=6)

    pulls = queue_first_link_pulls(connection)
    done = wait_for(lambda: ended(pulls), timeout=60, message="the pulls to end", worker=worker)

    books = sandbox.counts(key)
    by_status = {}
    for pull in done:
        by_status.setdefault(pull.status, []).append(pull)
    (refused,) = by_status[P.AUTH_ERROR]
    assert refused.error_message == RELINK
    assert P.CANCELLED in by_status  # the pulls still queued are cancelled, not left waiting
    for pull in by_status[P.CANCELLED]:
        assert "rejected the API key" in pull.error_message
    for pull in by_status.get(P.COMPLETE, []):
        assert pull.records_created == books[pull.data_type]
    connection.refresh_from_db()
    assert connection.status == S.DEAUTHORIZED and connection.status_reason == RELINK
    kept = stored(connection)
    assert kept == {
        **{p.data_type: books[p.data_type] for p in by_status.get(P.COMPLETE, []) if books[p.data_type]},
        **({refused.data_type: refused.records_created} if refused.records_created else {}),
    }
    assert sum(kept.values()) > 0  # data already read is kept

    # Support reads why, in words, on the connection page (and never the key).
    client = Client()
    client.force_login(factory.make_support())
    page = client.get(reverse("connections:connection-detail", args=[connection.pk])).content.decode()
    assert "Clear Books rejected the API key on" in page and "relink" in page
    assert key not in page

    sandbox.revoke(key, after_calls=10**6)  # the company's key works again: they relink with it
    recovering = time.monotonic()
    with transaction.atomic():
        locked = Connection.objects.select_for_update().select_related("integration").get(pk=connection.pk)
        assert accept_credentials(locked, {"api_key": key}, actor_label="test", reason=lambda relink: "Relinked.")
    relinked = PullOperation.objects.filter(connection=connection, status=P.QUEUED)
    again = list(relinked)
    assert len(again) == len(data_types())
    wait_for(lambda: ended(again), timeout=60, message="the pulls after relinking", worker=worker)
    seconds = time.monotonic() - recovering
    connection.refresh_from_db()
    assert connection.status == S.LINKED
    assert {p.status for p in fresh(again)} == {P.COMPLETE}
    assert_books_exact(sandbox, connection, key)
    report("key revoked mid-sync, then relinked", seconds, kept_before_relink=sum(kept.values()))


@pytest.mark.parametrize(
    ("kind", "detail"),
    [
        ("malformed", "well-formed"),
        ("entity_bomb", "DOCTYPE"),
        ("external_entity", "DOCTYPE"),
    ],
)
def test_an_unreadable_or_hostile_answer_fails_the_pull_keeps_its_pages_and_expands_nothing(
    production_stack, clearbooks, sandbox, start_worker, kind, detail
):
    connection, key = link(sandbox, kind)
    sandbox.configure(page_sizes=PAGES)
    sandbox.fail_next(kind, count=1, key=key, operation="listInvoices", after=2)  # the third page of invoices
    worker = start_worker(**production_stack.env, **FAST_RETRIES)

    # Invoices alone first: bills are read by the same operation, and must not take the bad page.
    invoices, _ = queue_pull(connection, "invoices", PullOperation.Trigger.FIRST_LINK, full=True)
    (invoices,) = wait_for(lambda: ended([invoices]), timeout=30, message="the invoices pull", worker=worker)
    others, _ = queue_refresh(connection, [name for name in data_types() if name != "invoices"])
    done = wait_for(lambda: ended(others), timeout=60, message="the other pulls", worker=worker)

    assert invoices.status == P.FETCH_ERROR
    assert invoices.error_message == "Clear Books sent an answer we couldn't read."
    assert detail in invoices.error_detail
    assert invoices.records_created == 2 * PAGES["listInvoices"]  # the pages before it are kept
    assert {p.status for p in done} == {P.COMPLETE}
    assert sandbox.injected() == {kind: 1}
    connection.refresh_from_db()
    assert connection.status == S.LINKED
    # Nothing expanded, no file read: neither a "lol" run nor /etc/passwd's first line anywhere.
    for text in (
        *PullOperation.objects.values_list("error_detail", flat=True),
        *ConnectionEvent.objects.values_list("message", flat=True),
        *(str(d) for d in ConnectionEvent.objects.values_list("detail", flat=True)),
        *(str(row) for row in Record.objects.values_list("name", "number", "status", "attributes")),
    ):
        assert "lollol" not in text and "root:" not in text
    if kind == "entity_bomb":
        assert "amplification" not in worker.log_tail(5000)  # never handed to an expanding parser

    recovering = time.monotonic()
    (again,), _ = queue_refresh(connection, ["invoices"])
    (again,) = wait_for(lambda: ended([again]), timeout=30, message="the refresh", worker=worker)
    seconds = time.monotonic() - recovering
    assert again.status == P.COMPLETE
    assert again.records_created == BOOKS["invoices"] - 2 * PAGES["listInvoices"]
    assert again.records_unchanged == 2 * PAGES["listInvoices"]
    assert_books_exact(sandbox, connection, key)
    report(f"{kind} answer", seconds)


def test_postgresql_connections_killed_during_a_pull_are_recovered_without_duplicates(
    production_stack, clearbooks, sandbox, start_worker, fast_watchdog
):
    connection, key = link(sandbox, "pgkill", invoices=150)
    sandbox.configure(latency_ms=100, page_sizes=PAGES)
    worker = start_worker(**production_stack.env, **FAST_RETRIES, Q_WORKERS=1)

    pull, _ = queue_pull(connection, "invoices", PullOperation.Trigger.MANUAL, full=True)
    wait_for(
        lambda: PullOperation.objects.filter(pk=pull.pk, pages_fetched__gte=3).exists(),
        timeout=30,
        message="the pull under way",
        worker=worker,
    )
    with db.cursor() as cursor:  # only the backends of this test's own database, never another's
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        killed = len(cursor.fetchall())
    assert killed >= 1
    recovering = time.monotonic()

    def retried():
        """The retry, once it has ended (the worker ends the pull, then queues the retry: in between
        nothing is active, so "nothing running" alone could be seen too early)."""
        retry = PullOperation.objects.filter(connection=connection, trigger=PullOperation.Trigger.RETRY).first()
        return settled() and retry is not None and retry.status in ENDED

    wait_for(retried, timeout=60, interval=0.5, message="the retry to end", worker=worker)
    seconds = time.monotonic() - recovering
    first = PullOperation.objects.get(pk=pull.pk)
    assert first.status == P.INTERNAL_ERROR, first.error_detail
    assert first.error_message == (
        "The database connection was lost while storing invoices. Records saved before it are kept; "
        "the pull was queued again."
    )
    retry = PullOperation.objects.get(connection=connection, trigger=PullOperation.Trigger.RETRY)
    assert retry.status == P.COMPLETE and retry.mode == PullOperation.Mode.FULL
    assert (retry.records_created, retry.records_unchanged) == (150 - first.records_created, first.records_created)
    books = sandbox.counts(key)
    assert stored(connection) == {"invoices": books["invoices"]}
    twice = Record.objects.values("connection_id", "data_type", "remote_id").annotate(n=Count("id")).filter(n__gt=1)
    assert not twice.exists()
    connection.refresh_from_db()
    assert connection.status == S.LINKED

    # The cluster works on: its worker opened a new connection for the next task.
    (customers,), _ = queue_refresh(connection, ["customers"])
    (customers,) = wait_for(lambda: ended([customers]), timeout=30, message="a later pull", worker=worker)
    assert customers.status == P.COMPLETE and customers.records_created == books["customers"]
    report(
        "PostgreSQL connections killed mid-pull",
        seconds,
        backends_killed=killed,
        records_before_the_kill=first.records_created,
    )


def cluster_pids(worker) -> set[int]:
    """The pids of a cluster's processes (its own process group)."""
    group = worker.process.pid
    pids = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ProcessLookupError):
                if os.getpgid(int(entry.name)) == group:
                    pids.add(int(entry.name))
    return pids


def worker_running(worker, pull) -> int:
    """The pid of the worker process that took this pull's task, from the cluster's log."""
    import re

    log = worker.log_tail(5000)
    name = re.search(rf"(\S+) processing pull-{pull.pk} ", log).group(1)
    return int(re.search(rf"{re.escape(name)} ready for work at (\d+)", log).group(1))


def test_a_worker_killed_mid_pull_is_replaced_and_the_watchdog_retries_its_pull(
    production_stack, clearbooks, sandbox, start_worker, fast_watchdog
):
    connection, key = link(sandbox, "sigkill", invoices=150)
    sandbox.configure(latency_ms=100, page_sizes=PAGES)
    worker = start_worker(**production_stack.env, **FAST_RETRIES)

    pull, _ = queue_pull(connection, "invoices", PullOperation.Trigger.MANUAL, full=True)
    wait_for(
        lambda: PullOperation.objects.filter(pk=pull.pk, pages_fetched__gte=3).exists(),
        timeout=30,
        message="the pull under way",
        worker=worker,
    )
    victim = worker_running(worker, pull)
    assert victim in cluster_pids(worker)
    os.kill(victim, signal.SIGKILL)  # that worker process only: the cluster lives on
    recovering = time.monotonic()

    wait_for(settled, timeout=60, interval=0.5, message="the retry to end", worker=worker)
    seconds = time.monotonic() - recovering
    assert worker.running
    killed = PullOperation.objects.get(pk=pull.pk)
    assert killed.status == P.INTERNAL_ERROR
    assert killed.error_message.startswith("The worker stopped while reading invoices: no sign of life")
    retry = PullOperation.objects.get(connection=connection, trigger=PullOperation.Trigger.RETRY)
    assert retry.status == P.COMPLETE and retry.mode == PullOperation.Mode.FULL
    assert retry.records_fetched == 150
    assert (retry.records_created, retry.records_unchanged) == (150 - killed.records_created, killed.records_created)
    books = sandbox.counts(key)
    assert stored(connection) == {"invoices": books["invoices"]}
    twice = Record.objects.values("connection_id", "data_type", "remote_id").annotate(n=Count("id")).filter(n__gt=1)
    assert not twice.exists()
    assert "reincarnated worker" in worker.log_tail(5000)
    report("worker SIGKILLed mid-pull", seconds, records_before_the_kill=killed.records_created)


class OwnRedis:
    """A redis-server of this test's own on a free loopback port, without persistence."""

    def __init__(self):
        self.port = closed_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: redis_answers(self.url), timeout=10, message="redis-server to answer")
        return self

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@pytest.fixture
def own_redis(transactional_db, monkeypatch):
    if db.vendor != "postgresql":
        pytest.skip("needs the test database on PostgreSQL (make test-postgres, or DATABASE_URL=postgres://…)")
    if shutil.which("redis-server") is None:
        pytest.skip("needs the redis-server binary")
    server = OwnRedis().start()
    name = f"portal-fault-{uuid.uuid4().hex[:12]}"
    use_broker(monkeypatch, redis_url=server.url, name=name)
    server.env = {"REDIS_URL": server.url, "Q_CLUSTER_NAME": name}
    yield server
    server.stop()


def test_redis_restarted_mid_sync_loses_its_queue_and_the_watchdog_offers_the_pulls_again(
    own_redis, clearbooks, sandbox, start_worker, fast_watchdog
):
    connection, key = link(sandbox, "redis")
    sandbox.configure(latency_ms=100, page_sizes=PAGES)
    worker = start_worker(**own_redis.env, **FAST_RETRIES, Q_WORKERS=1)

    pulls = queue_first_link_pulls(connection)
    wait_for(
        lambda: PullOperation.objects.filter(connection=connection, status=P.COMPLETE).exists(),
        timeout=30,
        message="a first pull done",
        worker=worker,
    )
    own_redis.stop()  # the queue held in Redis is gone with it (no persistence)
    queued = PullOperation.objects.filter(connection=connection, status=P.QUEUED).count()
    time.sleep(1)
    own_redis.start()
    recovering = time.monotonic()

    done = wait_for(lambda: settled() and ended(pulls), timeout=60, interval=0.5, message="every pull", worker=worker)
    seconds = time.monotonic() - recovering
    assert worker.running
    assert [(p.data_type, p.status) for p in done if p.status != P.COMPLETE] == []
    starts = ConnectionEvent.objects.filter(kind=ConnectionEvent.Kind.PULL_STARTED, connection=connection)
    assert starts.count() == len(pulls)  # each claimed once, though some were offered twice
    assert_books_exact(sandbox, connection, key)
    assert queued > 0  # some pulls were waiting in the queue that was lost
    report("Redis restarted mid-sync (queue lost)", seconds, pulls_waiting_when_it_stopped=queued)


def test_a_refresh_asked_for_while_redis_is_down_is_kept_and_runs_once_redis_is_back(
    own_redis, clearbooks, sandbox, start_worker, settings
):
    connection, key = link(sandbox, "redis-down")
    settings.SYNC_REOFFER_SECONDS = 3600  # the production order of magnitude: the next pass offers it all the same
    client = Client()
    client.force_login(factory.make_support())
    own_redis.stop()

    page = reverse("connections:connection-detail", args=[connection.pk])
    response = client.post(
        reverse("connections:connection-refresh", args=[connection.pk]), {"data_type": "customers", "next": page}
    )
    assert response.status_code == 302  # the person asking gets the page back, not an error
    (pull,) = PullOperation.objects.filter(connection=connection)
    assert pull.status == P.QUEUED  # kept, for the watchdog to offer again
    assert "Refresh queued for customers" in client.get(page).content.decode()

    own_redis.start()
    recovering = time.monotonic()
    worker = start_worker(**own_redis.env, **FAST_RETRIES)
    (pull,) = wait_for(lambda: settled() and ended([pull]), timeout=60, interval=0.5, message="the pull", worker=worker)
    seconds = time.monotonic() - recovering
    assert pull.status == P.COMPLETE and pull.records_created == sandbox.counts(key)["customers"]
    report("Redis down when a refresh was asked for", seconds, cluster_start_included="yes")
