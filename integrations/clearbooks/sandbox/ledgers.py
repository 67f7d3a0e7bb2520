"""Sales invoices and purchase bills for a key's books, with line items and UK VAT.

Totals add up: each line's VAT is its net at the line's rate, rounded half up to the
penny; net, vat and gross are the sums; paid + balance = gross (voided ones owe
nothing). Statuses follow the due date against the books' anchor: long overdue ones are
mostly paid, recent ones approved (some part paid), a few future-dated drafts.
"""

import hashlib
import html
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from . import ukdata
from .formats import CENT, money, wire_date

CLEARBOOKS_ACCOUNT = "64372"  # the account number inside statement URLs


def token(*parts) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:16].hex()


def _documents(books, ledger, count, voided):
    rng = books._rng(ledger)
    role = "customer" if ledger == "sales" else "supplier"
    entity_ids = [e["id"] for e in books.entities if role in e["_roles"]]
    project_ids = [p["id"] for p in books.projects if p["status"] != "deleted"]
    voided_at = set(rng.sample(range(count), voided))
    eur = len(books.currencies) >= 2 and ledger == "sales"
    docs = []
    for n in range(count):
        created = books.anchor - timedelta(days=rng.randint(1, 365))
        terms = rng.choice((30, 30, 30, 14, 60, 7))
        lines = _lines(rng, ledger, created, project_ids)
        net = sum((line["_net"] for line in lines), Decimal(0))
        vat = sum((line["_vat"] for line in lines), Decimal(0))
        gross = net + vat
        status, paid = _status(books.anchor, rng, n in voided_at, created + timedelta(days=terms), gross)
        foreign = eur and rng.random() < 0.04
        docs.append(
            {
                "_ledger": ledger,
                "_created": created,
                "_terms": terms,
                "_lines": lines,
                "_net": net,
                "_vat": vat,
                "_gross": gross,
                "_paid": paid,
                "status": status,
                "entityId": rng.choice(entity_ids) if entity_ids else "0",
                "reference": _reference(rng, ledger),
                "project": rng.choice(project_ids) if project_ids and rng.random() < 0.15 else "0",
                "description": lines[0]["description"] if len(lines) == 1 else f"{len(lines)} items",
                "_foreign": foreign,
                "_fxrate": rng.choice(ukdata.EUR_RATES) if foreign else "0",
            }
        )
    return docs


def _reference(rng, ledger):
    if ledger == "sales":
        return rng.choice(("", "", f"PO{rng.randint(10000, 99999)}", f"Order {rng.randint(100, 9999)}"))
    return rng.choice((f"{rng.randint(100000, 999999)}", f"INV-{rng.randint(1000, 99999)}", ""))


def _lines(rng, ledger, created, project_ids):
    month = ukdata.MONTHS[created.month - 1]
    lines = []
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
        if ledger == "sales":
            desc, code, low, high, quantities = rng.choice(ukdata.SALES_LINES)
            rate = "0.2"
        else:
            desc, code, low, high, quantities, rate = rng.choice(ukdata.PURCHASE_LINES)
        unit = (Decimal(rng.randint(low * 100, high * 100)) / 100).quantize(CENT)
        quantity = Decimal(rng.choice(quantities))
        net = (unit * quantity).quantize(CENT, ROUND_HALF_UP)
        vat_rate = Decimal(rate) if rate[0].isdigit() and ":" not in rate else Decimal(0)
        vat = (net * vat_rate).quantize(CENT, ROUND_HALF_UP)
        lines.append(
            {
                "unitPrice": money(unit),
                "vat": money(vat),
                "quantity": format(quantity.normalize(), "f"),
                "type": str(code),
                "vatRate": rate,
                "project": rng.choice(project_ids) if project_ids and rng.random() < 0.1 else "0",
                "description": html.escape(desc.format(month=month), quote=False),
                "_net": net,
                "_vat": vat,
            }
        )
    return lines


def _status(anchor, rng, voided, due, gross):
    if voided:
        return "voided", Decimal(0)
    age = (anchor - due).days
    if age < -20 and rng.random() < 0.25:
        return "draft", Decimal(0)
    if age > 10 and rng.random() < 0.85 or rng.random() < 0.1:
        return "paid", gross
    if rng.random() < 0.2:
        return "approved", (gross * Decimal(rng.choice(("0.25", "0.5", "0.1")))).quantize(CENT)
    return "approved", Decimal(0)


def generate(books):
    """Sales invoices and purchase bills in date order: ids across both ledgers, numbers per ledger."""
    spec = books.spec
    docs = _documents(books, "sales", spec.invoices, spec.voided_count)
    docs += _documents(books, "purchases", spec.bills, spec.voided_bills_count)
    docs.sort(key=lambda d: (d["_created"], d["_ledger"]))
    numbers = {"sales": 0, "purchases": 0}
    for invoice_id, doc in enumerate(docs, start=1):
        ledger = doc["_ledger"]
        numbers[ledger] += 1
        created, gross, paid = doc["_created"], doc["_gross"], doc["_paid"]
        balance = Decimal(0) if doc["status"] == "voided" else gross - paid
        kind = "sales" if ledger == "sales" else "purchases"
        auth = token(books.spec.seed, "i", invoice_id)
        doc.update(
            {
                "invoice_id": str(invoice_id),
                "invoice_prefix": "INV" if ledger == "sales" else "PUR",
                "invoiceNumber": str(numbers[ledger]),
                "dateCreated": wire_date(created),
                "dateDue": wire_date(created + timedelta(days=doc["_terms"])),
                "dateAccrual": wire_date(created),
                "creditTerms": str(doc["_terms"]),
                "bankPaymentId": "0",
                "external_id": "",
                "statementPage": f"https://secure.clearbooks.co.uk/accounting/{kind}/invoice_html/"
                f"?source=statement&type=invoice&c={CLEARBOOKS_ACCOUNT}&auth={auth}",
                "pdfUrl": f"https://secure.clearbooks.co.uk/accounting/{kind}/invoice_pdf/?c={CLEARBOOKS_ACCOUNT}"
                f"&auth={auth}",
                "themeId": "0",
                "type": "S" if ledger == "sales" else "P",
                "vatTreatment": "",
                "multicurrency": "2" if doc["_foreign"] else "1",
                "fxrate": doc["_fxrate"],
                "gross": money(gross),
                "net": money(doc["_net"]),
                "vat": money(doc["_vat"]),
                "paid": money(paid),
                "balance": money(balance),
                "foreignCurrencyBalance": money(balance) if doc["_foreign"] else "0",
                "items": doc["_lines"],
            }
        )
    return docs
