"""Pieces of our OpenAPI schema (drf-spectacular) that every resource shares.

Every operation documents Codat's error body for the errors any request can meet (400,
401, 403, 404, 405, 429 and 500), added by `add_error_responses` after generation.
"""

from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers

LIST_PARAMETERS = [
    OpenApiParameter("page", {"type": "integer", "minimum": 1, "default": 1}, description="Page number, from 1."),
    OpenApiParameter(
        "pageSize",
        {"type": "integer", "minimum": 1, "maximum": 5000, "default": 100},
        description="Results per page (at most 2000 are answered).",
    ),
    OpenApiParameter("query", str, description="Codat query, e.g. `sourceType=Accounting && name~clear`."),
    OpenApiParameter("orderBy", str, description="A field to order by; `-` first for descending."),
]

ERROR_STATUSES = {
    "400": "The request or its query is not valid.",
    "401": "No API key, or an unknown or revoked one.",
    "403": "Not allowed.",
    "404": "Not found.",
    "405": "Method not allowed.",
    "429": "Too many requests: wait for Retry-After seconds.",
    "500": "There is a problem with the server.",
}

# Codat's rate limit headers (portal.api.throttling), on the 429 with the seconds to wait.
RATE_LIMIT_HEADERS = {
    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."},
    "X-Rate-Limit-Limit": {"schema": {"type": "integer"}, "description": "Requests a key may make per period."},
    "X-Rate-Limit-Remaining": {"schema": {"type": "integer"}, "description": "Requests left in this period."},
    "X-Rate-Limit-Reset": {"schema": {"type": "integer"}, "description": "When the period ends (Unix time)."},
}

ERROR_MESSAGE = {
    "type": "object",
    "properties": {
        "statusCode": {"type": "integer"},
        "service": {"type": "string"},
        "error": {"type": "string"},
        "correlationId": {"type": "string"},
        "validation": {
            "type": "object",
            "nullable": True,
            "properties": {
                "errors": {"type": "array", "nullable": True, "items": {"$ref": "#/components/schemas/ValidationItem"}},
                "warnings": {
                    "type": "array",
                    "nullable": True,
                    "items": {"$ref": "#/components/schemas/ValidationItem"},
                },
            },
        },
        "canBeRetried": {"type": "string"},
        "detailedErrorCode": {"type": "integer"},
    },
    "required": ["statusCode", "service", "error", "correlationId"],
}
VALIDATION_ITEM = {
    "type": "object",
    "properties": {
        "itemId": {"type": "string", "nullable": True},
        "message": {"type": "string", "nullable": True},
        "validatorName": {"type": "string", "nullable": True},
    },
}


class HalRefSerializer(serializers.Serializer):
    href = serializers.CharField()


class LinksSerializer(serializers.Serializer):
    self = HalRefSerializer()
    current = HalRefSerializer()
    next = HalRefSerializer(required=False)
    previous = HalRefSerializer(required=False)


def paged_schema(name, item_serializer):
    """The schema of a Codat page of `item_serializer` items."""
    return inline_serializer(
        name,
        fields={
            "results": item_serializer(many=True),
            "pageNumber": serializers.IntegerField(),
            "pageSize": serializers.IntegerField(),
            "totalResults": serializers.IntegerField(),
            "_links": LinksSerializer(),
        },
    )


# URL keyword arguments are Python names; Codat's path parameters are camelCase.
PATH_PARAMETERS = {
    "company_id": "companyId",
    "connection_id": "connectionId",
    "data_type": "dataType",
    "dataset_id": "datasetId",
    "platform_key": "platformKey",
    "api_key_id": "apiKeyId",
    "webhook_id": "webhookId",
    "message_id": "messageId",
}


def _camel_case_paths(result):
    paths = {}
    for path, item in result.get("paths", {}).items():
        for python, codat in PATH_PARAMETERS.items():
            path = path.replace("{" + python + "}", "{" + codat + "}")
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path":
                    parameter["name"] = PATH_PARAMETERS.get(parameter["name"], parameter["name"])
        paths[path] = item
    result["paths"] = paths


def add_error_responses(result, generator, request, public):
    """Postprocessing hook: Codat's path parameter names, and Codat's ErrorMessage for every
    error status on every operation."""
    _camel_case_paths(result)
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorMessage"] = ERROR_MESSAGE
    schemas["ValidationItem"] = VALIDATION_ITEM
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorMessage"}}}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for code, description in ERROR_STATUSES.items():
                responses.setdefault(code, {"description": description, "content": error})
            if "429" in responses:
                responses["429"].setdefault("headers", RATE_LIMIT_HEADERS)
    return result
