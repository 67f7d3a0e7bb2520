"""The sync engine, `pulls.sync()`, run in-process against the sandbox over real HTTP."""

import hashlib
import json

import pytest
from django.db import IntegrityError, transaction
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from connections.credentials import store_credentials
from connections.models import Connection, ConnectionEvent, DataStatus, PullOperation, Record
from connections.sync import pending
from connections.sync import store as record_store
from connections.sync.outcomes import cancel_pull
from connections.sync.pulls import sync
from connections.sync.queueing import queue_pull
from connections.sync.store import content_hash
from integrations.registry import NormalizedRecord
from tests import factory

P = PullOperation.Status
SMALL = {"customers": 7, "suppliers": 4, "both": 1, "invoices": 130, "bills": 12, "projects": 3}


@pytest.fixture(autouse=True)
def fast_retries(settings):
    settings.CLEARBOOKS_RETRY_BASE_DELAY = 0.01
    settings.CLEARBOOKS_RETRY_MAX_DELAY = 0.05
    settings.CLEARBOOKS_RETRY_ATTEMPTS = 5


def linked(sandbox, **spec):
    key = sandbox.make_key(seed=spec.pop("seed", "pulls"), anchor="2025-06-01", **spec)
    connection = factory.make_connection()
    store_credentials(connection, {"api_key": key}, validated_by="link")
    return connection, key


def run(connection, data_type, *, full=False, trigger=PullOperation.Trigger.MANUAL):
    pull, created = queue_pull(connection, data_type, trigger, full=full, enqueue=False)
    assert created
    return sync(pull)


def stored(connection, data_type, **filters):
    return Record.objects.filter(connection=connection, data_type=data_type, **filters)


def test_it_reads_every_record_of_a_data_type_with_exact_counts(clearbooks, sandbox):
    connection, key = linked(sandbox, **SMALL)
    pull = run(connection, "invoices", full=True)

    assert pull.status == P.COMPLETE, pull.error_detail
    assert pull.pages_fetched == 2  # 100 + 30; the empty page ends the read
    assert (pull.records_fetched, pull.records_created, pull.records_updated, pull.records_unchanged) == (
        130,
        130,
        0,
        0,
    )
    assert stored(connection, "invoices").count() == sandbox.counts(key)["invoices"] == 130
    assert pull.started_at <= pull.finished_at and pull.mode == PullOperation.Mode.FULL


def test_it_writes_nothing_when_the_books_have_not_changed(clearbooks, sandbox):
    connection, _ = linked(sandbox, **SMALL)
    run(connection, "invoices", full=True)
    before = dict(stored(connection, "invoices").values_list("remote_id", "updated_at"))

    again = run(connection, "invoices")

    assert again.status == P.COMPLETE
    assert (again.records_fetched, again.records_created, again.records_updated, again.records_unchanged) == (
        130,
        0,
        0,
        130,
    )
    assert dict(stored(connection, "invoices").values_list("remote_id", "updated_at")) == before


def test_it_counts_exactly_the_changed_invoices_by_content_hash(clearbooks, sandbox):
    connection, key = linked(sandbox, **SMALL)
    run(connection, "invoices", full=True)
    touched = set(sandbox.touch(key, "invoices", 6))

    again = run(connection, "invoices")

    # Invoices cannot be read incrementally: a full read, written only where the hash differs.
    assert again.mode == PullOperation.Mode.FULL
    assert (again.records_updated, again.records_unchanged, again.records_created) == (6, 124, 0)
    assert set(stored(connection, "invoices", last_pull=again).values_list("remote_id", flat=True)) == touched
    reference = stored(connection, "invoices", remote_id=next(iter(touched))).get().attributes["reference"]
    assert "/r" in reference


def test_it_reads_entities_incrementally_from_the_last_good_pull(clearbooks, sandbox):
    connection, key = linked(sandbox, **SMALL)
    first = run(connection, "customers", full=True)
    touched = set(sandbox.touch(key, "customers", 3))

    again = run(connection, "customers")

    assert first.records_created == 7
    assert again.status == P.COMPLETE
    assert again.mode == PullOperation.Mode.INCREMENTAL
    assert again.modified_since < first.started_at
    assert (again.records_fetched, again.records_updated, again.records_created) == (3, 3, 0)
    assert set(stored(connection, "customers", last_pull=again).values_list("remote_id", flat=True)) == touched
    assert again.records_deleted == 0


