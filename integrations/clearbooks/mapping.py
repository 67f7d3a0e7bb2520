"""Clear Books records -> NormalizedRecord: pure functions, no database, no network.

Everything here follows the wire quirks in docs/clearbooks.md §9: each field is an
attribute or else a child element, text is HTML-unescaped once (Clear Books double-escapes
some ampersands), money is Decimal, and dates carry no time zone (we read them as UK time:
Clear Books is a UK product). Records are found and parsed by parsing.py.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo

from ..registry import NormalizedRecord
from .parsing import MAX_DEPTH, SOAP_ENC_ARRAY, XSI_NIL, MappingError, find_records

UK = ZoneInfo("Europe/London")

# The local name of the element that holds one record of each data type.
RECORD_ELEMENT = {
    "customers": "Entity",
    "suppliers": "Entity",
    "invoices": "Invoice",
    "bills": "Invoice",
    "chartOfAccounts": "AccountCode",
    "bankAccounts": "BankAccountListItem",
    "trackingCategories": "Project",
    "paymentMethods": "PaymentMethod",
}

# Child elements that are lists of records, and ones that are objects even when empty
# (entity 1 in the captures has `<supplier/>`: an empty object, not an empty string).
LIST_FIELDS = frozenset({"items"})
OBJECT_FIELDS = frozenset({"customer", "supplier", "bankAccount"})

# Clear Books' home currency is GBP; `multicurrency` 0 means home currency and the
# documented currency list has id 1 = GBP. Other ids need listCurrencies.
HOME_CURRENCIES = {"0": "GBP", "1": "GBP"}

MONTHS = {
    m: i
    for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)
}
MAX_AMOUNT = Decimal(10) ** 14  # what Record.total/balance can hold; larger values stay raw in attributes


#
# Fields
#

_URLS = ("http://", "https://")  # values left escaped (see _text)


def fields(element, depth=0) -> dict:
    """Every field of a record as received: attribute, else child element (text or nested)."""
    if depth > MAX_DEPTH:
        raise MappingError(f"a record nests elements more than {MAX_DEPTH} deep, which we refuse")
    # The hot path of a sync (a page of invoices has thousands of fields): a C-level dict copy
    # of the attributes, one cheap test per record for namespaced attributes, and the common
    # child shapes (a plain text leaf, a list) handled inline.
    out = dict(element.attrib)
    if out:
        if "{" in "".join(out):  # xsi:type, xsi:nil, SOAP-ENC:… are schema machinery, not data
            out = {key: value for key, value in out.items() if key[0] != "{"}
        for key, value in out.items():  # replacing values, never keys: safe while iterating
            if "&" in value and not value.startswith(_URLS):  # _text, inlined: invoices carry URLs
                out[key] = html.unescape(value)
    for child in element:
        tag = child.tag
        if tag.__class__ is not str:  # a comment or processing instruction
            continue
        name = tag[tag.rfind("}") + 1 :]
        if name in out:  # the attribute wins when a server sends both
            continue
        if child.attrib:
            out[name] = _value(child, name, depth + 1)
        elif name in LIST_FIELDS:
            out[name] = [fields(member, depth + 2) for member in child if member.tag.__class__ is str]
        elif len(child) or name in OBJECT_FIELDS:
            out[name] = fields(child, depth + 1)
        else:
            text = child.text
            out[name] = (_text(text) if "&" in text else text) if text else ""
    return out


def _members(child, depth) -> list:
    return [fields(member, depth + 1) for member in child if isinstance(member.tag, str)]


def _value(child, name, depth):
    """The value of a child element that has attributes (see fields for the plain ones)."""
    if name in LIST_FIELDS:
        return _members(child, depth)
    keys = child.attrib
    if "{" in "".join(keys):
        if child.get(XSI_NIL) in ("true", "1"):
            return None
        if child.get(SOAP_ENC_ARRAY) is not None:
            return _members(child, depth)
        if not len(child) and name not in OBJECT_FIELDS and all(key[0] == "{" for key in keys):
            return _text(child.text or "")
    return fields(child, depth)


def _text(value: str) -> str:
    # Unescape once: `Fixtures &amp;amp; fittings` parses to `Fixtures &amp; fittings` and
    # means `Fixtures & fittings`. URLs are escaped normally, and unescaping them would
    # turn query strings such as `&para=1` into `¶=1`, so they are left alone.
    if "&" in value and not value.startswith(_URLS):
        return html.unescape(value)
    return value


def money(value) -> Decimal | None:
    """Plain-text amounts of any scale; None when absent or not a finite, storable number."""
    if not value:
        return None
    try:
        amount = Decimal(value)  # surrounding whitespace is allowed
    except (InvalidOperation, TypeError):
        return None
    if not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
        return None
    return amount


def boolean(value) -> bool | None:
    """`true`/`false`, `1`/`0`, and "" for false (the SDK demo prints false as empty)."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0", ""):
        return False
    return None


def timestamp(value) -> datetime | None:
    """`YYYY-MM-DD HH:MM:SS` (or a bare date) read as UK time; PHP's zero dates are None."""
    if not value or value.startswith("0000"):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UK)


@lru_cache(maxsize=4096)  # a book's invoices share a few hundred dates; dates are immutable
def day(value) -> date | None:
    """The date part of `YYYY-MM-DD 00:00:00`, or a `23 Jul 2010` bank date."""
    if not value or value.startswith("0000"):
        return None
    text = value.strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        pass
    parts = text.split()
    if len(parts) == 3 and parts[1][:3].lower() in MONTHS:
        try:
            return date(int(parts[2]), MONTHS[parts[1][:3].lower()], int(parts[0]))
        except ValueError:
            return None
    return None


