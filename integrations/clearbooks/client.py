"""The Clear Books SOAP client: the only module that imports zeep.

zeep reads the WSDL (once per process, WSDL URL and timeout) and builds every request
from it, so any server that follows the documented protocol works, wherever its WSDL
lives. Responses are not handed back to zeep: we stream them with a size cap, parse each
exactly once with a parser that refuses DTDs and entities, and read records by local name
(mapping.py), which is both safer and several times faster than zeep's object binding.

Failures are classified once (errors.py), retried here when transient, and surface as
ClearBooksError. The API key travels only inside the SOAP header: it is wrapped in
`ApiKey` (masked repr), never logged (a redacting filter sits on zeep's, requests' and
urllib3's loggers), and scrubbed from anything a server echoes back.
"""

from __future__ import annotations

import email.utils
import http.cookiejar
import logging
import os
import random
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import requests
import zeep
import zeep.exceptions
from lxml import etree
from zeep.cache import InMemoryCache
from zeep.transports import Transport

from ..registry import CredentialCheck, CredentialStatus, ErrorKind, NormalizedRecord, WirePage
from . import errors, mapping
from .errors import ClearBooksError

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 50 * 1024 * 1024  # no answer may exhaust memory; the largest real page is far smaller
MAX_WSDL_BYTES = 10 * 1024 * 1024
CONNECT_TIMEOUT = 10
CHUNK_BYTES = 256 * 1024
USER_AGENT = "IntegrationPortal-ClearBooks/1.0"


#
# The API key
#


class ApiKey:
    """The company's API key. Its repr and str are masked so that it cannot leak through
    a log line, an error message or a traceback's locals; `reveal()` is called in one place,
    where the SOAP header is built."""

    __slots__ = ("_value",)

    def __init__(self, value):
        self._value = "" if value is None else str(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self):
        return "ApiKey('[redacted]')"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("an API key is not picklable")


_SECRET_PATTERNS = (
    re.compile(r"(<(?:[\w.-]+:)?apiKey(?:\s[^>]*)?>)[^<]*(</)", re.IGNORECASE),
    re.compile(r"(apiKey\s*=\s*[\"'])[^\"']*([\"'])", re.IGNORECASE),
)


class RedactApiKeys(logging.Filter):
    """Blank every `<apiKey>…</apiKey>` and `apiKey="…"` in a log record, in case some
    library logs an envelope at DEBUG (zeep's transport does when it sends one)."""

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logger's business, not ours
            return True
        redacted = message
        for pattern in _SECRET_PATTERNS:
            redacted = pattern.sub(r"\1[redacted]\2", redacted)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_REDACTOR = RedactApiKeys()


_LIBRARY_LOGGERS = {
    # Some are created lazily (zeep's transport asks for its logger in __init__), so they
    # are named here rather than only found in the logging registry.
    "zeep",
    "zeep.transports",
    "zeep.wsdl.wsdl",
    "zeep.wsdl.bindings.soap",
    "zeep.xsd.schema",
    "requests",
    "urllib3",
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.response",
    __name__,
}


def _guard_library_loggers():
    # A filter on a logger only sees records created on that very logger, not on its
    # children, so it goes on every logger these libraries create.
    names = set(_LIBRARY_LOGGERS)
    names.update(
        name for name in logging.root.manager.loggerDict if name.split(".")[0] in ("zeep", "requests", "urllib3")
    )
    for name in names:
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)


_guard_library_loggers()