def test_it_marks_records_gone_remotely_as_deleted_and_keeps_them(clearbooks, sandbox):
    connection, key = linked(sandbox, **SMALL)
    run(connection, "bills", full=True)
    gone = set(sandbox.delete(key, "bills", 2))

    again = run(connection, "bills", full=True)

    assert again.records_deleted == 2
    assert again.records_fetched == 10
    assert set(stored(connection, "bills", is_deleted=True).values_list("remote_id", flat=True)) == gone
    assert stored(connection, "bills").count() == 12  # kept, flagged

    third = run(connection, "bills", full=True)
    assert (third.records_deleted, third.records_updated, third.records_unchanged) == (0, 0, 10)


def test_it_undeletes_a_record_that_reappears(clearbooks, sandbox):
    connection, _ = linked(sandbox, **SMALL)
    run(connection, "trackingCategories", full=True)
    record = stored(connection, "trackingCategories").first()
    Record.objects.filter(pk=record.pk).update(is_deleted=True)

    again = run(connection, "trackingCategories", full=True)

    assert again.records_updated == 1 and again.records_unchanged == 2
    assert not Record.objects.get(pk=record.pk).is_deleted


def test_it_keeps_the_status_of_voided_invoices(clearbooks, sandbox):
    connection, key = linked(sandbox, invoices=50, voided=4, customers=2, suppliers=1, both=0)
    run(connection, "invoices", full=True)

    remote = sandbox.statuses(key, "invoices")
    assert remote.get("voided") == 4
    voided = stored(connection, "invoices").filter(attributes__status="voided")
    assert voided.count() == 4
    assert set(voided.values_list("status", flat=True)) == {"Void"}


def test_the_database_allows_one_active_pull_per_connection_and_data_type(clearbooks):
    connection = factory.make_connection()
    factory.make_pull(connection, "invoices", status=P.QUEUED)
    with pytest.raises(IntegrityError), transaction.atomic():
        factory.make_pull(connection, "invoices", status=P.FETCHING)
    # Another data type, or a finished pull, is fine.
    factory.make_pull(connection, "bills", status=P.QUEUED)
    factory.make_pull(connection, "invoices", status=P.COMPLETE)


def test_it_does_nothing_for_a_pull_that_is_no_longer_queued(clearbooks, sandbox):
    connection, key = linked(sandbox, **SMALL)
    pull = run(connection, "paymentMethods")
    calls = sandbox.calls(key)

    again = sync(PullOperation.objects.get(pk=pull.pk))  # a second delivery of the same task

    assert again.status == P.COMPLETE and again.finished_at == pull.finished_at
    assert sandbox.calls(key) == calls
    assert stored(connection, "paymentMethods").count() == 5


def test_a_cancelled_pull_stops_between_pages_and_keeps_what_it_saved(clearbooks, sandbox, settings):
    settings.SYNC_SAVE_SECONDS = 0  # every page saved on its own
    connection, _ = linked(sandbox, **SMALL)
    pull, _ = queue_pull(connection, "invoices", PullOperation.Trigger.MANUAL, full=True, enqueue=False)

    def cancel_after_first_page(running):
        cancel_pull(PullOperation.objects.get(pk=running.pk), reason="Cancelled by the test.")

    ended = sync(pull, on_page=cancel_after_first_page)

    assert ended.status == P.CANCELLED
    assert ended.error_message == "Cancelled by the test."
    assert ended.pages_fetched == 1 and ended.records_created == 100
    assert stored(connection, "invoices").count() == 100
    assert DataStatus.objects.get(connection=connection, data_type="invoices").current_status == P.CANCELLED


def test_it_ends_not_supported_for_a_data_type_the_provider_lacks(clearbooks, sandbox):
    connection, key = linked(sandbox, **SMALL)
    pull = run(connection, "journals")

    assert pull.status == P.NOT_SUPPORTED
    assert "journals" in pull.error_message
    assert sandbox.calls(key) == 0
    status = DataStatus.objects.get(connection=connection, data_type="journals")
    assert status.failures_in_row == 1 and status.current_status == P.NOT_SUPPORTED


