"""The outbox: `emit` writes an event and one message per interested endpoint, in the caller's transaction.

Nothing is sent here. Once the transaction commits, each pending message is handed to
django-q2 (`tasks.deliver`); if that hand-over is lost (broker down, process killed before
it ran), the sweeper finds the message by its due time. A rolled-back change leaves no event.
"""

import json
import logging

from django.db import transaction
from django.utils import timezone

from . import told
from .models import Attempt, Endpoint, Event, Message
from .tasks import enqueue_delivery

logger = logging.getLogger(__name__)

# Codat's event names (its webhook document), and ours for a data type failing.
EVENT_TYPES = (
    "company.created",
    "company.deleted",
    "connection.created",
    "connection.connected",
    "connection.disconnected",
    "connection.reconnected",
    "connection.deleted",
    "connection.failed",
    "read.completed",
    "dataType.status.error",
)
TEST_EVENT = "webhook.test"


def iso(moment) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def wanted(event_types) -> bool:
    """Whether any endpoint subscribes to one of `event_types` (one query; a tag may still rule a company out)."""
    return any(set(types) & set(event_types) for types in Endpoint.objects.values_list("event_types", flat=True))


def emit(event_type, payload, *, company=None, connection_id=None, summary="", only=None, trigger=None):
    """Write `event_type` with `payload`, and a message for each endpoint that wants it; returns the Event.

    `company` (a Company, saved or just deleted) routes by tags. `only`: a single endpoint
    (the test event), whatever it subscribes to. Must run inside the change's transaction.
    An event no endpoint wants is not written (None): there is nobody to tell, now or by replay.
    """
    tags = company.tags if company is not None else {}
    endpoints = [only] if only is not None else [e for e in Endpoint.objects.all() if e.wants(event_type, tags)]
    if not endpoints:
        return None
    now = timezone.now()
    event = Event(event_type=event_type, generated_at=now, connection_id=connection_id, summary=summary[:300])
    if company is not None:
        event.company_id, event.company_name = company.pk, company.name
    event.body = json.dumps(
        {"id": str(event.id), "eventType": event_type, "generatedDate": iso(now), "payload": payload},
        separators=(",", ":"),
    )
    event.save(force_insert=True)
    messages = [_message(event, endpoint, now) for endpoint in endpoints]
    for message in messages:
        message.trigger = trigger or Attempt.Trigger.SCHEDULE
    Message.objects.bulk_create(messages)
    for message in messages:
        if message.status == Message.Status.FAILED:  # a disabled endpoint's: ended already
            told.record(message)
    pending = [m.pk for m in messages if m.status == Message.Status.PENDING]
    if pending:
        transaction.on_commit(lambda: hand_over(pending))
    return event


def _message(event, endpoint, now) -> Message:
    if endpoint.disabled:
        # Kept as failed, so a replay after the endpoint is back sends it too.
        return Message(
            event=event, endpoint=endpoint, status=Message.Status.FAILED, last_error="The endpoint was disabled."
        )
    return Message(event=event, endpoint=endpoint, next_attempt_at=now)


def hand_over(message_ids):
    """Queue a delivery task per message; a failure here only delays them until the sweeper runs."""
    for message_id in message_ids:
        try:
            enqueue_delivery(message_id)
        except Exception:  # the broker is down: the sweeper picks the message up by its due time
            logger.warning("Could not queue webhook message %s; the sweeper will deliver it.", message_id)
