"""Connection health per data type: its status, when it last synced, when it next runs, whether it is stale.

Plain functions over the models, shared by the company and connection pages, the
diagnosis sentences and their tests. Pages render what these return and hold no rules
of their own. Every function runs a fixed number of queries, whatever the amount of data.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, IntegerField, OuterRef, Subquery, When
from django.utils import timezone
from django_q.models import Schedule

from ..models import (
    ACTIVE_PULL_STATUSES,
    FAILED_PULL_STATUSES,
    RUNNING_PULL_STATUSES,
    Connection,
    DataStatus,
    PullOperation,
    PullStatus,
)
from ..sync import effective
from ..sync.schedules import next_due_at
from ..sync.staleness import STALE_FACTOR  # the rule the dashboard's stored stale_after follows too

# A data type is "failing repeatedly" from this many failed pulls in a row (a bad tone; a
# single failure is already said, and listed as failing now).
FAILING_IN_ROW = 3
# A running pull that missed this many heartbeats is not moving (its worker died or hangs).
STALLED_BEATS = 3
WATCHDOG_TASK = "connections.sync.tasks.watchdog"  # schedule_syncs schedules it twice a minute
SCHEDULED_TASKS = (WATCHDOG_TASK, "connections.sync.tasks.queue_due_pulls")
SCHEDULER_LATE = timedelta(seconds=90)  # django-q2 looks at its schedules every ~30 s

S = Connection.Status
RUNNING = RUNNING_PULL_STATUSES


def stuck_after() -> timedelta:
    """How long a running pull may go without a heartbeat before the watchdog fails it and queues it again."""
    return timedelta(seconds=settings.SYNC_STALE_SECONDS)


def stalled_after() -> timedelta:
    """How long a running pull may go without a heartbeat before the pages say it is not moving.

    Its worker beats every SYNC_HEARTBEAT_SECONDS, retries and slow pages included, so a
    few missed beats mean the worker died or hangs: said long before the watchdog acts.
    """
    return min(timedelta(seconds=STALLED_BEATS * settings.SYNC_HEARTBEAT_SECONDS), stuck_after())


def waiting_after() -> timedelta:
    """How long a pull may stay queued before the pages say no worker has picked it up."""
    return stuck_after()


def key_label(integration) -> str:
    """'API key' from 'Clear Books API key': the sentence already names the integration."""
    label = integration.provider.credentials_label
    return label.removeprefix(integration.name).strip() or label


def has_live_link(connection, now=None) -> bool:
    """A Link URL the company can still use: issued, unused and not expired."""
    now = now or timezone.now()
    return bool(
        connection.link_token
        and connection.link_token_used_at is None
        and (connection.link_token_expires_at is None or connection.link_token_expires_at > now)
    )


@dataclass
class NextPull:
    at: datetime | None
    text: str = ""  # when set, shown instead of the time ("paused — integration is off")


class Activity:
    """What a data type's pull is doing now (DataTypeHealth.activity); "" when none is queued or running."""

    QUEUED = "queued"  # waiting for a worker, not for long
    WAITING = "waiting"  # queued for longer than waiting_after(): no worker has picked it up
    RUNNING = "running"  # reading, its worker beating
    RETRYING = "retrying"  # running, the provider trying a failed request again
    STALLED = "stalled"  # running, its worker silent for stalled_after(): not moving


@dataclass
class DataTypeHealth:
    data_type: str
    label: str
    frequency: str
    interval: timedelta | None
    has_amounts: bool
    status: DataStatus | None
    next_pull: NextPull
    stale_since: datetime | None = None  # the last success (or link) when data is stale
    failed_pull: PullOperation | None = None  # the latest failed pull, when failures_in_row counts it
    activity: str = ""  # an Activity, when a pull of it is queued or running
    line: str = ""  # what the data status table says of it now (support.diagnosis.data_type_line)

    @property
    def current_status(self):
        return self.status.current_status if self.status else ""

    @property
    def last_success(self):
        return self.status.last_successful_sync_at if self.status else None

    @property
    def failures_in_row(self):
        return self.status.failures_in_row if self.status else 0

    @property
    def latest_pull(self):
        return self.status.latest_pull if self.status else None

    @property
    def is_failing(self):
        return self.failures_in_row >= FAILING_IN_ROW

    @property
    def is_stale(self):
        return self.stale_since is not None

    @property
    def active_pull(self):
        """The pull queued or running for it (its latest pull, while that is active), else None."""
        return self.latest_pull if self.current_status in ACTIVE_PULL_STATUSES else None

    @property
    def expected(self):
        """Its data is expected: the schedule reads it, or a pull of it was ever queued."""
        return self.interval is not None or self.status is not None

    @property
    def ever_read(self):
        return self.last_success is not None


def _interval(setting):
    seconds = setting.interval_seconds if setting else None
    return timedelta(seconds=seconds) if seconds else None


def schedules_run(connection) -> bool:
    return connection.integration.enabled and connection.status == S.LINKED


def next_scheduled_pull(connection, setting, status, now=None) -> NextPull:
    """When the schedule will next queue this data type: the schedule's own rule (schedule.next_due_at)."""
    now = now or timezone.now()
    if not connection.integration.enabled:
        return NextPull(None, "paused — integration is off")
    if connection.status != S.LINKED:
        return NextPull(None, "none — not Linked")
    interval = _interval(setting)
    if interval is None:
        return NextPull(None, "none — refreshed by hand only")
    if status is not None and status.current_status in ACTIVE_PULL_STATUSES:
        return NextPull(None, "running now" if status.current_status != PullStatus.QUEUED else "queued now")
    due = next_due_at(status, connection.linked_at, interval.total_seconds())
    if due <= now:
        return NextPull(now, "due now")
    return NextPull(due)


