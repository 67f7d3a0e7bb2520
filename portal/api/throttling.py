"""Rate limit per API key: `API_RATE_LIMIT` requests per period ("600/minute" by default).

The count lives in the `API_RATE_CACHE` cache, which every process of the portal shares
(Redis, or a database table), so the limit holds across gunicorn workers and machines.
Each key counts in fixed windows of one period: the first request of a window adds its
counter, the others increment it (atomic in Redis; in the database two requests at the
same instant may count once, which the limit can bear). A refused request answers 429 with
`Retry-After` (seconds to the next window); every answer to a key carries Codat's
`X-Rate-Limit-Limit`, `X-Rate-Limit-Remaining` and `X-Rate-Limit-Reset` (a Unix time).
"""

import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from rest_framework.throttling import BaseThrottle

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class RateState:
    limit: int
    count: int
    reset_at: int  # Unix time the window ends

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    def headers(self) -> dict:
        return {
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(self.remaining),
            "X-Rate-Limit-Reset": str(self.reset_at),
        }


def parse_rate(rate: str) -> tuple[int, int]:
    """(requests, period in seconds) from "600/minute" (second, minute, hour or day), as DRF reads it."""
    count, _, period = rate.partition("/")
    return int(count), PERIODS[period.strip()[:1].lower()]


def count_request(key_id, rate: str, now=None, cache=None) -> RateState:
    """Count one request of a key in the current window and say where it stands."""
    limit, period = parse_rate(rate)
    now = time.time() if now is None else now
    window = int(now // period)
    counter = f"{key_id}:{period}:{window}"
    cache = cache or caches[settings.API_RATE_CACHE]
    timeout = period + 5  # outlives its window a little; a new window has a new counter
    if cache.add(counter, 1, timeout):
        count = 1
    else:
        try:
            count = cache.incr(counter)
        except ValueError:  # expired between the two calls
            cache.set(counter, 1, timeout)
            count = 1
    return RateState(limit, count, (window + 1) * period)


class ApiKeyRateThrottle(BaseThrottle):
    def __init__(self):
        self.state = None

    def allow_request(self, request, view):
        key = request.auth
        rate = settings.API_RATE_LIMIT  # read per request, so tests and settings can change it
        if key is None or not rate:
            return True
        self.state = count_request(key.pk, rate)
        request._request.api_rate = self.state  # for the headers of the answer
        return self.state.count <= self.state.limit

    def wait(self):
        return max(1, math.ceil(self.state.reset_at - time.time())) if self.state else None


class RateLimitHeadersMiddleware:
    """Codat's rate limit headers on every answer to an API key (the 429 too)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        state = getattr(request, "api_rate", None)
        if state is not None:
            for name, value in state.headers().items():
                response[name] = value
        return response
