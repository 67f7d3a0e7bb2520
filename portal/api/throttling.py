"""Rate limit per API key: `API_RATE_LIMIT` requests per period ("600/minute" by default).

Counts live in Django's cache; each process has its own with the default local-memory
cache, so a deployment with several processes sets a shared cache to make the limit exact.
A refused request answers 429 with Retry-After (seconds).
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_rate(self):
        return settings.API_RATE_LIMIT or None  # read per request, so tests and settings can change it

    def allow_request(self, request, view):
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        key = request.auth
        if key is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": key.pk}
