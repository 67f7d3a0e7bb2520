"""Writing pages of records: upserts by content hash, and deletion marking.

The sync engine (`pulls.py`) makes one `PageStore` per pull and hands it each page.
Only what changed is written: a record whose content hash matches the stored one
costs a read of its hash, never a write, and a page with nothing to write opens no
write transaction at all (only the pull's progress is saved), so an unchanged book
writes nothing but progress.

A full read of a book already stored goes faster still: the provider hands over pages
unparsed (WirePages) with a hash of each record's bytes, and a record whose bytes match
the wire hash stored with it is unchanged without being parsed, mapped or encoded
(`prepare`, in the reader thread). Only the others are compared by content hash.

New and changed records are written by `Upsert`, plain SQL made once per pull, many
rows to a statement: a sync stores tens of thousands of records, and `bulk_create`
(`update_conflicts=True`) doubled the CPU a whole sync costs (benchmarks/README.md).
Everything else here is the ORM's.
"""

import hashlib
import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

import orjson
import psycopg
from django.db import connections, router
from django.utils import timezone

from integrations.registry import WirePage

from ..models import Record

INSERT_FIELDS = (
    "connection",
    "data_type",
    "remote_id",
    "number",
    "name",
    "issued_on",
    "due_on",
    "remote_modified_at",
    "total",
    "balance",
    "currency",
    "status",
    "related_id",
    "attributes",
    "content_hash",
    "wire_hash",
    "is_deleted",
    "last_pull",
    "created_at",
    "updated_at",
)
UNIQUE_FIELDS = ("connection", "data_type", "remote_id")
# Columns rewritten when a record changed (or reappeared after being marked deleted).
UPDATE_FIELDS = [name for name in INSERT_FIELDS if name not in (*UNIQUE_FIELDS, "created_at")]
BATCH_SIZE = 500
SELECT_BATCH = 900  # remote ids per lookup: under SQLite's oldest parameter limit (999)
# Field lengths of Record: a platform sending a longer value must not fail the page.
LIMITS = {"remote_id": 100, "number": 100, "name": 300, "currency": 3, "status": 40, "related_id": 100}


def _to_json(value) -> bytes:
    """Canonical JSON (sorted keys, no spaces, UTF-8) of a record's attributes.

    orjson, not the standard library: a sync encodes every record it reads (to compare
    hashes), and that is most of a sync's own work. For ASCII text its bytes are exactly
    json.dumps(sort_keys=True, separators=(",", ":"))'s, so hashes stored by earlier
    versions still match; text with other characters is written as UTF-8, not \\u escapes.
    """
    return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS)


@dataclass
class KnownPage:
    """A WirePage after `PageStore.prepare`: its unknown records mapped, the known ones by id."""

    records: list
    unchanged: list  # remote ids of the records whose bytes matched their stored wire hash


class _Stored(NamedTuple):
    pk: int
    content_hash: str
    is_deleted: bool
    wire_hash: str


@dataclass
class PageResult:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def encode(record) -> tuple[str, str]:
    """(content hash, attributes as JSON text) of a NormalizedRecord.

    The hash covers the normalized fields and every attribute as received, so any
    change the platform makes (even to a field we do not show) counts as an update;
    keys are sorted, so their order does not. The JSON text is made once: hashed
    here, and stored as is. The formula must not change: stored hashes are compared
    with it, and a new formula would rewrite every record once.
    """
    data = _to_json(record.attributes)
    head = repr(
        (
            record.number,
            record.name,
            record.issued_on,
            record.due_on,
            record.modified_at,
            record.total,
            record.balance,
            record.currency,
            record.status,
            record.related_id,
        )
    )
    return hashlib.sha256(b"%s\n%s" % (head.encode(), data)).hexdigest(), data.decode()


def content_hash(record) -> str:
    return encode(record)[0]


