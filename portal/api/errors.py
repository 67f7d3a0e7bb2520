"""Codat's error body for every error the API answers, with the request's correlation id.

{"statusCode": 404, "service": "PublicApi", "error": "…", "correlationId": "…",
 "validation": null | {"errors": [{"itemId", "message", "validatorName"}], "warnings": []},
 "canBeRetried": "Unknown", "detailedErrorCode": 0}
"""

import logging

from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .correlation import correlation_id

logger = logging.getLogger("portal.api")

SERVICE = "PublicApi"

MESSAGES = {
    401: "Unauthorized",
    403: "You are using an outdated API key or a key not associated with that resource.",
    404: "Not found.",
    405: "Method not allowed.",
    429: "You have made too many requests in a given amount of time; please retry later.",
    500: "There is a problem with our server. Please try again later.",
}


def error_body(status_code, message, *, validation=None, request=None) -> dict:
    return {
        "statusCode": status_code,
        "service": SERVICE,
        "error": message,
        "correlationId": correlation_id(request),
        "validation": validation,
        "canBeRetried": "Unknown",
        "detailedErrorCode": 0,
    }


class ApiError(exceptions.APIException):
    """An error with Codat's body: raise ApiError(404, "No company was found with ID …")."""

    def __init__(self, status_code, message, *, validation=None):
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.validation = validation


def not_found(message):
    return ApiError(status.HTTP_404_NOT_FOUND, message)


def bad_request(message, *, item=None, validator=None):
    """A 400 whose validation lists one error (`item` names the field or parameter)."""
    validation = {"errors": [{"itemId": item, "message": message, "validatorName": validator}], "warnings": []}
    return ApiError(status.HTTP_400_BAD_REQUEST, message, validation=validation)


def _validation_items(detail, prefix=""):
    """DRF's nested validation detail as Codat's flat list of {itemId, message, validatorName}."""
    if isinstance(detail, dict):
        items = []
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            items += _validation_items(value, "" if key == "non_field_errors" else name)
        return items
    if isinstance(detail, list):
        items = []
        for index, value in enumerate(detail):
            nested = isinstance(value, dict | list)
            items += _validation_items(value, f"{prefix}[{index}]" if nested else prefix)
        return items
    return [{"itemId": prefix or None, "message": str(detail), "validatorName": getattr(detail, "code", None)}]


def exception_handler(exc, context):
    """DRF's handler (status, headers such as Retry-After), then Codat's body."""
    request = context.get("request")
    if isinstance(exc, Http404):
        exc = ApiError(404, str(exc) or MESSAGES[404])
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception(
            "API error: unhandled %s on %s %s correlationId=%s",
            type(exc).__name__,
            getattr(request, "method", "?"),
            getattr(request, "path", "?"),
            correlation_id(request),
        )
        return Response(error_body(500, MESSAGES[500], request=request), status=500)
    validation = None
    if isinstance(exc, ApiError):
        message, validation = exc.message, exc.validation
    elif isinstance(exc, exceptions.ValidationError):
        errors = _validation_items(exc.detail)
        validation = {"errors": errors, "warnings": []}
        message = "Error processing request - not valid. " + "; ".join(
            f"{e['itemId']}: {e['message']}" if e["itemId"] else e["message"] for e in errors
        )
    elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        message = MESSAGES[401]
    elif isinstance(exc, exceptions.Throttled):
        message = MESSAGES[429]
    else:
        detail = getattr(exc, "detail", None)
        message = str(detail) if isinstance(detail, str) else MESSAGES.get(response.status_code, str(exc))
    response.data = error_body(response.status_code, message, validation=validation, request=request)
    return response


def error_response(status_code, message, request=None) -> JsonResponse:
    """The same body from plain Django views (an unknown /api/ path)."""
    return JsonResponse(error_body(status_code, message, request=request), status=status_code)