#
# Retries
#


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried: exponential backoff with jitter, bounded.

    Delays are base_delay * 2**(try-1), each scaled by a random factor in [0.5, 1]
    and capped by max_delay; a Retry-After from the server wins (still capped).
    """

    attempts: int = 5
    base_delay: float = 2.0
    max_delay: float = 60.0
    page_gap: float = 0.0  # seconds between pages (politeness towards the real service)
    sleep: object = field(default=time.sleep, repr=False, compare=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_delay))
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return backoff * random.uniform(0.5, 1.0)

    @classmethod
    def from_settings(cls) -> RetryPolicy:
        """Defaults, overridden by CLEARBOOKS_RETRY_ATTEMPTS / _BASE_DELAY / _MAX_DELAY / CLEARBOOKS_PAGE_GAP."""
        from django.conf import settings

        return cls(
            attempts=int(getattr(settings, "CLEARBOOKS_RETRY_ATTEMPTS", cls.attempts)),
            base_delay=float(getattr(settings, "CLEARBOOKS_RETRY_BASE_DELAY", cls.base_delay)),
            max_delay=float(getattr(settings, "CLEARBOOKS_RETRY_MAX_DELAY", cls.max_delay)),
            page_gap=float(getattr(settings, "CLEARBOOKS_PAGE_GAP", cls.page_gap)),
        )


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


#
# Transport: streamed, capped, silent
#


class _TooLarge(Exception):
    pass


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: dict
    content: bytes


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    # One session serves every company: a cookie set for one must never reach another.
    def set_ok(self, cookie, request):
        return False

    def return_ok(self, cookie, request):
        return False


class _CappedTransport(Transport):
    """zeep's transport, but every body is streamed and capped, with a total deadline,
    and nothing is logged (zeep's own post() logs whole envelopes at DEBUG)."""

    def __init__(self, *, timeout: float, max_bytes: int, **kwargs):
        super().__init__(timeout=timeout, operation_timeout=timeout, **kwargs)
        self.max_bytes = max_bytes
        self.wsdl_loads = 0  # how many WSDL/XSD documents were fetched (tests check it stays at 1)
        self._prepared_requests: dict[tuple, requests.PreparedRequest] = {}

    def _read(self, response, limit: int, deadline: float) -> bytes:
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > limit:
            raise _TooLarge(f"Content-Length {length} is over the {limit}-byte limit")
        chunks, size = [], 0
        for chunk in response.iter_content(CHUNK_BYTES):
            size += len(chunk)
            if size > limit:
                raise _TooLarge(f"the answer passed the {limit}-byte limit")
            if time.monotonic() > deadline:
                raise requests.exceptions.ReadTimeout(f"the answer took longer than {self.load_timeout}s to arrive")
            chunks.append(chunk)
        return b"".join(chunks)

    def _prepared(self, address, message: bytes, headers: dict) -> requests.PreparedRequest:
        # requests prepares every request from scratch (URL parsing, session headers, cookies:
        # ~0.1 ms); a read posts to one address with the same headers page after page, so the
        # prepared request is kept per address and headers and only its body changes.
        shape = (address, tuple(headers.items()))
        prepared = self._prepared_requests.get(shape)
        if prepared is None:
            prepared = self.session.prepare_request(requests.Request("POST", address, headers=headers, data=b"-"))
            if len(self._prepared_requests) >= 256:
                self._prepared_requests.clear()
            self._prepared_requests[shape] = prepared
        prepared = prepared.copy()
        prepared.body = message
        prepared.headers["Content-Length"] = str(len(message))
        return prepared

    def _timeouts(self):
        return (min(CONNECT_TIMEOUT, self.operation_timeout), self.operation_timeout)

    def post(self, address, message, headers):
        deadline = time.monotonic() + CONNECT_TIMEOUT + self.operation_timeout
        if self.session.trust_env:  # the environment may change between calls: let requests read it each time
            response = self.session.post(
                address, data=message, headers=headers, timeout=self._timeouts(), stream=True, allow_redirects=False
            )
        else:
            response = self.session.send(
                self._prepared(address, message, headers),
                timeout=self._timeouts(),
                stream=True,
                allow_redirects=False,
                proxies=self.session.proxies,
                verify=self.session.verify,
                cert=self.session.cert,
            )
        with response:
            content = self._read(response, self.max_bytes, deadline)
            return _Reply(response.status_code, dict(response.headers), content)

    def _load_remote_data(self, url):
        self.wsdl_loads += 1
        deadline = time.monotonic() + CONNECT_TIMEOUT + self.load_timeout
        response = self.session.get(url, timeout=self._timeouts(), stream=True)
        with response:
            response.raise_for_status()
            return self._read(response, MAX_WSDL_BYTES, deadline)


#
# One zeep client per process, WSDL URL and timeout
#


class Service:
    """A parsed WSDL with its HTTP session. Shared by every thread and company: it holds
    no credentials, only the description of the service."""

    def __init__(self, wsdl_url: str, timeout: float, max_bytes: int = MAX_RESPONSE_BYTES):
        _guard_library_loggers()  # loggers the libraries created since import
        self.wsdl_url = wsdl_url
        self.timeout = timeout
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        session.cookies.set_policy(_NoCookies())
        # requests re-reads proxy variables, no_proxy and ~/.netrc from the environment on every
        # call when trust_env is on (~0.3 ms a page); read the proxies and CA bundle once instead.
        session.trust_env = False
        session.proxies = requests.utils.get_environ_proxies(wsdl_url)
        session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        self.transport = _CappedTransport(
            timeout=timeout, max_bytes=max_bytes, session=session, cache=InMemoryCache(timeout=3600)
        )
        settings = zeep.Settings(
            raw_response=True, forbid_dtd=True, forbid_entities=True, forbid_external=True, xml_huge_tree=False
        )
        self.client = zeep.Client(wsdl_url, transport=self.transport, settings=settings)
        # The authenticate header lives in the target namespace (API.md §2): the one the
        # WSDL's binding is declared in.
        self.namespace = self.client.service._binding.name.namespace
        session.proxies = requests.utils.get_environ_proxies(self.client.service._binding_options["address"])
        self._envelopes: dict[tuple, _Envelope | None] = {}

    def __repr__(self):
        return f"<ClearBooks Service {self.wsdl_url} timeout={self.timeout}>"

    def _header(self, api_key: ApiKey):
        return self._header_with(api_key.reveal())

    def _header_with(self, text: str):
        header = etree.Element(etree.QName(self.namespace, "authenticate"), nsmap={"cb": self.namespace})
        etree.SubElement(header, "apiKey").text = text
        return header

    def call_once(self, operation: str, api_key: ApiKey, params: dict, *, raw: bool = False):
        """One SOAP call, classified: returns the parsed envelope or raises ClearBooksError.

        With `raw`, a plain success (HTTP 200 without a fault) comes back as the body's bytes,
        unparsed: the caller parses it with `parse_answer` if and when it needs to.
        """
        error = self._try_call(operation, api_key, params, raw)
        if isinstance(error, ClearBooksError):
            # Raised here, outside any except block, so no library exception (whose request
            # object holds the envelope, key included) stays chained to it.
            error.message = errors.scrub(error.message, api_key.reveal())
            error.detail = errors.scrub(error.detail, api_key.reveal())
            error.args = (error.message,)
            raise error
        return error

    def _envelope(self, operation, params) -> _Envelope | None:
        """The cached envelope of `operation` with these parameters but any offset (None when
        zeep's rendering cannot be reused: the call then goes through zeep as a whole)."""
        marked = _mark_offset(params)
        shape = (operation, _frozen(marked))
        if shape in self._envelopes:
            return self._envelopes[shape]
        document, headers = self.client.service._binding._create(
            operation,
            (),
            {**marked, "_soapheaders": [self._header_with(_KEY_MARK)]},
            client=self.client,
            options=self.client.service._binding_options,
        )
        body = etree.tostring(document, xml_declaration=True, encoding="utf-8")  # as zeep's transport does
        envelope = _Envelope.split(body, headers, has_offset=marked is not params)
        if len(self._envelopes) >= 256:  # shapes are a handful per data type; never let them pile up
            self._envelopes.clear()
        self._envelopes[shape] = envelope
        return envelope

    def _send(self, operation, api_key: ApiKey, params):
        envelope = self._envelope(operation, params)
        if envelope is None:
            return getattr(self.client.service, operation)(_soapheaders=[self._header(api_key)], **params)
        address = self.client.service._binding_options["address"]
        return self.transport.post(address, envelope.fill(_key_text(api_key), _offset(params)), dict(envelope.headers))

    def _try_call(self, operation, api_key, params, raw=False):
        try:
            getattr(self.client.service, operation)
        except AttributeError:
            return errors.unreadable(operation, f"the WSDL at {self.wsdl_url} has no operation {operation}")
        started = time.monotonic()
        try:
            reply = self._send(operation, api_key, params)
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            return errors.connection_error(exc, operation)
        except requests.RequestException as exc:
            return errors.unreadable(operation, f"{type(exc).__name__}: {exc}")
        except _TooLarge as exc:
            return ClearBooksError(
                ErrorKind.PERMANENT,
                f"Clear Books sent an answer larger than {MAX_RESPONSE_BYTES // (1024 * 1024)} MB; we stopped reading.",
                f"{operation}: {exc}",
            )
        except (zeep.exceptions.Error, TypeError, ValueError) as exc:
            # The WSDL does not describe the operation's parts as documented.
            return errors.unreadable(operation, f"could not build the request from the WSDL: {exc}")
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s: HTTP %s, %d bytes in %.3fs",
                operation,
                reply.status,
                len(reply.content),
                time.monotonic() - started,
            )
        if raw and reply.status == 200 and b"Fault" not in reply.content:
            return reply.content
        return self._classify(operation, reply)

    def _classify(self, operation, reply: _Reply):
        root, parse_error = None, None
        try:
            root = mapping.parse_xml(reply.content)
        except mapping.MappingError as exc:
            parse_error = exc
        if root is not None:
            fault = mapping.parse_fault(root)
            if fault is not None:  # the fault decides, whatever the HTTP status
                return errors.error_from_fault(fault, operation, reply.status)
        if reply.status >= 300:
            snippet = reply.content[:200].decode("utf-8", "replace").strip()
            return errors.error_from_status(
                reply.status, operation, _retry_after(reply.headers.get("Retry-After")), snippet
            )
        if parse_error is not None:
            return errors.unreadable(operation, str(parse_error))
        return _answer(operation, root)


