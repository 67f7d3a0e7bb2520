"""Writing pages of records: bulk upserts by content hash, and deletion marking.

The sync engine (`pulls.py`) hands each page here inside one transaction. Only what
changed is written: a record whose content hash matches the stored one costs a read
of its id and hash, never a write, so an unchanged book writes nothing.
"""

import hashlib
import json
from dataclasses import dataclass

from django.db import connections, router
from django.utils import timezone

from .models import Record

# Columns rewritten when a record changed (or reappeared after being marked deleted).
UPDATE_FIELDS = [
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
    "is_deleted",
    "last_pull",
    "updated_at",
]
BATCH_SIZE = 500
# Field lengths of Record: a platform sending a longer value must not fail the page.
LIMITS = {"remote_id": 100, "number": 100, "name": 300, "currency": 3, "status": 40, "related_id": 100}


@dataclass
class PageResult:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def encode(record) -> tuple[str, str]:
    """(content hash, attributes as JSON text) of a NormalizedRecord.

    The hash covers the normalized fields and every attribute as received, so any
    change the platform makes (even to a field we do not show) counts as an update.
    The JSON text is made once: hashed here, and stored as is where the database
    keeps JSON as text.
    """
    text = json.dumps(record.attributes, sort_keys=True, separators=(",", ":"), default=str)
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
    return hashlib.sha256(f"{head}\n{text}".encode()).hexdigest(), text


def content_hash(record) -> str:
    return encode(record)[0]


def _columns(record) -> dict:
    return {
        "number": (record.number or "")[: LIMITS["number"]],
        "name": (record.name or "")[: LIMITS["name"]],
        "issued_on": record.issued_on,
        "due_on": record.due_on,
        "remote_modified_at": record.modified_at,
        "total": record.total,
        "balance": record.balance,
        "currency": (record.currency or "")[: LIMITS["currency"]],
        "status": (record.status or "")[: LIMITS["status"]],
        "related_id": (str(record.related_id or ""))[: LIMITS["related_id"]],
        "attributes": record.attributes,
    }


def upsert_page(pull, page, seen: set) -> PageResult:
    """Create new records and rewrite changed ones of one page; returns the counts.

    `seen` collects the remote ids read so far in this pull: a record repeated by a
    later page (platforms shift their windows when data changes while paging) is
    counted and written once. Call inside a transaction.
    """
    incoming = {}
    for record in page:
        remote_id = str(record.id)[: LIMITS["remote_id"]]
        if remote_id in seen or remote_id in incoming:
            continue
        incoming[remote_id] = record
    seen.update(incoming)
    result = PageResult(fetched=len(incoming))
    if not incoming:
        return result

    stored = {
        remote_id: (pk, digest, is_deleted)
        for remote_id, pk, digest, is_deleted in Record.objects.filter(
            connection_id=pull.connection_id, data_type=pull.data_type, remote_id__in=list(incoming)
        ).values_list("remote_id", "pk", "content_hash", "is_deleted")
    }
    now = timezone.now()
    to_create, to_update = [], []
    for remote_id, record in incoming.items():
        digest, text = encode(record)
        row = stored.get(remote_id)
        if row is None:
            to_create.append((remote_id, digest, text, record))
        elif row[1] != digest or row[2]:
            # Changed, or back after a full read had marked it deleted.
            to_update.append(
                Record(
                    pk=row[0],
                    connection_id=pull.connection_id,
                    data_type=pull.data_type,
                    remote_id=remote_id,
                    content_hash=digest,
                    is_deleted=False,
                    last_pull_id=pull.pk,
                    created_at=now,  # only used if the row vanished meanwhile; an update keeps the stored one
                    updated_at=now,
                    **_columns(record),
                )
            )
    if to_create:
        _insert(pull, to_create, now)
    if to_update:
        # INSERT … ON CONFLICT DO UPDATE on the unique (connection, data_type, remote_id):
        # one plain statement, where bulk_update would build a CASE per column and row.
        Record.objects.bulk_create(
            to_update,
            batch_size=BATCH_SIZE,
            update_conflicts=True,
            unique_fields=["connection", "data_type", "remote_id"],
            update_fields=UPDATE_FIELDS,
        )
    result.created = len(to_create)
    result.updated = len(to_update)
    result.unchanged = result.fetched - result.created - result.updated
    return result


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
    "is_deleted",
    "last_pull",
    "created_at",
    "updated_at",
)


def _insert(pull, rows, now):
    """Insert new records with one executemany: (remote_id, digest, JSON text, NormalizedRecord) rows.

    A first sync is mostly inserts, and `bulk_create` spends about as long preparing
    each of the 19 values of a row through its field as the database spends storing
    it; here each value is adapted once, by the same backend operations the fields use.
    """
    db = connections[router.db_for_write(Record)]
    ops = db.ops
    meta = Record._meta
    fields = [meta.get_field(name) for name in INSERT_FIELDS]
    table = ops.quote_name(meta.db_table)
    columns = ", ".join(ops.quote_name(f.column) for f in fields)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
    connection_id = meta.get_field("connection").get_db_prep_save(pull.connection_id, db)
    amount = meta.get_field("total")
    attributes = meta.get_field("attributes")
    stamp = ops.adapt_datetimefield_value(now)
    # SQLite keeps JSON as text: the text already made for the hash goes in as it is.
    json_as_text = db.vendor == "sqlite"
    values = []
    for remote_id, digest, text, record in rows:
        values.append(
            (
                connection_id,
                pull.data_type,
                remote_id,
                (record.number or "")[: LIMITS["number"]],
                (record.name or "")[: LIMITS["name"]],
                ops.adapt_datefield_value(record.issued_on),
                ops.adapt_datefield_value(record.due_on),
                ops.adapt_datetimefield_value(record.modified_at),
                amount.get_db_prep_save(record.total, db),
                amount.get_db_prep_save(record.balance, db),
                (record.currency or "")[: LIMITS["currency"]],
                (record.status or "")[: LIMITS["status"]],
                str(record.related_id or "")[: LIMITS["related_id"]],
                text if json_as_text else attributes.get_db_prep_save(record.attributes, db),
                digest,
                False,
                pull.pk,
                stamp,
                stamp,
            )
        )
    with db.cursor() as cursor:
        cursor.executemany(sql, values)


def mark_missing_deleted(pull, seen: set) -> int:
    """After a complete full read: flag stored records the platform no longer lists.

    They are kept (support may need them) with `is_deleted=True`. Streams the stored
    ids rather than sending `seen` to the database, which would exceed SQLite's
    parameter limit on large books. Returns how many were flagged.
    """
    stored = Record.objects.filter(
        connection_id=pull.connection_id, data_type=pull.data_type, is_deleted=False
    ).values_list("pk", "remote_id")
    gone = [pk for pk, remote_id in stored.iterator(chunk_size=2000) if remote_id not in seen]
    now = timezone.now()
    for start in range(0, len(gone), BATCH_SIZE):
        Record.objects.filter(pk__in=gone[start : start + BATCH_SIZE]).update(
            is_deleted=True, last_pull_id=pull.pk, updated_at=now
        )
    return len(gone)
