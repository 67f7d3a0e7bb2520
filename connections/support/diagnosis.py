"""Diagnosis: what is wrong with a connection and what to do next, in sentences for the top of its
page, and each data type's line in its data status table.

It says what is in flight, not only how pulls ended: a first sync under way, a pull retrying
against a platform that does not answer, a pull whose worker stopped moving, a pull that no
worker has picked up. "Nothing is wrong" (no diagnosis at all) only when every data type the
schedule reads has been read successfully and none is failing, retrying, stalled or waiting.
A failure is quoted with the pull it happened on, never the retry running after it, and no
refresh is advised while one is queued or running. Times are the viewer's (portal.web.dates).
"""

from dataclasses import dataclass
from functools import cached_property

from django.utils import timezone

from portal.web.dates import elapsed, format_datetime, format_time

from ..models import Connection, PullOperation, PullStatus
from . import health
from .health import Activity, has_live_link, key_label

S = Connection.Status
# How the first sync's sentence names what each unread data type is doing, in this order.
FIRST_SYNC_PARTS = (
    (Activity.RUNNING, "reading {}"),
    (Activity.RETRYING, "retrying {}"),
    (Activity.STALLED, "not moving: {}"),
    (Activity.QUEUED, "queued: {}"),
    (Activity.WAITING, "waiting for a worker: {}"),
    ("failed", "failed: {}"),
    ("not run", "not started yet: {}"),
)


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


class InFlight:
    """What the sentences about pulls in flight need beyond the rows, each read once and only when needed."""

    def __init__(self, connection, now):
        self.connection = connection
        self.now = now

    @cached_property
    def schedule_runs(self):
        return health.schedules_next_runs()

    @cached_property
    def scheduler_late(self):
        return health.scheduler_late(self.schedule_runs, self.now)

    def busy(self, queued_before):
        """(running pulls whose worker beats, pulls queued before `queued_before`) across the portal; two counts."""
        pulls = PullOperation.objects.order_by()
        beating = pulls.filter(status__in=health.RUNNING, heartbeat_at__gt=self.now - health.stalled_after()).count()
        # Counted no further than a thousand, so the sentence costs the same on any queue.
        ahead = pulls.filter(status=PullStatus.QUEUED, requested_at__lt=queued_before).values("pk")[:1000].count()
        return beating, ahead


def _labels(rows):
    names = [row.label for row in rows]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def times(failures):
    return "once" if failures == 1 else f"{failures} times in a row"


#
# Each data type's pull in flight: stalled, retrying, waiting
#


def stalled_outlook(pull, flight):
    """(what happens next to a pull not moving, what to do)."""
    now = flight.now
    run = health.watchdog_run(pull, flight.schedule_runs, now)
    if run.at is None:
        return (
            "the watchdog is not scheduled, so nothing will fail it",
            f"cancel pull {pull.pk} and refresh; an admin should run manage.py schedule_syncs.",
        )
    if run.late:
        return (
            f"it is due to be failed and queued again at {format_time(run.at, now)}, but no worker runs the schedules",
            "start the worker (manage.py qcluster): its watchdog fails the pull and queues it again.",
        )
    if run.at <= now:
        when = "the watchdog is about to fail it and queue it again"
    else:
        when = f"it will be failed and queued again at {format_time(run.at, now)}"
    since = format_time(health.silent_since(pull), now)
    action = f"nothing to do: its worker stopped (last sign of life {since}) and the watchdog retries it; or cancel it."
    return when, action


def _no_progress(pull, now):
    return f"no progress for {elapsed(health.silent_since(pull), now)}"


def retry_state(pull, now):
    """'attempt 3 of 5, next try at 10:42:05 — Clear Books did not answer'."""
    if pull.retry_at is not None and pull.retry_at > now:
        when = f"next try at {format_time(pull.retry_at, now)}"
    else:
        when = "trying now"
    reason = pull.retry_reason.rstrip(".") or "the last try failed"
    return f"attempt {pull.retry_attempt} of {pull.retry_attempts}, {when} — {reason}"


