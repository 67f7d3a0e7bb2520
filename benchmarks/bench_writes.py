"""The sync engine's hand-written statements against the ORM calls they stand for.

    python benchmarks/run.py writes        # or: make bench
    python benchmarks/bench_writes.py --rounds 9

Each row times one plain-SQL write of the sync engine (named in benchmarks/README.md) and
the ORM call that would do the same, in this process, in CPU time (which other processes
on a shared machine barely move): the median over alternated rounds. Both sides write the
same rows, and the table says so. The database is a throwaway SQLite file,
var/bench/writes.sqlite3, created by the migrations.

- upsert: `store.Upsert.write` of a page of 100 invoices, new and then changed, against
  `bulk_create(update_conflicts=True)` of the same records.
- progress: `progress.Progress.save` (a page's counts) against `update()` with F() increments.
- success: `data_status.ended` of a complete pull (one UPDATE whose schedule is plain SQL)
  against the ORM's expressions of the same rule (`staleness.values()`) in a second UPDATE.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

if __name__ == "__main__":  # run directly rather than through benchmarks/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
    import django

    django.setup()

from django.core.management import call_command
from django.db import connections, transaction
from django.db.models import F
from django.utils import timezone

from connections.models import DataStatus, PullOperation, Record
from connections.sync import data_status, staleness
from connections.sync.progress import Progress
from connections.sync.store import LIMITS, UNIQUE_FIELDS, UPDATE_FIELDS, PageResult, Upsert, encode
from integrations.registry import NormalizedRecord

DATABASE = Path(__file__).resolve().parent.parent / "var" / "bench" / "writes.sqlite3"
PAGE = 100
P = PullOperation.Status
SIDES = {"sql": "invoices", "orm": "bills"}
RESULT = PageResult(fetched=PAGE, unchanged=PAGE)


def invoices(first, count, version=0):
    """`count` invoice-like records (ids from `first`), their attributes as a mapped invoice's."""
    records = []
    for n in range(first, first + count):
        total = Decimal(f"{100 + n % 900}.{version % 100:02d}")
        attributes = {
            "invoice_id": str(n),
            "invoiceNumber": f"INV-{n:06d}",
            "reference": f"PO {n} v{version}",
            "status": "approved",
            "items": [{"description": f"Line {i}", "unitPrice": str(total / 2), "vatRate": "0.2"} for i in range(2)],
        }
        records.append(
            NormalizedRecord(
                id=str(n),
                number=f"INV-{n:06d}",
                name=f"Customer {n % 97}",
                issued_on=date(2025, 1, 1) + timedelta(days=n % 300),
                due_on=date(2025, 2, 1) + timedelta(days=n % 300),
                total=total,
                balance=Decimal("0"),
                currency="GBP",
                status="paid",
                related_id=str(n % 97),
                attributes=attributes,
                wire_hash=f"{n:040d}",
            )
        )
    return records


def orm_upsert(pull, records):
    """What `Upsert.write` does, the ORM's way."""
    now = timezone.now()
    rows = [
        Record(
            connection_id=pull.connection_id,
            data_type=pull.data_type,
            remote_id=str(record.id)[: LIMITS["remote_id"]],
            number=record.number,
            name=record.name,
            issued_on=record.issued_on,
            due_on=record.due_on,
            remote_modified_at=record.modified_at,
            total=record.total,
            balance=record.balance,
            currency=record.currency,
            status=record.status,
            related_id=record.related_id,
            attributes=record.attributes,
            content_hash=encode(record)[0],
            wire_hash=record.wire_hash,
            is_deleted=False,
            last_pull_id=pull.pk,
            created_at=now,
            updated_at=now,
        )
        for record in records
    ]
    Record.objects.bulk_create(rows, update_conflicts=True, unique_fields=UNIQUE_FIELDS, update_fields=UPDATE_FIELDS)


def sql_upsert(pull, records):
    pull.upsert.write(pull.upsert.rows([(record.id, *encode(record), record) for record in records]))


def orm_progress(pull, result):
    PullOperation.objects.filter(pk=pull.pk, status=P.FETCHING).update(
        pages_fetched=F("pages_fetched") + 1,
        records_fetched=F("records_fetched") + result.fetched,
        records_created=F("records_created") + result.created,
        records_updated=F("records_updated") + result.updated,
        records_unchanged=F("records_unchanged") + result.unchanged,
        heartbeat_at=timezone.now(),
    )