def _answer(operation, root):
    """The parsed envelope, or the error when it holds no response."""
    body = mapping.soap_body(root)
    if body is None or not any(isinstance(child.tag, str) for child in body):
        return errors.unreadable(operation, "the answer has no SOAP Body with a response in it")
    return root


def parse_answer(operation: str, content: bytes):
    """Parse a body that `call(..., raw=True)` handed back: the envelope, or ClearBooksError."""
    try:
        root = mapping.parse_xml(content)
    except mapping.MappingError as exc:
        problem = str(exc)
    else:
        answer = _answer(operation, root)
        if isinstance(answer, ClearBooksError):
            raise answer
        return answer
    raise errors.unreadable(operation, problem)  # outside the except block: nothing chained


#
# Requests: zeep renders each operation's envelope once; calls fill in the key and offset
#

# zeep renders an envelope from the WSDL's types in ~0.3 ms, as long as an lxml parse of a
# page of 100 invoices takes. A read sends the same envelope page after page with only the
# offset changed, so each (operation, parameters but the offset) shape is rendered by zeep
# once, with these markers in place of the key and the offset, and every call puts the real
# ones in. When the markers do not come out exactly once each (a WSDL that types things
# otherwise), the call goes through zeep in full, as before.
_KEY_MARK = "cb-api-key-mark-5d0b9e27f1a4"
_OFFSET_MARK = 7_301_946_285_113  # an offset no real read reaches


