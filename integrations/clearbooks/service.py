"""One Clear Books service per process, WSDL URL and timeout: one SOAP call, classified.

zeep reads the WSDL once and renders every request from it (envelopes.py). Answers are
not handed back to zeep: the transport streams them with a size cap, and each is parsed
once by our own parser, which refuses DTDs and entities (parsing.py), then classified:
a SOAP Fault first, the HTTP status only when there is none (errors.py).

A Service holds no credentials, only the description of the service, so every thread
and company shares it. A forked worker starts with none (it must not share sockets).
"""

from __future__ import annotations

import email.utils
import logging
import os
import threading
import time

import requests
import zeep
import zeep.exceptions
from lxml import etree

from ..registry import ErrorKind
from . import errors, parsing
from .envelopes import Envelopes
from .errors import ClearBooksError
from .redaction import ApiKey, guard_library_loggers, guarded_logger
from .transport import MAX_RESPONSE_BYTES, CappedTransport, DocumentCache, Reply, TooLarge, new_session

log = guarded_logger(__name__)

CONNECTION_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


class Service:
    """A parsed WSDL with its HTTP session, for the WSDL's first service and port (the
    one zeep's `Client.service` binds to)."""

    def __init__(self, wsdl_url: str, timeout: float, max_bytes: int = MAX_RESPONSE_BYTES, documents=None):
        guard_library_loggers()  # loggers the libraries created since import
        self.wsdl_url = wsdl_url
        self.timeout = timeout
        self.transport = CappedTransport(
            timeout=timeout, max_bytes=max_bytes, session=new_session(wsdl_url), cache=documents
        )
        settings = zeep.Settings(forbid_dtd=True, forbid_entities=True, forbid_external=True, xml_huge_tree=False)
        self.client = zeep.Client(wsdl_url, transport=self.transport, settings=settings)
        wsdl_service = next(iter(self.client.wsdl.services.values()), None)
        if wsdl_service is None or not wsdl_service.ports:
            raise ValueError("the WSDL describes no service")
        port = next(iter(wsdl_service.ports.values()))
        self.address = port.binding_options.get("address")
        if not self.address:
            raise ValueError(f"the WSDL's port {port.name} has no SOAP address")
        self.envelopes = Envelopes(self.client, wsdl_service.name, port)
        self.transport.use_proxies_for(self.address)

    def __repr__(self):
        return f"<ClearBooks Service {self.wsdl_url} timeout={self.timeout}>"

    def call_once(self, operation: str, api_key: ApiKey, params: dict, *, raw: bool = False):
        """One SOAP call, classified: returns the parsed envelope or raises ClearBooksError.

        With `raw`, a plain success (HTTP 200 without a fault) comes back as the body's bytes,
        unparsed: the caller parses it with `parse_answer` if and when it needs to.
        """
        outcome = self._try_call(operation, api_key, params, raw)
        if isinstance(outcome, ClearBooksError):
            # Raised here, outside any except block, so no library exception (whose request
            # object holds the envelope, key included) stays chained to it.
            key = api_key.reveal()
            outcome.message = errors.scrub(outcome.message, key)
            outcome.detail = errors.scrub(outcome.detail, key)
            outcome.args = (outcome.message,)
            raise outcome
        return outcome

    def _try_call(self, operation, api_key, params, raw=False):
        if operation not in self.envelopes.operations():
            return errors.unreadable(operation, f"the WSDL at {self.wsdl_url} has no operation {operation}")
        started = time.monotonic()
        try:
            body = self.envelopes.build(operation, api_key, params)
            reply = self.transport.post(self.address, body, self.envelopes.http_headers(operation))
        except CONNECTION_ERRORS as exc:
            return errors.connection_error(exc, operation)
        except requests.RequestException as exc:
            return errors.unreadable(operation, f"{type(exc).__name__}: {exc}")
        except TooLarge as exc:
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
        return _classify(operation, reply)


def _classify(operation, reply: Reply):
    root, parse_error = None, None
    try:
        root = parsing.parse_xml(reply.content)
    except parsing.MappingError as exc:
        parse_error = exc
    if root is not None:
        fault = parsing.parse_fault(root)
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


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds, from either of its forms (seconds, or an HTTP date)."""
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


def _answer(operation, root):
    """The parsed envelope, or the error when it holds no response."""
    body = parsing.soap_body(root)
    if body is None or not any(isinstance(child.tag, str) for child in body):
        return errors.unreadable(operation, "the answer has no SOAP Body with a response in it")
    return root


def parse_answer(operation: str, content: bytes):
    """Parse a body that `call_once(..., raw=True)` handed back: the envelope, or ClearBooksError."""
    try:
        root = parsing.parse_xml(content)
    except parsing.MappingError as exc:
        problem = str(exc)
    else:
        answer = _answer(operation, root)
        if isinstance(answer, ClearBooksError):
            raise answer
        return answer
    raise errors.unreadable(operation, problem)  # outside the except block: nothing chained


#
# The process's services
#

_services: dict[tuple[str, float], Service] = {}
_services_lock = threading.Lock()
_documents = DocumentCache()  # WSDL and XSD documents, shared by the services


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
        return Service(wsdl_url, timeout, documents=_documents)
    except CONNECTION_ERRORS as exc:
        error = errors.connection_error(exc, "loading the WSDL")
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        error = errors.error_from_status(status, f"loading the WSDL from {wsdl_url}")
        if error.kind == ErrorKind.PERMANENT:
            error.message = f"The Clear Books WSDL URL answered HTTP {status}: check the WSDL URL setting."
            error.args = (error.message,)
    except (requests.RequestException, TooLarge, zeep.exceptions.Error, etree.LxmlError, ValueError) as exc:
        error = ClearBooksError(
            ErrorKind.PERMANENT,
            "The Clear Books service description (WSDL) couldn't be read: check the WSDL URL setting.",
            f"loading the WSDL from {wsdl_url}: {type(exc).__name__}: {exc}",
        )
    raise error


def clear_cache():
    """Forget every parsed WSDL, fetched document and session (tests, or after a WSDL change)."""
    global _documents
    with _services_lock:
        for service in _services.values():
            service.transport.session.close()
        _services.clear()
        _documents = DocumentCache()