def test_it_updates_data_status_company_and_timeline_on_completion(clearbooks, sandbox):
    connection, _ = linked(sandbox, **SMALL)
    pull = run(connection, "chartOfAccounts")

    status = DataStatus.objects.get(connection=connection, data_type="chartOfAccounts")
    assert status.current_status == P.COMPLETE
    assert status.latest_pull_id == status.latest_successful_pull_id == pull.pk
    assert status.last_successful_sync_at == pull.finished_at
    assert status.last_successful_started_at == pull.started_at
    assert status.failures_in_row == 0
    connection.company.refresh_from_db()
    assert connection.company.last_synced_at == pull.finished_at
    kinds = list(ConnectionEvent.objects.filter(pull=pull).values_list("kind", flat=True))
    assert sorted(kinds) == sorted(["pull_queued", "pull_started", "pull_completed"])
    completed = ConnectionEvent.objects.get(pull=pull, kind="pull_completed")
    assert completed.detail["created"] == pull.records_created == 79


def test_it_sets_expected_records_from_the_previous_complete_pull(clearbooks, sandbox):
    connection, _ = linked(sandbox, **SMALL)
    first = run(connection, "bills", full=True)
    second = run(connection, "bills", full=True)
    assert first.expected_records is None
    assert second.expected_records == 12


def test_a_persistent_server_error_ends_fetch_error_and_counts_the_failure(clearbooks, sandbox):
    connection, key = linked(sandbox, **SMALL)
    sandbox.fail_next("http500", count=50, key=key)

    pull = run(connection, "customers", full=True)

    assert pull.status == P.FETCH_ERROR
    assert pull.error_message and pull.error_detail
    assert key not in pull.error_message + pull.error_detail
    assert DataStatus.objects.get(connection=connection, data_type="customers").failures_in_row == 1
    connection.refresh_from_db()
    assert connection.status == Connection.Status.LINKED


def test_a_few_server_errors_are_retried_and_the_counts_stay_exact(clearbooks, sandbox):
    connection, _ = linked(sandbox, **SMALL)
    sandbox.configure(failure_rate=0.2)

    pull = run(connection, "invoices", full=True)

    assert pull.status == P.COMPLETE, pull.error_detail
    assert pull.records_created == 130
    assert stored(connection, "invoices").count() == 130


def test_a_revoked_key_ends_auth_error_deauthorizes_and_stops_other_pulls(clearbooks, sandbox):
    connection, key = linked(sandbox, **SMALL)
    run(connection, "customers", full=True)
    waiting, _ = queue_pull(connection, "bills", PullOperation.Trigger.MANUAL, enqueue=False)
    sandbox.revoke(key, after_calls=1)

    pull = run(connection, "invoices", full=True)

    assert pull.status == P.AUTH_ERROR
    assert "relink" in pull.error_message
    connection.refresh_from_db()
    assert connection.status == Connection.Status.DEAUTHORIZED
    assert connection.status_reason == pull.error_message
    waiting.refresh_from_db()
    assert waiting.status == P.CANCELLED
    assert stored(connection, "customers").count() == 7  # data kept
    assert key not in pull.error_detail


def test_it_never_runs_a_pull_for_a_connection_that_is_not_linked(clearbooks, sandbox):
    connection, key = linked(sandbox, **SMALL)
    pull, _ = queue_pull(connection, "customers", PullOperation.Trigger.MANUAL, enqueue=False)
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.DEAUTHORIZED)

    ended = sync(pull)

    assert ended.status == P.CANCELLED
    assert "Deauthorized" in ended.error_message
    assert sandbox.calls(key) == 0


def test_an_unexpected_error_ends_internal_error_with_a_traceback_but_no_key(clearbooks, sandbox, monkeypatch):
    connection, key = linked(sandbox, **SMALL)

    def broken(*args, **kwargs):
        raise RuntimeError(f"boom while talking with key {key}")

    monkeypatch.setattr(pending.PendingPages, "save", broken)
    pull = run(connection, "paymentMethods")

    assert pull.status == P.INTERNAL_ERROR
    assert "RuntimeError" in pull.error_message
    assert "Traceback" in pull.error_detail and "[redacted]" in pull.error_detail
    assert key not in pull.error_detail and key not in pull.error_message