class PageStore:
    """Stores the pages of one pull: remembers the ids read and whether the book started empty."""

    def __init__(self, pull):
        self.pull = pull
        self.upsert = Upsert(pull)
        self.db = self.upsert.db
        self.seen = set()  # remote ids read: for deletion marking and de-duplication
        self.records = Record.objects.using(self.db.alias).filter(
            connection_id=pull.connection_id, data_type=pull.data_type
        )
        # Nothing stored yet (a first full read): every record read is new, and none can go
        # missing. Not asked for an incremental read, whose few records are looked up anyway.
        self.started_empty = pull.mode == pull.Mode.FULL and not self.records.exists()
        # A full read of a book already stored: pages come unparsed (WirePages), and a record
        # whose bytes match the wire hash stored with it is known unchanged without parsing.
        self.lazy = pull.mode == pull.Mode.FULL and not self.started_empty
        self.known = self._known_wire_hashes() if self.lazy else {}

    def _known_wire_hashes(self) -> dict:
        """{wire hash: remote id} of the stored, not deleted records of this data type.

        Read once per full read (tens of bytes per record), so each page's records are
        recognised with no query at all.
        """
        known = self.records.filter(is_deleted=False).exclude(wire_hash="")
        return dict(known.order_by().values_list("wire_hash", "remote_id"))

    def prepare(self, page):
        """Map what a WirePage holds that is not known (in the reader thread: no queries)."""
        if not isinstance(page, WirePage):
            return page
        known = self.known
        skip = {i for i, wire in enumerate(page.wire_hashes) if wire in known}
        return KnownPage(page.records(skip), [known[page.wire_hashes[i]] for i in sorted(skip)])

    def compare(self, page) -> tuple[PageResult, list, list]:
        """Counts of one page, the rows to write (new and changed records, for `Upsert`) and
        the records whose wire hash to refresh (unchanged, but come as other bytes); reads only.

        A record repeated by a later page (platforms shift their windows when data
        changes while paging) is counted and written once.
        """
        seen = self.seen
        known = 0
        if isinstance(page, KnownPage):  # records recognised by their bytes: unchanged
            for remote_id in page.unchanged:
                if remote_id not in seen:
                    seen.add(remote_id)
                    known += 1
            page = page.records
        incoming = {}
        for record in page:
            remote_id = str(record.id)[: LIMITS["remote_id"]]
            if remote_id in seen or remote_id in incoming:
                continue
            incoming[remote_id] = record
        seen.update(incoming)
        result = PageResult(fetched=known + len(incoming))
        stored = {} if self.started_empty or not incoming else self._stored(list(incoming))
        changed, rehash = [], []
        for remote_id, record in incoming.items():
            row = stored.get(remote_id)
            if row is not None and not row.is_deleted and record.wire_hash and record.wire_hash == row.wire_hash:
                continue  # the very bytes stored last time: unchanged, without encoding it
            digest, text = encode(record)
            if row is None:
                result.created += 1
            elif row.content_hash != digest or row.is_deleted:  # changed, or back after being marked deleted
                result.updated += 1
            else:
                if record.wire_hash and record.wire_hash != row.wire_hash:
                    rehash.append(Record(pk=row.pk, wire_hash=record.wire_hash[:40]))
                continue
            changed.append((remote_id, digest, text, record))
        result.unchanged = result.fetched - result.created - result.updated
        return result, self.upsert.rows(changed), rehash

    def _stored(self, remote_ids) -> dict[str, _Stored]:
        stored = {}
        columns = ("remote_id", "pk", "content_hash", "is_deleted", "wire_hash")
        for start in range(0, len(remote_ids), SELECT_BATCH):
            batch = self.records.filter(remote_id__in=remote_ids[start : start + SELECT_BATCH])
            for remote_id, *row in batch.order_by().values_list(*columns):
                stored[remote_id] = _Stored(*row)
        return stored

    def write(self, rows):
        """Insert or rewrite the rows made by `compare`. Call inside a transaction."""
        self.upsert.write(rows)

    def rehash(self, records):
        """Store the new wire hashes of unchanged records (from `compare`). Call inside a transaction."""
        Record.objects.using(self.db.alias).bulk_update(records, ["wire_hash"], batch_size=BATCH_SIZE)


