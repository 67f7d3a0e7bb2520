"""How a pull operation ends: complete, failed, cancelled, or stopped by a rejected key.

Each end is one transaction: the pull's final status, its data status, and its timeline
entry. Every end is filtered on the statuses the pull may still be in, so of a worker,
the watchdog and a cancel only one ends it.
"""

import contextlib

from django.db import transaction
from django.utils import timezone

from .. import status as connection_status
from ..credentials import mark_validated
from ..events import record_event
from ..models import ACTIVE_PULL_STATUSES, RUNNING_PULL_STATUSES, Company, Connection, ConnectionEvent, PullOperation
from ..signals import pull_ended
from . import data_status
from .progress import Stopped
from .store import mark_missing_deleted

P = PullOperation.Status


def complete(pull, store):
    """End a pull whose every page was stored: Complete, after marking what a full read no longer saw.

    Raises Stopped when the pull left Fetching meanwhile (its end is someone else's).
    """
    full = pull.mode == PullOperation.Mode.FULL
    ending = P.FETCHING
    if full:  # Processing: the deletion marking, which reads every stored id of the data type
        if not PullOperation.objects.filter(pk=pull.pk, status=P.FETCHING).update(
            status=P.PROCESSING, heartbeat_at=timezone.now()
        ):
            raise Stopped
        ending = P.PROCESSING
    # An incremental read has nothing to process: Fetching -> Complete in one write.
    with transaction.atomic():
        deleted = mark_missing_deleted(store) if full else 0
        finished = timezone.now()
        changes = {
            "status": P.COMPLETE,
            "finished_at": finished,
            "heartbeat_at": finished,
            "records_deleted": deleted,
            "error_message": "",
            "error_detail": "",
        }
        if not PullOperation.objects.filter(pk=pull.pk, status=ending).update(**changes):
            raise Stopped
        for name, value in changes.items():
            setattr(pull, name, value)
        data_status.ended(pull, P.COMPLETE)
        Company.objects.filter(pk=pull.connection.company_id).update(last_synced_at=finished)
        record_event(
            pull.connection,
            ConnectionEvent.Kind.PULL_COMPLETED,
            f"{pull.data_type}: pull {pull.pk} completed: {counts_sentence(pull)}.",
            pull=pull,
            detail=counts(pull),
        )
        mark_validated(pull.connection, "sync")
        pull_ended.send(PullOperation, pull=pull)


def end_pull(pull, status, message, detail="", *, statuses=RUNNING_PULL_STATUSES, only_if=None, actor=None) -> bool:
    """End an unfinished pull with a failure or cancellation; False when it had already ended.

    Filtered on `statuses` (and the `only_if` Q) so only one ender wins: a worker, the
    watchdog or a cancel.
    """
    with transaction.atomic():
        finished = timezone.now()
        unfinished = PullOperation.objects.filter(pk=pull.pk, status__in=statuses)
        if only_if is not None:
            unfinished = unfinished.filter(only_if)
        if not unfinished.update(status=status, finished_at=finished, error_message=message, error_detail=detail):
            return False
        pull.refresh_from_db()
        data_status.ended(pull, status)
        verb = "was cancelled" if status == P.CANCELLED else f"ended {status}"
        record_event(
            pull.connection,
            # Cancelled is a pull that did not complete: the timeline has no kind of its own for it.
            ConnectionEvent.Kind.PULL_FAILED,
            f"{pull.data_type}: pull {pull.pk} {verb}: {message}",
            actor=actor,
            pull=pull,
            detail={"status": status, **counts(pull)},
        )
        pull_ended.send(PullOperation, pull=pull)
    return True


def cancel_pull(pull, *, user=None, reason="") -> bool:
    """Cancel a queued or running pull; a running one stops at its next page. Data saved stays."""
    if not reason:
        reason = f"Cancelled by {user.get_username()}." if user is not None else "Cancelled."
    return end_pull(pull, P.CANCELLED, reason, statuses=ACTIVE_PULL_STATUSES, actor=user)


cancel_pull.alters_data = True


def deauthorize(pull, reason):
    """The platform rejected the credentials: Linked → Deauthorized, other pulls stopped. Data stays."""
    connection = Connection.objects.get(pk=pull.connection_id)
    if connection.status == Connection.Status.LINKED:
        # Another pull of this connection may have got there first.
        with contextlib.suppress(connection_status.IllegalStatusMove):
            connection_status.move(connection, Connection.Status.DEAUTHORIZED, reason=reason)
    others = PullOperation.objects.filter(connection_id=pull.connection_id, status__in=ACTIVE_PULL_STATUSES)
    for other in others.exclude(pk=pull.pk):
        cancel_pull(other, reason=f"Stopped. {reason}")


def counts(pull) -> dict:
    return {
        "pages": pull.pages_fetched,
        "fetched": pull.records_fetched,
        "created": pull.records_created,
        "updated": pull.records_updated,
        "unchanged": pull.records_unchanged,
        "deleted": pull.records_deleted,
    }


def counts_sentence(pull) -> str:
    return (
        f"{pull.records_fetched} fetched, {pull.records_created} created, {pull.records_updated} updated, "
        f"{pull.records_unchanged} unchanged, {pull.records_deleted} marked deleted"
    )
