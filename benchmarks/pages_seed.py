"""Seeding the pages benchmark's databases: companies, connections, pulls, data statuses,
timeline entries and records, shaped like a busy portal's, deterministic for a scale.

Rows go in with executemany (SQLite, its journal relaxed for the load) or COPY
(PostgreSQL), no model instances, in a few big transactions: a few minutes at most on 2
cores for the large database. The schema is the models' own (the database is migrated
first): table and column names come from the models, and every column a seed does not
set gets its field's default, so a column added later is seeded as the model fills it.
Timestamps are relative to the seeding time; `shift_timestamps` moves them forward when
a seeded file is reused.
"""

import hashlib
import json
import random
import uuid
from datetime import UTC, date, datetime, timedelta

from django.db import connections, transaction
from django.db.models import Max

from connections.models import Company, Connection, ConnectionEvent, DataStatus, PullOperation, Record
from connections.sync import data_status
from integrations import registry
from integrations.models import Integration, SyncSetting

DATA_TYPES = [data_type.name for data_type in registry.get("jhch").data_types]
# Records per connection by data type (sums to 100, so 1,000,000 for 10,000 connections).
RECORD_MIX = {"invoices": 55, "bills": 20, "customers": 15, "suppliers": 10}
CHUNK = 20_000


def _ts(value: datetime) -> str:
    """A datetime as Django stores it in SQLite (UTC, no offset; PostgreSQL reads it in the connection's UTC)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _insert(cursor, model, fields, rows):
    """Insert `rows` (tuples of the values of `fields`, as the database reads them) into `model`'s table.

    Every other column but an automatic primary key gets its field's default. SQLite takes
    them by executemany in chunks; PostgreSQL by COPY, many times faster than INSERTs there.
    """
    meta, connection = model._meta, connections["default"]
    given = [meta.get_field(name) for name in fields]
    rest = [f for f in meta.concrete_fields if f not in given and not f.primary_key]
    defaults = tuple(f.get_db_prep_save(f.get_default(), connection) for f in rest)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in given + rest)
    if connection.vendor == "postgresql":
        with cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row + defaults)
        return
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(given + rest))})"
    batch = []
    for row in rows:
        batch.append(row + defaults)
        if len(batch) >= CHUNK:
            cursor.executemany(sql, batch)
            batch.clear()
    if batch:
        cursor.executemany(sql, batch)


def _pragmas_for_load(cursor):
    if connections["default"].vendor != "sqlite":
        return
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.execute("PRAGMA cache_size=-200000")
    cursor.execute("PRAGMA temp_store=MEMORY")


def seed(scale: dict, now: datetime):
    """Fill an empty, migrated database; deterministic for a given scale."""
    from django.contrib.auth.models import Group, User

    rng = random.Random(42)
    integration = Integration.objects.get(key="jhch")
    Integration.objects.filter(pk=integration.pk).update(enabled=True)
    SyncSetting.objects.filter(integration=integration).update(frequency="daily")
    admin = User.objects.create_user("bench-admin", password="bench-password-123")
    admin.groups.add(Group.objects.get(name="Admin"))

    n_companies = scale["companies"]
    pulls_per = scale["pulls"] // n_companies
    records_per = scale["records"] // n_companies
    company_ids = [uuid.UUID(int=rng.getrandbits(128)).hex for _ in range(n_companies)]
    connection_ids = [uuid.UUID(int=rng.getrandbits(128)).hex for _ in range(n_companies)]
    statuses = [
        "Linked" if i % 20 < 17 else ("PendingAuth", "Deauthorized", "Unlinked")[i % 20 - 17]
        for i in range(n_companies)
    ]

    with connections["default"].cursor() as cursor:
        _pragmas_for_load(cursor)  # outside a transaction: SQLite refuses it inside one
    with connections["default"].cursor() as cursor, transaction.atomic():
        _insert(
            cursor,
            Company,
            ["id", "name", "description", "created_at", "last_synced_at"],
            (
                (
                    cid,
                    f"Company {i:05d} Ltd",
                    "",
                    _ts(now - timedelta(days=400 - i % 300)),
                    _ts(now - timedelta(hours=i % 30)),
                )
                for i, cid in enumerate(company_ids)
            ),
        )
        _insert(
            cursor,
            Connection,
            [
                "id",
                "company_id",
                "integration_id",
                "category",
                "status",
                "status_reason",
                "status_changed_at",
                "created_at",
                "linked_at",
            ],
            (
                (
                    connection_ids[i],
                    company_ids[i],
                    integration.pk,
                    "Accounting",
                    statuses[i],
                    "Clear Books answered Login Failed." if statuses[i] == "Deauthorized" else "",
                    _ts(now - timedelta(days=i % 40, minutes=i % 60)),
                    _ts(now - timedelta(days=300)),
                    None if statuses[i] == "PendingAuth" else _ts(now - timedelta(days=200)),
                )
                for i in range(n_companies)
            ),
        )
        _seed_pulls(cursor, rng, now, connection_ids, statuses, pulls_per)
        _seed_data_statuses(cursor, now, connection_ids, statuses)
        _seed_events(cursor, now, connection_ids)
    with connections["default"].cursor() as cursor, transaction.atomic():
        _seed_records(cursor, rng, now, connection_ids, records_per)
    data_status.refresh(DataStatus.objects.all())  # rows loaded by SQL: their schedule, as the engine keeps it
    vacuum_analyze()


def vacuum_analyze():
    """Statistics for the planner; on PostgreSQL the visibility map too (VACUUM), without which no
    index-only scan skips the table: autovacuum keeps both on a live database."""
    with connections["default"].cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connections["default"].vendor == "postgresql" else "ANALYZE")


def _seed_pulls(cursor, rng, now, connection_ids, statuses, pulls_per):
    """Pulls spread over the last 30 days; only the very newest pull of a data type may be active."""
    columns = [
        "connection_id",
        "data_type",
        "status",
        "trigger",
        "mode",
        "requested_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
        "pages_fetched",
        "records_fetched",
        "records_created",
        "records_updated",
        "records_unchanged",
        "records_deleted",
        "error_message",
        "error_detail",
    ]
    span = 30 * 86400

    def rows():
        for i, cid in enumerate(connection_ids):
            for j in range(pulls_per):
                requested = now - timedelta(seconds=span * (j + 0.5) / pulls_per + (i % 3600))
                roll = rng.random()
                status = (
                    "Complete"
                    if roll < 0.93
                    else "FetchError"
                    if roll < 0.97
                    else "Cancelled"
                    if roll < 0.99
                    else "RateLimitError"
                )
                if statuses[i] in ("Deauthorized", "Unlinked") and j < 8:
                    status = "Cancelled"  # nothing has run since the status change
                if statuses[i] == "Deauthorized" and j == 8:
                    status = "AuthError"
                if j == 0 and i % 500 == 0 and statuses[i] == "Linked":
                    status = "Fetching"  # a few running now; some of them stuck
                fetched = rng.randint(0, 400)
                finished = None if status == "Fetching" else _ts(requested + timedelta(seconds=rng.randint(1, 90)))
                beat = _ts(requested + timedelta(seconds=5))
                error = "Clear Books did not answer in time." if status == "FetchError" else ""
                yield (
                    cid,
                    DATA_TYPES[j % len(DATA_TYPES)],
                    status,
                    "schedule",
                    "full",
                    _ts(requested),
                    _ts(requested + timedelta(seconds=1)),
                    finished,
                    beat,
                    1 + fetched // 100,
                    fetched,
                    fetched // 10,
                    fetched // 20,
                    fetched - fetched // 10 - fetched // 20,
                    0,
                    error,
                    "ReadTimeout" if error else "",
                )

    _insert(cursor, PullOperation, columns, rows())


def _seed_data_statuses(cursor, now, connection_ids, statuses):
    columns = [
        "connection_id",
        "data_type",
        "current_status",
        "last_successful_sync_at",
        "last_successful_started_at",
        "failures_in_row",
        "latest_pull_id",
        "latest_successful_pull_id",
    ]  # scheduled and stale_after: computed by data_status.refresh() once seeded
    newest = PullOperation.objects.values_list("connection_id", "data_type").annotate(Max("pk")).order_by()
    latest = {(c.hex, d): pk for c, d, pk in newest}

    def rows():
        for i, cid in enumerate(connection_ids):
            if statuses[i] == "PendingAuth":
                continue
            for k, dt in enumerate(DATA_TYPES):
                failing = i % 97 == 0 and k == 2  # ~1% of connections: invoices failing in a row
                stale = i % 53 == 0 and k == 0  # ~2%: customers not synced for days
                last = now - timedelta(days=4 if stale else 0, hours=(i + k) % 20)
                if statuses[i] != "Linked":
                    # Nothing syncs once a connection is Deauthorized or Unlinked: its data ages
                    # (these rows are stale by date, and must not be listed).
                    last = now - timedelta(days=3 + i % 40)
                pull = latest.get((cid, dt))
                yield (
                    cid,
                    dt,
                    "FetchError" if failing else "Complete",
                    _ts(last),
                    _ts(last - timedelta(seconds=30)),
                    4 if failing else 0,
                    pull,
                    pull,
                )

    _insert(cursor, DataStatus, columns, rows())


def _seed_events(cursor, now, connection_ids):
    columns = ["connection_id", "created_at", "kind", "actor_label", "message", "detail"]
    kinds = [("pull_completed", "invoices: 120 fetched, 3 created, 1 updated."), ("pull_queued", "invoices queued.")]

    def rows():
        for cid in connection_ids:
            yield (cid, _ts(now - timedelta(days=300)), "created", "bench-admin", "Connection created.", "{}")
            for j in range(9):
                kind, message = kinds[j % 2]
                yield (cid, _ts(now - timedelta(hours=j * 7)), kind, "system", message, "{}")

    _insert(cursor, ConnectionEvent, columns, rows())


def _seed_records(cursor, rng, now, connection_ids, records_per):
    columns = ["connection_id", "data_type", "remote_id", "attributes", "content_hash", "number", "name"]
    columns += ["total", "balance", "status", "currency", "issued_on", "due_on", "remote_modified_at"]
    columns += ["is_deleted", "created_at", "updated_at"]  # related_id and wire_hash: their defaults
    stamp = _ts(now)
    mix = [(dt, max(1, records_per * share // 100)) for dt, share in RECORD_MIX.items()]

    def rows():
        for cid in connection_ids:
            for dt, count in mix:
                amounts = dt in ("invoices", "bills")
                for n in range(count):
                    remote = f"{dt[:3]}{n:06d}"
                    total = round(rng.uniform(10, 5000), 2) if amounts else None
                    balance = (total if n % 3 == 0 else 0) if amounts else None
                    issued = date(2024, 1, 1) + timedelta(days=n % 700)
                    attrs = {"id": remote, "reference": f"REF-{n}", "lines": [{"amount": str(total), "vat": "20"}]}
                    yield (
                        cid,
                        dt,
                        remote,
                        json.dumps(attrs),
                        hashlib.md5(remote.encode()).hexdigest(),
                        f"INV-{n:06d}" if amounts else "",
                        f"Customer {n % 97}",
                        total,
                        balance,
                        "paid" if balance == 0 else "unpaid",
                        "GBP",
                        issued.isoformat(),
                        (issued + timedelta(days=30)).isoformat(),
                        stamp,
                        n % 101 == 100,
                        stamp,
                        stamp,
                    )

    _insert(cursor, Record, columns, rows())


SHIFT_FIELDS = {
    Company: ["created_at", "last_synced_at"],
    Connection: ["created_at", "linked_at", "status_changed_at"],
    PullOperation: ["requested_at", "started_at", "finished_at", "heartbeat_at"],
    DataStatus: ["last_successful_sync_at", "last_successful_started_at", "stale_after"],
    ConnectionEvent: ["created_at"],
}


def shift_timestamps(seconds: int):
    """Move every seeded time forward, so a reused database looks as fresh as a new one."""
    connection = connections["default"]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor, transaction.atomic():
        for model, fields in SHIFT_FIELDS.items():
            columns = [quote(model._meta.get_field(name).column) for name in fields]
            if connection.vendor == "postgresql":
                sets = ", ".join(f"{c} = {c} + interval '{seconds} seconds'" for c in columns)
            else:
                sets = ", ".join(f"{c} = strftime('%Y-%m-%d %H:%M:%f', {c}, '+{seconds} seconds')" for c in columns)
            cursor.execute(f"UPDATE {quote(model._meta.db_table)} SET {sets}")