class Upsert:
    """New and changed records of one pull, many to a statement: INSERT … ON CONFLICT DO UPDATE.

    The unique (connection, data_type, remote_id) turns a changed record into an update
    that keeps its created_at. The statements are made once per pull, and the values are
    adapted by the same backend operations the fields use.
    """

    def __init__(self, pull):
        self.pull = pull
        self.db = connections[router.db_for_write(Record)]
        ops, meta = self.db.ops, Record._meta
        self.ops = ops
        self.connection_id = meta.get_field("connection").get_db_prep_save(pull.connection_id, self.db)
        self._amount_field = meta.get_field("total")

        def column(name):
            return ops.quote_name(meta.get_field(name).column)

        # PostgreSQL keeps JSON as jsonb: the text made for the hash is cast there, not dumped again.
        jsonb = self.db.vendor == "postgresql"
        placeholders = ["%s::jsonb" if n == "attributes" and jsonb else "%s" for n in INSERT_FIELDS]
        updates = ", ".join(f"{column(n)} = excluded.{column(n)}" for n in UPDATE_FIELDS)
        table = ops.quote_name(meta.db_table)
        self._head = f"INSERT INTO {table} ({', '.join(column(n) for n in INSERT_FIELDS)}) VALUES "
        self._row_placeholders = f"({', '.join(placeholders)})"
        self._casts = ["::jsonb" if n == "attributes" and jsonb else "" for n in INSERT_FIELDS]
        self._tail = f" ON CONFLICT ({', '.join(column(n) for n in UNIQUE_FIELDS)}) DO UPDATE SET {updates}"
        self.rows_per_statement = max(1, min(BATCH_SIZE, _max_params(self.db) // len(INSERT_FIELDS)))
        self._statements = {}  # rows in a statement -> its SQL
        # PostgreSQL: bound on the server and prepared (see write).
        self.prepared = self.db.vendor == "postgresql"

    def rows(self, changed) -> list[tuple]:
        """The rows (values of INSERT_FIELDS) of (remote id, content hash, attributes JSON, record)."""
        if not changed:
            return []
        now = self.ops.adapt_datetimefield_value(timezone.now())
        return [self._row(remote_id, digest, text, record, now) for remote_id, digest, text, record in changed]

    def _amount(self, value):
        # A Decimal goes in as it is (what DecimalField would hand over); anything else takes the field's way.
        if value is None or (type(value) is Decimal and value.is_finite()):
            return value
        return self._amount_field.get_db_prep_save(value, self.db)

    def _row(self, remote_id, digest, text, record, now):
        ops = self.ops
        return (
            self.connection_id,
            self.pull.data_type,
            remote_id,
            (record.number or "")[: LIMITS["number"]],
            (record.name or "")[: LIMITS["name"]],
            ops.adapt_datefield_value(record.issued_on),
            ops.adapt_datefield_value(record.due_on),
            ops.adapt_datetimefield_value(record.modified_at),
            self._amount(record.total),
            self._amount(record.balance),
            (record.currency or "")[: LIMITS["currency"]],
            (record.status or "")[: LIMITS["status"]],
            str(record.related_id or "")[: LIMITS["related_id"]],
            text,
            digest,
            record.wire_hash[:40],
            False,
            self.pull.pk,
            now,  # created_at: an update keeps the stored one
            now,
        )

    def sql(self, count: int) -> str:
        """The upsert of `count` rows in one statement."""
        sql = self._statements.get(count)
        if sql is None:
            rows = self._numbered_rows(count) if self.prepared else [self._row_placeholders] * count
            sql = self._statements[count] = self._head + ", ".join(rows) + self._tail
        return sql

    def _numbered_rows(self, count):
        """`($1, $2, …), ($21, …)`: PostgreSQL's own placeholders, for a RawCursor (see _cursor)."""
        width = len(INSERT_FIELDS)
        return [
            "(" + ", ".join(f"${row * width + i + 1}{cast}" for i, cast in enumerate(self._casts)) + ")"
            for row in range(count)
        ]

    def write(self, rows):
        """Insert or rewrite `rows`. Call inside a transaction.

        Many rows go in one statement, not one statement per row (`executemany`): the
        database then does its work for a whole batch without the interpreter lock, so
        the thread reading the next page runs meanwhile. `executemany` hands the lock
        back and forth for every row, and a busy reader thread made each hand-back wait.
        """
        step = self.rows_per_statement
        # A psycopg cursor of our own raises psycopg's errors: Django's wrapper turns them into
        # django.db's (a lost connection is then an OperationalError the pull retries on) and
        # marks the connection, so Django drops it instead of reusing a dead one.
        with self.db.wrap_database_errors, self._cursor() as cursor:
            for start in range(0, len(rows), step):
                batch = rows[start : start + step]
                params = [value for row in batch for value in row]
                if self.prepared:
                    cursor.execute(self.sql(len(batch)), params, prepare=True)
                else:
                    cursor.execute(self.sql(len(batch)), params)

    def _cursor(self):
        """Django's cursor, or on PostgreSQL a psycopg cursor that binds on the server.

        Django's PostgreSQL cursors bind on the client: every page's 2,000 values would be
        spelled into the SQL text, which the server then parses and plans again. Bound on the
        server, a page's statement is the same text every time (a full page has the same
        number of rows), so psycopg prepares it once per connection and the server only
        executes it: a fifth less time per full sync, measured in benchmarks/README.md. It
        runs on Django's own connection, in the page's transaction.
        """
        if not self.prepared:
            return self.db.cursor()
        self.db.ensure_connection()
        return psycopg.RawCursor(self.db.connection)


def _max_params(db) -> int:
    """How many parameters one statement may carry on this database."""
    if db.vendor == "sqlite":
        db.ensure_connection()  # SQLite's own limit (32766 since 3.32); Django assumes the oldest, 999
        return db.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return db.features.max_query_params or 65535  # PostgreSQL's protocol limit


def mark_missing_deleted(store) -> int:
    """After a complete full read: flag stored records the platform no longer lists.

    They are kept (support may need them) with `is_deleted=True`. Every record read
    is stored and not deleted by now, so when the stored count equals the ids read
    nothing is missing and the ids are not listed at all. Otherwise streams the stored
    ids rather than sending `seen` to the database, which would exceed SQLite's
    parameter limit on large books. Returns how many were flagged.
    """
    pull, seen = store.pull, store.seen
    if store.started_empty:
        return 0  # everything stored was read by this pull
    stored = store.records.filter(is_deleted=False)
    if stored.count() == len(seen):
        return 0
    ids = stored.values_list("pk", "remote_id")
    gone = [pk for pk, remote_id in ids.iterator(chunk_size=2000) if remote_id not in seen]
    now = timezone.now()
    for start in range(0, len(gone), BATCH_SIZE):
        store.records.filter(pk__in=gone[start : start + BATCH_SIZE]).update(
            is_deleted=True, last_pull_id=pull.pk, updated_at=now
        )
    return len(gone)
