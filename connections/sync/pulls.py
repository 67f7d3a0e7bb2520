"""The sync engine: `sync(pull)` is the one implementation of a pull operation.

The django-q2 task (`tasks.run_pull`), the `sync_connection` command and the tests
all call it. A pull is claimed with a filtered update whose row count is checked, so
a task delivered twice, or after the command took its pull over, does nothing. Pages
are upserted one transaction each, together with the pull's counts, so a crash
leaves whole pages and counts that match them; a page with nothing new or changed
saves only the counts. Every later write to the pull is filtered on its status too:
a pull cancelled (or failed by the watchdog) under a running worker stops at the
next page instead of being overwritten.

The fixed cost of a pull is kept small, because an incremental read of a few changed
records is mostly fixed cost: the connection is read once, and each step writes each
table at most once.
"""

import contextlib
import logging
import threading
import traceback
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connections, router, transaction
from django.db import connection as db_connection
from django.db.models import F
from django.utils import timezone

from integrations.registry import ErrorKind, ProviderError

from .. import status as connection_status
from ..credentials import CredentialsUnreadable, connection_credentials, mark_validated
from ..events import record_event
from ..models import (
    ACTIVE_PULL_STATUSES,
    FAILED_PULL_STATUSES,
    Company,
    Connection,
    ConnectionEvent,
    DataStatus,
    PullOperation,
)
from .prefetch import Prefetch
from .retrying import RetryReport
from .staleness import after_success, refresh_data_status
from .store import PageStore, mark_missing_deleted, upsert_page

logger = logging.getLogger(__name__)

P = PullOperation.Status
RUNNING = (P.FETCHING, P.PROCESSING)
ERROR_STATUS = {
    ErrorKind.AUTH: P.AUTH_ERROR,
    ErrorKind.TRANSIENT: P.FETCH_ERROR,
    ErrorKind.RATE_LIMIT: P.RATE_LIMIT_ERROR,
    ErrorKind.PERMANENT: P.FETCH_ERROR,
    ErrorKind.NOT_SUPPORTED: P.NOT_SUPPORTED,
}


class _Stopped(Exception):
    """The pull left Fetching/Processing under us: cancelled, or failed by the watchdog."""


class _Refused(Exception):
    """The pull cannot run at all; it ends with this status and sentence."""

    def __init__(self, status, message, detail=""):
        super().__init__(message)
        self.status, self.message, self.detail = status, message, detail


def sync(pull, *, on_page=None):
    """Run one queued pull operation to its end and return it, refreshed.

    Claims the pull (Queued → Fetching) or, when it is no longer queued, does nothing.
    Reads the data type page by page through the provider, upserts each page, saves
    counts and heartbeat after every page, and ends Complete or with the status of
    the failure. `on_page(pull)` is called after each saved page (progress bars).
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
        status = {"current_status": P.FETCHING, "latest_pull_id": pull.pk}
        rows = DataStatus.objects.filter(connection_id=pull.connection_id, data_type=pull.data_type)
        if not rows.update(**status):
            DataStatus.objects.get_or_create(
                connection_id=pull.connection_id, data_type=pull.data_type, defaults=status
            )
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
            # The reader thread also maps each page (what is not known from its bytes).
            self.pages = Prefetch(pages, prepare=self.store.prepare)
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
            self.progress = _Progress(pull)
            try:
                for page in self.pages:
                    self._save_page(page)
            finally:
                self.close()
            self._complete()
            return True
        except _Stopped:
            logger.info("pull %s stopped: it left Fetching under the worker", pull.pk)
        except _Refused as refused:
            end_pull(pull, refused.status, refused.message, refused.detail)
        except ProviderError as error:
            end_pull(pull, ERROR_STATUS[error.kind], error.message, error.detail)
            if error.kind == ErrorKind.AUTH:
                deauthorize(pull, error.message)
        except Exception as error:
            logger.exception("pull %s failed unexpectedly", pull.pk)
            message = (
                f"The portal hit an unexpected error while storing {pull.data_type} ({type(error).__name__}). "
                "Records saved before it are kept; the technical detail says where it happened."
            )
            end_pull(pull, P.INTERNAL_ERROR, message, self._scrub(traceback.format_exc()))

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

    def _save_page(self, page):
        pull = self.pull
        # The progress is saved in the page's transaction; _Stopped from it rolls the page back.
        result = upsert_page(self.store, page, self.progress.save)
        pull.pages_fetched += 1
        pull.records_fetched += result.fetched
        pull.records_created += result.created
        pull.records_updated += result.updated
        pull.records_unchanged += result.unchanged
        if self.on_page is not None:
            self.on_page(pull)

    def _complete(self):
        pull = self.pull
        full = pull.mode == PullOperation.Mode.FULL
        ending = P.FETCHING
        if full:  # Processing: the deletion marking, which reads every stored id of the data type
            if not PullOperation.objects.filter(pk=pull.pk, status=P.FETCHING).update(
                status=P.PROCESSING, heartbeat_at=timezone.now()
            ):
                raise _Stopped
            ending = P.PROCESSING
        # An incremental read has nothing to process: Fetching -> Complete in one write.
        with transaction.atomic():
            deleted = mark_missing_deleted(self.store) if full else 0
            finished = timezone.now()
            changes = {
                "status": P.COMPLETE,
                "finished_at": finished,
                "heartbeat_at": finished,
                "records_deleted": deleted,
                "error_message": "",
                "error_detail": "",
            }
            if not PullOperation.objects.filter(pk=pull.pk, status=ending).update(**changes):
                raise _Stopped
            for name, value in changes.items():
                setattr(pull, name, value)
            _data_status_ended(pull, P.COMPLETE)
            Company.objects.filter(pk=pull.connection.company_id).update(last_synced_at=finished)
            record_event(
                pull.connection,
                ConnectionEvent.Kind.PULL_COMPLETED,
                f"{pull.data_type}: pull {pull.pk} completed: {counts_sentence(pull)}.",
                pull=pull,
                detail=counts(pull),
            )
            mark_validated(pull.connection, "sync")

    def _scrub(self, text):
        for value in self.credentials.values():
            if isinstance(value, str) and len(value) >= 4:
                text = text.replace(value, "[redacted]")
        return text


class _Progress:
    """Saves a pull's counts and heartbeat after each page, with one small UPDATE.

    The statement is made once per pull: a sync saves progress hundreds of times, and
    compiling the ORM's update each time costs more than running it. Filtered on
    Fetching, so a pull cancelled or failed by the watchdog raises _Stopped.
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

    def save(self, result):
        now = self.db.ops.adapt_datetimefield_value(timezone.now())
        params = [1, result.fetched, result.created, result.updated, result.unchanged, now, self.pull_id, P.FETCHING]
        with self.db.cursor() as cursor:
            cursor.execute(self.sql, params)
            if cursor.rowcount != 1:
                raise _Stopped  # inside the page's transaction: rolls it back, counts keep matching data


