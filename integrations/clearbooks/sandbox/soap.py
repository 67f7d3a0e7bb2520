"""Reading a SOAP request and answering the read operations from a key's books.

Requests are parsed with entities, DTDs and network access refused. Operations
follow the documented behaviour: offset paging by records with per-operation page
sizes, `modifiedSince` and `type` on listEntities, `ledger` and `status` on
listInvoices (whose deprecated `modifiedSince` is ignored, as the real one
effectively is).
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from lxml import etree

from . import render
from .formats import money
from .wsdl import LEGACY_TNS, OPERATIONS, SOAP_ENV, TNS

DEFAULT_PAGE_SIZES = {"listInvoices": 100, "listEntities": 1000, "listProjects": 1000}
NO_KEY = "Login Failed : no api key set"
BAD_KEY = "Login Failed"

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


class SoapFault(Exception):
    def __init__(self, faultstring, faultcode="Receiver"):
        super().__init__(faultstring)
        self.faultstring = faultstring
        self.faultcode = faultcode


@dataclass
class Call:
    """What a request asks: the operation, its key (or None) and its parameter elements."""

    operation: str
    api_key: str | None
    body: etree._Element


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def parse_request(data: bytes) -> Call:
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise SoapFault(f"Bad Request: {exc}", "SOAP-ENV:Client") from None
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise SoapFault("Bad Request: not a SOAP 1.1 envelope", "SOAP-ENV:VersionMismatch")
    body = root.find(f"{{{SOAP_ENV}}}Body")
    operation = next((el for el in body if isinstance(el.tag, str)), None) if body is not None else None
    if operation is None:
        raise SoapFault("Bad Request: empty body", "SOAP-ENV:Client")
    return Call(_local(operation.tag), _api_key(root), operation)


def _api_key(root) -> str | None:
    """The key from either documented header shape; a header in another namespace counts as none."""
    header = root.find(f"{{{SOAP_ENV}}}Header")
    if header is None:
        return None
    for ns in (TNS, LEGACY_TNS):
        auth = header.find(f"{{{ns}}}authenticate")
        if auth is None:
            continue
        key = auth.get("apiKey")
        if key is None:
            child = next((el for el in auth if _local(el.tag) == "apiKey"), None)
            key = child.text if child is not None else None
        key = (key or "").strip()
        return key or None
    return None


def _param(body, name):
    return next((el for el in body if _local(el.tag) == name), None)


def _int(value, name, default=0):
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise SoapFault(f"Invalid {name}: expected a whole number", "SOAP-ENV:Client") from None


def _ids(query, name):
    """An id filter: `<id><xsd:int>1</xsd:int></id>` (DOCS) or repeated `<id>1</id>`; None when absent."""
    found = [el for el in query if _local(el.tag) == name]
    if not found:
        return None
    ids = set()
    for el in found:
        values = [child.text for child in el if isinstance(child.tag, str)] or [el.text]
        ids.update(v.strip() for v in values if v and v.strip())
    return ids


def _since(value):
    """modifiedSince as YYYY-MM-DD, 'YYYY-MM-DD HH:MM:SS' or ISO 8601; times with an offset become UTC."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SoapFault("Invalid modifiedSince: expected YYYY-MM-DD", "SOAP-ENV:Client") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _page(records, offset, size):
    offset = max(offset, 0)
    return records[offset : offset + size]


def list_entities(books, body, page_size):
    query = _param(body, "query")
    attrs = query.attrib if query is not None else {}
    kind = (attrs.get("type") or "").strip().lower()
    roles = {"customer": "customer", "customers": "customer", "supplier": "supplier", "suppliers": "supplier"}
    if kind and kind not in roles:
        raise SoapFault("Invalid entity type: use customer or supplier", "SOAP-ENV:Client")
    records = books.entities_since(roles[kind] if kind else None, _since(attrs.get("modifiedSince")))
    name = (attrs.get("companyName") or "").strip().lower()
    if name:
        records = [e for e in records if name in e["company_name"].lower()]
    ids = _ids(query, "id") if query is not None else None
    if ids is not None:
        records = [e for e in records if e["id"] in ids]
    page = _page(records, _int(attrs.get("offset"), "offset"), page_size)
    return "".join(render.record("Entity", e) for e in page)


INVOICE_STATUSES = {
    "all": None,
    "valid": lambda s: s != "voided",
    "invalid": lambda s: s == "voided",
    "voided": lambda s: s == "voided",
    "draft": lambda s: s == "draft",
    "paid": lambda s: s == "paid",
    "unpaid": lambda s: s == "approved",
    # The sandbox's books hold none of these kinds.
    "bad_debt": lambda s: False,
    "credited": lambda s: False,
    "credit_note": lambda s: False,
    "refund": lambda s: False,
    "recurring": lambda s: False,
}


def list_invoices(books, body, page_size):
    query = _param(body, "query")
    attrs = query.attrib if query is not None else {}
    ledger = (attrs.get("ledger") or "").strip().lower()
    if ledger in ("sales", "sale"):
        records = books.records("invoices")
    elif ledger in ("purchases", "purchase"):
        records = books.records("bills")
    elif not ledger:
        records = books.invoices
    else:
        raise SoapFault("Invalid ledger: use sales or purchases", "SOAP-ENV:Client")
    status = (attrs.get("status") or "all").strip().lower()
    if status not in INVOICE_STATUSES:
        raise SoapFault(f"Invalid status: {status[:40]}", "SOAP-ENV:Client")
    keep = INVOICE_STATUSES[status]
    if keep is not None:
        records = [inv for inv in records if keep(inv["status"])]
    for name, field in (("id", "invoice_id"), ("entityId", "entityId")):
        ids = _ids(query, name) if query is not None else None
        if ids is not None:
            records = [inv for inv in records if inv[field] in ids]
    page = _page(records, _int(attrs.get("offset"), "offset"), page_size)
    return "".join(render.record("Invoice", inv) for inv in page)


def list_projects(books, body, page_size):
    offset = _param(body, "offset")
    page = _page(books.projects, _int(offset.text if offset is not None else None, "offset"), page_size)
    return "".join(render.record("Project", p) for p in page)


def list_bank_accounts(books, body, page_size):
    items = "".join(render.record("BankAccountListItem", b) for b in books.bank_accounts)
    total = money(sum((Decimal(b["balance"]) for b in books.bank_accounts), Decimal(0)))
    return f"<bankAccounts>{items}</bankAccounts><total>{total}</total>"


HANDLERS = {
    "listEntities": list_entities,
    "listInvoices": list_invoices,
    "listProjects": list_projects,
    "listBankAccounts": list_bank_accounts,
    "listAccountCodes": lambda books, body, size: "".join(render.record("AccountCode", c) for c in books.account_codes),
    "listPaymentMethods": lambda books, body, size: "".join(
        render.record("PaymentMethod", m) for m in books.payment_methods
    ),
    "listCurrencies": lambda books, body, size: "".join(render.record("Currency", c) for c in books.currencies),
}


def answer(books, call: Call, page_sizes: dict) -> bytes:
    """The response envelope for an authenticated call."""
    handler = HANDLERS.get(call.operation)
    if handler is None:
        # PHP SoapServer's wording for an operation it does not offer.
        raise SoapFault(f'Function ("{call.operation[:60]}") is not a valid method for this service', "SOAP-ENV:Client")
    size = page_sizes.get(call.operation, DEFAULT_PAGE_SIZES.get(call.operation, 0))
    inner = handler(books, call.body, size)
    return render.envelope(call.operation, OPERATIONS[call.operation].result, inner)
