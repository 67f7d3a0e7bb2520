"""Data statuses: every write to `DataStatus` goes through these functions.

A row says, per connection and data type, what its latest pull is doing and when the
data last arrived. Pulls move it (queued, started, ended); the schedule's fields,
`scheduled` and `stale_after` (`staleness`), follow their inputs: each write that can
change an input stores them in the same UPDATE, and the other inputs' owners call in
here after they change (a connection's status move, an integration switched or its
frequencies saved).

A row is created by the first pull of its data type, then only updated.
"""

from django.db import router
from django.db.models import F

from ..models import FAILED_PULL_STATUSES, DataStatus, PullStatus
from . import staleness

P = PullStatus


def queued(pull):
    """A pull of the data type was queued: Queued, and the latest pull."""
    _save(pull, current_status=P.QUEUED, latest_pull_id=pull.pk)


def started(pull):
    """The pull was claimed by a worker: Fetching."""
    _save(pull, current_status=P.FETCHING, latest_pull_id=pull.pk)


def ended(pull, status):
    """The pull ended with `status` (its `finished_at` set): a success moves the last success and the stale time."""
    changes = {"current_status": status, "latest_pull_id": pull.pk}
    if status == P.COMPLETE:
        changes.update(
            last_successful_sync_at=pull.finished_at,
            latest_successful_pull_id=pull.pk,
            last_successful_started_at=pull.started_at,
            failures_in_row=0,
            **staleness.after_success(
                pull.connection_id, pull.data_type, pull.finished_at, router.db_for_write(DataStatus)
            ),
        )
    else:
        if status in FAILED_PULL_STATUSES:
            changes["failures_in_row"] = F("failures_in_row") + 1
        # The connection or the integration may have changed while the pull ran.
        changes.update(staleness.values())
    _save(pull, **changes)


def _save(pull, **changes):
    rows = DataStatus.objects.filter(connection_id=pull.connection_id, data_type=pull.data_type)
    if rows.update(**changes):
        return
    # The data type's first pull on this connection: its row, then these changes and its schedule.
    DataStatus.objects.get_or_create(connection_id=pull.connection_id, data_type=pull.data_type)
    rows.update(**{**staleness.values(), **changes})


def connection_moved(connection) -> int:
    """After a status move: Linked, or away from it (a relink also moves `linked_at`)."""
    return refresh(DataStatus.objects.filter(connection_id=connection.pk))


def integration_changed(integration) -> int:
    """After the integration was switched on or off, or its frequencies changed."""
    return refresh(DataStatus.objects.filter(connection__integration_id=integration.pk))


def company_changed(company) -> int:
    """After the company's own sync settings changed: its frequencies say when data goes stale."""
    return refresh(DataStatus.objects.filter(connection__company_id=company.pk))


def refresh(rows) -> int:
    """Recompute `scheduled` and `stale_after` of `rows` (a DataStatus queryset), say after loading them in bulk."""
    return rows.update(**staleness.values())