@pytest.mark.parametrize("trigger", [PullOperation.Trigger.MANUAL, PullOperation.Trigger.RETRY])
def test_a_lost_database_connection_ends_the_pull_and_queues_it_again_once(clearbooks, sandbox, monkeypatch, trigger):
    # The database cannot be taken away under an in-process test (tests/production/test_faults.py
    # kills the real backends on PostgreSQL): the page store raises what psycopg raises then.
    from django.db import OperationalError

    connection, _ = linked(sandbox, **SMALL)

    def lost(*args, **kwargs):
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(pending.PendingPages, "save", lost)
    pull = run(connection, "paymentMethods", full=True, trigger=trigger)

    assert pull.status == P.INTERNAL_ERROR
    assert pull.error_message.startswith("The database connection was lost while storing paymentMethods.")
    assert "OperationalError" in pull.error_detail
    queued = PullOperation.objects.filter(connection=connection, status=P.QUEUED)
    if trigger == PullOperation.Trigger.RETRY:  # a retry that meets it again is not retried: no loop
        assert pull.error_message.endswith("Records saved before it are kept.")
        assert not queued.exists()
    else:
        assert pull.error_message.endswith("the pull was queued again.")
        (again,) = queued
        assert (again.data_type, again.trigger, again.mode) == ("paymentMethods", "retry", PullOperation.Mode.FULL)


def test_content_hash_changes_with_any_attribute_and_ignores_key_order():
    one = NormalizedRecord(id="1", number="INV1", attributes={"a": "1", "b": "2"})
    same = NormalizedRecord(id="1", number="INV1", attributes={"b": "2", "a": "1"})
    other = NormalizedRecord(id="1", number="INV1", attributes={"a": "1", "b": "3"})
    assert content_hash(one) == content_hash(same)
    assert content_hash(one) != content_hash(other)


def test_content_hash_of_ascii_records_is_the_one_earlier_versions_stored():
    # The stored hashes of ASCII records must keep matching, or every record is rewritten once.
    record = NormalizedRecord(
        id="7", number="INV7", name='Smith & "Sons"', attributes={"b": "x\ty", "a": [{"z": None}]}
    )
    head = repr((record.number, record.name, None, None, None, None, None, "", "", ""))
    text = json.dumps(record.attributes, sort_keys=True, separators=(",", ":"))
    assert content_hash(record) == hashlib.sha256(f"{head}\n{text}".encode()).hexdigest()


def test_attributes_with_other_characters_are_stored_and_read_back_as_received(clearbooks):
    pull = factory.make_pull(factory.make_connection(), "customers", P.FETCHING, mode=PullOperation.Mode.FULL)
    store = record_store.PageStore(pull)
    attributes = {"company_name": "Café Zoë Ltd £", "notes": "naïve \u2013 ok"}
    upsert = pending.upsert_page(
        store, [NormalizedRecord(id="1", name="Café", attributes=attributes)], lambda *counts: 0
    )

    assert upsert.created == 1
    assert Record.objects.get(connection_id=pull.connection_id, remote_id="1").attributes == attributes


def test_a_page_written_in_several_statements_stores_every_record_once(clearbooks, sandbox, monkeypatch):
    monkeypatch.setattr(record_store, "BATCH_SIZE", 7)  # rows per statement: 130 invoices take 19 statements
    connection, key = linked(sandbox, **SMALL)

    pull = run(connection, "invoices", full=True)
    sandbox.touch(key, "invoices", 9)
    again = run(connection, "invoices")

    assert (pull.records_created, again.records_updated, again.records_unchanged) == (130, 9, 121)
    assert stored(connection, "invoices").count() == 130
    assert stored(connection, "invoices", last_pull=again).count() == 9


def record_statements(queries):
    return [q["sql"] for q in queries if "connections_record" in q["sql"]]


def test_an_unchanged_book_only_reads_hashes_of_its_records_and_saves_progress_per_page(clearbooks, sandbox, settings):
    settings.SYNC_SAVE_SECONDS = 0  # every page saved on its own
    connection, _ = linked(sandbox, **SMALL)
    run(connection, "invoices", full=True)
    pull, _ = queue_pull(connection, "invoices", PullOperation.Trigger.MANUAL, enqueue=False)
    progress = []

    with CaptureQueriesContext(db_connection) as queries:
        again = sync(pull, on_page=lambda running: progress.append(running.records_unchanged))

    assert (again.records_unchanged, again.records_updated, again.pages_fetched) == (130, 0, 2)
    assert progress == [100, 130]
    statements = record_statements(queries.captured_queries)
    assert statements and all(sql.startswith("SELECT") for sql in statements), statements
    assert not any("attributes" in sql for sql in statements)  # hashes only, never whole rows


