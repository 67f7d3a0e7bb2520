"""Clear Books SOAP records -> NormalizedRecord: pure functions, no database, no network.

Everything here follows the wire facts in shared/clearbooks/API.md §5: records are found
by local name (wrappers, prefixes and namespaces differ between API generations), each
field is an attribute or else a child element, text is HTML-unescaped once (Clear Books
double-escapes some ampersands), money is Decimal, and dates carry no time zone (we read
them as UK time: Clear Books is a UK product).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from lxml import etree

from ..registry import NormalizedRecord

UK = ZoneInfo("Europe/London")
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSI_NIL = f"{{{XSI}}}nil"
XSI_TYPE = f"{{{XSI}}}type"
SOAP_ENC_ARRAY = "{http://schemas.xmlsoap.org/soap/encoding/}arrayType"

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

_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}


def make_parser() -> etree.XMLParser:
    """A hardened lxml parser: no entities, no DTD, no network, no huge trees."""
    return etree.XMLParser(**_PARSER_OPTIONS)


def parse_xml(data: bytes, parser: etree.XMLParser | None = None) -> etree._Element:
    """Parse a response body, refusing any DOCTYPE (the door to entity bombs and XXE)."""
    if b"<!DOCTYPE" in data or b"<\x00!\x00D\x00O\x00C" in data:
        raise MappingError("the response declares a DOCTYPE, which we refuse")
    try:
        root = etree.fromstring(data, parser or make_parser())
    except etree.XMLSyntaxError as exc:
        raise MappingError(f"the response is not well-formed XML: {exc}") from None
    except ValueError as exc:  # e.g. an empty body
        raise MappingError(f"the response is not XML: {exc}") from None
    if root is None:
        raise MappingError("the response is empty")
    if root.getroottree().docinfo.doctype:
        raise MappingError("the response declares a DOCTYPE, which we refuse")
    return root


def local_name(element) -> str:
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def soap_body(root) -> etree._Element | None:
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
    """Every element whose local name is `name`, in any namespace or wrapper.

    PHP's SoapServer in encoded style names array members `item` and types them with
    xsi:type, so fall back to matching `xsi:type="…:Name"` when no element is named so.
    """
    found = list(root.iter(f"{{*}}{name}"))
    if found:
        return found
    return [el for el in root.iter() if isinstance(el.tag, str) and el.get(XSI_TYPE, "").rpartition(":")[2] == name]


#
# Fields
#


def fields(element) -> dict:
    """Every field of a record element as received: attribute, else child element (text or nested)."""
    return _fields(_node(element))


def _node(element) -> list:
    """An lxml element as the same plain node the streaming parser builds, so that one
    function (_fields) decides what every field is, whichever way the XML was read."""
    children = [_node(child) for child in element if isinstance(child.tag, str)]
    text = element.text
    return [local_name(element), dict(element.attrib), children, [text] if text and not children else None]


# A node is [local name, attributes dict (owned), child nodes, text chunks or None].


def _fields(node) -> dict:
    out = node[1]
    if not out:
        out = {}  # lxml hands targets one shared, immutable mapping for "no attributes"
    else:
        if type(out) is not dict:
            out = dict(out)
        if "{" in "".join(out):  # xsi:type, xsi:nil, SOAP-ENC:… are schema machinery, not data
            out = {key: value for key, value in out.items() if key[0] != "{"}
        # One cheap test per record rather than one per value: most records hold no "&".
        if "&" in "\x00".join(out.values()):
            for key, value in out.items():
                if "&" in value:
                    out[key] = _text(value)
    for child in node[2]:
        name = child[0]
        if name not in out:  # the attribute wins when a server sends both
            out[name] = _value(child)
    return out


def _value(node):
    name, attrib, children, text = node
    if name in LIST_FIELDS:
        return [_fields(member) for member in children]
    if attrib:
        if "{" in "".join(attrib):
            if attrib.get(XSI_NIL) in ("true", "1"):
                return None
            if attrib.get(SOAP_ENC_ARRAY) is not None:
                return [_fields(member) for member in children]
            if not children and name not in OBJECT_FIELDS and all(key[0] == "{" for key in attrib):
                return _text("".join(text)) if text else ""
        return _fields(node)
    if children or name in OBJECT_FIELDS:
        return _fields(node)
    return _text("".join(text)) if text else ""


#
# Streaming: records straight from the parser's events
#


@dataclass
class Response:
    """What the client needs from one answer, read in a single pass."""

    envelope: bool  # the root is a SOAP Envelope
    body_children: int  # elements directly in its Body (the operation's response, or a Fault)
    fault: Fault | None
    nodes: list  # the records asked for, as nodes


class _Collector:
    """An lxml parser target that keeps only what the client uses: the envelope's shape, a
    Fault, and the records named `record` as plain nodes. Building no element tree and
    reading no attribute twice makes it several times faster than tree + fields()."""

    def __init__(self, record: str):
        self.record = record
        self.named, self.typed, self.stack = [], [], []
        self.depth = self.body_children = 0
        self.envelope = self.in_body = self.in_fault = False
        self.fault = None
        self.fault_field = None

    def start(self, tag, attrib):
        self.depth += 1
        name = tag.rpartition("}")[2]
        stack = self.stack
        if stack:
            node = [name, self._unquirk(attrib), [], None]
            stack[-1][2].append(node)
            stack.append(node)
            return
        depth = self.depth
        if depth == 1:
            self.envelope = name == "Envelope"
        elif depth == 2:
            self.in_body = self.envelope and name == "Body"
        elif depth == 3 and self.in_body:
            self.body_children += 1
            if name == "Fault" and self.fault is None:
                self.fault, self.in_fault = {}, True
        elif depth == 4 and self.in_fault:
            self.fault_field = name
            self.fault.setdefault(name, [])
        if not self.record:
            return
        if name == self.record:
            node = [name, self._unquirk(attrib), [], None]
            self.named.append(node)
            stack.append(node)
        elif attrib and attrib.get(XSI_TYPE, "").rpartition(":")[2] == self.record:
            node = [name, self._unquirk(attrib), [], None]
            self.typed.append(node)
            stack.append(node)

    @staticmethod
    def _unquirk(attrib):
        # Without entity substitution, libxml2 hands a parser target every "&" of an
        # attribute value as "&#38;" (text content is not affected). Undo exactly that, so
        # values match what the element tree gives; html.unescape then runs once, as usual.
        if attrib and "&#38;" in "\x00".join(attrib.values()):
            return {key: value.replace("&#38;", "&") for key, value in attrib.items()}
        return attrib

    def data(self, text):
        if self.stack:
            node = self.stack[-1]
            if node[3] is None:
                node[3] = [text]
            else:
                node[3].append(text)
        elif self.fault_field is not None:
            self.fault[self.fault_field].append(text)

    def end(self, tag):
        depth = self.depth
        self.depth -= 1
        if self.stack:
            self.stack.pop()
        elif depth == 4 and self.in_fault:
            self.fault_field = None
        elif depth == 3:
            self.in_fault = False
        elif depth == 2:
            self.in_body = False

    def doctype(self, *args):
        raise MappingError("the response declares a DOCTYPE, which we refuse")

    def close(self):
        return self

    def fault_text(self, *names) -> str:
        for name in names:
            if name in self.fault:
                return " ".join("".join(self.fault[name]).split())
        return ""


def parse_response(data: bytes, record: str = "") -> Response:
    """Read a response body in one pass with the hardened parser: its SOAP shape, its Fault
    and every record element named `record` (or typed so, for PHP encoded arrays)."""
    if b"<!DOCTYPE" in data or b"<\x00!\x00D\x00O\x00C" in data:
        raise MappingError("the response declares a DOCTYPE, which we refuse")
    collector = _Collector(record)
    try:
        etree.fromstring(data, etree.XMLParser(target=collector, **_PARSER_OPTIONS))
    except etree.XMLSyntaxError as exc:
        raise MappingError(f"the response is not well-formed XML: {exc}") from None
    except ValueError as exc:  # e.g. an empty body
        raise MappingError(f"the response is not XML: {exc}") from None
    fault = None
    if collector.fault is not None:
        fault = Fault(collector.fault_text("faultcode", "Code"), collector.fault_text("faultstring", "Reason"))
    return Response(collector.envelope, collector.body_children, fault, collector.named or collector.typed)


def _text(value: str) -> str:
    # Unescape once: `Fixtures &amp;amp; fittings` parses to `Fixtures &amp; fittings` and
    # means `Fixtures & fittings`. URLs are escaped normally, and unescaping them would
    # turn query strings such as `&para=1` into `¶=1`, so they are left alone.
    if "&" in value and not value.startswith(("http://", "https://")):
        return html.unescape(value)
    return value


def money(value) -> Decimal | None:
    """Plain-text amounts of any scale; None when absent or not a finite, storable number."""
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
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
    """Every record of `data_type` in a parsed response (an lxml tree), in document order."""
    mapper = MAPPERS[data_type]
    return [mapper(fields(el), currencies) for el in find_records(root, RECORD_ELEMENT[data_type])]


def map_nodes(data_type: str, nodes: list, currencies: Mapping[str, str] | None = None) -> list[NormalizedRecord]:
    """The same for the record nodes of a streamed Response (parse_response)."""
    mapper = MAPPERS[data_type]
    return [mapper(_fields(node), currencies) for node in nodes]


def _currency_codes(records) -> dict[str, str]:
    out = {}
    for attrs in records:
        if attrs.get("id") and attrs.get("code"):
            out[attrs["id"].strip()] = attrs["code"].strip().upper()
    return out


def parse_currencies(root) -> dict[str, str]:
    """listCurrencies (an lxml tree) -> {currency id: ISO code}."""
    return _currency_codes(fields(el) for el in find_records(root, "Currency"))


def currencies_from(nodes: list) -> dict[str, str]:
    """listCurrencies (streamed Response nodes) -> {currency id: ISO code}."""
    return _currency_codes(_fields(node) for node in nodes)
