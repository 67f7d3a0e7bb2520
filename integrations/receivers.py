"""What `integrations` does when other parts announce a change: the audit trail records API keys.

Connected in `IntegrationsConfig.ready()`. A key's audit event names the key (its name and
id) and who acted; the key itself is never stored, so it cannot reach the event.
"""

from . import audit


def api_key_created(sender, *, api_key, actor, actor_name, **kwargs):
    audit.record(
        audit.Action.API_KEY_CREATED,
        actor=actor,
        actor_name=actor_name,
        target=api_key.name or "unnamed API key",
        target_id=api_key.pk,
        changes=[{"field": "name", "before": None, "after": api_key.name}],
    )


def api_key_revoked(sender, *, api_key, actor, actor_name, **kwargs):
    audit.record(
        audit.Action.API_KEY_REVOKED,
        actor=actor,
        actor_name=actor_name,
        target=api_key.name or "unnamed API key",
        target_id=api_key.pk,
        changes=[{"field": "status", "before": "active", "after": "revoked"}],
    )
