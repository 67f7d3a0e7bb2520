"""The sandbox's memory: books per key, fault injection, revocations and call counts.

One SandboxState belongs to one server. Tests drive it in-process or over HTTP
(app.py maps `POST /_sandbox/<action>` onto the methods in CONTROL_ACTIONS), and
`reset()` puts it back to the server's starting configuration between tests.
Injected failures draw from a seeded random stream so every run fails the same calls.
"""

import random
import threading
from collections import Counter, OrderedDict

from . import soap
from .books import DATA_TYPES, Books
from .keys import parse_key
from .soap import BAD_KEY, DEFAULT_PAGE_SIZES, NO_KEY, SoapFault

FAILURE_KINDS = (
    "http500",
    "http503",
    "http429",
    "empty",
    "malformed",
    "fault",
    "oversized",
    "slow",
    "entity_bomb",
    "external_entity",
)
PAGED_OPERATIONS = tuple(DEFAULT_PAGE_SIZES)
CONTROL_ACTIONS = (
    "reset",
    "configure",
    "config",
    "fail_next",
    "revoke",
    "touch",
    "delete",
    "counts",
    "statuses",
    "calls",
    "injected",
)
_MAX_CACHED_BOOKS = 48
_MAX_CACHED_RECORDS = 60_000


class ControlError(ValueError):
    """A control request that cannot be done; the message says why in plain words."""


def _check_rate(name, value):
    if not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ControlError(f"{name} must be a number from 0 to 1")
    return float(value)


def _check_count(name, value, low=0, high=10**7):
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ControlError(f"{name} must be a whole number from {low} to {high}")
    return value