@dataclass(frozen=True)
class _Envelope:
    parts: tuple  # the rendered envelope cut at the markers
    slots: tuple  # what goes between parts: "key" or "offset"
    headers: dict  # HTTP headers from zeep (Content-Type, SOAPAction)

    @classmethod
    def split(cls, body: bytes, headers: dict, *, has_offset: bool) -> _Envelope | None:
        key, number = _KEY_MARK.encode(), str(_OFFSET_MARK).encode()
        if body.count(key) != 1 or body.count(number) != has_offset:
            return None
        marks = [(body.index(key), key, "key")]
        if has_offset:
            marks = sorted(marks + [(body.index(number), number, "offset")])
        parts, slots, at = [], [], 0
        for position, mark, slot in marks:
            parts.append(body[at:position])
            slots.append(slot)
            at = position + len(mark)
        parts.append(body[at:])
        return cls(tuple(parts), tuple(slots), dict(headers))

    def fill(self, key: bytes, offset) -> bytes:
        values = {"key": key, "offset": str(offset).encode()}
        out = [self.parts[0]]
        for slot, part in zip(self.slots, self.parts[1:], strict=True):
            out += (values[slot], part)
        return b"".join(out)


def _key_text(api_key: ApiKey) -> bytes:
    # Escaped exactly as lxml escapes it inside the header element (and refused, with the
    # same ValueError, when it holds characters XML cannot carry).
    element = etree.Element("k")
    element.text = api_key.reveal()
    return etree.tostring(element, encoding="utf-8")[3:-4]


def _offset(params: dict):
    query = params.get("query")
    if "offset" not in params and isinstance(query, dict):
        return query.get("offset")
    return params.get("offset")


