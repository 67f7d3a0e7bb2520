"""When pulls run on their own: the schedule (what is due) and the watchdog (what stalled).

Both run every minute as django-q2 schedules (`manage.py schedule_syncs`) through the
thin entry points in `tasks.py`.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from ..models import ACTIVE_PULL_STATUSES, RUNNING_PULL_STATUSES, Connection, DataStatus, PullOperation
from . import effective
from .outcomes import end_pull
from .queueing import enqueue_pull_task, queue_pull

logger = logging.getLogger(__name__)

# After a failed pull the schedule tries again after 5 minutes, doubling per failure
# in a row, but never later than the data type's own frequency.
RETRY_BASE_SECONDS = 300
CHUNK = 500  # connections looked at per batch: memory stays flat however many there are


def next_due_at(data_status, linked_at, interval_seconds):
    """When a data type with this data status is next due, by its frequency."""
    interval = timedelta(seconds=interval_seconds)
    latest = data_status.latest_pull if data_status else None
    finished = latest.finished_at if latest else None
    if data_status and data_status.failures_in_row and finished:
        backoff = RETRY_BASE_SECONDS * 2 ** min(data_status.failures_in_row - 1, 16)
        return finished + min(interval, timedelta(seconds=backoff))
    if data_status and data_status.last_successful_started_at:
        return data_status.last_successful_started_at + interval
    if finished:  # never succeeded, last one cancelled: wait a whole interval
        return finished + interval
    return (linked_at or timezone.now()) + interval


def queue_due_pulls(now=None) -> list:
    """Queue a scheduled pull for every data type that is due; returns the new pulls.

    Only Linked connections of enabled integrations: a disabled integration pauses its
    schedules, a Deauthorized connection waits for its relink. Each data type runs by the
    sync setting in force (the company's own, else the portal's); "none" never runs.
    """
    now = now or timezone.now()
    connections = (
        Connection.objects.filter(status=Connection.Status.LINKED, integration__enabled=True)
        .select_related("integration")
        .order_by("pk")
    )
    queued = []
    last_pk = None
    while True:
        batch = connections.filter(pk__gt=last_pk) if last_pk else connections
        batch = list(batch[:CHUNK])
        if not batch:
            return queued
        last_pk = batch[-1].pk
        queued += _queue_due_in(batch, now)


def _queue_due_in(batch, now):
    ids = [c.pk for c in batch]
    intervals = {}
    for (connection_pk, data_type), setting in effective.for_connections(batch).items():
        if setting.interval_seconds:
            intervals.setdefault(connection_pk, []).append((data_type, setting.interval_seconds))
    statuses = {
        (s.connection_id, s.data_type): s
        for s in DataStatus.objects.filter(connection_id__in=ids).select_related("latest_pull")
    }
    active = set(
        PullOperation.objects.filter(connection_id__in=ids, status__in=ACTIVE_PULL_STATUSES).values_list(
            "connection_id", "data_type"
        )
    )
    queued = []
    for connection in batch:
        for data_type, interval in sorted(intervals.get(connection.pk, ())):
            key = (connection.pk, data_type)
            if key in active or next_due_at(statuses.get(key), connection.linked_at, interval) > now:
                continue
            pull, created = queue_pull(connection, data_type, PullOperation.Trigger.SCHEDULE)
            if created:
                queued.append(pull)
    return queued


def watchdog(now=None) -> dict:
    """Fail and requeue pulls whose worker went silent; re-offer queued pulls nobody took.

    A running pull beats every SYNC_HEARTBEAT_SECONDS; silent for SYNC_STALE_SECONDS, its
    worker is taken for dead (killed, out of memory, machine lost). The pull ends
    InternalError with that reason and a retry is queued (same mode), which reads the
    data type again from the start: upserts make the rerun exact, with no duplicates.
    """
    now = now or timezone.now()
    stale_seconds = settings.SYNC_STALE_SECONDS
    cutoff = now - timedelta(seconds=stale_seconds)
    silent = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    failed = retried = 0
    for pull in PullOperation.objects.filter(silent, status__in=RUNNING_PULL_STATUSES).select_related("connection"):
        message = (
            f"The worker stopped while reading {pull.data_type}: no sign of life for over {stale_seconds} "
            "seconds (it was stopped, or ran out of memory). The records saved before that are kept "
            "and the pull was queued again."
        )
        detail = f"last heartbeat {pull.heartbeat_at:%Y-%m-%d %H:%M:%S%z}; watchdog ran at {now:%Y-%m-%d %H:%M:%S%z}"
        if not end_pull(pull, PullOperation.Status.INTERNAL_ERROR, message, detail, only_if=silent):
            continue  # it beat (or ended) after we looked: alive after all
        failed += 1
        if pull.connection.status == Connection.Status.LINKED:
            full = pull.mode == PullOperation.Mode.FULL
            _, created = queue_pull(pull.connection, pull.data_type, PullOperation.Trigger.RETRY, full=full)
            retried += created
    return {"failed": failed, "retried": retried, "reoffered": _reoffer_queued(now)}


def _reoffer_queued(now) -> int:
    """Enqueue again the tasks of pulls queued for longer than SYNC_REOFFER_SECONDS (past the queue's own retry).

    A broker can lose a task (Redis without persistence); the pull would then block its
    data type forever. A second delivery is harmless (the claim lets only one run), and
    the re-offer time is kept in `heartbeat_at` so each pull is re-offered once per period.
    """
    cutoff = now - timedelta(seconds=settings.SYNC_REOFFER_SECONDS)
    waiting = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, requested_at__lt=cutoff)
    count = 0
    for pull in PullOperation.objects.filter(waiting, status=PullOperation.Status.QUEUED):
        if PullOperation.objects.filter(waiting, pk=pull.pk, status=PullOperation.Status.QUEUED).update(
            heartbeat_at=now
        ):
            enqueue_pull_task(pull)
            count += 1
    return count
