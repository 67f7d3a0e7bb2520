"""From what `connections` announces to events in the outbox, inside the change's transaction.

Every receiver runs in the transaction of the change it hears about, so the event commits
or rolls back with it (see `events.emit`).
"""

from ..models import ACTIVE_PULL_STATUSES, FAILED_PULL_STATUSES, Connection, DataStatus, PullOperation
from . import payloads
from .events import emit, wanted

S = Connection.Status
READ_COMPLETED = "read.completed"
READ_WINDOW = 200  # pulls looked at to find the read's start (a read of more data types than this is cut)
DATA_TYPE_ERROR = "dataType.status.error"

# A status move and what Codat calls it, with the words the timeline uses.
STATUS_EVENTS = {
    (S.PENDING_AUTH, S.LINKED): ("connection.connected", "the books were linked"),
    (S.DEAUTHORIZED, S.LINKED): ("connection.reconnected", "the books were linked again"),
    (S.UNLINKED, S.LINKED): ("connection.reconnected", "the books were linked again"),
    (S.LINKED, S.DEAUTHORIZED): ("connection.disconnected", "the platform no longer accepts the credentials"),
    (S.LINKED, S.UNLINKED): ("connection.disconnected", "the connection was unlinked"),
}


def connect():
    from .. import signals

    for signal, receiver in (
        (signals.company_created, company_created),
        (signals.company_deleted, company_deleted),
        (signals.connection_created, connection_created),
        (signals.connection_deleted, connection_deleted),
        (signals.connection_status_changed, status_changed),
        (signals.link_rejected, link_rejected),
        (signals.pull_ended, pull_ended),
    ):
        signal.connect(receiver, dispatch_uid=f"webhooks.{receiver.__name__}")


def company_created(sender, company, **kwargs):
    emit("company.created", payloads.company_payload(company), company=company, summary="the company was created")


def company_deleted(sender, company, **kwargs):
    emit("company.deleted", payloads.company_payload(company), company=company, summary="the company was deleted")


def _connection_event(event_type, connection, summary):
    if not wanted((event_type,)):
        return  # no payload to build (the serializer reads the integration and the company)
    emit(
        event_type,
        payloads.connection_payload(connection),
        company=connection.company,
        connection_id=connection.pk,
        summary=summary,
    )


def connection_created(sender, connection, **kwargs):
    _connection_event("connection.created", connection, "the connection was created")


def connection_deleted(sender, connection, **kwargs):
    _connection_event("connection.deleted", connection, "the connection was deleted")


def status_changed(sender, connection, before, after, **kwargs):
    known = STATUS_EVENTS.get((before, after))
    if known is not None:
        _connection_event(known[0], connection, known[1])


def link_rejected(sender, connection, **kwargs):
    _connection_event("connection.failed", connection, "a link attempt failed")


def pull_ended(sender, pull, **kwargs):
    """A data type newly failing tells so; the last pull of a read to end sends `read.completed`."""
    if not wanted((READ_COMPLETED, DATA_TYPE_ERROR)):
        return  # one query when nobody listens: a pull's end stays cheap
    # The connection's row lock (already taken by the pull's end) orders two pulls ending at
    # once: the second to get it sees the first ended, so exactly one sends read.completed.
    connection = (
        Connection.objects.select_for_update().select_related("company", "integration").get(pk=pull.connection_id)
    )
    pull.connection = connection
    if pull.status in FAILED_PULL_STATUSES and _newly_failing(pull):
        emit(
            DATA_TYPE_ERROR,
            payloads.data_status_payload(pull),
            company=connection.company,
            connection_id=connection.pk,
            summary=f"{pull.data_type} is failing ({pull.status})",
        )
    active = PullOperation.objects.filter(connection_id=connection.pk, status__in=ACTIVE_PULL_STATUSES)
    if active.exclude(pk=pull.pk).exists():
        return
    pulls = _pulls_of_read(connection)
    if not pulls:
        return
    modified = [p.modified_since for p in pulls if p.modified_since]
    stored_total = sum(p.records_fetched for p in pulls)
    emit(
        READ_COMPLETED,
        payloads.read_completed_payload(connection, pulls, min(modified) if modified else None),
        company=connection.company,
        connection_id=connection.pk,
        summary=f"a read of {len(pulls)} data types finished ({stored_total} records fetched)",
    )


def _newly_failing(pull) -> bool:
    """Its data type went from working (or never read) into an error: the first failure in a row."""
    failures = DataStatus.objects.filter(connection_id=pull.connection_id, data_type=pull.data_type).values_list(
        "failures_in_row", flat=True
    )
    return list(failures) == [1]


def _pulls_of_read(connection) -> list:
    """The pulls of the read that just ended: the latest pull of each data type among those that overlapped.

    A read is a run of pulls whose times (queued to ended) overlap, with no moment between
    them when the connection had nothing queued or running: walking back from the newest
    end, a pull belongs while it ended after the earliest queue time seen so far.
    """
    recent = PullOperation.objects.filter(connection_id=connection.pk, finished_at__isnull=False).order_by(
        "-finished_at", "-pk"
    )[:READ_WINDOW]
    found, since = [], None
    for pull in recent:
        if since is not None and pull.finished_at < since:
            break
        found.append(pull)
        since = pull.requested_at if since is None else min(since, pull.requested_at)
    latest = {}
    for pull in reversed(found):  # oldest first: a data type's newest pull wins
        pull.connection = connection
        latest[pull.data_type] = pull
    return sorted(latest.values(), key=lambda p: p.data_type)
