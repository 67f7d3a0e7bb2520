"""Connection health per data type: its status, when it last synced, when it next runs, whether it is stale.

Plain functions over the models, shared by the company and connection pages, the
diagnosis sentences and their tests. Pages render what these return and hold no rules
of their own. Every function runs a fixed number of queries, whatever the amount of data.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from integrations.models import SyncSetting

from ..models import ACTIVE_PULL_STATUSES, Connection, DataStatus, PullStatus
from ..sync.schedules import next_due_at
from ..sync.staleness import STALE_FACTOR  # the rule the dashboard's stored stale_after follows too

# A data type is "failing repeatedly" from this many failed pulls in a row.
FAILING_IN_ROW = 3

S = Connection.Status


def stuck_after() -> timedelta:
    """How long a running pull may go without a heartbeat before we call it stuck.

    The sync engine's watchdog uses the same setting to mark such pulls failed; the
    dashboard shows the ones it has not reached yet.
    """
    return timedelta(seconds=settings.SYNC_STALE_SECONDS)


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


def health_for_connections(connections, now=None) -> dict:
    """{connection pk: [DataTypeHealth, …]} in the provider's data type order; two queries."""
    now = now or timezone.now()
    connections = list(connections)
    statuses = DataStatus.objects.filter(connection__in=connections).select_related("latest_pull")
    by_connection = {}
    for status in statuses:
        by_connection.setdefault(status.connection_id, {})[status.data_type] = status
    integration_ids = {c.integration_id for c in connections}
    settings_by = {
        (s.integration_id, s.data_type): s for s in SyncSetting.objects.filter(integration_id__in=integration_ids)
    }
    result = {}
    for connection in connections:
        rows = []
        known = by_connection.get(connection.pk, {})
        for dt in connection.integration.provider.data_types:
            setting = settings_by.get((connection.integration_id, dt.name))
            status = known.get(dt.name)
            rows.append(
                DataTypeHealth(
                    data_type=dt.name,
                    label=dt.label,
                    frequency=setting.frequency if setting else "none",
                    interval=_interval(setting),
                    has_amounts=dt.has_amounts,
                    status=status,
                    next_pull=next_scheduled_pull(connection, setting, status, now),
                    stale_since=stale_since(connection, setting, status, now),
                )
            )
        result[connection.pk] = rows
    return result


def last_success(rows):
    """The latest successful sync over a connection's data types."""
    times = [row.last_success for row in rows if row.last_success]
    return max(times) if times else None


def is_stuck(pull, now=None) -> bool:
    """A running pull whose heartbeat (or start, before the first beat) is older than the watchdog's threshold."""
    if pull.status not in (PullStatus.FETCHING, PullStatus.PROCESSING):
        return False
    beat = pull.heartbeat_at or pull.started_at or pull.requested_at
    return beat < (now or timezone.now()) - stuck_after()
