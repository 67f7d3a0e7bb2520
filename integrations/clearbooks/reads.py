"""Reading one data type: which operation answers it, paging, and the pages the provider yields.

Paged operations advance the offset by the records received and stop on an empty page
(page sizes are not to be trusted, docs/clearbooks.md §7); records are deduplicated by
id. Only entities honour modifiedSince (§8), so other data types are always read in full.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..registry import ErrorKind, NormalizedRecord, WirePage
from . import errors, mapping, parsing, wire
from .errors import ClearBooksError
from .redaction import ApiKey, guarded_logger
from .retries import RetryPolicy, call
from .service import parse_answer

log = guarded_logger(__name__)


@dataclass(frozen=True)
class Read:
    operation: str
    query: dict | None = None  # the `query` part's fields; None when the operation has no query
    paging: str = ""  # "query" (query.offset), "offset" (an offset part) or "" (one answer)
    incremental: bool = False  # honours modifiedSince (entities only: docs/clearbooks.md §8)
    currencies: bool = False  # records carry currency ids worth turning into codes


READS = {
    "customers": Read("listEntities", {"type": "customer"}, "query", incremental=True),
    "suppliers": Read("listEntities", {"type": "supplier"}, "query", incremental=True),
    # status=all: voided invoices are read too, so a void shows as Void rather than vanishing.
    "invoices": Read("listInvoices", {"ledger": "sales", "status": "all"}, "query", currencies=True),
    "bills": Read("listInvoices", {"ledger": "purchases", "status": "all"}, "query", currencies=True),
    "chartOfAccounts": Read("listAccountCodes"),
    "bankAccounts": Read("listBankAccounts", currencies=True),
    "trackingCategories": Read("listProjects", paging="offset"),
    "paymentMethods": Read("listPaymentMethods"),
}
SUPPORTED_DATA_TYPES = tuple(READS)
MAX_PAGES = 100_000  # a server that never sends an empty page cannot keep us forever


def read_pages(
    wsdl_url: str,
    api_key: str,
    data_type: str,
    modified_since: datetime | None = None,
    timeout: float = 60,
    *,
    policy: RetryPolicy | None = None,
    lazy: bool = False,
    wire_hashes: bool = False,
    on_retry=None,
) -> Iterator[list[NormalizedRecord] | WirePage]:
    """Yield the records of one data type, one page (a list of NormalizedRecord) at a time.

    With `modified_since`, customers and suppliers are read incrementally; other data types
    are always read in full (invoices' modifiedSince does not work, per the vendor). Raises
    ClearBooksError: NOT_SUPPORTED for an unknown data type, AUTH when the key is refused
    (also mid-read), TRANSIENT/RATE_LIMIT once retries run out, PERMANENT otherwise.

    For the sync engine: `wire_hashes` gives each record the digest of its bytes as received
    (wire.record_spans says when they can be cut safely); `lazy` yields such pages as
    WirePages, parsed and mapped only when asked, and only for the records asked for.
    `on_retry` is told of each retry (retries.call).
    """
    # The generator keeps only the masked ApiKey, never the plain string, in its frame.
    policy = policy or RetryPolicy.from_settings()
    return _pages(wsdl_url, ApiKey(api_key), data_type, modified_since, timeout, policy, lazy, wire_hashes, on_retry)


def _since(modified_since: datetime) -> str:
    """modifiedSince goes as a UK date (its time zone and bound are undocumented), one day
    early so that nothing is missed; re-reading a few unchanged entities costs little, as the
    sync engine compares content anyway."""
    if modified_since.tzinfo is None:
        modified_since = modified_since.replace(tzinfo=mapping.UK)
    return (modified_since.astimezone(mapping.UK).date() - timedelta(days=1)).isoformat()


def _params(read: Read, offset: int, since: str | None) -> dict:
    if read.paging == "offset":
        return {"offset": offset}
    if read.query is None:
        return {}
    query = dict(read.query)
    if read.paging:
        query["offset"] = offset
    if since:
        query["modifiedSince"] = since
    return {"query": query}


def _currencies(wsdl_url, api_key, timeout, policy, on_retry=None) -> dict:
    try:
        root = call(wsdl_url, api_key, "listCurrencies", {}, timeout, policy, on_retry=on_retry)
    except ClearBooksError as exc:
        if exc.kind != ErrorKind.PERMANENT:
            raise
        log.warning("listCurrencies failed; only GBP amounts get a currency code: %s", exc.detail)
        return {}
    return mapping.parse_currencies(root)


def _pages(
    wsdl_url, api_key: ApiKey, data_type, modified_since, timeout, policy, lazy=False, hashes=False, on_retry=None
):
    read = READS.get(data_type)
    if read is None:
        raise errors.not_supported(data_type)
    since = _since(modified_since) if (modified_since and read.incremental) else None
    currencies = _currencies(wsdl_url, api_key, timeout, policy, on_retry) if read.currencies else None
    record_name = mapping.RECORD_ELEMENT[data_type]
    seen: set[str] = set()  # ids read
    seen_wire: set[str] = set()  # wire hashes of the pages left unparsed
    offset = 0
    for page_number in range(MAX_PAGES):
        if page_number and policy.page_gap:
            policy.sleep(policy.page_gap)
        params = _params(read, offset, since)
        answer = call(wsdl_url, api_key, read.operation, params, timeout, policy, raw=lazy or hashes, on_retry=on_retry)
        body = answer if isinstance(answer, bytes) else None  # unparsed: its records may be cut and hashed
        spans = wire.record_spans(body, record_name) if body is not None else None
        if lazy and spans:
            page = _WirePage(data_type, read.operation, body, spans, currencies)
            if read.paging and seen_wire.issuperset(page.wire_hashes):
                raise _same_again(data_type, read.operation, offset)
            seen_wire.update(page.wire_hashes)
            received = len(spans)
            yield page
        else:
            root = answer if body is None else parse_answer(read.operation, body)
            elements = parsing.find_records(root, record_name)
            if not elements:
                return
            records = _map(data_type, read.operation, elements, currencies)
            if spans and len(spans) == len(records):
                for record, digest in zip(records, wire.wire_hashes(body, spans), strict=True):
                    record.wire_hash = digest
            fresh = [r for r in records if r.id not in seen]
            if read.paging and not fresh:
                raise _same_again(data_type, read.operation, offset)
            seen.update(r.id for r in fresh)
            received = len(elements)
            yield _unique(fresh)
        if not read.paging:
            return
        offset += received
    raise ClearBooksError(
        ErrorKind.PERMANENT,
        f"Clear Books sent more pages of {data_type} than we allow; we stopped.",
        f"{read.operation}: more than {MAX_PAGES} pages",
    )


def _same_again(data_type, operation, offset) -> ClearBooksError:
    return ClearBooksError(
        ErrorKind.PERMANENT,
        f"Clear Books kept sending the same {data_type} again; we stopped to avoid reading forever.",
        f"{operation} at offset {offset} returned only records already read (is the offset ignored?)",
    )


class _WirePage(WirePage):
    """A page whose records were cut from the answer and hashed, not yet parsed."""

    def __init__(self, data_type, operation, body: bytes, spans, currencies):
        self.data_type, self.operation, self.currencies = data_type, operation, currencies
        self._body, self._spans = body, spans
        self.wire_hashes = wire.wire_hashes(body, spans)

    def records(self, skip=frozenset()) -> list[NormalizedRecord]:
        wanted = [i for i in range(len(self.wire_hashes)) if i not in skip]
        if not wanted:
            return []  # every record known: nothing to parse
        name = mapping.RECORD_ELEMENT[self.data_type]
        elements = None
        if len(wanted) * 4 <= len(self.wire_hashes):  # a few new or changed among known ones: parse just those
            elements = wire.parse_records_alone(self._body, [self._spans[i] for i in wanted], self._spans, name)
        if elements is None:
            root = parse_answer(self.operation, self._body)
            every = parsing.find_records(root, name)
            if len(every) != len(self.wire_hashes):  # the cut and the parse disagree: never guess
                raise errors.unreadable(
                    self.operation, f"{len(every)} records parsed where {len(self.wire_hashes)} were cut"
                )
            elements = [every[i] for i in wanted]
        records = _map(self.data_type, self.operation, elements, self.currencies)
        for i, record in zip(wanted, records, strict=True):
            record.wire_hash = self.wire_hashes[i]
        return _unique(records)


def _map(data_type, operation, elements, currencies) -> list[NormalizedRecord]:
    """Record elements -> NormalizedRecords, or ClearBooksError (permanent) when one cannot be read."""
    try:
        return mapping.map_elements(data_type, elements, currencies)
    except mapping.MappingError as exc:
        problem = str(exc)
    raise errors.unreadable(operation, problem)  # outside the except block: nothing chained


def _unique(records: list[NormalizedRecord]) -> list[NormalizedRecord]:
    # The same id twice within one page: keep the last, as an upsert would.
    if len({r.id for r in records}) == len(records):
        return records
    return list({r.id: r for r in records}.values())
