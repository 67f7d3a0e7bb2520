"""Clear Books SOAP records -> NormalizedRecord: pure functions, no database, no network.

Everything here follows the wire facts in shared/clearbooks/API.md §5: records are found
by local name (wrappers, prefixes and namespaces differ between API generations), each
field is an attribute or else a child element, text is HTML-unescaped once (Clear Books
double-escapes some ampersands), money is Decimal, and dates carry no time zone (we read
them as UK time: Clear Books is a UK product).
"""

from __future__ import annotations

import hashlib
import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from operator import attrgetter
from zoneinfo import ZoneInfo

from ..registry import NormalizedRecord

UK = ZoneInfo("Europe/London")
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSI_NIL = f"{{{XSI}}}nil"
XSI_TYPE = f"{{{XSI}}}type"
SOAP_ENC_ARRAY = "{http://schemas.xmlsoap.org/soap/encoding/}arrayType"
_TAG = attrgetter("tag")

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


class MappingError(ValueError):
    """A response that parses as XML but lacks what a record must have (e.g. an id)."""


@dataclass(frozen=True)
class Fault:
    code: str
    string: str

    @property
    def is_login_failure(self) -> bool:
        # The API answers faultcode "Receiver" for bad keys, so only the string tells (API.md §3).
        return self.string.strip().lower().startswith("login failed")


#
# XML
#

# Responses are parsed by the standard library's C ElementTree (expat), not lxml: lxml hands
# every attribute to Python through a slow per-attribute call (~0.3 µs each, ~40 per invoice),
# while expat builds each element's attributes as a plain dict while parsing. Parsing and
# mapping a page of 100 invoices went from ~4.0 ms to ~2.6 ms on the benchmark machine (the
# parse is ~0.4 ms slower than lxml's, reading the fields ~1.7 ms faster). lxml still builds
# our requests (via zeep).
#
# Safety, the same as before: a DOCTYPE anywhere is refused before parsing, so there is no DTD,
# hence no entity (an undefined `&name;` is a syntax error) and no external reference. The byte
# check covers every encoding expat reads: UTF-8, UTF-16 and single-byte encodings, which expat
# only accepts when they map ASCII markup characters to themselves. expat never fetches
# anything, and responses are size-capped by the transport. Records nested deeper than
# MAX_DEPTH are refused where they are read recursively (`fields`), rather than by walking
# every parsed tree (lxml's limit without huge_tree was 256 too).
MAX_DEPTH = 256


def parse_xml(data: bytes) -> ET.Element:
    """Parse a response body, refusing any DOCTYPE (the door to entity bombs and XXE)."""
    # Searching a 100 KB page for "<!DOCTYPE" takes ~50 µs (a "<" every few bytes slows the
    # search): it is searched for only when the text holds a "!" at all (~1 µs), and the UTF-16
    # spelling only in UTF-16 text, whose first characters (markup or a byte order mark)
    # always hold a zero byte.
    if (b"!" in data and b"<!DOCTYPE" in data) or (b"\x00" in data[:64] and b"<\x00!\x00D\x00O\x00C" in data):
        raise MappingError("the response declares a DOCTYPE, which we refuse")
    parser = ET.XMLParser(target=ET.TreeBuilder())  # comments and processing instructions are dropped
    try:
        parser.feed(data)
        root = parser.close()
    except ET.ParseError as exc:
        raise MappingError(f"the response is not well-formed XML: {exc}") from None
    except (ValueError, LookupError) as exc:  # e.g. an encoding expat cannot read
        raise MappingError(f"the response is not XML: {exc}") from None
    return root


def local_name(element) -> str:
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def soap_body(root) -> ET.Element | None:
    """The SOAP Body of an envelope, whatever its prefix or SOAP version."""
    if local_name(root) != "Envelope":
        return None
    return next((child for child in root if local_name(child) == "Body"), None)


def parse_fault(root) -> Fault | None:
    """The SOAP Fault in an envelope, if any (SOAP 1.1 faultstring, or SOAP 1.2 Reason/Text)."""
    body = soap_body(root)
    if body is None:
        return None
    fault = next((child for child in body if local_name(child) == "Fault"), None)
    if fault is None:
        return None
    fields = {local_name(child): child for child in fault}
    code = fields.get("faultcode") if "faultcode" in fields else fields.get("Code")
    string = fields.get("faultstring") if "faultstring" in fields else fields.get("Reason")
    return Fault(code=_all_text(code), string=_all_text(string))


def _all_text(element) -> str:
    return " ".join("".join(element.itertext()).split()) if element is not None else ""


def find_records(root, name: str) -> list:
    """Every element whose local name is `name`, in any namespace or wrapper, in document order.

    PHP's SoapServer in encoded style names array members `item` and types them with
    xsi:type, so fall back to matching `xsi:type="…:Name"` when no element is named so.
    """
    # Distinct tags first (a page has a dozen), then C-speed iteration by exact tag: several
    # times faster than a `{*}` wildcard path, which ElementTree matches in Python.
    wanted = {tag for tag in set(map(_TAG, root.iter())) if isinstance(tag, str) and tag.rpartition("}")[2] == name}
    if len(wanted) == 1:
        return list(root.iter(wanted.pop()))
    if wanted:  # the same name in several namespaces: keep document order
        return [el for el in root.iter() if el.tag in wanted]
    return [el for el in root.iter() if isinstance(el.tag, str) and el.get(XSI_TYPE, "").rpartition(":")[2] == name]