def stale_since(connection, setting, status, now=None):
    """The last success (or the link time, if none) when it is older than twice the interval."""
    now = now or timezone.now()
    interval = _interval(setting)
    if interval is None or not schedules_run(connection):
        return None
    reference = (status.last_successful_sync_at if status else None) or connection.linked_at
    if reference is not None and reference < now - STALE_FACTOR * interval:
        return reference
    return None


def activity(pull, now=None) -> str:
    """What an active pull is doing now (an Activity); "" for a pull that ended."""
    now = now or timezone.now()
    if pull is None:
        return ""
    if pull.status == PullStatus.QUEUED:
        return Activity.WAITING if pull.requested_at <= now - waiting_after() else Activity.QUEUED
    if pull.status not in RUNNING:
        return ""
    if silent_since(pull) <= now - stalled_after():
        return Activity.STALLED
    return Activity.RETRYING if pull.retry_attempt else Activity.RUNNING


def silent_since(pull):
    """A running pull's last sign of life: its heartbeat, else its start."""
    return pull.heartbeat_at or pull.started_at or pull.requested_at


def latest_failed_pull_ids():
    """An annotation of data statuses: the id of their latest failed pull while failures_in_row counts one.

    The latest pull is not it while a retry or a refresh is queued or running: the diagnosis
    quotes this one's error, and names it.
    """
    failed = PullOperation.objects.filter(
        connection_id=OuterRef("connection_id"), data_type=OuterRef("data_type"), status__in=FAILED_PULL_STATUSES
    ).order_by("-requested_at", "-id")
    return Case(
        When(failures_in_row__gt=0, then=Subquery(failed.values("pk")[:1])), default=None, output_field=IntegerField()
    )


def health_for_connections(connections, now=None) -> dict:
    """{connection pk: [DataTypeHealth, …]} in the provider's data type order; four queries at most."""
    now = now or timezone.now()
    connections = list(connections)
    statuses = list(
        DataStatus.objects.filter(connection__in=connections)
        .select_related("latest_pull")
        .annotate(latest_failed_pull_id=latest_failed_pull_ids())
    )
    failed_ids = {s.latest_failed_pull_id for s in statuses if s.latest_failed_pull_id} - {
        s.latest_pull_id for s in statuses
    }
    failed = PullOperation.objects.in_bulk(failed_ids) if failed_ids else {}
    by_connection = {}
    for status in statuses:
        by_connection.setdefault(status.connection_id, {})[status.data_type] = status
        if status.latest_failed_pull_id == status.latest_pull_id:
            failed[status.latest_pull_id] = status.latest_pull
    settings_by = effective.for_connections(connections)  # the company's own setting, else the portal's
    result = {}
    for connection in connections:
        rows = []
        known = by_connection.get(connection.pk, {})
        for dt in connection.integration.provider.data_types:
            setting = settings_by.get((connection.pk, dt.name))
            status = known.get(dt.name)
            row = DataTypeHealth(
                data_type=dt.name,
                label=dt.label,
                frequency=setting.frequency if setting else "none",
                interval=_interval(setting),
                has_amounts=dt.has_amounts,
                status=status,
                next_pull=next_scheduled_pull(connection, setting, status, now),
                stale_since=stale_since(connection, setting, status, now),
                failed_pull=failed.get(status.latest_failed_pull_id) if status else None,
            )
            row.activity = activity(row.active_pull, now)
            rows.append(row)
        result[connection.pk] = rows
    return result


def last_success(rows):
    """The latest successful sync over a connection's data types."""
    times = [row.last_success for row in rows if row.last_success]
    return max(times) if times else None


def is_stuck(pull, now=None) -> bool:
    """A running pull silent (no heartbeat, or no start before the first beat) for stalled_after(): not moving."""
    return pull.status in RUNNING and silent_since(pull) <= (now or timezone.now()) - stalled_after()


@dataclass
class WatchdogRun:
    """When the watchdog fails a silent pull and queues it again, as far as its schedules tell."""

    at: datetime | None  # its first run from the moment the pull counts as dead; None: not scheduled
    late: bool = False  # the schedules have not run for a while: no worker (qcluster) runs them


def schedules_next_runs():
    """{task: [next runs]} of the sync engine's django-q2 schedules (schedule_syncs); one query."""
    runs = {}
    rows = Schedule.objects.filter(func__in=SCHEDULED_TASKS).exclude(repeats=0).values_list("func", "next_run")
    for func, next_run in rows:
        if next_run is not None:
            runs.setdefault(func, []).append(next_run)
    return runs


def scheduler_late(runs, now=None) -> bool | None:
    """True when no schedule of the sync engine has run on time lately (no worker runs the scheduler);
    None when there are none to tell by."""
    every = [run for found in runs.values() for run in found]
    if not every:
        return None
    return max(every) < (now or timezone.now()) - SCHEDULER_LATE


def watchdog_run(pull, runs, now=None) -> WatchdogRun:
    """When the watchdog will fail this silent pull: its first run once the pull is silent for stuck_after()."""
    now = now or timezone.now()
    dead_at = silent_since(pull) + stuck_after()
    starts = runs.get(WATCHDOG_TASK, [])
    if not starts:
        return WatchdogRun(None)
    minute = timedelta(minutes=1)
    candidates = []
    for run in starts:  # each runs every minute from its next run (the past ones late, by the scheduler)
        if run < dead_at:
            run += minute * -((run - dead_at) // minute)
        candidates.append(run)
    return WatchdogRun(min(candidates), late=bool(scheduler_late(runs, now)))
