"""Connection health: what is wrong, what to do next, and when the next pull runs.

Plain functions over the models, shared by the dashboard, the company and connection
pages and their tests. Pages render what these return and hold no rules of their own.
Every function runs a fixed number of queries, whatever the amount of data.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from integrations.models import Integration, SyncSetting

from ..models import (
    ACTIVE_PULL_STATUSES,
    Connection,
    DataStatus,
    PullOperation,
    PullStatus,
)
from ..sync.schedules import next_due_at
from ..sync.staleness import STALE_FACTOR  # the rule the dashboard's stored stale_after follows too

# A data type is "failing repeatedly" from this many failed pulls in a row.
FAILING_IN_ROW = 3
# The most urgent entries per group; the heading gives the total. A dashboard summarises:
# the pages it links to hold the rest.
ATTENTION_LIMIT = 5
COUNT_CAP = 1000  # the dashboard counts entries up to here ("1,000+"), so it costs the same on any size

S = Connection.Status


def stuck_after() -> timedelta:
    """How long a running pull may go without a heartbeat before we call it stuck.

    The sync engine's watchdog uses the same setting to mark such pulls failed; the
    dashboard shows the ones it has not reached yet.
    """
    return timedelta(seconds=settings.SYNC_STALE_SECONDS)


def moment(value, now=None) -> str:
    """'3 March at 10:02' in the portal's time zone (with the year when it is not this year)."""
    local = timezone.localtime(value)
    today = timezone.localtime(now or timezone.now())
    day = f"{local.day} {local:%B}" + (f" {local.year}" if local.year != today.year else "")
    return f"{day} at {local:%H:%M}"


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


#
# Health per data type
#


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


#
# Diagnosis: sentences for the top of the connection page
#


@dataclass
class Diagnosis:
    tone: str  # bad, warn, info (callout tones)
    sentence: str  # what is wrong, in plain words
    action: str  # what to do next
    detail: str = ""  # e.g. the reason recorded with the status move
    show_link_url: bool = False

    @property
    def text(self):
        return f"{self.sentence} — {self.action}"


def _status_diagnosis(connection, live_link, now):
    name = connection.integration.name
    if connection.status == S.DEAUTHORIZED:
        action = (
            "the company must relink: send them this Link URL."
            if live_link
            else "the company must relink: issue a new Link URL (Admin) and send it to them."
        )
        sentence = (
            f"{name} rejected the {key_label(connection.integration)} on {moment(connection.status_changed_at, now)}"
        )
        return Diagnosis("bad", sentence, action, connection.status_reason, show_link_url=live_link)
    if connection.status == S.UNLINKED:
        return Diagnosis(
            "info",
            f"Unlinked on {moment(connection.status_changed_at, now)}; the data already read is kept",
            "nothing syncs until the company relinks through a new Link URL (Admin).",
            connection.status_reason,
            show_link_url=live_link,
        )
    if connection.status == S.PENDING_AUTH:
        if live_link:
            return Diagnosis(
                "info",
                f"Waiting for the company to enter their {key_label(connection.integration)}",
                "send them this Link URL.",
                show_link_url=True,
            )
        if connection.link_token_expires_at and connection.link_token_used_at is None:
            sentence = f"The Link URL expired on {moment(connection.link_token_expires_at, now)} before it was used"
        else:
            sentence = "No usable Link URL has been issued for this connection"
        return Diagnosis("warn", sentence, "issue a new Link URL (Admin) and send it to the company.")
    return None


