"""A running pull's progress: its counts after each page, and a heartbeat between pages.

Both writes are filtered on the pull's status, so a pull cancelled or failed by the
watchdog under a running worker is never overwritten: the page's write raises `Stopped`
(rolling the page back), and the heartbeat writes nothing.
"""

import logging
import threading

from django.conf import settings
from django.db import DatabaseError
from django.db import connection as db_connection
from django.db.models import F
from django.utils import timezone

from ..models import RUNNING_PULL_STATUSES, PullOperation

logger = logging.getLogger(__name__)


class Stopped(Exception):
    """The pull left Fetching/Processing under us: cancelled, or failed by the watchdog."""


def save_progress(pull, result):
    """Add one stored page's counts (a store.PageResult) to the pull, and beat; Stopped unless Fetching."""
    saved = PullOperation.objects.filter(pk=pull.pk, status=PullOperation.Status.FETCHING).update(
        pages_fetched=F("pages_fetched") + 1,
        records_fetched=F("records_fetched") + result.fetched,
        records_created=F("records_created") + result.created,
        records_updated=F("records_updated") + result.updated,
        records_unchanged=F("records_unchanged") + result.unchanged,
        heartbeat_at=timezone.now(),
    )
    if not saved:
        raise Stopped  # inside the page's transaction: rolls it back, counts keep matching data


class Heartbeat:
    """Writes a running pull's heartbeat every SYNC_HEARTBEAT_SECONDS from a thread.

    Pages also beat, but one slow page (retries with backoff) can outlast the
    watchdog's threshold; this thread keeps a live worker from being taken for dead.
    When the process dies, so does the thread, and the heartbeat goes stale.
    """

    def __init__(self, pull_id, interval):
        self.pull_id = pull_id
        self.interval = interval
        self._stop = threading.Event()
        self._thread = None

    @classmethod
    def start(cls, pull):
        beat = cls(pull.pk, settings.SYNC_HEARTBEAT_SECONDS)
        # Inside an outer transaction (tests on the `db` fixture) no other connection can
        # see the pull, and on SQLite a second writer would wait on the outer lock.
        if beat.interval > 0 and not db_connection.in_atomic_block:
            beat._thread = threading.Thread(target=beat._beat, name=f"pull-{pull.pk}-heartbeat", daemon=True)
            beat._thread.start()
        return beat

    def _beat(self):
        try:
            while not self._stop.wait(self.interval):
                try:
                    PullOperation.objects.filter(pk=self.pull_id, status__in=RUNNING_PULL_STATUSES).update(
                        heartbeat_at=timezone.now()
                    )
                except DatabaseError:
                    logger.warning("pull %s: heartbeat not saved", self.pull_id, exc_info=True)
        finally:
            db_connection.close()  # this thread's own connection

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
