"""A running pull's progress: its counts after each page, and a heartbeat between pages.

Both writes are filtered on the pull's status, so a pull cancelled or failed by the
watchdog under a running worker is never overwritten: the page's write raises `Stopped`
(rolling the page back), and the heartbeat writes nothing.
"""

import logging
import threading

from django.conf import settings
from django.db import DatabaseError, connections, router, transaction
from django.db import connection as db_connection
from django.utils import timezone

from ..models import RUNNING_PULL_STATUSES, PullOperation

logger = logging.getLogger(__name__)
FETCHING = PullOperation.Status.FETCHING


class Stopped(Exception):
    """The pull left Fetching/Processing under us: cancelled, or failed by the watchdog."""


class Progress:
    """Saves a pull's counts and heartbeat with each save of its pages, with one small UPDATE.

    Plain SQL, made once per pull: a sync saves progress after every page, and the ORM
    compiling this UPDATE each time costs more than running it does (measured in
    benchmarks/README.md). Filtered on Fetching: a pull cancelled or failed by the
    watchdog raises Stopped.
    """

    COLUMNS = ("pages_fetched", "records_fetched", "records_created", "records_updated", "records_unchanged")

    def __init__(self, pull):
        self.pull_id = pull.pk
        self.db = connections[router.db_for_write(PullOperation)]
        ops, meta = self.db.ops, PullOperation._meta

        def column(name):
            return ops.quote_name(meta.get_field(name).column)

        sets = ", ".join(f"{column(n)} = {column(n)} + %s" for n in self.COLUMNS)
        self.sql = (
            f"UPDATE {ops.quote_name(meta.db_table)} SET {sets}, {column('heartbeat_at')} = %s "
            f"WHERE {column('id')} = %s AND {column('status')} = %s"
        )

    def save(self, result, pages=1):
        """Add the counts of `pages` stored pages (a store.PageResult) to the pull, and beat."""
        if self.db.vendor == "postgresql" and not self.db.in_atomic_block:
            # Pages with nothing to write (most of a re-sync): their counts need not wait for the
            # WAL to reach the disk. A server crash may lose the last of these counts, never a
            # record (pages that write records commit as usual); the pull is read again anyway.
            # Waiting for that flush on every page made an invoice re-sync on PostgreSQL take
            # several times the same on SQLite (benchmarks/README.md).
            with transaction.atomic(using=self.db.alias):
                with self.db.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
                self._save(result, pages)
        else:
            self._save(result, pages)

    def _save(self, result, pages):
        now = self.db.ops.adapt_datetimefield_value(timezone.now())
        params = [pages, result.fetched, result.created, result.updated, result.unchanged, now, self.pull_id, FETCHING]
        with self.db.cursor() as cursor:
            cursor.execute(self.sql, params)
            if cursor.rowcount != 1:
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
