"""Diagnosis: what is wrong with a connection and what to do next, in sentences for the top of its page."""

from dataclasses import dataclass

from django.utils import timezone

from portal.web.dates import format_datetime

from ..models import Connection, PullStatus
from .health import has_live_link, key_label

S = Connection.Status


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


def _data_type_diagnoses(connection, rows):
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
                f"since {format_datetime(row.stale_since)}"
                if row.last_success
                else f"since the connection was linked on {format_datetime(row.stale_since)}"
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


def _first_sync_diagnosis(connection, rows):
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
    linked = format_datetime(connection.linked_at or connection.status_changed_at)
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
    later = f", or wait for the schedule ({format_datetime(min(due))})" if due else ""
    return Diagnosis("warn", sentence, f"refresh the data to start it now{later}.")


def diagnose(connection, rows, stuck=(), now=None) -> list[Diagnosis]:
    """Everything wrong with a connection, most important first; [] when all is well."""
    now = now or timezone.now()
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
    for pull in stuck:
        beat = pull.heartbeat_at or pull.started_at or pull.requested_at
        found.append(
            Diagnosis(
                "warn",
                f"Pull {pull.pk} ({pull.data_type}) has reported no progress since {format_datetime(beat)}",
                "the worker may have stopped: the watchdog will mark it failed and queue it again, or cancel it.",
            )
        )
    if connection.integration.enabled:  # switched off, the diagnosis above says why nothing runs
        first_sync = _first_sync_diagnosis(connection, rows)
        if first_sync:
            found.append(first_sync)
    found.extend(_data_type_diagnoses(connection, rows))
    return found
