"""What `portal.api` announces when an API key is made or revoked; the audit trail listens
(`integrations.receivers`), since this package imports no app.

Both are sent inside the change's transaction, with `sender=ApiKey` and the keyword
arguments `api_key` (the row: its name and id, never the key, which is not stored),
`actor` (a portal user, or None) and `actor_name` (who acted: a username, a key's label
or a command's name).
"""

from django.dispatch import Signal

api_key_created = Signal()
api_key_revoked = Signal()
