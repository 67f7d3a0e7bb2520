"""What tests do to a key's books between two syncs: touch N records, or delete N.

A touched record gets a changed field (and entities a newer date_modified), so the
next sync sees exactly N updated records; deleted records drop out of every list, so
only a full sync can notice them gone, as with the real API (it has no deletion feed).
"""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from . import ukdata
from .formats import money, phone, wire_datetime


def _entity(rec, rng, now, n):
    rec["_modified"] = now
    rec["date_modified"] = wire_datetime(now)
    rec["phone1"] = phone(rng, "07700 900")
    rec["contact_name"] = f"{rng.choice(ukdata.FIRST_NAMES)} {rng.choice(ukdata.SURNAMES)}"


def _invoice(rec, rng, now, n):
    rec["reference"] = f"{rec['reference']} /r{n}".strip()


def _account_code(rec, rng, now, n):
    rec["customAccountCode"] = str(rng.randint(1000, 9999))


def _bank_account(rec, rng, now, n):
    rec["balance"] = rec["total_mc"] = money(Decimal(rec["balance"]) + Decimal(rng.randint(100, 99999)) / 100)


def _project(rec, rng, now, n):
    rec["description"] = f"{rec['description']} (updated {n})"


def _payment_method(rec, rng, now, n):
    rec["isClosed"] = "false" if rec["isClosed"] == "true" else "true"


TOUCH = {
    "customers": _entity,
    "suppliers": _entity,
    "invoices": _invoice,
    "bills": _invoice,
    "chartOfAccounts": _account_code,
    "bankAccounts": _bank_account,
    "trackingCategories": _project,
    "paymentMethods": _payment_method,
}


def _id(data_type, rec):
    return rec["invoice_id"] if data_type in ("invoices", "bills") else rec["id"]


def _pick(books, data_type, count):
    """The records to change; for entities, those in one list only, so the other list is unaffected."""
    if data_type not in TOUCH:
        raise ValueError(f"cannot change {data_type}")
    records = books.records(data_type)
    if count > len(records):
        raise ValueError(f"the books have only {len(records)} {data_type}")
    single = [r for r in records if len(r.get("_roles", ())) < 2]
    pool = single if len(single) >= count else records
    return random.Random(f"{books.spec.seed}:pick:{data_type}:{books.changes}").sample(pool, count)


def _now_after_everything(books):
    """The real time, or later than every date in the books (for an anchor in the future)."""
    latest = max((e["_modified"] for e in books.entities), default=datetime.min)
    return max(datetime.now(UTC).replace(tzinfo=None, microsecond=0), latest + timedelta(seconds=1))


def touch(books, data_type, count):
    picked = _pick(books, data_type, count)
    books.changes += 1
    books.pristine = False
    now, rng = _now_after_everything(books), random.Random(f"{books.spec.seed}:touch:{books.changes}")
    for rec in picked:
        TOUCH[data_type](rec, rng, now, books.changes)
        rec.pop("_xml", None)  # the cached rendering (render.py) is stale now
    return [_id(data_type, rec) for rec in picked]


def delete(books, data_type, count):
    picked = _pick(books, data_type, count)
    books.changes += 1
    books.pristine = False
    gone = {id(r) for r in picked}
    if data_type in ("customers", "suppliers"):
        books.entities = [e for e in books.entities if id(e) not in gone]
    elif data_type in ("invoices", "bills"):
        books.invoices = [i for i in books.invoices if id(i) not in gone]
    else:
        records = books.records(data_type)
        records[:] = [r for r in records if id(r) not in gone]
    books.split_ledgers()
    return [_id(data_type, rec) for rec in picked]