def _data_type_diagnoses(connection, rows, now):
    found = []
    for row in rows:
        pull = row.latest_pull
        if connection.status == S.DEAUTHORIZED and pull is not None and pull.status == PullStatus.AUTH_ERROR:
            continue  # said once, by the status diagnosis
        if row.failures_in_row:
            error = (pull.error_message if pull else "") or "no error was recorded"
            times = "once" if row.failures_in_row == 1 else f"{row.failures_in_row} times in a row"
            found.append(
                Diagnosis(
                    "bad" if row.is_failing else "warn",
                    f"{row.label} failed {times}; the last error: {error.rstrip('.')}",
                    f"read pull {pull.pk} for the technical detail, then refresh {row.label.lower()}."
                    if pull
                    else f"refresh {row.label.lower()}.",
                )
            )
        elif row.is_stale:
            since = (
                f"since {moment(row.stale_since, now)}"
                if row.last_success
                else f"since the connection was linked on {moment(row.stale_since, now)}"
            )
            found.append(
                Diagnosis(
                    "warn",
                    f"{row.label} has not synced successfully {since} (expected {row.frequency})",
                    f"refresh {row.label.lower()} and check the pull's outcome.",
                )
            )
    return found


def _labels(rows):
    names = [row.label for row in rows]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _first_sync_diagnosis(connection, rows, now):
    """A Linked connection with no successful pull of any data type yet: where its first sync is.

    Not an error, but not "nothing is wrong" either: support is asked exactly when the data
    has not arrived, and the answer is in the pulls' state.
    """
    if connection.status != S.LINKED or not rows or any(row.last_success for row in rows):
        return None
    by_state = {"running": [], "queued": [], "failed": [], "not run": []}
    for row in rows:
        if row.current_status in (PullStatus.FETCHING, PullStatus.PROCESSING):
            by_state["running"].append(row)
        elif row.current_status == PullStatus.QUEUED:
            by_state["queued"].append(row)
        elif row.failures_in_row:
            by_state["failed"].append(row)
        else:
            by_state["not run"].append(row)
    wording = {
        "running": "is running for {}",
        "queued": "is queued for {}",
        "failed": "failed for {}",
        "not run": "has not run yet for {}",
    }
    parts = [wording[state].format(_labels(found)) for state, found in by_state.items() if found]
    linked = moment(connection.linked_at or connection.status_changed_at, now)
    sentence = f"Linked on {linked}; no data has synced yet: the first sync " + "; it ".join(parts)
    if by_state["running"]:
        pulls = ", ".join(f"pull {row.latest_pull.pk}" for row in by_state["running"] if row.latest_pull)
        action = f"nothing to do: the data appears as each pull completes ({pulls}: progress on the pull's page)."
        return Diagnosis("info", sentence, action)
    if by_state["queued"]:
        action = (
            "nothing to do while a worker picks the pulls up; if they stay queued for long, check that "
            "the worker runs (the watchdog offers queued pulls again)."
        )
        return Diagnosis("info", sentence, action)
    if by_state["failed"]:
        return Diagnosis("warn", sentence, "read the failures below, fix the cause, then refresh the data.")
    due = [row.next_pull.at for row in rows if row.next_pull.at]
    later = f", or wait for the schedule ({moment(min(due), now)})" if due else ""
    return Diagnosis("warn", sentence, f"refresh the data to start it now{later}.")


def diagnose(connection, rows, stuck=(), now=None) -> list[Diagnosis]:
    """Everything wrong with a connection, most important first; [] when all is well."""
    now = now or timezone.now()
    found = []
    status = _status_diagnosis(connection, has_live_link(connection, now), now)
    if status:
        found.append(status)
    if not connection.integration.enabled and connection.status == S.LINKED:
        found.append(
            Diagnosis(
                "warn",
                f"{connection.integration.name} is switched off in this portal, so scheduled pulls are paused",
                "an admin can switch it on from the Integrations page; the status is unchanged.",
            )
        )
    for pull in stuck:
        beat = pull.heartbeat_at or pull.started_at or pull.requested_at
        found.append(
            Diagnosis(
                "warn",
                f"Pull {pull.pk} ({pull.data_type}) has reported no progress since {moment(beat, now)}",
                "the worker may have stopped: the watchdog will mark it failed and queue it again, or cancel it.",
            )
        )
    if connection.integration.enabled:  # switched off, the diagnosis above says why nothing runs
        first_sync = _first_sync_diagnosis(connection, rows, now)
        if first_sync:
            found.append(first_sync)
    found.extend(_data_type_diagnoses(connection, rows, now))
    return found