def waiting_state(rows, flight):
    """(how long the oldest has waited, why nobody has picked them up, what to do)."""
    connection, now = flight.connection, flight.now
    oldest = min(row.active_pull.requested_at for row in rows)
    them = "it" if len(rows) == 1 else "them"
    waited = elapsed(oldest, now)
    integration = connection.integration
    if not integration.enabled:
        return (
            waited,
            f"no worker has picked {them} up, and {integration.name} is switched off",
            f"a worker that picks {them} up cancels {them}; an admin can switch {integration.name} on first.",
        )
    if flight.scheduler_late:
        return (
            waited,
            f"no worker has picked {them} up, and none runs the schedules",
            "start the worker (manage.py qcluster); the queued pulls run as soon as it does.",
        )
    beating, ahead = flight.busy(oldest)
    if not beating:
        return (
            waited,
            f"no worker has picked {them} up",
            "check that the worker (manage.py qcluster) runs; the queued pulls run as soon as it does.",
        )
    pulls = f"{beating} pull{'s' if beating != 1 else ''} running"
    if ahead:
        pulls += f" and {ahead} queued before"
    return (
        waited,
        f"no worker has picked {them} up yet: the workers are busy ({pulls})",
        f"nothing to do: {'it starts' if len(rows) == 1 else 'they start'} in turn; if this keeps happening, "
        "run more workers.",
    )


def _in_flight(rows, flight):
    """Diagnoses of the pulls not moving, retrying or waiting for a worker, worst first."""
    now = flight.now
    found = []
    for row in rows:
        if row.activity == Activity.STALLED:
            pull = row.active_pull
            when, action = stalled_outlook(pull, flight)
            found.append(Diagnosis("bad", f"{row.label}: {_no_progress(pull, now)} on pull {pull.pk}; {when}", action))
    for row in rows:
        if row.activity == Activity.RETRYING:
            pull = row.active_pull
            found.append(
                Diagnosis(
                    "warn",
                    f"Retrying {row.label.lower()}: {retry_state(pull, now)}",
                    f"nothing to do yet: pull {pull.pk} tries again by itself; if every try fails, it ends with "
                    "the error and the schedule tries again later.",
                )
            )
    waiting = [row for row in rows if row.activity == Activity.WAITING]
    if waiting:
        waited, why, action = waiting_state(waiting, flight)
        found.append(Diagnosis("warn", f"{_labels(waiting)} queued for {waited}; {why}", action))
    return found


#
# The connection's status, its first sync, failures and stale data
#


