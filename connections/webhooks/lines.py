"""Sentences for the connection and company pages: what the portal told which endpoint, and how it went.

"Told https://… that the books were linked — delivered in 84 ms". Two queries per page,
whatever the number of endpoints: the newest events, then their messages. The company page
lists them all; the connection page only those still being sent, since each delivery or final
failure is an entry in the connection's timeline (`told`).
"""

from dataclasses import dataclass
from datetime import datetime

from .models import Event, Message

LIMIT = 10
M = Message.Status


@dataclass
class Line:
    at: datetime
    sentence: str
    tone: str  # good, bad, info
    event_id: object


def _outcome(message) -> tuple[str, str]:
    if message.status == M.DELIVERED:
        return f"delivered in {message.last_duration_ms or 0} ms", "good"
    if message.status == M.FAILED:
        why = f"HTTP {message.last_status_code}" if message.last_status_code else (message.last_error or "no answer")
        return f"not delivered ({why}, {message.attempts} attempts)", "bad"
    if message.attempts:
        return f"not delivered yet ({message.attempts} attempts, retrying)", "info"
    return "being sent", "info"


def sentence(event, message) -> tuple[str, str]:
    """("Told https://… that the books were linked — delivered in 84 ms.", its tone) for one message."""
    outcome, tone = _outcome(message)
    return f"Told {message.endpoint.url} that {event.summary or event.event_type} — {outcome}.", tone


def _lines(events, messages=None) -> list[Line]:
    events = list(events[:LIMIT])
    found = []
    by_event = {}
    messages = (messages if messages is not None else Message.objects).filter(event__in=events)
    for message in messages.select_related("endpoint").order_by("created_at"):
        by_event.setdefault(message.event_id, []).append(message)
    for event in events:
        for message in by_event.get(event.pk, []):
            found.append(Line(event.generated_at, *sentence(event, message), event.pk))
    return found


def pending_for_connection(connection_id) -> list[Line]:
    """Only the messages still being sent: each delivered or failed one is an entry in the connection's timeline."""
    pending = Message.objects.filter(status=M.PENDING)
    events = Event.objects.filter(connection_id=connection_id, messages__status=M.PENDING).distinct()
    return _lines(events.order_by("-generated_at"), pending)


def for_company(company_id) -> list[Line]:
    return _lines(Event.objects.filter(company_id=company_id).order_by("-generated_at"))
