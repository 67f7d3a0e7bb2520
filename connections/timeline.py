"""A connection's timeline: its own events merged with the integration changes that affected it.

Two queries whatever the history's length: the newest `limit` connection events and the
newest `limit` audit events of its integration since the connection was created
(switched on/off, settings and sync settings changed), merged newest first.
"""

from dataclasses import dataclass
from datetime import datetime

from integrations.models import AuditEvent

from .models import Connection, ConnectionEvent

K = ConnectionEvent.Kind
A = AuditEvent.Action

# Integration-wide changes that reach every connection of the integration.
AFFECTING_ACTIONS = (A.ENABLED, A.DISABLED, A.SETTINGS_CHANGED, A.SYNC_SETTINGS_CHANGED)
LIMITS = (30, 100, 300, 1000)  # "show more" steps; the page never loads more than the last

GOOD_KINDS = {K.LINK_ACCEPTED, K.PULL_COMPLETED}
BAD_KINDS = {K.LINK_REJECTED, K.LINK_UNREACHABLE, K.PULL_FAILED}


@dataclass
class TimelineEntry:
    at: datetime
    label: str
    message: str
    actor: str
    tone: str  # good, bad, info (the dot's colour)
    source: str  # "connection" or "integration"
    pull_id: int | None = None
    order: int = 0  # tie-breaker within the same instant (newer rows first)


def _tone(event):
    if event.kind in GOOD_KINDS:
        return "good"
    if event.kind in BAD_KINDS:
        return "bad"
    if event.kind == K.STATUS_CHANGED:
        to = event.detail.get("to")
        return "good" if to == Connection.Status.LINKED else "bad" if to == Connection.Status.DEAUTHORIZED else "info"
    if event.kind == K.TEST:
        return {"valid": "good", "rejected": "bad"}.get(event.detail.get("result"), "info")
    return "info"


def _change_text(change):
    return f"{change.get('field')}: {change.get('before')!s} → {change.get('after')!s}"


def _audit_message(audit):
    text = f"{audit.integration.name if audit.integration else 'The integration'}: {audit.get_action_display().lower()}"
    changes = [_change_text(c) for c in audit.changes or [] if isinstance(c, dict)]
    if changes and audit.action not in (A.ENABLED, A.DISABLED):
        text += " (" + "; ".join(changes) + ")"
    return text + "."


def next_limit(limit):
    """The next "show more" step, or None at the cap."""
    bigger = [step for step in LIMITS if step > limit]
    return bigger[0] if bigger else None


def clean_limit(value):
    try:
        value = int(value)
    except (TypeError, ValueError):
        return LIMITS[0]
    return value if value in LIMITS else LIMITS[0]


def timeline(connection, limit=LIMITS[0]):
    """(entries newest first, has_more) for a connection."""
    events = list(connection.events.order_by("-created_at", "-id")[: limit + 1])
    audits = list(
        AuditEvent.objects.filter(
            integration_id=connection.integration_id,
            action__in=AFFECTING_ACTIONS,
            created_at__gte=connection.created_at,
        )
        .select_related("integration")
        .order_by("-created_at", "-id")[: limit + 1]
    )
    entries = [
        TimelineEntry(
            e.created_at,
            e.get_kind_display(),
            e.message,
            e.actor_label or "system",
            _tone(e),
            "connection",
            e.pull_id,
            e.pk,
        )
        for e in events
    ]
    entries += [
        TimelineEntry(
            a.created_at,
            a.get_action_display(),
            _audit_message(a),
            a.actor_name or "system",
            "bad" if a.action == A.DISABLED else "info",
            "integration",
            None,
            a.pk,
        )
        for a in audits
    ]
    entries.sort(key=lambda entry: (entry.at, entry.order), reverse=True)
    return entries[:limit], len(entries) > limit