def test_a_cancel_stops_a_pull_at_its_next_page_even_when_that_page_is_unchanged(clearbooks, sandbox, settings):
    settings.SYNC_SAVE_SECONDS = 0  # every page saved on its own
    connection, _ = linked(sandbox, **SMALL)
    run(connection, "invoices", full=True)
    pull, _ = queue_pull(connection, "invoices", PullOperation.Trigger.MANUAL, enqueue=False)

    def cancel_after_first_page(running):
        cancel_pull(PullOperation.objects.get(pk=running.pk), reason="Cancelled by the test.")

    ended = sync(pull, on_page=cancel_after_first_page)

    assert ended.status == P.CANCELLED
    assert (ended.pages_fetched, ended.records_unchanged) == (1, 100)  # the second page's progress was refused


def test_a_changed_record_is_rewritten_whole_and_keeps_its_creation_time(clearbooks, sandbox):
    connection, key = linked(sandbox, **SMALL)
    run(connection, "customers", full=True)
    touched = sandbox.touch(key, "customers", 1)[0]
    before = stored(connection, "customers", remote_id=touched).get()

    again = run(connection, "customers")

    after = stored(connection, "customers", remote_id=touched).get()
    assert again.records_updated == 1
    assert after.pk == before.pk and after.created_at == before.created_at
    assert after.updated_at > before.updated_at and after.last_pull_id == again.pk
    assert after.content_hash != before.content_hash and after.attributes != before.attributes
    assert stored(connection, "customers").count() == 7


def test_a_full_read_into_an_empty_book_counts_every_record_as_created_once(clearbooks, sandbox):
    connection, _ = linked(sandbox, **SMALL)
    other, _ = linked(sandbox, seed="other", **SMALL)
    run(other, "invoices", full=True)  # another connection's records: this book is still empty

    pull = run(connection, "invoices", full=True)

    assert (pull.records_created, pull.records_deleted) == (130, 0)
    assert stored(connection, "invoices").values("remote_id").distinct().count() == 130
    assert stored(other, "invoices").count() == 130


def test_a_small_incremental_pull_runs_a_bounded_number_of_queries(clearbooks, sandbox):
    connection, key = linked(sandbox, **SMALL)
    run(connection, "customers", full=True)
    sandbox.touch(key, "customers", 3)
    pull, _ = queue_pull(connection, "customers", PullOperation.Trigger.MANUAL, enqueue=False)

    with CaptureQueriesContext(db_connection) as queries:
        again = sync(pull)

    assert (again.mode, again.records_updated) == (PullOperation.Mode.INCREMENTAL, 3)
    # Its fixed cost is most of a small pull: the claim, one page and the ending, each table written once per step.
    # 21, savepoints included: the data status's schedule is saved in the UPDATE that saves its success.
    # 22: the pull's end asks once whether any webhook endpoint listens (connections.webhooks.receivers).
    assert len(queries.captured_queries) <= 22, [q["sql"][:80] for q in queries.captured_queries]


#
# Re-reads recognise unchanged records by their bytes
#


@pytest.fixture
def mapped(monkeypatch):
    """How many records the Clear Books mapping maps (the real function, counted)."""
    from integrations.clearbooks import mapping

    counted = []
    real = mapping.map_elements

    def counting(data_type, elements, currencies=None):
        counted.append(len(elements))
        return real(data_type, elements, currencies)

    monkeypatch.setattr(mapping, "map_elements", counting)
    return counted


def test_a_full_re_read_maps_only_the_records_whose_bytes_changed(clearbooks, sandbox, mapped):
    connection, key = linked(sandbox, **SMALL)
    first = run(connection, "invoices", full=True)
    assert sum(mapped) == 130 and stored(connection, "invoices", wire_hash="").count() == 0
    touched = sandbox.touch(key, "invoices", 3)
    mapped.clear()

    again = run(connection, "invoices")

    assert (again.records_fetched, again.records_updated, again.records_unchanged) == (130, 3, 127)
    assert sum(mapped) == 3
    assert sorted(stored(connection, "invoices", last_pull=again).values_list("remote_id", flat=True)) == sorted(
        touched
    )
    assert stored(connection, "invoices", last_pull=first).count() == 127


def test_records_stored_without_wire_hashes_are_compared_in_full_once_and_not_rewritten(clearbooks, sandbox, mapped):
    connection, _ = linked(sandbox, **SMALL)
    run(connection, "invoices", full=True)
    stored(connection, "invoices").update(wire_hash="")  # as stored before wire hashes existed
    before = dict(stored(connection, "invoices").values_list("remote_id", "updated_at"))
    mapped.clear()

    again = run(connection, "invoices")

    assert (again.records_updated, again.records_unchanged) == (0, 130)
    assert sum(mapped) == 130  # each compared by its content hash
    assert dict(stored(connection, "invoices").values_list("remote_id", "updated_at")) == before
    assert stored(connection, "invoices", wire_hash="").count() == 0
    mapped.clear()
    assert run(connection, "invoices").records_unchanged == 130 and sum(mapped) == 0