def orm_success(pull):
    rows = DataStatus.objects.filter(connection_id=pull.connection_id, data_type=pull.data_type)
    rows.update(
        current_status=P.COMPLETE,
        latest_pull_id=pull.pk,
        last_successful_sync_at=pull.finished_at,
        latest_successful_pull_id=pull.pk,
        last_successful_started_at=pull.started_at,
        failures_in_row=0,
    )
    rows.update(**staleness.values())


def stored(pull):
    columns = ("remote_id", "number", "total", "issued_on", "attributes", "content_hash", "wire_hash", "is_deleted")
    rows = Record.objects.filter(connection_id=pull.connection_id, data_type=pull.data_type)
    return list(rows.order_by("remote_id").values_list(*columns))


def setup(database):
    from tests import factory

    connections["default"].close()
    connections["default"].settings_dict["NAME"] = str(database)
    for path in database.parent.glob(database.name + "*"):
        path.unlink()
    call_command("migrate", verbosity=0)
    connection = factory.make_connection(integration=factory.get_integration("jhch", enabled=True))
    # One pull a side, each its own data type, so each side writes rows of its own.
    pulls = {side: factory.make_pull(connection, name, P.FETCHING) for side, name in SIDES.items()}
    for pull in pulls.values():
        pull.connection = connection
        pull.finished_at = pull.started_at = timezone.now()
        pull.upsert, pull.progress = Upsert(pull), Progress(pull)  # made once per pull, as a sync does
        factory.make_data_status(connection, pull.data_type)
    return pulls


def measure(rounds, pages, database=DATABASE):
    pulls = setup(database)
    sides = {
        "upsert, new records": (sql_upsert, orm_upsert, "page"),
        "upsert, changed records": (sql_upsert, orm_upsert, "page"),
        "progress": (lambda pull, _: pull.progress.save(RESULT), lambda pull, _: orm_progress(pull, RESULT), "page"),
        "success": (lambda pull, _: data_status.ended(pull, P.COMPLETE), lambda pull, _: orm_success(pull), "pull"),
    }
    times = {name: {"sql": [], "orm": []} for name in sides}
    same = {}
    for r in range(rounds):
        for name, (sql_side, orm_side, _per) in sides.items():
            first = r * pages * PAGE
            version = 1 if name.startswith("upsert, changed") else 0
            batches = [invoices(first + p * PAGE, PAGE, version) for p in range(pages)]
            order = (("sql", sql_side), ("orm", orm_side))
            for side, call in order if r % 2 == 0 else order[::-1]:
                with transaction.atomic():
                    started = time.process_time()
                    for batch in batches:
                        call(pulls[side], batch)
                    times[name][side].append((time.process_time() - started) / pages)
        same["upsert"] = stored(pulls["sql"]) == stored(pulls["orm"]) != []
    medians = {name: {side: statistics.median(t) for side, t in by.items()} for name, by in times.items()}
    return {name: {**by, "per": sides[name][2]} for name, by in medians.items()}, same


def main(args):
    parser = argparse.ArgumentParser(prog="bench_writes", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="alternated rounds (median; default 7)")
    parser.add_argument("--pages", type=int, default=10, help="pages (or pulls) per round and side (default 10)")
    parser.add_argument("--database", type=Path, default=DATABASE, help=f"a throwaway SQLite file (default {DATABASE})")
    options = parser.parse_args(args)
    results, same = measure(options.rounds, options.pages, options.database)
    print(f"CPU time, median of {options.rounds} alternated rounds of {options.pages} pages (or pulls) a side:")
    print(f"{'write':<26}{'per':<6}{'plain SQL ms':>13}{'ORM ms':>9}{'ORM / SQL':>11}")
    for name, by in results.items():
        sql, orm = by["sql"] * 1000, by["orm"] * 1000
        print(f"{name:<26}{by['per']:<6}{sql:>13.2f}{orm:>9.2f}{orm / sql:>10.1f}x")
    print(f"\nboth sides stored the same records: {'yes' if same['upsert'] else 'NO'}")


if __name__ == "__main__":
    main(sys.argv[1:])
