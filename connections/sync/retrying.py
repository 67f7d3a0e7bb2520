"""A running pull's retries, as the provider reports them, saved on the pull.

The provider's client retries a failed request on its own (Clear Books: its retry policy),
which can take minutes against a platform that does not answer. `RetryReport` is the
`on_retry` callback the sync engine gives `Provider.read`: it saves on the pull the try
about to be made, of how many, when it starts and why the last one failed, and clears them
once a request goes through. The support pages read them to say "Retrying invoices:
attempt 3 of 5, next try at 10:42" instead of nothing at all. The provider knows nothing
of pulls: it calls a function with a `registry.RetryNotice`.

Called from the thread that reads the pages (the sync engine's reader thread), so each
report is one small UPDATE on that thread's own database connection, closed after it.
Filtered on the pull running, so a pull cancelled or failed meanwhile is never written.
"""

import logging
import threading
from datetime import timedelta

from django.db import DatabaseError
from django.db import connection as db_connection
from django.utils import timezone

from ..models import RUNNING_PULL_STATUSES, PullOperation

logger = logging.getLogger(__name__)

NOT_RETRYING = {"retry_attempt": None, "retry_attempts": None, "retry_at": None, "retry_reason": ""}
REASON_LENGTH = PullOperation._meta.get_field("retry_reason").max_length


def retry_fields(notice, now=None) -> dict:
    """The pull's retry fields for a registry.RetryNotice (None: nothing is being retried)."""
    if notice is None:
        return dict(NOT_RETRYING)
    now = now or timezone.now()
    reason = notice.reason if len(notice.reason) <= REASON_LENGTH else notice.reason[: REASON_LENGTH - 1] + "…"
    return {
        "retry_attempt": notice.attempt,
        "retry_attempts": notice.attempts,
        "retry_at": now + timedelta(seconds=max(0.0, notice.delay)),
        "retry_reason": reason,
    }


class RetryReport:
    """`on_retry` for one pull: saves each registry.RetryNotice on it (see the module)."""

    def __init__(self, pull_id):
        self.pull_id = pull_id
        self.owner = threading.get_ident()
        # Made outside any transaction, as the sync engine does (before its claim). Inside an
        # outer one (tests on the `db` fixture) another thread's connection cannot see the
        # pull, and on SQLite it would wait on the outer lock: as the heartbeat does, only the
        # thread that made the report writes then.
        self.others_write = not db_connection.in_atomic_block

    def __call__(self, notice):
        here = threading.get_ident() == self.owner
        if not here and not self.others_write:
            return
        try:
            running = PullOperation.objects.filter(pk=self.pull_id, status__in=RUNNING_PULL_STATUSES)
            running.update(**retry_fields(notice))
        except DatabaseError:
            logger.warning("pull %s: retry not recorded", self.pull_id, exc_info=True)
        finally:
            if not here:
                db_connection.close()  # the reader thread's own connection: retries are seconds apart
