"""Scale: 200 linked connections synced at once by three qclusters on PostgreSQL and Redis,
a quarter of the tasks delivered twice (django-q2 delivers at least once).

Each connection has small books of its own (sizes vary with its number), so a record stored
under the wrong connection would show. While the pulls run, the database is sampled for two
active pulls of one connection and data type (the partial unique constraint forbids it; the
samples check it under load). At the end: every pull Complete, each connection's records equal
its books, no record twice, each pull claimed once although some tasks came twice. (The Link
flow that links one connection is tested on its own; here the connections are linked directly
and their first-link pulls queued, all before the clusters start, so they start on a full queue.)
"""

import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from django.db import connection as db
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from connections.credentials import store_credentials
from connections.models import ACTIVE_PULL_STATUSES, ConnectionEvent, PullOperation, Record
from connections.sync.queueing import enqueue_pull_task, queue_first_link_pulls
from portal import health
from tests import factory
from tests.plugins.worker import wait_for

pytestmark = [pytest.mark.e2e]

CONNECTIONS, CLUSTERS, WORKERS_PER_CLUSTER = 200, 3, 2
P = PullOperation.Status
ENDED = set(P.values) - set(ACTIVE_PULL_STATUSES)

DUPLICATE_ACTIVE = f"""
    SELECT connection_id, data_type, COUNT(*) FROM {PullOperation._meta.db_table}
    WHERE status IN ({", ".join("%s" for _ in ACTIVE_PULL_STATUSES)})
    GROUP BY connection_id, data_type HAVING COUNT(*) > 1
"""


def small_books(i):
    """Small books, different for each connection."""
    return {
        "seed": f"scale-{i}",
        "customers": 2 + i % 3,
        "suppliers": 1 + i % 2,
        "both": 1,
        "invoices": 3 + i % 5,
        "bills": 2 + i % 4,
        "voided": 0,
        "voided_bills": 0,
        "account_codes": 4 + i % 3,
        "bank_accounts": 1,
        "projects": 1 + i % 2,
        "payment_methods": 2,
        "currencies": 1,
        "anchor": "2025-06-01",
    }


def sample(samples):
    with db.cursor() as cursor:
        cursor.execute(DUPLICATE_ACTIVE, list(ACTIVE_PULL_STATUSES))
        duplicates = cursor.fetchall()
    counts = dict(PullOperation.objects.values_list("status").annotate(n=Count("id")).order_by())
    worker = health.check_worker()  # what /healthz says of the workers, under this load
    samples.append(
        {"duplicates": duplicates, "counts": counts, "at": time.monotonic(), "now": timezone.now(), "worker": worker}
    )
    return samples[-1]