def currency_code(currency_id, currencies: Mapping[str, str] | None) -> str:
    if currency_id in (None, ""):
        return ""
    code = (currencies or {}).get(currency_id) or HOME_CURRENCIES.get(currency_id, "")
    return code[:3].upper()


def _id(attrs: dict, *names: str) -> str:
    for name in names:
        value = attrs.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()[:100]
    raise MappingError(f"a record has no {' or '.join(names)}")


def _str(value, limit: int) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


#
# Records
#


def invoice_status(raw: str, total: Decimal | None, paid: Decimal | None, balance: Decimal | None, *, bill=False):
    """Codat's status from Clear Books' raw one (kept as received in attributes).

    Codat: invoices are Draft/Submitted/PartiallyPaid/Paid/Void, bills say Open for Submitted.
    Clear Books answers `approved` for an issued invoice whatever has been paid, so the
    amounts decide between submitted, partly paid and paid.
    """
    status = (raw or "").strip().lower()
    if status == "draft":
        return "Draft"
    if status in ("voided", "void"):
        return "Void"
    if status == "paid":
        return "Paid"
    if status in ("approved", "unpaid", "valid"):
        if balance is not None and balance <= 0 and total:
            return "Paid"
        if paid and paid > 0:
            return "PartiallyPaid"
        return "Open" if bill else "Submitted"
    return "Unknown"


def _entity(attrs, currencies):
    return NormalizedRecord(
        id=_id(attrs, "id"),
        name=_str(attrs.get("company_name"), 300) or _str(attrs.get("contact_name"), 300),
        modified_at=timestamp(attrs.get("date_modified")),
        attributes=attrs,
    )


def _invoice(attrs, currencies, bill=False):
    total, paid, balance = money(attrs.get("gross")), money(attrs.get("paid")), money(attrs.get("balance"))
    prefix, number = _str(attrs.get("invoice_prefix"), 100), _str(attrs.get("invoiceNumber"), 100)
    number = number or _str(attrs.get("invoice_number"), 100)  # the DOCS' spelling
    return NormalizedRecord(
        id=_id(attrs, "invoice_id", "id"),
        number=(prefix + number)[:100],
        issued_on=day(attrs.get("dateCreated")),
        due_on=day(attrs.get("dateDue")),
        modified_at=timestamp(attrs.get("dateModified")),
        total=total,
        balance=balance,
        currency=currency_code(attrs.get("multicurrency"), currencies),
        status=invoice_status(attrs.get("status"), total, paid, balance, bill=bill),
        related_id=_str(attrs.get("entityId"), 100),
        attributes=attrs,
    )


def _bill(attrs, currencies):
    return _invoice(attrs, currencies, bill=True)


def _account_code(attrs, currencies):
    code = _id(attrs, "id")
    return NormalizedRecord(
        id=code,
        number=_str(attrs.get("customAccountCode"), 100) or code,
        name=_str(attrs.get("account_name"), 300),
        status="Archived" if boolean(attrs.get("hidden")) else "Active",
        attributes=attrs,
    )


def _bank_account(attrs, currencies):
    last = day(attrs.get("last_date"))
    return NormalizedRecord(
        id=_id(attrs, "id"),
        name=_str(attrs.get("bank_name"), 300),
        # Bank accounts have no modified date; the last statement date is the nearest thing.
        modified_at=datetime(last.year, last.month, last.day, tzinfo=UK) if last else None,
        balance=money(attrs.get("balance")),
        currency=currency_code(attrs.get("currency"), currencies),
        related_id=_str(attrs.get("gl_account_code"), 100),
        attributes=attrs,
    )


def _project(attrs, currencies):
    raw = _str(attrs.get("status"), 40).lower()
    return NormalizedRecord(
        id=_id(attrs, "id"),
        name=_str(attrs.get("projectName"), 300),
        status={"open": "Active", "closed": "Archived", "deleted": "Archived"}.get(raw, "Unknown"),
        attributes=attrs,
    )


def _payment_method(attrs, currencies):
    return NormalizedRecord(
        id=_id(attrs, "id"),
        name=_str(attrs.get("name"), 300),
        status="Archived" if boolean(attrs.get("isClosed")) else "Active",
        attributes=attrs,
    )


MAPPERS = {
    "customers": _entity,
    "suppliers": _entity,
    "invoices": _invoice,
    "bills": _bill,
    "chartOfAccounts": _account_code,
    "bankAccounts": _bank_account,
    "trackingCategories": _project,
    "paymentMethods": _payment_method,
}


def map_record(data_type: str, element, currencies: Mapping[str, str] | None = None) -> NormalizedRecord:
    """One record element of `data_type` -> NormalizedRecord, with every field in `attributes`.

    Raises MappingError when the record lacks its id. `currencies` maps Clear Books
    currency ids to ISO codes (from listCurrencies); without it only GBP is known.
    """
    return MAPPERS[data_type](fields(element), currencies)


def map_records(data_type: str, root, currencies: Mapping[str, str] | None = None) -> list[NormalizedRecord]:
    """Every record of `data_type` in a parsed response, in document order."""
    return map_elements(data_type, find_records(root, RECORD_ELEMENT[data_type]), currencies)


def map_elements(data_type: str, elements, currencies: Mapping[str, str] | None = None) -> list[NormalizedRecord]:
    """Record elements of `data_type` (see find_records) -> NormalizedRecords."""
    mapper = MAPPERS[data_type]
    return [mapper(fields(el), currencies) for el in elements]


def parse_currencies(root) -> dict[str, str]:
    """listCurrencies -> {currency id: ISO code}."""
    out = {}
    for element in find_records(root, "Currency"):
        attrs = fields(element)
        if attrs.get("id") and attrs.get("code"):
            out[attrs["id"].strip()] = attrs["code"].strip().upper()
    return out
