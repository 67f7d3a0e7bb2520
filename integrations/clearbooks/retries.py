"""How transient failures are retried: one operation, tried again with backoff and jitter.

Only failures errors.py classifies as transient or rate-limited are retried; a refused
key or a fault is final at once (docs/clearbooks.md §10).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from ..registry import RetryNotice
from . import errors
from .errors import ClearBooksError
from .redaction import ApiKey, guarded_logger
from .service import get_service

log = guarded_logger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded.

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


def call(
    wsdl_url: str,
    api_key: ApiKey,
    operation: str,
    params: dict,
    timeout: float,
    policy: RetryPolicy,
    *,
    raw=False,
    on_retry=None,
):
    """One operation with retries: transient failures are tried again with backoff and jitter,
    up to policy.attempts; auth and permanent failures are raised at once. `raw`: see
    Service.call_once. `on_retry` (see Provider.read) is told of each retry before its wait,
    and told None when the operation went through after retrying."""
    last = None
    for attempt in range(1, max(1, policy.attempts) + 1):
        try:
            answer = get_service(wsdl_url, timeout).call_once(operation, api_key, params, raw=raw)
        except ClearBooksError as exc:
            if not exc.retryable:
                raise
            last = exc
        else:
            if attempt > 1:
                _tell(on_retry, None)
            return answer
        if attempt < policy.attempts:
            wait = policy.delay(attempt, last.retry_after)
            log.info("%s: %s; try %d of %d again in %.1fs", operation, last.detail, attempt + 1, policy.attempts, wait)
            _tell(on_retry, RetryNotice(attempt + 1, policy.attempts, wait, last.message))
            policy.sleep(wait)
    raise errors.exhausted(last, max(1, policy.attempts))


def _tell(on_retry, notice):
    """Report a retry; a failing report never fails the read it reports on."""
    if on_retry is None:
        return
    try:
        on_retry(notice)
    except Exception:
        log.warning("the retry report failed; the read goes on", exc_info=True)