def _status_diagnosis(connection, live_link):
    name = connection.integration.name
    if connection.status == S.DEAUTHORIZED:
        action = (
            "the company must relink: send them this Link URL."
            if live_link
            else "the company must relink: issue a new Link URL (Admin) and send it to them."
        )
        changed = format_datetime(connection.status_changed_at)
        sentence = f"{name} rejected the {key_label(connection.integration)} on {changed}"
        return Diagnosis("bad", sentence, action, connection.status_reason, show_link_url=live_link)
    if connection.status == S.UNLINKED:
        return Diagnosis(
            "info",
            f"Unlinked on {format_datetime(connection.status_changed_at)}; the data already read is kept",
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
            sentence = f"The Link URL expired on {format_datetime(connection.link_token_expires_at)} before it was used"
        else:
            sentence = "No usable Link URL has been issued for this connection"
        return Diagnosis("warn", sentence, "issue a new Link URL (Admin) and send it to the company.")
    return None


def _first_sync_diagnosis(connection, rows):
    """A Linked connection with data types expected but never read: where its first sync is.

    Not always an error, never "nothing is wrong": support is asked exactly when the data
    has not arrived, and the answer is in the pulls' state.
    """
    if connection.status != S.LINKED:
        return None
    expected = [row for row in rows if row.expected]
    unread = [row for row in expected if not row.ever_read]
    if not unread:
        return None
    by_state = {}
    for row in unread:
        state = row.activity or ("failed" if row.failures_in_row else "not run")
        by_state.setdefault(state, []).append(row)
    parts = [wording.format(_labels(by_state[state])) for state, wording in FIRST_SYNC_PARTS if state in by_state]
    read = len(expected) - len(unread)
    linked = connection.linked_at or connection.status_changed_at
    since = "" if read else f" since the link on {format_datetime(linked)}"
    sentence = f"First sync: {read} of {len(expected)} data types read{since}; " + "; ".join(parts)
    if "failed" in by_state:
        return Diagnosis("warn", sentence, "read the failures below, fix the cause, then refresh those data types.")
    if by_state.keys() & {Activity.STALLED, Activity.RETRYING, Activity.WAITING}:
        action = "the sentences above say what each pull is waiting for"
        not_run = by_state.get("not run")
        if not_run:
            action += f"; refresh {_labels(not_run)} to start {'it' if len(not_run) == 1 else 'them'} now"
        return Diagnosis("warn", sentence, action + ".")
    if "not run" not in by_state:
        action = "nothing to do: each data type appears as its pull completes (progress on each pull's page)."
        return Diagnosis("info", sentence, action)
    due = [row.next_pull.at for row in by_state["not run"] if row.next_pull.at]
    later = f", or wait for the schedule ({format_datetime(min(due))})" if due else ""
    return Diagnosis("warn", sentence, f"refresh the data to start it now{later}.")


def _again(row):
    """What the pull queued or running for a data type is doing, said as the reason not to refresh it."""
    pull = row.active_pull
    doing = {
        Activity.QUEUED: "is queued to read it again",
        Activity.WAITING: "is queued to read it again (waiting for a worker, above)",
        Activity.RUNNING: "is reading it again now",
        Activity.RETRYING: "is reading it again, retrying (above)",
        Activity.STALLED: "was reading it again but is not moving (above)",
    }[row.activity]
    return f"pull {pull.pk} {doing}"


def _failure_diagnosis(row):
    failed = row.failed_pull
    error = (failed.error_message if failed else "").rstrip(".") or "no error was recorded"
    on = f" on pull {failed.pk}" if failed else ""
    sentence = f"{row.label} failed {times(row.failures_in_row)}; the last error{on}: {error}"
    label = row.label.lower()
    if row.activity:
        action = f"{_again(row)}, so there is nothing to refresh."
        if failed:
            action = f"{_again(row)}, so there is nothing to refresh; pull {failed.pk} has the technical detail."
    elif failed:
        action = f"read pull {failed.pk} for the technical detail, then refresh {label}."
    else:
        action = f"refresh {label}."
    return Diagnosis("bad" if row.is_failing else "warn", sentence, action)


def _stale_diagnosis(row):
    since = (
        f"since {format_datetime(row.stale_since)}"
        if row.last_success
        else f"since the connection was linked on {format_datetime(row.stale_since)}"
    )
    action = f"{_again(row)}." if row.activity else f"refresh {row.label.lower()} and check the pull's outcome."
    return Diagnosis("warn", f"{row.label} has not synced successfully {since} (expected {row.frequency})", action)


def _data_type_diagnoses(connection, rows):
    found = []
    for row in rows:
        if connection.status == S.DEAUTHORIZED and row.failed_pull and row.failed_pull.status == PullStatus.AUTH_ERROR:
            continue  # said once, by the status diagnosis
        if row.failures_in_row:
            found.append(_failure_diagnosis(row))
        elif row.is_stale:
            found.append(_stale_diagnosis(row))
    return found


def _other_stuck(stuck, rows, now):
    """Running pulls silent for too long that no data type's row shows (not its latest pull)."""
    shown = {row.active_pull.pk for row in rows if row.active_pull}
    found = []
    for pull in stuck:
        if pull.pk in shown:
            continue
        found.append(
            Diagnosis(
                "warn",
                f"Pull {pull.pk} ({pull.data_type}) has reported no progress since "
                f"{format_datetime(health.silent_since(pull))}",
                "the worker may have stopped: the watchdog will mark it failed and queue it again, or cancel it.",
            )
        )
    return found


def diagnose(connection, rows, stuck=(), now=None) -> list[Diagnosis]:
    """Everything wrong with a connection, most important first; [] when all is well.

    `rows` are its support.health rows; `stuck` running pulls silent for too long (those no
    row shows are said too).
    """
    now = now or timezone.now()
    flight = InFlight(connection, now)
    found = []
    status = _status_diagnosis(connection, has_live_link(connection, now))
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
    found.extend(_in_flight(rows, flight))
    found.extend(_other_stuck(stuck, rows, now))
    failing = _data_type_diagnoses(connection, rows)
    found.extend(d for d in failing if d.tone == "bad")  # failing repeatedly
    if connection.integration.enabled:  # switched off, the diagnosis above says why nothing runs
        first_sync = _first_sync_diagnosis(connection, rows)
        if first_sync:
            found.append(first_sync)
    found.extend(d for d in failing if d.tone != "bad")
    return found
