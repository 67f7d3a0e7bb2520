"""Each data type's line in a connection's data status table, and a pull's own line: what it
is doing now (reading, queued, retrying, not moving, waiting for a worker) or what is wrong.
The sentences share their parts with the connection's diagnosis (`diagnosis`).
"""

from django.utils import timezone

from portal.web.dates import elapsed, format_datetime

from ..models import PullStatus
from . import health
from .diagnosis import InFlight, retry_state, stalled_outlook, times, waiting_state
from .health import Activity


def data_type_lines(connection, rows, now=None):
    """Set each row's `line`: what its data type is doing now, or what is wrong with it; "" when all is well."""
    now = now or timezone.now()
    flight = InFlight(connection, now)
    for row in rows:
        row.line = _line(row, connection, flight)
    return rows


def _line(row, connection, flight):
    now, pull = flight.now, row.active_pull
    if row.activity == Activity.STALLED:
        when, _ = stalled_outlook(pull, flight)
        return f"No progress for {elapsed(health.silent_since(pull), now)}; {when}."
    if row.activity == Activity.RETRYING:
        return f"Retrying: {retry_state(pull, now)}."
    if row.activity == Activity.WAITING:
        _, why, _ = waiting_state([row], flight)
        return f"Queued for {elapsed(pull.requested_at, now)}; {why}."
    if row.activity == Activity.QUEUED:
        return f"Queued {elapsed(pull.requested_at, now)} ago (pull {pull.pk})."
    if row.activity == Activity.RUNNING:
        fetched = f"{pull.records_fetched:,} record{'s' if pull.records_fetched != 1 else ''}"
        return f"Reading: {fetched} so far (pull {pull.pk})."
    if row.failures_in_row:
        failed = row.failed_pull
        error = (failed.error_message if failed else "").rstrip(".") or "no error was recorded"
        on = f" on pull {failed.pk}" if failed else ""
        return f"Failed {times(row.failures_in_row)}{on}: {error}."
    if row.is_stale:
        return f"Stale: no successful sync since {format_datetime(row.stale_since)}."
    return ""  # never read: the status column says "not read yet"


def pull_line(pull, now=None):
    """What one pull is doing now, for its own page: retrying, not moving or waiting; "" otherwise."""
    now = now or timezone.now()
    doing = health.activity(pull, now) if pull.status in (PullStatus.QUEUED, *health.RUNNING) else ""
    if doing == Activity.RETRYING:
        return f"Retrying: {retry_state(pull, now)}."
    if doing == Activity.STALLED:
        when, _ = stalled_outlook(pull, InFlight(pull.connection, now))
        return f"No progress for {elapsed(health.silent_since(pull), now)}; {when}."
    if doing == Activity.WAITING:
        return f"Queued for {elapsed(pull.requested_at, now)}; no worker has picked it up."
    return ""
