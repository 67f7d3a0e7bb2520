"""A correlation id per request: in every response (`X-Correlation-Id`), every API error body
and the API's log lines, so one id ties a client's report to the portal's logs."""

import contextvars
import logging
import time
import uuid

HEADER = "X-Correlation-Id"
_current = contextvars.ContextVar("correlation_id", default="")
logger = logging.getLogger("portal.api")


def correlation_id(request=None) -> str:
    if request is not None:
        value = getattr(request, "correlation_id", "")
        if value:
            return value
    return _current.get()


class CorrelationIdMiddleware:
    """Gives each request a correlation id; logs one line per API request (never the key)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        value = uuid.uuid4().hex  # 32 hex digits, as Codat's
        request.correlation_id = value
        token = _current.set(value)
        started = time.monotonic()
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response[HEADER] = value
        if request.path.startswith("/api/"):
            key = getattr(request, "api_key", None)
            logger.info(
                "API %s %s -> %s in %.0f ms key=%s correlationId=%s",
                request.method,
                request.path,
                response.status_code,
                (time.monotonic() - started) * 1000,
                key.pk if key is not None else "-",
                value,
            )
        return response
