"""Writing pages of records: bulk upserts by content hash, and deletion marking.

The sync engine (`pulls.py`) hands each page here inside one transaction. Only what
changed is written: a record whose content hash matches the stored one costs a read
of its id and hash, never a write, so an unchanged book writes nothing.
"""

import hashlib
import json
from dataclasses import dataclass

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


def content_hash(record) -> str:
    """A stable digest of everything stored for a NormalizedRecord.

    Covers the normalized fields and every attribute as received, so any change the
    platform makes (even to a field we do not show) counts as an update.
    """
    payload = [
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
        record.attributes,
    ]
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


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
        digest = content_hash(record)
        row = stored.get(remote_id)
        if row is None:
            to_create.append(
                Record(
                    connection_id=pull.connection_id,
                    data_type=pull.data_type,
                    remote_id=remote_id,
                    content_hash=digest,
                    last_pull_id=pull.pk,
                    created_at=now,
                    updated_at=now,
                    **_columns(record),
                )
            )
        elif row[1] != digest or row[2]:
            # Changed, or back after a full read had marked it deleted.
            to_update.append(
                Record(
                    pk=row[0],
                    content_hash=digest,
                    is_deleted=False,
                    last_pull_id=pull.pk,
                    updated_at=now,
                    **_columns(record),
                )
            )
    if to_create:
        Record.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
    if to_update:
        Record.objects.bulk_update(to_update, UPDATE_FIELDS, batch_size=BATCH_SIZE)
    result.created = len(to_create)
    result.updated = len(to_update)
    result.unchanged = result.fetched - result.created - result.updated
    return result


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