def test_a_broken_answer_in_a_re_read_ends_fetch_error_and_keeps_every_record(clearbooks, sandbox, settings):
    settings.SYNC_SAVE_SECONDS = 60  # the first page is still waiting to be saved when the second fails
    connection, key = linked(sandbox, **SMALL)
    first = run(connection, "invoices", full=True)
    before = dict(stored(connection, "invoices").values_list("remote_id", "content_hash"))
    sandbox.fail_next(kind="malformed", count=1, key=key, operation="listInvoices", after=1)  # the second page

    again = run(connection, "invoices")

    assert again.status == P.FETCH_ERROR and "couldn't read" in again.error_message
    assert (again.pages_fetched, again.records_unchanged, again.records_deleted) == (1, 100, 0)
    assert dict(stored(connection, "invoices", is_deleted=False).values_list("remote_id", "content_hash")) == before
    assert stored(connection, "invoices", last_pull=first).count() == 130


def progress_writes(queries):
    return [q["sql"] for q in queries if q["sql"].startswith("UPDATE") and "records_fetched" in q["sql"]]


@pytest.mark.parametrize(("seconds", "rows", "saves"), [(60, 500, [130]), (60, 100, [100, 130]), (0, 500, [100, 130])])
def test_pages_are_saved_together_with_their_counts_when_a_save_is_due(
    clearbooks, sandbox, settings, seconds, rows, saves
):
    # A save is due SYNC_SAVE_SECONDS after the last one, or once SYNC_SAVE_ROWS records wait.
    settings.SYNC_SAVE_SECONDS, settings.SYNC_SAVE_ROWS = seconds, rows
    connection, _ = linked(sandbox, **SMALL)
    pull, _ = queue_pull(connection, "invoices", PullOperation.Trigger.MANUAL, full=True, enqueue=False)
    progress = []

    with CaptureQueriesContext(db_connection) as queries:
        ended = sync(pull, on_page=lambda running: progress.append(running.records_created))

    assert progress == saves
    assert len(progress_writes(queries.captured_queries)) == len(saves)
    assert (ended.status, ended.pages_fetched, ended.records_created) == (P.COMPLETE, 2, 130)
    assert stored(connection, "invoices").count() == 130


def test_a_cancel_rolls_back_the_pages_read_since_the_last_save_and_keeps_the_saved_ones(clearbooks, sandbox, settings):
    settings.SYNC_SAVE_SECONDS, settings.SYNC_SAVE_ROWS = 60, 200  # a save every two pages of invoices
    connection, _ = linked(sandbox, **{**SMALL, "invoices": 350})
    pull, _ = queue_pull(connection, "invoices", PullOperation.Trigger.MANUAL, full=True, enqueue=False)

    def cancel_after_first_save(running):
        cancel_pull(PullOperation.objects.get(pk=running.pk), reason="Cancelled by the test.")

    ended = sync(pull, on_page=cancel_after_first_save)

    assert ended.status == P.CANCELLED
    assert (ended.pages_fetched, ended.records_fetched, ended.records_created) == (2, 200, 200)
    assert stored(connection, "invoices").count() == 200  # pages 3 and 4 were read, then rolled back


def test_a_large_first_read_on_postgresql_gives_the_planner_statistics_at_once(clearbooks, sandbox, monkeypatch):
    # Without statistics PostgreSQL may look a re-read's few records up through a browsing index
    # and read every record of the data type (connections/sync/statistics.py).
    if db_connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's planner statistics (make test-postgres)")
    from connections.sync import statistics

    monkeypatch.setattr(statistics, "LARGE_FIRST_READ", 100)

    def counted():
        with db_connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'connections_record'::regclass")
            return cursor.fetchone()[0]

    # More invoices than the statistics count (-1 when never analysed; other tests' rows may be).
    invoices = max(int(counted()), 0) + 150
    connection, _ = linked(sandbox, **{**SMALL, "invoices": invoices})

    pull = run(connection, "invoices", full=True)

    assert pull.records_created == invoices
    assert counted() >= invoices
    monkeypatch.setattr(statistics, "LARGE_FIRST_READ", 1)
    assert not statistics.after_first_read(int(counted()) // 10 - 1)  # a small share: not analysed again
