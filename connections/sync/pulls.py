"""The sync engine: `sync(pull)` is the one implementation of a pull operation.

The django-q2 task (`tasks.run_pull`), the `sync_connection` command and the tests
all call it. A pull is claimed with a filtered update whose row count is checked, so
a task delivered twice, or after the command took its pull over, does nothing. Pages
are saved a few at a time (`pending.PendingPages`: at least every SYNC_SAVE_SECONDS, and as
soon as SYNC_SAVE_ROWS records wait to be written), each save one transaction together with
the pull's counts (`progress`), so a crash leaves whole saves and counts that match them;
pages with nothing new or changed save only the counts. Every later write to the pull is filtered
on its status too: a pull cancelled (or failed by the watchdog) under a running worker
stops at its next save, which is rolled back, instead of being overwritten. How it ends is `outcomes`.

The fixed cost of a pull is kept small, because an incremental read of a few changed
records is mostly fixed cost: the connection is read once, and each step writes each
table at most once.
"""

import logging
import time
import traceback
from datetime import timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db import connection as db_connection
from django.utils import timezone

from integrations.registry import ErrorKind, ProviderError

from ..credentials import CredentialsUnreadable, connection_credentials
from ..events import record_event
from ..models import Connection, ConnectionEvent, DataStatus, PullOperation
from . import data_status, statistics
from .outcomes import complete, deauthorize, end_pull
from .pending import PendingPages
from .prefetch import Prefetch
from .progress import Heartbeat, Progress, Stopped
from .queueing import queue_pull
from .retrying import RetryReport
from .store import PageStore

logger = logging.getLogger(__name__)

P = PullOperation.Status
READ_AHEAD = 8  # pages
ERROR_STATUS = {
    ErrorKind.AUTH: P.AUTH_ERROR,
    ErrorKind.TRANSIENT: P.FETCH_ERROR,
    ErrorKind.RATE_LIMIT: P.RATE_LIMIT_ERROR,
    ErrorKind.PERMANENT: P.FETCH_ERROR,
    ErrorKind.NOT_SUPPORTED: P.NOT_SUPPORTED,
}


class _Refused(Exception):
    """The pull cannot run at all; it ends with this status and sentence."""

    def __init__(self, status, message, detail=""):
        super().__init__(message)
        self.status, self.message, self.detail = status, message, detail


def sync(pull, *, on_page=None):
    """Run one queued pull operation to its end and return it, refreshed.

    Claims the pull (Queued → Fetching) or, when it is no longer queued, does nothing.
    Reads the data type page by page through the provider, saves the pages with their
    counts and heartbeat a few at a time (see the module's docstring), and ends Complete or
    with the status of the failure. `on_page(pull)` is called after each save (progress
    bars); with SYNC_SAVE_SECONDS at 0 every page is saved on its own.
    """
    # Read once, fresh, for the whole pull: its status and integration decide whether it runs.
    pull.connection = Connection.objects.select_related("integration").get(pk=pull.connection_id)
    run = _PullRun(pull, on_page)
    try:
        claimed = claim(pull, on_claimed=run.start)
    except BaseException:
        run.close()  # the claim rolled back: stop the read it had started
        raise
    if not claimed:
        pull.refresh_from_db()
        return pull
    heartbeat = Heartbeat.start(pull)
    try:
        completed = run.run()
    finally:
        heartbeat.stop()
    if not completed:  # ended by a failure, a cancel or the watchdog: read what they wrote
        pull.refresh_from_db()
    return pull


sync.alters_data = True


def claim(pull, *, on_claimed=None) -> bool:
    """Move a Queued pull to Fetching, deciding its mode; False when another got it first.

    `on_claimed()` is called once the pull is won, before its data status and timeline entry
    are written and committed: the sync engine sends the first request then, so the platform
    prepares the first page meanwhile (a small incremental read is mostly this fixed cost).
    """
    mode, since = decide_mode(pull)
    now = timezone.now()
    changes = {
        "status": P.FETCHING,
        "started_at": now,
        "heartbeat_at": now,
        "mode": mode,
        "modified_since": since,
        "expected_records": expected_records(pull, mode),
    }
    with transaction.atomic():  # one commit for the claim, its data status and its timeline entry
        if not PullOperation.objects.filter(pk=pull.pk, status=P.QUEUED).update(**changes):
            return False
        for name, value in changes.items():
            setattr(pull, name, value)
        if on_claimed is not None:
            on_claimed()
        data_status.started(pull)
        how = "full" if mode == PullOperation.Mode.FULL else f"changes since {since:%Y-%m-%d %H:%M}"
        record_event(
            pull.connection,
            ConnectionEvent.Kind.PULL_STARTED,
            f"{pull.data_type}: pull {pull.pk} started ({how}).",
            pull=pull,
            detail={"mode": mode, "modified_since": since.isoformat() if since else None},
        )
    return True


