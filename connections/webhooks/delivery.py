"""Delivering one message: claim it, send it signed, log the attempt, then settle what comes next.

At least once: a message is claimed with a lease (`leased_until`) so one worker sends it at
a time; a worker that dies mid-delivery leaves the lease to run out and the sweeper hands the
message to another. Any 2xx delivers; 410 Gone disables the endpoint; anything else is
retried on WEBHOOK_RETRY_SCHEDULE until it runs out (failed, replayable). An endpoint that
has failed for WEBHOOK_DISABLE_AFTER_SECONDS in a row is disabled, with the reason.
Redirects are never followed. A message that ends (delivered or failed) is then told to its
connection's timeline (`told`), once the delivery's transaction has committed.
"""

import time
from dataclasses import dataclass
from datetime import timedelta

import certifi
import urllib3
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import told
from .models import Attempt, Endpoint, Message
from .secrets import signing_secrets
from .signing import headers
from .targets import UnsafeTarget, pin

M = Message.Status
RESPONSE_START = 500  # characters of the answer kept in the log
ENDED_BY_DISABLING = {
    "status": M.FAILED,
    "next_attempt_at": None,
    "leased_until": None,
    "last_error": "The endpoint was disabled.",
}


@dataclass
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str = ""
    response_start: str = ""
    duration_ms: int = 0


def deliver(message_id) -> str:
    """Deliver a due message; short retries (up to WEBHOOK_INLINE_RETRY_SECONDS away) wait here.

    Returns what happened, for django-q2's task list.
    """
    tried = False
    while True:
        message = claim(message_id)
        if message is None:
            return _status(message_id) if tried else "not due"
        wait = settle(message, send(message))
        tried = True
        if wait is None or wait > settings.WEBHOOK_INLINE_RETRY_SECONDS:
            return _status(message_id)
        time.sleep(max(wait, 0))


def _status(message_id) -> str:
    return Message.objects.filter(pk=message_id).values_list("status", flat=True).first() or "gone"


def claim(message_id, now=None):
    """Take a due, pending message for one attempt; None when it is not due or another worker holds it."""
    now = now or timezone.now()
    lease = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    free = Q(leased_until__isnull=True) | Q(leased_until__lt=now)
    due = Message.objects.filter(free, pk=message_id, status=M.PENDING, next_attempt_at__lte=now)
    if not due.update(leased_until=lease):
        return None
    message = Message.objects.select_related("event", "endpoint").get(pk=message_id)
    if message.endpoint.disabled:
        Message.objects.filter(pk=message_id).update(**ENDED_BY_DISABLING)
        message.status = M.FAILED
        told.record(message)
        return None
    return message


def send(message) -> Outcome:
    """One signed POST of the event's recorded body to the checked address; never raises for the receiver's faults."""
    endpoint, event = message.endpoint, message.event
    try:
        target = pin(endpoint.url)
    except UnsafeTarget as refused:
        return Outcome(ok=False, error=str(refused)[:300])
    signed = headers(signing_secrets(endpoint), str(event.id), int(time.time()), event.body)
    started = time.monotonic()
    for address in target.addresses:  # the next address only when this one refused the connection
        try:
            code, start = _post(target, address, event.body.encode(), signed)
            break
        except urllib3.exceptions.NewConnectionError as failure:
            refused = failure
        except urllib3.exceptions.HTTPError as failure:
            return Outcome(ok=False, error=_describe(failure), duration_ms=_ms(started))
    else:
        return Outcome(ok=False, error=_describe(refused), duration_ms=_ms(started))
    return Outcome(
        ok=200 <= code < 300,
        status_code=code,
        response_start=start.decode("utf-8", "replace")[:RESPONSE_START],
        duration_ms=_ms(started),
    )


def _post(target, address, body: bytes, signed: dict) -> tuple[int, bytes]:
    """POST to the pinned address, naming the host in the Host header and checking its certificate."""
    timeout = urllib3.Timeout(total=settings.WEBHOOK_TIMEOUT_SECONDS)
    options = {"host": address, "port": target.port, "timeout": timeout, "retries": False, "maxsize": 1}
    if target.https:
        pool = urllib3.HTTPSConnectionPool(
            **options,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=settings.WEBHOOK_CA_BUNDLE or certifi.where(),
        )
    else:
        pool = urllib3.HTTPConnectionPool(**options)
    default_port = 443 if target.https else 80
    host = target.host if ":" not in target.host else f"[{target.host}]"
    host_header = host if target.port == default_port else f"{host}:{target.port}"
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**signed, "Host": host_header},
            redirect=False,  # a 3xx is an answer like any other: not a success, never followed
            preload_content=False,
            retries=False,
        )
        try:
            return response.status, response.read(RESPONSE_START * 4) or b""
        finally:
            response.release_conn()
    finally:
        pool.close()