#
# Needs attention: the dashboard's list
#


@dataclass
class AttentionGroup:
    kind: str
    title: str
    action: str  # the next action, for every entry of the group
    total: int
    items: list = field(default_factory=list)

    @property
    def total_text(self):
        return f"{self.total:,}+" if self.total >= COUNT_CAP else f"{self.total:,}"


@dataclass
class AttentionItem:
    company: str
    integration: str
    sentence: str
    url_name: str
    url_arg: object
    at: datetime | None = None


# The entries are loaded as plain values (no model instances) and their integrations from
# one query for all groups: the list costs the same per entry on any database size.


def _deauthorized(now, limit, integrations, total=None):
    rows = Connection.objects.filter(status=S.DEAUTHORIZED)
    shown = rows.order_by("-status_changed_at").values_list(
        "pk", "company__name", "integration_id", "status_changed_at"
    )
    items = []
    for pk, company, integration_id, changed_at in shown[:limit]:
        integration = integrations[integration_id]
        items.append(
            AttentionItem(
                company,
                integration.name,
                f"{integration.name} rejected the {key_label(integration)} on {moment(changed_at, now)}.",
                "connections:connection-detail",
                pk,
                changed_at,
            )
        )
    return AttentionGroup(
        "deauthorized",
        "Deauthorized connections",
        "The company must relink: open the connection and send them a new Link URL.",
        capped_count(rows, "status") if total is None else min(total, COUNT_CAP),
        items,
    )


def capped_count(queryset, column, cap=COUNT_CAP):
    """How many rows match, counting no further than `cap` (the page says "1,000+").

    Counted by the database (COUNT over a LIMIT subquery), no row reaches Python; the
    subquery selects `column`, one its filter's index holds, so the index alone answers.
    """
    return queryset.order_by().values(column)[:cap].count()


def values_in_order(model, pks, *fields):
    """(pk, *fields) tuples of `model` rows by primary key, in the order given.

    The needs-attention queries find their candidates on one table by its own index and
    load only the few rows shown, with joins, afterwards: joined from the start, SQLite
    plans from the connections side and reads every connection's rows.
    """
    rows = {row[0]: row for row in model.objects.filter(pk__in=pks).order_by().values_list("pk", *fields)}
    return [rows[pk] for pk in pks if pk in rows]


def _failing(now, limit, integrations):
    # Among the rows the schedule runs for (`scheduled`, kept by connections.staleness), most
    # failures then newest first: the (scheduled, failures_in_row, latest_pull) index alone
    # answers the entries and the count, never the failures of Deauthorized connections.
    failing = DataStatus.objects.filter(scheduled=True, failures_in_row__gte=FAILING_IN_ROW)
    first = list(failing.order_by("-failures_in_row", "-latest_pull_id").values_list("pk", flat=True)[:limit])
    shown = values_in_order(
        DataStatus,
        first,
        "data_type",
        "failures_in_row",
        "connection_id",
        "connection__company__name",
        "connection__integration_id",
        "latest_pull_id",
        "latest_pull__error_message",
        "latest_pull__finished_at",
    )
    items = []
    for _, data_type, failures, connection_id, company, integration_id, pull_id, error, finished in shown:
        error = error.rstrip(".") if pull_id else "no error was recorded"
        items.append(
            AttentionItem(
                company,
                integrations[integration_id].name,
                f"{data_type} failed {failures} times in a row: {error}.",
                "connections:pull-detail" if pull_id else "connections:connection-detail",
                pull_id or connection_id,
                finished,
            )
        )
    return AttentionGroup(
        "failing",
        "Data types failing repeatedly",
        "Read the error on the latest pull, fix the cause, then Refresh that data type.",
        capped_count(failing, "failures_in_row"),
        items,
    )


