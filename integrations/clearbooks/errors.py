"""Every Clear Books failure, classified once, here: the SOAP Fault first, the HTTP status
only when there is no fault (faults arrive with HTTP 500, so "retry on 5xx" alone would
retry a bad key forever). See docs/clearbooks.md §5 and §10.

Each error carries a sentence a support person understands and technical detail. Neither
may hold the API key: `scrub()` removes it from anything the server echoed back.
"""

from __future__ import annotations

from ..registry import ErrorKind, ProviderError
from .parsing import Fault

RELINK = "Clear Books rejected the API key: the company must relink."


class ClearBooksError(ProviderError):
    """A classified Clear Books failure; `kind` decides what the caller does next."""

    def __init__(self, kind, message, detail="", *, status: int | None = None, retry_after: float | None = None):
        super().__init__(kind, message, detail)
        self.status = status  # HTTP status when there was one
        self.retry_after = retry_after  # seconds the server asked us to wait (429/503)

    @property
    def retryable(self) -> bool:
        return self.kind in (ErrorKind.TRANSIENT, ErrorKind.RATE_LIMIT)


def scrub(text: str, secret: str | None) -> str:
    """Remove the API key from text a server or library produced."""
    if secret and text and secret in text:
        return text.replace(secret, "[redacted]")
    return text


def error_from_fault(fault: Fault, operation: str, status: int | None = None) -> ClearBooksError:
    """A SOAP Fault is final: a login failure means relink, anything else is permanent."""
    detail = f"{operation}: SOAP Fault {fault.code or '(no code)'}: {fault.string or '(no faultstring)'}"
    if status is not None:
        detail += f" (HTTP {status})"
    if fault.is_login_failure:
        if "no api key" in fault.string.lower():
            # We always send a key, so this points at our header rather than the user's key.
            detail += "; the server saw no key in our authenticate header"
        return ClearBooksError(ErrorKind.AUTH, RELINK, detail, status=status)
    return ClearBooksError(
        ErrorKind.PERMANENT,
        f"Clear Books refused the request: {fault.string or 'no reason given'}.",
        detail,
        status=status,
    )


def error_from_status(status: int, operation: str, retry_after: float | None = None, snippet: str = ""):
    """An HTTP error status with no SOAP Fault in the body."""
    detail = f"{operation}: HTTP {status} without a SOAP Fault"
    if snippet:
        detail += f": {snippet}"
    if status == 429:
        return ClearBooksError(
            ErrorKind.RATE_LIMIT,
            "Clear Books asked us to slow down (HTTP 429).",
            detail,
            status=status,
            retry_after=retry_after,
        )
    if status >= 500 or status == 408:
        return ClearBooksError(
            ErrorKind.TRANSIENT,
            f"Clear Books had a temporary problem (HTTP {status}).",
            detail,
            status=status,
            retry_after=retry_after,
        )
    return ClearBooksError(
        ErrorKind.PERMANENT, f"Clear Books refused the request (HTTP {status}).", detail, status=status
    )


def connection_error(exc: Exception, operation: str) -> ClearBooksError:
    """Timeouts, refused or reset connections, DNS and TLS failures: worth another try."""
    what = "timed out" if "timeout" in type(exc).__name__.lower() else "connection failed"
    return ClearBooksError(
        ErrorKind.TRANSIENT,
        f"We couldn't reach Clear Books ({what}).",
        f"{operation}: {type(exc).__name__}: {exc}",
    )


def unreadable(operation: str, reason: str) -> ClearBooksError:
    return ClearBooksError(
        ErrorKind.PERMANENT, "Clear Books sent an answer we couldn't read.", f"{operation}: {reason}"
    )


def exhausted(last: ClearBooksError, attempts: int) -> ClearBooksError:
    """The sentence once retries have run out, keeping what the last try saw."""
    cause = f"HTTP {last.status}" if last.status else last.message.rpartition("(")[2].rstrip(").") or "no answer"
    tries = "1 try" if attempts == 1 else f"{attempts} tries"
    if last.kind == ErrorKind.RATE_LIMIT:
        message = f"Clear Books kept asking us to slow down after {tries} (HTTP 429)."
    else:
        message = f"We couldn't reach Clear Books after {tries} ({cause})."
    return ClearBooksError(last.kind, message, f"{last.detail} [after {tries}]", status=last.status)


def not_supported(data_type: str) -> ClearBooksError:
    return ClearBooksError(
        ErrorKind.NOT_SUPPORTED,
        f"Clear Books has no {data_type} to read: its API doesn't offer them.",
        f"data type {data_type!r} is not one the Clear Books client reads",
    )
