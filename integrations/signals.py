"""What `integrations` announces when an integration changes; other apps listen in their `ready()`.

Each is sent inside the change's transaction, once the change is saved, so a receiver's
writes commit or roll back with it (a receiver whose work must wait for the commit
defers it with `transaction.on_commit`). `integrations` imports no app that listens.
Every signal is sent with `sender=Integration` and these keyword arguments:
"""

from django.dispatch import Signal

# Switched on or off: `integration` (saved), `enabled` (its new value), `actor` (a user, or None).
integration_switched = Signal()

# Settings saved that changed something: `integration`, `settings_changes` and `sync_changes`
# (audit diffs, [{field, before, after}], secrets masked; either may be empty), `actor`.
integration_settings_changed = Signal()
