"""Needs attention: the dashboard's list of what someone must act on, by kind, most urgent first.

Each group holds its total (counted up to COUNT_CAP) and its first few entries. The
entries are loaded as plain values (no model instances) and their integrations from one
query for all groups: the list costs the same per entry on any database size.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from integrations.models import Integration
from portal.web.dates import format_datetime

from ..models import Connection, DataStatus, PullOperation, PullStatus
from .health import FAILING_IN_ROW, is_stuck, key_label

# The most urgent entries per group; the heading gives the total. A dashboard summarises:
# the pages it links to hold the rest.
ATTENTION_LIMIT = 5
COUNT_CAP = 1000  # the dashboard counts entries up to here ("1,000+"), so it costs the same on any size

S = Connection.Status


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


def _deauthorized(limit, integrations, total=None):
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
                f"{integration.name} rejected the {key_label(integration)} on {format_datetime(changed_at)}.",
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


def _failing(limit, integrations):
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
        since = f"since {format_datetime(last_success)}" if last_success else "since it was linked"
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
                f"Pull {pull.pk} ({pull.data_type}) is {pull.status} with no progress since {format_datetime(beat)}.",
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

    `counts` (dashboard.connection_counts(), when the caller has them) gives the Deauthorized total.
    """
    now = now or timezone.now()
    integrations = Integration.objects.in_bulk()  # a handful of rows: names, key labels, which are on
    groups = [
        _deauthorized(limit, integrations, counts[S.DEAUTHORIZED] if counts else None),
        _failing(limit, integrations),
        _stale(now, limit, integrations),
        _stuck(now, limit, integrations),
    ]
    return [g for g in groups if g.total]