def counts(pull) -> dict:
    return {
        "pages": pull.pages_fetched,
        "fetched": pull.records_fetched,
        "created": pull.records_created,
        "updated": pull.records_updated,
        "unchanged": pull.records_unchanged,
        "deleted": pull.records_deleted,
    }


def counts_sentence(pull) -> str:
    return (
        f"{pull.records_fetched} fetched, {pull.records_created} created, {pull.records_updated} updated, "
        f"{pull.records_unchanged} unchanged, {pull.records_deleted} marked deleted"
    )


def end_pull(pull, status, message, detail="", *, statuses=RUNNING, only_if=None, actor=None) -> bool:
    """End an unfinished pull with a failure or cancellation; False when it had already ended.

    Filtered on `statuses` (and the `only_if` Q) so only one ender wins: a worker, the
    watchdog or a cancel.
    """
    with transaction.atomic():
        finished = timezone.now()
        unfinished = PullOperation.objects.filter(pk=pull.pk, status__in=statuses)
        if only_if is not None:
            unfinished = unfinished.filter(only_if)
        if not unfinished.update(status=status, finished_at=finished, error_message=message, error_detail=detail):
            return False
        pull.refresh_from_db()
        _data_status_ended(pull, status)
        verb = "was cancelled" if status == P.CANCELLED else f"ended {status}"
        record_event(
            pull.connection,
            # Cancelled is a pull that did not complete: the timeline has no kind of its own for it.
            ConnectionEvent.Kind.PULL_FAILED,
            f"{pull.data_type}: pull {pull.pk} {verb}: {message}",
            actor=actor,
            pull=pull,
            detail={"status": status, **counts(pull)},
        )
    return True


def cancel_pull(pull, *, user=None, reason="") -> bool:
    """Cancel a queued or running pull; a running one stops at its next page. Data saved stays."""
    if not reason:
        reason = f"Cancelled by {user.get_username()}." if user is not None else "Cancelled."
    return end_pull(pull, P.CANCELLED, reason, statuses=ACTIVE_PULL_STATUSES, actor=user)


cancel_pull.alters_data = True


def deauthorize(pull, reason):
    """The platform rejected the credentials: Linked → Deauthorized, other pulls stopped. Data stays."""
    connection = Connection.objects.get(pk=pull.connection_id)
    if connection.status == Connection.Status.LINKED:
        # Another pull of this connection may have got there first.
        with contextlib.suppress(connection_status.IllegalStatusMove):
            connection_status.move(connection, Connection.Status.DEAUTHORIZED, reason=reason)
    others = PullOperation.objects.filter(connection_id=pull.connection_id, status__in=ACTIVE_PULL_STATUSES)
    for other in others.exclude(pk=pull.pk):
        cancel_pull(other, reason=f"Stopped. {reason}")


def _data_status_ended(pull, status):
    rows = DataStatus.objects.filter(connection_id=pull.connection_id, data_type=pull.data_type)
    changes = {"current_status": status, "latest_pull_id": pull.pk}
    if status == P.COMPLETE:
        changes.update(
            last_successful_sync_at=pull.finished_at,
            latest_successful_pull_id=pull.pk,
            last_successful_started_at=pull.started_at,
            failures_in_row=0,
        )
    elif status in FAILED_PULL_STATUSES:
        changes["failures_in_row"] = F("failures_in_row") + 1
    # Its stale_after follows the last success: saved in the same UPDATE after one; after
    # any other end, recomputed (the connection or integration may have changed since).
    if status == P.COMPLETE:
        using = router.db_for_write(DataStatus)
        changes.update(after_success(pull.connection_id, pull.data_type, pull.finished_at, using))
    if not rows.update(**changes):
        DataStatus.objects.get_or_create(connection_id=pull.connection_id, data_type=pull.data_type)
        rows.update(**changes)
    if status != P.COMPLETE:
        refresh_data_status(pull.connection_id, pull.data_type)


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
                    PullOperation.objects.filter(pk=self.pull_id, status__in=RUNNING).update(
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