def _stale(now, limit, integrations):
    # Stored per data status (connections.staleness), stale data is one range of the
    # (stale_after, failures_in_row) index, most overdue first: it holds only rows the
    # schedule should have refreshed, never those of Deauthorized, Unlinked or switched-off
    # connections, and the index alone answers both the entries and the count.
    stale = DataStatus.objects.filter(stale_after__lt=now).exclude(
        failures_in_row__gte=FAILING_IN_ROW  # listed as failing already
    )
    first = list(stale.order_by("stale_after").values_list("pk", flat=True)[:limit])
    shown = values_in_order(
        DataStatus,
        first,
        "data_type",
        "last_successful_sync_at",
        "connection_id",
        "connection__company__name",
        "connection__integration_id",
    )
    items = []
    for _, data_type, last_success, connection_id, company, integration_id in shown:
        since = f"since {moment(last_success, now)}" if last_success else "since it was linked"
        items.append(
            AttentionItem(
                company,
                integrations[integration_id].name,
                f"{data_type} has not synced successfully {since}.",
                "connections:connection-detail",
                connection_id,
                last_success,
            )
        )
    return AttentionGroup(
        "stale",
        "Stale data",
        "Open the connection to see why, then Refresh the data type.",
        capped_count(stale, "stale_after"),
        items,
    )


def stuck_pulls(now=None):
    """Running pulls silent for too long, oldest first.

    Filtered on status alone (running pulls are few: at most one per worker, plus any stuck
    ones the watchdog has not reached), then by heartbeat here, so the query always uses the
    status index, whatever the size of the history.
    """
    now = now or timezone.now()
    running = (
        PullOperation.objects.filter(status__in=[PullStatus.FETCHING, PullStatus.PROCESSING])
        .only("connection_id", "data_type", "status", "requested_at", "started_at", "heartbeat_at")
        .order_by()
    )
    return sorted((p for p in running if is_stuck(p, now)), key=lambda p: p.requested_at)


def _stuck(now, limit, integrations):
    found = stuck_pulls(now)
    pulls = {p.pk: p for p in found[:limit]}
    shown = values_in_order(PullOperation, list(pulls), "connection__company__name", "connection__integration_id")
    items = []
    for pk, company, integration_id in shown:
        pull = pulls[pk]
        beat = pull.heartbeat_at or pull.started_at or pull.requested_at
        items.append(
            AttentionItem(
                company,
                integrations[integration_id].name,
                f"Pull {pull.pk} ({pull.data_type}) is {pull.status} with no progress since {moment(beat, now)}.",
                "connections:pull-detail",
                pull.pk,
                beat,
            )
        )
    return AttentionGroup(
        "stuck",
        "Pulls stuck without progress",
        "The worker may have stopped: check it runs; the watchdog will fail and requeue the pull, or cancel it.",
        len(found),
        items,
    )


def needs_attention(now=None, limit=ATTENTION_LIMIT, counts=None) -> list[AttentionGroup]:
    """The dashboard's list, by kind; each group holds its total and its first `limit` entries.

    `counts` (connection_counts(), when the caller has them) gives the Deauthorized total.
    """
    now = now or timezone.now()
    integrations = Integration.objects.in_bulk()  # a handful of rows: names, key labels, which are on
    groups = [
        _deauthorized(now, limit, integrations, counts[S.DEAUTHORIZED] if counts else None),
        _failing(now, limit, integrations),
        _stale(now, limit, integrations),
        _stuck(now, limit, integrations),
    ]
    return [g for g in groups if g.total]


def connection_counts() -> dict:
    """{status: count} for every connection status (zeros included).

    COUNT(*), not COUNT(id): the status index answers it alone, without reading a row per connection.
    """
    counts = dict.fromkeys(S.values, 0)
    for row in Connection.objects.order_by().values("status").annotate(n=Count("*")).order_by():
        counts[row["status"]] = row["n"]
    return counts
