"""Needs attention: the dashboard's list of what someone must act on, by kind, most urgent first.

Each group holds its total (counted up to COUNT_CAP) and its first few entries. The
entries are loaded as plain values (no model instances) and their integrations from one
query for all groups: the list costs the same per entry on any database size.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from integrations.models import Integration
from portal.web.dates import elapsed, format_datetime

from ..models import Connection, DataStatus, PullOperation, PullStatus
from ..webhooks.models import DISABLED_BY_HAND, Endpoint
from .health import FAILING_IN_ROW, RUNNING, is_stuck, key_label, latest_failed_pull_ids, silent_since, waiting_after

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
    tone: str = "bad"  # bad, warn or info: the entry's mark


def _deauthorized(now, limit, integrations, total=None):
    rows = Connection.objects.filter(status=S.DEAUTHORIZED)
    shown = rows.order_by("-status_changed_at").values_list(
        "pk",
        "company__name",
        "integration_id",
        "status_changed_at",
        "link_token_created_at",
        "link_token_expires_at",
        "link_token_used_at",
    )
    items = []
    for pk, company, integration_id, changed_at, issued, expires, used in shown[:limit]:
        integration = integrations[integration_id]
        rejected = f"{integration.name} rejected the {key_label(integration)} on {format_datetime(changed_at)}."
        items.append(
            AttentionItem(
                company,
                integration.name,
                f"{rejected} {_relink_state(changed_at, issued, expires, used, now)}",
                "connections:connection-detail",
                pk,
                changed_at,
            )
        )
    return AttentionGroup(
        "deauthorized",
        "Deauthorized connections",
        "The company must relink: where no new Link URL is waiting for them, issue one (Admin) and send it; "
        "where one is, remind them to use it.",
        capped_count(rows, "status") if total is None else min(total, COUNT_CAP),
        items,
    )


def _relink_state(deauthorized_at, issued, expires, used, now):
    """Whether a new Link URL was issued since the key was rejected, and whether the company used it."""
    if issued is None or issued < deauthorized_at:
        return "No new Link URL has been issued since."
    if used is not None:  # used, yet still Deauthorized: the key they gave was refused too
        return f"A new Link URL was issued on {format_datetime(issued)}; the key given through it was refused too."
    if expires is not None and expires <= now:
        return f"The new Link URL issued on {format_datetime(issued)} expired unused on {format_datetime(expires)}."
    until = f" (it works until {format_datetime(expires)})" if expires else ""
    return f"A new Link URL was issued on {format_datetime(issued)}; the company has not used it yet{until}."


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
    # Among the rows the schedule runs for (`scheduled`, kept by connections.staleness), from the
    # first failure, most failures then newest first: the (scheduled, failures_in_row, latest_pull)
    # index alone answers the entries and the count, never the failures of Deauthorized connections.
    failing = DataStatus.objects.filter(scheduled=True, failures_in_row__gte=1)
    first = list(failing.order_by("-failures_in_row", "-latest_pull_id").values_list("pk", flat=True)[:limit])
    # The shown few, with the pull whose error is quoted: the latest failed one, not a retry running after it.
    loaded = {
        row[0]: row
        for row in DataStatus.objects.filter(pk__in=first)
        .annotate(failed_pull_id=latest_failed_pull_ids())
        .order_by()
        .values_list(
            "pk",
            "data_type",
            "failures_in_row",
            "connection_id",
            "connection__company__name",
            "connection__integration_id",
            "failed_pull_id",
            "current_status",
            "latest_pull_id",
        )
    }
    shown = [loaded[pk] for pk in first if pk in loaded]
    failed = (
        PullOperation.objects.only("error_message", "finished_at").in_bulk([row[6] for row in shown if row[6]])
        if shown
        else {}
    )
    items = []
    for _, data_type, failures, connection_id, company, integration_id, failed_id, current, latest_id in shown:
        pull = failed.get(failed_id)
        error = (pull.error_message if pull else "").rstrip(".") or "no error was recorded"
        times = "once" if failures == 1 else f"{failures} times in a row"
        on = f" (pull {pull.pk})" if pull else ""
        sentence = f"{data_type} failed {times}{on}: {error}."
        if current in (PullStatus.QUEUED, *RUNNING):
            doing = "queued" if current == PullStatus.QUEUED else "running"
            sentence += f" Pull {latest_id} is {doing} to read it again."
        items.append(
            AttentionItem(
                company,
                integrations[integration_id].name,
                sentence,
                "connections:pull-detail" if pull else "connections:connection-detail",
                pull.pk if pull else connection_id,
                pull.finished_at if pull else None,
                "bad" if failures >= FAILING_IN_ROW else "warn",
            )
        )
    return AttentionGroup(
        "failing",
        "Failing now",
        "Read the error on the failed pull, fix the cause, then Refresh that data type (not while a retry is "
        "queued or running).",
        capped_count(failing, "failures_in_row"),
        items,
    )


def _stale(now, limit, integrations):
    # Stored per data status (connections.staleness), stale data is one range of the
    # (stale_after, failures_in_row) index, most overdue first: it holds only rows the
    # schedule should have refreshed, never those of Deauthorized, Unlinked or switched-off
    # connections, and the index alone answers both the entries and the count.
    stale = DataStatus.objects.filter(stale_after__lt=now).exclude(
        failures_in_row__gte=1  # listed as failing now already
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
                "warn",
            )
        )
    return AttentionGroup(
        "stale",
        "Stale data",
        "Open the connection to see why, then Refresh the data type.",
        capped_count(stale, "stale_after"),
        items,
    )


def running_pulls():
    """Every running pull, oldest first.

    Filtered on status alone (running pulls are few: at most one per worker, plus any stuck
    ones the watchdog has not reached), so the query always uses the status index, whatever
    the size of the history.
    """
    running = (
        PullOperation.objects.filter(status__in=RUNNING)
        .only(
            "connection_id",
            "data_type",
            "status",
            "requested_at",
            "started_at",
            "heartbeat_at",
            "retry_attempt",
            "retry_attempts",
            "retry_at",
            "retry_reason",
        )
        .order_by()
    )
    return sorted(running, key=lambda p: p.requested_at)


def stuck_pulls(now=None):
    """Running pulls that stopped moving (their worker silent for health.stalled_after()), oldest first."""
    now = now or timezone.now()
    return [p for p in running_pulls() if is_stuck(p, now)]


def _pull_items(pulls, limit, integrations, sentence, tone):
    shown = {p.pk: p for p in pulls[:limit]}
    rows = values_in_order(PullOperation, list(shown), "connection__company__name", "connection__integration_id")
    return [
        AttentionItem(
            company,
            integrations[integration_id].name,
            sentence(shown[pk]),
            "connections:pull-detail",
            pk,
            silent_since(shown[pk]),
            tone,
        )
        for pk, company, integration_id in rows
    ]


def _stuck(now, limit, integrations, running):
    found = [p for p in running if is_stuck(p, now)]

    def sentence(pull):
        beat = silent_since(pull)
        return (
            f"Pull {pull.pk} ({pull.data_type}) is {pull.status} with no progress for {elapsed(beat, now)} "
            f"(since {format_datetime(beat)})."
        )

    return AttentionGroup(
        "stuck",
        "Pulls not moving",
        "The worker may have stopped: check it runs; the watchdog fails and requeues the pull, or cancel it.",
        len(found),
        _pull_items(found, limit, integrations, sentence, "bad"),
    )


def _retrying(now, limit, integrations, running):
    found = [p for p in running if p.retry_attempt and not is_stuck(p, now)]

    def sentence(pull):
        reason = pull.retry_reason.rstrip(".") or "the last try failed"
        return (
            f"Pull {pull.pk} ({pull.data_type}) is retrying: attempt {pull.retry_attempt} of "
            f"{pull.retry_attempts} — {reason}."
        )

    return AttentionGroup(
        "retrying",
        "Retrying now",
        "Nothing to do yet: each pull tries again by itself; if the platform stays unreachable it fails and is "
        "listed as failing.",
        len(found),
        _pull_items(found, limit, integrations, sentence, "warn"),
    )


def _waiting(now, limit, integrations):
    # Queued for long: one range of the (status, requested_at) index, oldest first.
    waiting = PullOperation.objects.filter(status=PullStatus.QUEUED, requested_at__lt=now - waiting_after())
    pulls = list(waiting.order_by("requested_at").only("data_type", "requested_at")[:limit])
    rows = values_in_order(
        PullOperation, [p.pk for p in pulls], "connection__company__name", "connection__integration_id"
    )
    requested = {p.pk: p for p in pulls}
    items = [
        AttentionItem(
            company,
            integrations[integration_id].name,
            f"Pull {pk} ({requested[pk].data_type}) has been queued for {elapsed(requested[pk].requested_at, now)}; "
            "no worker has picked it up.",
            "connections:pull-detail",
            pk,
            requested[pk].requested_at,
            "warn",
        )
        for pk, company, integration_id in rows
    ]
    return AttentionGroup(
        "waiting",
        "Waiting for a worker",
        "Check that the worker (manage.py qcluster) runs; if it does, the workers are busy: run more of them.",
        capped_count(waiting, "status"),
        items,
    )


def needs_attention(now=None, limit=ATTENTION_LIMIT, counts=None) -> list[AttentionGroup]:
    """The dashboard's list, by kind; each group holds its total and its first `limit` entries.

    `counts` (dashboard.connection_counts(), when the caller has them) gives the Deauthorized total.
    """
    now = now or timezone.now()
    integrations = Integration.objects.in_bulk()  # a handful of rows: names, key labels, which are on
    running = running_pulls()
    groups = [
        _deauthorized(now, limit, integrations, counts[S.DEAUTHORIZED] if counts else None),
        _failing(limit, integrations),
        _stuck(now, limit, integrations, running),
        _retrying(now, limit, integrations, running),
        _waiting(now, limit, integrations),
        _stale(now, limit, integrations),
        _disabled_webhooks(limit),
    ]
    return [g for g in groups if g.total]


def _disabled_webhooks(limit):
    """Endpoints switched off by the portal (410 Gone, or failing for days): their events wait, failed."""
    rows = Endpoint.objects.filter(disabled=True).exclude(disabled_reason=DISABLED_BY_HAND)
    shown = list(rows.order_by("-disabled_at").values_list("pk", "url", "disabled_reason", "disabled_at")[:limit])
    items = [
        AttentionItem(url, "Webhook endpoint", f"Disabled: {reason}", "webhooks:endpoint-detail", pk, at)
        for pk, url, reason, at in shown
    ]
    total = len(shown) if len(shown) < limit else capped_count(rows, "pk")  # a second query only when many
    return AttentionGroup(
        "webhooks",
        "Disabled webhook endpoints",
        "Check the receiver is back, enable the endpoint (Admin) and replay its failed messages since it failed.",
        total,
        items,
    )