def decide_mode(pull):
    """(mode, modified_since) for a pull about to start.

    A pull queued as incremental reads only changes where the data type supports it,
    from the last successful pull's start minus an overlap (the platform filters by
    date, and clocks differ). Without a successful pull, or when the last full read is
    older than SYNC_FULL_RESCAN_DAYS (only full reads see deletions), it reads in full.
    """
    full = (PullOperation.Mode.FULL, None)
    data_type = pull.connection.integration.provider.data_type(pull.data_type)
    if pull.mode == PullOperation.Mode.FULL or data_type is None or not data_type.incremental:
        return full
    last_started = (
        DataStatus.objects.filter(connection_id=pull.connection_id, data_type=pull.data_type)
        .order_by()  # one row at most: without the model's ordering, which joins its connection
        .values_list("last_successful_started_at", flat=True)
        .first()
    )
    if last_started is None:
        return full
    last_full = (
        PullOperation.objects.filter(
            connection_id=pull.connection_id,
            data_type=pull.data_type,
            status=P.COMPLETE,
            mode=PullOperation.Mode.FULL,
        )
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    if last_full is None or last_full < timezone.now() - timedelta(days=settings.SYNC_FULL_RESCAN_DAYS):
        return full
    overlap = timedelta(minutes=settings.SYNC_INCREMENTAL_OVERLAP_MINUTES)
    return PullOperation.Mode.INCREMENTAL, last_started - overlap


def expected_records(pull, mode):
    """What the previous complete pull of this data type and mode fetched (progress bars)."""
    return (
        PullOperation.objects.filter(
            connection_id=pull.connection_id, data_type=pull.data_type, status=P.COMPLETE, mode=mode
        )
        .exclude(pk=pull.pk)
        .order_by("-finished_at")
        .values_list("records_fetched", flat=True)
        .first()
    )


class _PullRun:
    """One claimed pull, read and stored page by page."""

    def __init__(self, pull, on_page):
        self.pull = pull
        self.on_page = on_page
        self.credentials = {}
        self.pages = None
        self.store = None
        self.refusal = None  # why the read could not start, raised by run()
        self.retries = RetryReport(pull.pk)  # made before the claim's transaction: see sync.retrying

    def start(self):
        """Check the pull can run and start reading its pages (called once it is claimed)."""
        pull = self.pull
        try:
            provider, provider_settings = self._prepare()
            since = pull.modified_since if pull.mode == PullOperation.Mode.INCREMENTAL else None
            self.store = PageStore(pull)
            pages = provider.read(
                provider_settings,
                self.credentials,
                pull.data_type,
                modified_since=since,
                lazy=self.store.lazy,
                on_retry=self.retries,  # the provider's retries, saved on the pull
            )
            # The reader thread also maps each page (what is not known from its bytes). It reads
            # up to READ_AHEAD pages ahead: more than a save holds (SYNC_SAVE_ROWS), so it keeps
            # reading while the database writes one (4.6 -> 3.9 s a full sync on PostgreSQL
            # against 2 pages ahead, benchmarks/README.md); memory stays flat all the same.
            self.pages = Prefetch(pages, prepare=self.store.prepare, depth=READ_AHEAD)
        except Exception as error:  # handled by run(), after the claim is committed, as if raised there
            self.refusal = error

    def close(self):
        if self.pages is not None:
            self.pages.close()

    def run(self) -> bool:
        """Read and store the pull to its end; True when it completed."""
        pull = self.pull
        try:
            if self.pages is None:
                if self.refusal is None:
                    self.start()  # claimed by someone calling claim() without starting the read
                if self.refusal is not None:
                    raise self.refusal
            self.progress = Progress(pull)
            self.pending = PendingPages(self.store)
            self.saved_at = time.monotonic()
            try:
                for page in self.pages:
                    self._add_page(page)
            except ProviderError:
                self._save_pending()  # the pages read before the failure are kept
                raise
            finally:
                self.close()
            self._save_pending()
            complete(pull, self.store)
            if self.store.started_empty:
                statistics.after_first_read(pull.records_created)
            return True
        except Stopped:
            logger.info("pull %s stopped: it left Fetching under the worker", pull.pk)
        except _Refused as refused:
            end_pull(pull, refused.status, refused.message, refused.detail)
        except ProviderError as error:
            end_pull(pull, ERROR_STATUS[error.kind], error.message, error.detail)
            if error.kind == ErrorKind.AUTH:
                deauthorize(pull, error.message)
        except (OperationalError, InterfaceError) as error:
            self._database_lost(error)
        except Exception as error:
            logger.exception("pull %s failed unexpectedly", pull.pk)
            message = (
                f"The portal hit an unexpected error while storing {pull.data_type} ({type(error).__name__}). "
                "Records saved before it are kept; the technical detail says where it happened."
            )
            end_pull(pull, P.INTERNAL_ERROR, message, self._scrub(traceback.format_exc()))

    def _database_lost(self, error):
        """The database connection went away under the pull (a restart, a failover, a killed
        backend): end it on a new connection and queue it again once, as the watchdog does for
        a dead worker; the rerun's upserts make it exact. Not again for a retry, so a database
        that keeps failing leaves the data type to its schedule instead of a loop."""
        pull = self.pull
        logger.warning("pull %s: the database connection was lost (%s)", pull.pk, type(error).__name__)
        if not db_connection.in_atomic_block:  # a worker's never is; a test's outer transaction must stay
            db_connection.close()  # the next query opens a new connection
        again = pull.trigger != PullOperation.Trigger.RETRY and pull.connection.status == Connection.Status.LINKED
        message = (
            f"The database connection was lost while storing {pull.data_type}. Records saved before it are kept"
            + ("; the pull was queued again." if again else ".")
        )
        if end_pull(pull, P.INTERNAL_ERROR, message, self._scrub(traceback.format_exc())) and again:
            queue_pull(
                pull.connection, pull.data_type, PullOperation.Trigger.RETRY, full=pull.mode == PullOperation.Mode.FULL
            )

    def _prepare(self):
        connection = self.pull.connection  # read by sync() just before the claim
        integration = connection.integration
        provider = integration.provider
        if provider.data_type(self.pull.data_type) is None:
            raise _Refused(
                P.NOT_SUPPORTED,
                f"{integration.name} has no data type called {self.pull.data_type}, so it cannot be read.",
            )
        if connection.status != Connection.Status.LINKED:
            raise _Refused(P.CANCELLED, f"The connection is {connection.status}, so nothing was read.")
        if not integration.enabled:
            raise _Refused(P.CANCELLED, f"{integration.name} is switched off in this portal, so nothing was read.")
        try:
            self.credentials = connection_credentials(connection)
        except CredentialsUnreadable as error:
            raise _Refused(P.INTERNAL_ERROR, str(error)) from None
        if not self.credentials:
            raise ProviderError(
                ErrorKind.AUTH, "No credentials are stored for this connection: the company must link again."
            )
        return provider, integration.effective_settings()

    def _add_page(self, page):
        pull = self.pull
        result = self.pending.add(page)
        pull.pages_fetched += 1
        pull.records_fetched += result.fetched
        pull.records_created += result.created
        pull.records_updated += result.updated
        pull.records_unchanged += result.unchanged
        due = time.monotonic() - self.saved_at >= settings.SYNC_SAVE_SECONDS
        if due or len(self.pending.rows) >= settings.SYNC_SAVE_ROWS:
            self._save_pending()

    def _save_pending(self):
        # The progress is saved in the pages' transaction; Stopped from it rolls them back.
        if not self.pending.pages:
            return
        self.pending.save(self.progress.save)
        self.saved_at = time.monotonic()
        if self.on_page is not None:
            self.on_page(self.pull)

    def _scrub(self, text):
        for value in self.credentials.values():
            if isinstance(value, str) and len(value) >= 4:
                text = text.replace(value, "[redacted]")
        return text
