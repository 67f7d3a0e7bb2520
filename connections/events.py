"""The connection timeline: one function writes every entry."""

from .models import ConnectionEvent

SYSTEM = "system"
COMPANY_USER = "company user"


def record_event(connection, kind, message, *, actor=None, actor_label=None, detail=None, pull=None):
    """Append one entry to a connection's timeline.

    `actor` is a portal user; without one, `actor_label` says who acted
    ("company user" on the Link page, "system" for the worker). Never pass a
    credential in `message` or `detail`.
    """
    if actor_label is None:
        actor_label = actor.get_username() if actor is not None else SYSTEM
    return ConnectionEvent.objects.create(
        connection=connection,
        kind=kind,
        actor=actor,
        actor_label=actor_label,
        message=message,
        detail=detail or {},
        pull=pull,
    )
