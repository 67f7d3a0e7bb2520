"""What `connections` announces when a connection changes; listeners connect in `ready()`.

Sent inside the change's transaction, once the change is saved, so a receiver's writes
commit or roll back with it. `status` sends it, and imports none of its listeners (the
sync engine keeps the data statuses in step; webhooks can tell the outside world).
"""

from django.dispatch import Signal

# A connection's status moved: `connection` (saved, locked), `before` and `after` (statuses),
# `reason`. Sent with `sender=Connection`.
connection_status_changed = Signal()