#
# Records as they came over the wire
#

# A re-sync reads every invoice again (modifiedSince does not work for them), and most have
# not changed. Parsing and mapping a page costs more than fetching it, so the sync engine
# compares each record's bytes first: a record whose bytes it stored last time has not
# changed, and is neither parsed nor mapped. Any record it does not recognise goes the
# whole way (parse, map, content hash), which alone decides created, updated or unchanged.
#
# The bytes of each record are cut from the response without parsing it, so the cut is made
# only where it cannot be wrong: a response with no comment, CDATA section, DOCTYPE or
# processing instruction (every "<" in it starts a real tag, so the record's start tags are
# exactly where `<prefix:Name` appears), whose records each end with their closing tag before
# the next one starts (no record nested in another), and which ends its envelope. Otherwise
# `record_spans` says None and the page is parsed as usual.


def _scanner(name: str) -> re.Pattern:
    # One pass finds both the record's start tags and anything that stops the cut: `<!`
    # (comment, CDATA, DOCTYPE) or `<?` (a processing instruction; the XML declaration is
    # allowed, at the very start).
    return re.compile(rb"<(?:[!?]|(?:[A-Za-z_][\w.\-]*:)?" + re.escape(name.encode()) + rb"[\s/>])")


_SCANNERS = {name: _scanner(name) for name in set(RECORD_ELEMENT.values())}


def record_spans(body: bytes, name: str) -> list[tuple[int, int]] | None:
    """Where each record element named `name` (any prefix) starts and ends in `body`, in
    document order; None when there is none, or when the bytes cannot be cut safely."""
    if not body[-64:].rstrip().endswith(b"Envelope>"):  # cut short, or not an envelope
        return None
    scanner = _SCANNERS.get(name) or _scanner(name)
    starts = []
    for match in scanner.finditer(body):
        tag = match.group()
        if tag[1] in b"!?":
            if match.start() or tag != b"<?":
                return None
            continue
        starts.append((match.start(), tag[1:-1]))
    if not starts:
        return None
    spans = []
    ends = [start for start, _ in starts[1:]] + [len(body)]
    for (start, qname), end in zip(starts, ends, strict=True):
        close = body.rfind(b"</" + qname + b">", start, end)
        if close < 0:  # self-closing, nested in another or cut short: parse instead
            return None
        spans.append((start, close + len(qname) + 3))
    return spans


_NAMESPACE_DECLARATION = re.compile(rb"""\sxmlns(?::([A-Za-z_][\w.\-]*))?\s*=\s*("[^"]*"|'[^']*')""")


def parse_records_alone(body: bytes, spans, every_span, name: str) -> list | None:
    """Parse only the records at `spans` (some of `every_span`, from record_spans), each inside
    a wrapper that declares the namespaces of the response around its records; their
    elements, or None when that cannot be done exactly (a prefix declared twice with
    different meanings, or a record that does not parse alone): parse the whole response then."""
    # The declarations in scope at a record are on its ancestors, whose start tags all come
    # before it and outside every record: in the bytes before the first record and between them.
    head = body[: every_span[0][0]]
    outside = [head] + [body[end:start] for (_, end), (start, _) in zip(every_span, every_span[1:], strict=False)]
    # The XML declaration goes first too: it names the encoding the record's bytes are in.
    declaration = head[: head.find(b"?>") + 2] if head.startswith(b"<?xml") else b""
    declared = {}
    for prefix, value in _NAMESPACE_DECLARATION.findall(b" ".join(outside)):
        if declared.setdefault(prefix, value) != value:
            return None
    wrapper = b"<w" + b"".join(
        b" xmlns" + (b":" + prefix if prefix else b"") + b"=" + value for prefix, value in declared.items()
    )
    found = []
    for start, end in spans:
        try:
            root = parse_xml(declaration + wrapper + b">" + body[start:end] + b"</w>")
        except MappingError:
            return None
        elements = find_records(root, name)
        if len(elements) != 1:
            return None
        found.append(elements[0])
    return found


def wire_hashes(body: bytes, spans) -> list[str]:
    """A digest of each record's bytes as received. Not a security measure: it only tells a
    record from its own earlier bytes, so the fastest digest at hand (SHA-1, here) will do."""
    view = memoryview(body)
    return [hashlib.sha1(view[start:end], usedforsecurity=False).hexdigest() for start, end in spans]


#
# Fields
#


_URLS = ("http://", "https://")  # values left escaped (see _text)


def fields(element, depth=0) -> dict:
    """Every field of a record as received: attribute, else child element (text or nested)."""
    if depth > MAX_DEPTH:
        raise MappingError(f"a record nests elements more than {MAX_DEPTH} deep, which we refuse")
    # The hot path of a sync (a page of 100 invoices has ~4,000 fields): a C-level dict copy
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
