"""The audit trail: one function writes every audit event (`record`, whichever app acts), one computes the changes.

Audit events are append-only: the portal has no view, form or admin action that edits
or deletes them. Secret values never reach an event: `diff` masks the fields the
provider lists as sensitive, before *and* after, and still records that they changed.
"""

from .models import AuditEvent

MASK = "••••••"

Action = AuditEvent.Action


def diff(before: dict, after: dict, *, sensitive=(), prefix="") -> list[dict]:
    """[{field, before, after}] for every key whose value differs; secrets masked.

    Keys are compared over the union of both dicts, in a stable order (the order of
    `after`, then keys only `before` had), so events read the same way as the form.
    """
    keys = list(after) + [k for k in before if k not in after]
    changes = []
    for key in keys:
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if key in sensitive:
            old, new = MASK, MASK
        changes.append({"field": f"{prefix}{key}", "before": old, "after": new})
    return changes


def record(action, *, actor=None, integration=None, changes=(), target="", target_id="", actor_name=None):
    """Append one audit event and return it.

    `actor` is the portal user who acted; without one, `actor_name` says what acted
    (a management command, say). `changes` come from `diff`, already masked, or are
    facts the caller states ({field, before, after}: counts, statuses), never a secret.
    """
    if actor_name is None:
        actor_name = actor.get_username() if actor is not None else "system"
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        actor_name=actor_name,
        integration=integration,
        changes=list(changes),
        target=str(target)[:200],
        target_id=str(target_id)[:64],
    )
