"""Keeping the API key secret: a masked wrapper, and a log filter that blanks it.

The key grants full read and write access to a company's books (docs/clearbooks.md §11)
and travels inside every request envelope, so it must never reach a log line, an error
message or a traceback. `ApiKey` masks it in reprs; `RedactApiKeys` blanks it in any
envelope a library logs; `errors.scrub` removes it from what a server echoes back.
"""

from __future__ import annotations

import logging
import re


class ApiKey:
    """The company's API key. Its repr and str are masked so that it cannot leak through
    a log line, an error message or a traceback's locals. `reveal()` is called in three
    places: twice in envelopes.py, where the key is written into the authenticate header
    (`key_text`, and `Envelopes.build` for a call rendered in full), and once in
    `Service.call_once`, which scrubs it from errors."""

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

_LIBRARIES = ("zeep", "requests", "urllib3")
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
}


def guard_library_loggers():
    """Put the filter on every logger of the HTTP and SOAP libraries created so far.

    A filter on a logger only sees records created on that very logger, not on its
    children, so it goes on each one; call again once the libraries may have made more.
    """
    names = set(_LIBRARY_LOGGERS)
    names.update(name for name in logging.root.manager.loggerDict if name.split(".")[0] in _LIBRARIES)
    for name in names:
        _guard(logging.getLogger(name))


def guarded_logger(name: str) -> logging.Logger:
    """A logger of this package, with the filter on it too (belt and braces)."""
    return _guard(logging.getLogger(name))


def _guard(logger: logging.Logger) -> logging.Logger:
    if _REDACTOR not in logger.filters:
        logger.addFilter(_REDACTOR)
    return logger


guard_library_loggers()