class SandboxState:
    def __init__(self, *, page_sizes=None, failure_rate=0.0, rate_limit_rate=0.0, latency_ms=0, seed=0):
        self._lock = threading.RLock()
        self._books = OrderedDict()
        self._start = {
            "failure_rate": failure_rate,
            "rate_limit_rate": rate_limit_rate,
            "latency_ms": latency_ms,
            "seed": seed,
            "oversized_mb": 64,
            "page_sizes": {**DEFAULT_PAGE_SIZES, **(page_sizes or {})},
        }
        self._validate(self._start)
        self.reset()

    # Control actions (JSON in, JSON out)

    def reset(self):
        """Back to the server's starting configuration: no faults, revocations, counts or changed books."""
        with self._lock:
            self._config = {**self._start, "page_sizes": dict(self._start["page_sizes"])}
            self._rng = random.Random(self._config["seed"])
            self._fail_next = []
            self._revocations = {}
            self._calls = Counter()
            self._total_calls = 0
            self._injected = Counter()
            for key in [k for k, b in self._books.items() if not b.pristine]:
                del self._books[key]
        return self.config()

    def config(self):
        with self._lock:
            return {**self._config, "page_sizes": dict(self._config["page_sizes"])}

    def configure(
        self, *, failure_rate=None, rate_limit_rate=None, latency_ms=None, seed=None, page_sizes=None, oversized_mb=None
    ):
        """Change fault injection or page sizes until the next reset; None leaves a setting as it is."""
        with self._lock:
            new = {**self._config, "page_sizes": {**self._config["page_sizes"], **(page_sizes or {})}}
            for name, value in (
                ("failure_rate", failure_rate),
                ("rate_limit_rate", rate_limit_rate),
                ("latency_ms", latency_ms),
                ("seed", seed),
                ("oversized_mb", oversized_mb),
            ):
                if value is not None:
                    new[name] = value
            self._validate(new)
            self._config = new
            if seed is not None:
                self._rng = random.Random(seed)
            return self.config()

    @staticmethod
    def _validate(config):
        _check_rate("failure_rate", config["failure_rate"])
        _check_rate("rate_limit_rate", config["rate_limit_rate"])
        _check_count("latency_ms", config["latency_ms"], 0, 120_000)
        _check_count("seed", config["seed"], 0, 2**31)
        _check_count("oversized_mb", config["oversized_mb"], 1, 2048)
        for op, size in config["page_sizes"].items():
            if op not in PAGED_OPERATIONS:
                raise ControlError(f"page sizes apply only to {', '.join(PAGED_OPERATIONS)}")
            _check_count(f"page size of {op}", size, 1, 100_000)

    def fail_next(
        self, *, kind="http500", count=1, key=None, operation=None, after=0, fault_string=None, delay_ms=None
    ):
        """Fail the next `count` matching calls (after letting `after` matching calls through).

        kind: http500 (HTML error page), http503 and http429 (with Retry-After), empty
        (HTTP 500, no body), malformed (HTTP 200, broken XML), fault (a SOAP fault other
        than Login Failed), oversized (HTTP 200, `oversized_mb` of XML), slow (answers
        normally after `delay_ms`), entity_bomb (HTTP 200, a DTD whose entity expands to a
        billion "lol"s) and external_entity (HTTP 200, a DTD naming file:///etc/passwd).
        `key` and `operation` narrow which calls match.
        """
        if kind not in FAILURE_KINDS:
            raise ControlError(f"kind must be one of {', '.join(FAILURE_KINDS)}")
        rule = {
            "kind": kind,
            "count": _check_count("count", count, 1, 10**6),
            "key": key,
            "operation": operation,
            "after": _check_count("after", after),
            "fault_string": str(fault_string or "Internal error: the request could not be processed"),
            "delay_ms": _check_count("delay_ms", 2000 if delay_ms is None else delay_ms, 0, 600_000),
        }
        with self._lock:
            self._fail_next.append(rule)
        return {"queued": len(self._fail_next)}

    def revoke(self, *, key, after_calls=0):
        """The key answers Login Failed after `after_calls` more successful calls (0: from now on)."""
        with self._lock:
            self._revocations[key] = _check_count("after_calls", after_calls)
        return {"revoked_after": after_calls}

    def touch(self, *, key, data_type, count):
        """Change `count` records so the next sync sees exactly that many updated; the ids changed."""
        return {"ids": self._change(key, data_type, count, "touch")}

    def delete(self, *, key, data_type, count):
        """Remove `count` records so a full sync can notice them gone; the ids removed."""
        return {"ids": self._change(key, data_type, count, "delete")}

    def counts(self, *, key):
        """Records per data type in the key's books, as a full sync of each would read them."""
        with self._lock:
            return self.books(key).counts()

    def statuses(self, *, key, data_type):
        """Invoices or bills per status (paid, approved, draft, voided)."""
        if data_type not in ("invoices", "bills"):
            raise ControlError("statuses are kept for invoices and bills only")
        with self._lock:
            return self.books(key).statuses(data_type)

    def calls(self, *, key=None):
        """SOAP calls answered since the last reset: for one key, or all together."""
        with self._lock:
            return {"calls": self._calls[key] if key is not None else self._total_calls}

    def injected(self):
        """Failures answered since the last reset, by kind (from fail_next rules and random rates)."""
        with self._lock:
            return dict(self._injected)

    # In-process helpers

    def books(self, key) -> Books:
        """The key's books, generated on first use and kept in memory (the least used are let go)."""
        spec = parse_key(key)
        if spec is None:
            raise ControlError("the sandbox does not know this key")
        with self._lock:
            books = self._books.get(key)
            if books is None:
                books = self._books[key] = Books(spec)
                self._forget_least_used(keep=key)
            self._books.move_to_end(key)
            return books

    def _forget_least_used(self, keep):
        """Bound memory: a 20,000-invoice book takes about 100 MB. Changed books are kept (tests rely on them)."""

        def weight():
            return sum(len(b.invoices) + len(b.entities) + 1 for b in self._books.values())

        while len(self._books) > _MAX_CACHED_BOOKS or weight() > _MAX_CACHED_RECORDS:
            oldest = next((k for k, b in self._books.items() if b.pristine and k != keep), None)
            if oldest is None:
                return
            del self._books[oldest]

    def _change(self, key, data_type, count, how):
        if data_type not in DATA_TYPES or data_type == "currencies":
            raise ControlError(f"data_type must be one of {', '.join(DATA_TYPES[:-1])}")
        _check_count("count", count, 0, 10**6)
        with self._lock:
            try:
                return getattr(self.books(key), how)(data_type, count)
            except ValueError as exc:
                raise ControlError(str(exc)) from None

    # Used by the app for each SOAP call

    def injected_failure(self, api_key, operation):
        """The failure to answer this call with, if any: a rule from fail_next, or a random one."""
        with self._lock:
            for rule in self._fail_next:
                if rule["key"] is not None and rule["key"] != api_key:
                    continue
                if rule["operation"] is not None and rule["operation"] != operation:
                    continue
                if rule["after"] > 0:
                    rule["after"] -= 1
                    continue
                rule["count"] -= 1
                if rule["count"] == 0:
                    self._fail_next.remove(rule)
                self._injected[rule["kind"]] += 1
                return dict(rule)
            if self._config["failure_rate"] and self._rng.random() < self._config["failure_rate"]:
                self._injected["http500"] += 1
                return {"kind": "http500"}
            if self._config["rate_limit_rate"] and self._rng.random() < self._config["rate_limit_rate"]:
                self._injected["http429"] += 1
                return {"kind": "http429"}
        return None

    def authenticate(self, api_key) -> Books:
        """The caller's books, or the documented Login Failed fault."""
        if not api_key:
            raise SoapFault(NO_KEY)
        spec = parse_key(api_key)
        if spec is None or spec.revoked:
            raise SoapFault(BAD_KEY)
        with self._lock:
            if spec.revoke_after and self._calls[api_key] >= spec.revoke_after:
                raise SoapFault(BAD_KEY)
            remaining = self._revocations.get(api_key)
            if remaining is not None:
                if remaining <= 0:
                    raise SoapFault(BAD_KEY)
                self._revocations[api_key] = remaining - 1
            self._calls[api_key] += 1
            self._total_calls += 1
            return self.books(api_key)

    def answer(self, call):
        """The response to an authenticated call; under the lock so touch/delete never change books mid-page."""
        with self._lock:
            return soap.answer(self.authenticate(call.api_key), call, self._config["page_sizes"])

    def latency(self):
        return self._config["latency_ms"] / 1000

    def oversized_bytes(self):
        return self._config["oversized_mb"] * 1024 * 1024