def _mark_offset(params: dict) -> dict:
    """The parameters with the offset, wherever it goes, replaced by the marker."""
    if "offset" in params:
        return {**params, "offset": _OFFSET_MARK}
    query = params.get("query")
    if isinstance(query, dict) and "offset" in query:
        return {**params, "query": {**query, "offset": _OFFSET_MARK}}
    return params


def _frozen(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    return value


_services: dict[tuple[str, float], Service] = {}
_services_lock = threading.Lock()


def _reset_after_fork():
    # A forked worker must not share sockets with its parent: start with no sessions.
    global _services_lock
    _services.clear()
    _services_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def get_service(wsdl_url: str, timeout: float = 60) -> Service:
    """The process's Service for this WSDL URL and timeout, loading the WSDL the first time.

    Raises ClearBooksError (transient or permanent) when the WSDL cannot be loaded; a
    failure is not cached, so the next call tries again.
    """
    key = (wsdl_url, float(timeout))
    service = _services.get(key)
    if service is not None:
        return service
    with _services_lock:
        service = _services.get(key)
        if service is None:
            service = _load_service(wsdl_url, float(timeout))
            _services[key] = service
        return service


def _load_service(wsdl_url, timeout):
    error = None
    try:
        return Service(wsdl_url, timeout)
    except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
        error = errors.connection_error(exc, "loading the WSDL")
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        error = errors.error_from_status(status, f"loading the WSDL from {wsdl_url}")
        if error.kind == ErrorKind.PERMANENT:
            error.message = f"The Clear Books WSDL URL answered HTTP {status}: check the WSDL URL setting."
            error.args = (error.message,)
    except (requests.RequestException, _TooLarge, zeep.exceptions.Error, etree.LxmlError, ValueError) as exc:
        error = ClearBooksError(
            ErrorKind.PERMANENT,
            "The Clear Books service description (WSDL) couldn't be read: check the WSDL URL setting.",
            f"loading the WSDL from {wsdl_url}: {type(exc).__name__}: {exc}",
        )
    raise error


def clear_cache():
    """Forget every parsed WSDL, fetched document and session (tests, or after a WSDL change)."""
    with _services_lock:
        for service in _services.values():
            service.transport.session.close()
        _services.clear()
        InMemoryCache._cache.clear()  # zeep's process-wide document cache, which only this module uses


def call(
    wsdl_url: str, api_key: ApiKey, operation: str, params: dict, timeout: float, policy: RetryPolicy, *, raw=False
):
    """One operation with retries: transient failures are tried again with backoff and jitter,
    up to policy.attempts; auth and permanent failures are raised at once. `raw`: see
    Service.call_once."""
    last = None
    for attempt in range(1, max(1, policy.attempts) + 1):
        try:
            return get_service(wsdl_url, timeout).call_once(operation, api_key, params, raw=raw)
        except ClearBooksError as exc:
            if not exc.retryable:
                raise
            last = exc
        if attempt < policy.attempts:
            wait = policy.delay(attempt, last.retry_after)
            log.info("%s: %s; try %d of %d again in %.1fs", operation, last.detail, attempt + 1, policy.attempts, wait)
            policy.sleep(wait)
    raise errors.exhausted(last, max(1, policy.attempts))


#
# Data types
#


@dataclass(frozen=True)
class Read:
    operation: str
    query: dict | None = None  # the `query` part's fields; None when the operation has no query
    paging: str = ""  # "query" (query.offset), "offset" (an offset part) or "" (one answer)
    incremental: bool = False  # honours modifiedSince (entities only: API.md §4.2)
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


def _currencies(wsdl_url, api_key, timeout, policy) -> dict:
    try:
        root = call(wsdl_url, api_key, "listCurrencies", {}, timeout, policy)
    except ClearBooksError as exc:
        if exc.kind != ErrorKind.PERMANENT:
            raise
        log.warning("listCurrencies failed; only GBP amounts get a currency code: %s", exc.detail)
        return {}
    return mapping.parse_currencies(root)


def _pages(wsdl_url, api_key: ApiKey, data_type, modified_since, timeout, policy, lazy=False, hashes=False):
    read = READS.get(data_type)
    if read is None:
        raise errors.not_supported(data_type)
    since = _since(modified_since) if (modified_since and read.incremental) else None
    currencies = _currencies(wsdl_url, api_key, timeout, policy) if read.currencies else None
    record_name = mapping.RECORD_ELEMENT[data_type]
    seen: set[str] = set()  # ids read
    seen_wire: set[str] = set()  # wire hashes of the pages left unparsed
    offset = 0
    for page_number in range(MAX_PAGES):
        if page_number and policy.page_gap:
            policy.sleep(policy.page_gap)
        params = _params(read, offset, since)
        answer = call(wsdl_url, api_key, read.operation, params, timeout, policy, raw=lazy or hashes)
        body = answer if isinstance(answer, bytes) else None  # unparsed: its records may be cut and hashed
        spans = mapping.record_spans(body, record_name) if body is not None else None
        if lazy and spans:
            page = _WirePage(data_type, read.operation, body, spans, currencies)
            if read.paging and seen_wire.issuperset(page.wire_hashes):
                raise _same_again(data_type, read.operation, offset)
            seen_wire.update(page.wire_hashes)
            received = len(spans)
            yield page
        else:
            root = answer if body is None else parse_answer(read.operation, body)
            elements = mapping.find_records(root, record_name)
            if not elements:
                return
            records = _map(data_type, read.operation, elements, currencies)
            if spans and len(spans) == len(records):
                for record, digest in zip(records, mapping.wire_hashes(body, spans), strict=True):
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
        self.wire_hashes = mapping.wire_hashes(body, spans)

    def records(self, skip=frozenset()) -> list[NormalizedRecord]:
        wanted = [i for i in range(len(self.wire_hashes)) if i not in skip]
        if not wanted:
            return []  # every record known: nothing to parse
        name = mapping.RECORD_ELEMENT[self.data_type]
        elements = None
        if len(wanted) * 4 <= len(self.wire_hashes):  # a few new or changed among known ones: parse just those
            elements = mapping.parse_records_alone(self._body, [self._spans[i] for i in wanted], self._spans, name)
        if elements is None:
            root = parse_answer(self.operation, self._body)
            every = mapping.find_records(root, name)
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
) -> Iterator[list[NormalizedRecord] | WirePage]:
    """Yield the records of one data type, one page (a list of NormalizedRecord) at a time.

    Paged operations advance the offset by the records received and stop on an empty page;
    records are deduplicated by id. With `modified_since`, customers and suppliers are read
    incrementally; other data types are always read in full (invoices' modifiedSince does not
    work, per the vendor). Raises ClearBooksError: NOT_SUPPORTED for an unknown data type,
    AUTH when the key is refused (also mid-read), TRANSIENT/RATE_LIMIT once retries run out,
    PERMANENT otherwise.

    For the sync engine: `wire_hashes` gives each record the digest of its bytes as received
    (mapping.record_spans says when they can be cut safely); `lazy` yields such pages as
    WirePages, parsed and mapped only when asked, and only for the records asked for.
    """
    # The generator keeps only the masked ApiKey, never the plain string, in its frame.
    policy = policy or RetryPolicy.from_settings()
    return _pages(wsdl_url, ApiKey(api_key), data_type, modified_since, timeout, policy, lazy, wire_hashes)


def validate_credentials(
    wsdl_url: str, api_key: str, timeout: float = 60, *, policy: RetryPolicy | None = None
) -> CredentialCheck:
    """Check a key with one cheap call (listCurrencies): valid, rejected or unreachable.

    A person is waiting, so transient failures get at most one more try.
    """
    policy = policy or RetryPolicy.from_settings()
    policy = replace(policy, attempts=min(policy.attempts, 2), max_delay=min(policy.max_delay, 5.0))
    try:
        call(wsdl_url, ApiKey(api_key), "listCurrencies", {}, timeout, policy)
    except ClearBooksError as exc:
        if exc.kind == ErrorKind.AUTH:
            return CredentialCheck(
                CredentialStatus.REJECTED,
                "Clear Books rejected this API key. Copy it again from Settings > Configure system > API keys "
                "in Clear Books and paste the whole key.",
                exc.detail,
            )
        return CredentialCheck(
            CredentialStatus.UNREACHABLE,
            f"{exc.message} We couldn't check the key; try again in a few minutes.",
            exc.detail,
        )
    return CredentialCheck(CredentialStatus.VALID, "Clear Books accepted the API key.")