def settle(message, outcome: Outcome, now=None):
    """Log the attempt and move the message and its endpoint on; returns seconds to the next attempt, or None."""
    now = now or timezone.now()
    attempts = message.attempts + 1
    changes = {
        "attempts": attempts,
        "leased_until": None,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
        "last_duration_ms": outcome.duration_ms,
    }
    wait, ended = None, []
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().filter(pk=message.endpoint_id).first()
        if endpoint is None:
            return None  # deleted while the request was out: its messages went with it
        Attempt.objects.create(
            message=message,
            started_at=now - timedelta(milliseconds=outcome.duration_ms),
            duration_ms=outcome.duration_ms,
            status_code=outcome.status_code,
            ok=outcome.ok,
            error=outcome.error,
            response_start=outcome.response_start,
            trigger=message.trigger,
        )
        if outcome.ok:
            changes.update(status=M.DELIVERED, delivered_at=now, next_attempt_at=None)
            if endpoint.failing_since is not None:
                Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        elif outcome.status_code == 410:
            changes.update(status=M.FAILED, next_attempt_at=None)
        else:
            schedule = settings.WEBHOOK_RETRY_SCHEDULE
            if attempts <= len(schedule):
                wait = float(schedule[attempts - 1])
                changes["next_attempt_at"] = now + timedelta(seconds=wait)
            else:
                changes.update(status=M.FAILED, next_attempt_at=None)
        Message.objects.filter(pk=message.pk).update(**changes)  # first: disabling ends only the others
        if outcome.status_code == 410:
            ended = disable(endpoint, f"It answered 410 Gone on {now:%Y-%m-%d %H:%M} UTC.", now)
        elif not outcome.ok:
            ended = _count_failure(endpoint, now)
    for name, value in changes.items():
        setattr(message, name, value)
    for finished in [message, *ended]:  # after the commit: see `told`
        told.record(finished)
    return wait


def _count_failure(endpoint, now) -> list:
    """Start or extend the endpoint's run of failures; the messages it ended when the run disabled it."""
    if endpoint.failing_since is None:
        Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=now)
        return []
    window = settings.WEBHOOK_DISABLE_AFTER_SECONDS
    if not endpoint.disabled and now - endpoint.failing_since >= timedelta(seconds=window):
        return disable(endpoint, f"Every delivery failed from {endpoint.failing_since:%Y-%m-%d %H:%M} UTC on.", now)
    return []


def disable(endpoint, reason, now=None) -> list:
    """Switch an endpoint off with a reason; its pending messages end failed (replayable), and are returned."""
    now = now or timezone.now()
    Endpoint.objects.filter(pk=endpoint.pk).update(disabled=True, disabled_reason=reason[:300], disabled_at=now)
    return end_pending(endpoint)


def end_pending(endpoint) -> list:
    """Fail the pending messages of an endpoint just disabled; returns them, to be told once committed (`told`).

    A message that turns pending meanwhile is failed by `claim`, which sees the endpoint disabled.
    """
    pending = Message.objects.filter(endpoint_id=endpoint.pk, status=M.PENDING)
    pending = list(pending.select_related("event", "endpoint"))
    Message.objects.filter(pk__in=[m.pk for m in pending], status=M.PENDING).update(**ENDED_BY_DISABLING)
    for message in pending:
        message.status, message.last_error = M.FAILED, ENDED_BY_DISABLING["last_error"]
    return pending


def _ms(started) -> int:
    return int((time.monotonic() - started) * 1000)


def _describe(failure) -> str:
    # NewConnectionError first: urllib3 makes it a kind of ConnectTimeoutError.
    if isinstance(failure, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ProtocolError):
        return "Could not connect to the endpoint."
    if isinstance(failure, urllib3.exceptions.TimeoutError):
        return f"No answer within {settings.WEBHOOK_TIMEOUT_SECONDS:g} s."
    if isinstance(failure, urllib3.exceptions.SSLError):
        return "The endpoint's TLS certificate could not be verified."
    return f"The request failed ({type(failure).__name__})."
