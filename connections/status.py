"""Connection status moves: the one place a connection's status changes.

Only the legal moves are allowed; each is recorded in the timeline with actor and reason.
"""

from django.db import transaction
from django.utils import timezone

from .events import record_event
from .models import Connection, ConnectionEvent
from .signals import connection_status_changed

S = Connection.Status

LEGAL_MOVES = {
    S.PENDING_AUTH: {S.LINKED},
    S.LINKED: {S.DEAUTHORIZED, S.UNLINKED},
    S.DEAUTHORIZED: {S.LINKED},  # relinked through a new Link URL
    S.UNLINKED: {S.LINKED},  # relinked through a new Link URL
}


class IllegalStatusMove(Exception):
    def __init__(self, current, target):
        super().__init__(f"A connection cannot move from {current} to {target}.")
        self.current = current
        self.target = target


def can_move(current, target) -> bool:
    return target in LEGAL_MOVES.get(current, set())


def move(connection, target, *, reason, actor=None, actor_label=None):
    """Move `connection` to `target`, or raise IllegalStatusMove.

    Locks the row so two movers (say, a worker seeing a rejected key and an admin
    unlinking) cannot both act on a stale status. Returns the refreshed connection.
    """
    with transaction.atomic():
        locked = Connection.objects.select_for_update().get(pk=connection.pk)
        current = locked.status
        if not can_move(current, target):
            raise IllegalStatusMove(current, target)
        now = timezone.now()
        locked.status = target
        locked.status_reason = reason[:500]
        locked.status_changed_at = now
        fields = ["status", "status_reason", "status_changed_at"]
        if target == S.LINKED:
            locked.linked_at = now
            fields.append("linked_at")
        locked.save(update_fields=fields)
        connection_status_changed.send(Connection, connection=locked, before=current, after=target, reason=reason)
        record_event(
            locked,
            ConnectionEvent.Kind.STATUS_CHANGED,
            f"Status changed from {current} to {target}: {reason}",
            actor=actor,
            actor_label=actor_label,
            detail={"from": current, "to": target, "reason": reason},
        )
    for field in fields:
        setattr(connection, field, getattr(locked, field))
    return connection
