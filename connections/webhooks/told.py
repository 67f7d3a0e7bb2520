"""A connection's timeline hears what endpoints were told about it: one entry per delivery or final failure.

Written just after the delivery's own transaction, never inside it: that transaction holds
the endpoint's row lock, while a change to the connection holds the connection's row and, at
its commit, checks the endpoint its new messages point to; a timeline row inserted under the
endpoint's lock would wait on the connection and deadlock with it. So a worker dying in
between loses the timeline entry, never the delivery (the endpoint's log has every attempt).
"""

from django.db import IntegrityError, transaction

from ..events import record_event
from ..models import Connection, ConnectionEvent
from .lines import sentence
from .models import Message

K = ConnectionEvent.Kind
KINDS = {Message.Status.DELIVERED: K.WEBHOOK_DELIVERED, Message.Status.FAILED: K.WEBHOOK_FAILED}


def record(message):
    """`message` (its event and endpoint loaded, its status current) just ended: tell its connection's timeline.

    Events not about a connection (companies, tests) and connections since deleted have no timeline.
    """
    kind = KINDS.get(message.status)
    event = message.event
    if kind is None or event.connection_id is None:
        return None
    connection = Connection.objects.filter(pk=event.connection_id).first()
    if connection is None:
        return None
    text, _tone = sentence(event, message)
    detail = {"event_id": str(event.pk), "event_type": event.event_type, "endpoint_id": str(message.endpoint_id)}
    try:
        with transaction.atomic():
            return record_event(connection, kind, text, detail=detail)
    except IntegrityError:  # the connection was deleted between the look-up and the commit
        return None
