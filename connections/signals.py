"""What `connections` announces when a connection changes; listeners connect in `ready()`.

Sent inside the change's transaction, once the change is saved, so a receiver's writes
commit or roll back with it. `status` sends it, and imports none of its listeners (the
sync engine keeps the data statuses in step; webhooks can tell the outside world).
"""

from django.dispatch import Signal

# A connection's status moved: `connection` (saved, locked), `before` and `after` (statuses),
# `reason`. Sent with `sender=Connection`.
connection_status_changed = Signal()

# A company was created: `company` (saved). Sent with `sender=Company`.
company_created = Signal()

# A company is being deleted: `company`, sent inside the deleting transaction just before its
# row goes (listeners can still read it and its connections). Sent with `sender=Company`.
company_deleted = Signal()

# A connection was created (PendingAuth): `connection` (saved). Sent with `sender=Connection`.
connection_created = Signal()

# A connection is being deleted: `connection`, sent as `company_deleted` is. `sender=Connection`.
# Deleting a company sends it for each of its connections first, then `company_deleted`.
connection_deleted = Signal()

# The platform refused the credentials given on the Link page: `connection`, `reason`.
# Nothing about the connection changed. Sent with `sender=Connection`.
link_rejected = Signal()

# A pull operation ended (Complete, failed or cancelled): `pull` (saved, its data status too).
# Sent with `sender=PullOperation`.
pull_ended = Signal()