def test_200_connections_synced_at_once_by_three_clusters(production_stack, clearbooks, sandbox, start_worker):
    started = time.monotonic()

    def link_and_queue(numbers):
        """Link some connections and queue their first-link pulls in one transaction (a thread of four)."""
        try:
            with transaction.atomic():  # their tasks go to Redis when this commits
                linked = {}
                for i in numbers:
                    company = factory.make_company(f"Scale {i:03}")
                    connection = factory.make_connection(company=company, integration=clearbooks)
                    key = sandbox.make_key(**small_books(i))
                    store_credentials(connection, {"api_key": key}, validated_by="link")
                    linked[connection.pk] = (key, queue_first_link_pulls(connection))
            return linked
        finally:
            db.close()

    with ThreadPoolExecutor(4) as pool:  # the clusters are not running yet: nothing starts before all are queued
        linked = {
            pk: value
            for part in pool.map(link_and_queue, [range(n, CONNECTIONS, 4) for n in range(4)])
            for pk, value in part.items()
        }
    keys = {pk: key for pk, (key, _) in linked.items()}
    pulls = [pull for _, queued in linked.values() for pull in queued]
    data_types = {dt.name for dt in clearbooks.provider.data_types}
    assert len(pulls) == CONNECTIONS * len(data_types)
    twice = pulls[::4]
    for pull in twice:  # at-least-once delivery: some tasks a second time
        enqueue_pull_task(pull)
    assert production_stack.queue_size() == len(pulls) + len(twice)
    linked = time.monotonic() - started

    clusters = [start_worker(Q_WORKERS=WORKERS_PER_CLUSTER, **production_stack.env) for _ in range(CLUSTERS)]
    syncing = time.monotonic()
    samples = []

    def all_ended():
        return sample(samples)["counts"].keys() <= ENDED

    wait_for(all_ended, timeout=150, interval=0.25, message="every pull to end", worker=clusters[0])
    synced = time.monotonic() - syncing
    wait_for(lambda: production_stack.queue_size() == 0, timeout=30, message="the duplicates to be taken")
    time.sleep(1)  # the last duplicates, taken from the queue, find their pulls ended
    assert all(cluster.running for cluster in clusters)
    logs = [cluster.log_tail(100_000) for cluster in clusters]
    drained = time.monotonic() - syncing - synced
    # Killed, not stopped: a graceful stop waits for each monitor to save its backlog of results
    # (tens of seconds here), and everything checked below is already in the database.
    for cluster in clusters:
        cluster.kill()
    checking = time.monotonic()

    # Every pull complete, each claimed once although delivered twice.
    statuses = Counter(PullOperation.objects.values_list("status", flat=True))
    failed = list(PullOperation.objects.exclude(status=P.COMPLETE).values("data_type", "status", "error_message")[:5])
    assert statuses == {P.COMPLETE: len(pulls)}, failed
    starts = Counter(
        ConnectionEvent.objects.filter(kind=ConnectionEvent.Kind.PULL_STARTED).values_list("pull_id", flat=True)
    )
    assert set(starts.values()) == {1} and len(starts) == len(pulls)

    # Never two active pulls of one connection and data type, sampled all along.
    assert len(samples) > 20
    assert [s["duplicates"] for s in samples if s["duplicates"]] == []
    busiest = max(sum(n for status, n in s["counts"].items() if status not in ENDED) for s in samples)
    assert busiest > CONNECTIONS  # they were synced at once, not one after the other

    # /healthz said the workers were alive all along, though django-q2's monitor fell behind them.
    alive = [s["worker"] for s in samples]
    first_sign = next(i for i, worker in enumerate(alive) if worker["ok"])
    assert all(worker["ok"] for worker in alive[first_sign:]), [w for w in alive if not w["ok"]][:1]
    monitor_behind = max(
        (s["now"] - datetime.fromisoformat(s["worker"]["last_task_finished_at"])).total_seconds()
        for s in samples[first_sign:]
        if s["worker"]["last_task_finished_at"]
    )

    # Each connection's records are its books, none twice.
    stored = Counter(
        (row["connection_id"], row["data_type"])
        for row in Record.objects.filter(is_deleted=False).values("connection_id", "data_type")
    )
    books = {connection_id: sandbox.counts(key) for connection_id, key in keys.items()}
    for connection_id in keys:
        for name in data_types:
            assert stored[(connection_id, name)] == books[connection_id][name], (connection_id, name)
    stored_twice = Record.objects.values("connection_id", "data_type", "remote_id").annotate(n=Count("id"))
    assert not stored_twice.filter(n__gt=1).exists()
    for pull in PullOperation.objects.all():
        assert pull.records_fetched == pull.records_created == books[pull.connection_id][pull.data_type]

    # All three clusters took their share.
    processed = [len(re.findall(r"Processed 'connections\.sync\.tasks\.run_pull'", log)) for log in logs]
    assert all(n > 0 for n in processed), processed
    checked = time.monotonic() - checking
    print(
        f"\n{CONNECTIONS} connections linked and queued in {linked:.1f} s; {len(pulls)} pulls "
        f"({sum(stored.values())} records) synced by {CLUSTERS}x{WORKERS_PER_CLUSTER} workers in {synced:.1f} s "
        f"({len(pulls) / synced * 60:.0f} pulls/min); the duplicates taken {drained:.1f} s later; "
        f"checked in {checked:.1f} s; tasks per cluster {processed}; "
        f"{len(samples)} samples; django-q2's newest saved result up to {monitor_behind:.0f} s old"
    )
