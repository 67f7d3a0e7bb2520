"""Validate an answer (or a request body) against the schema Codat's document gives for an operation."""

import copy
import json
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT = Path(__file__).parent / "codat" / "Codat-Platform.json"
URI = "urn:codat-platform"


def _nullable(node):
    """OpenAPI 3.0's `nullable: true` as JSON Schema: the schema, or null."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable(value) for key, value in node.items()}
    if node.pop("nullable", False) is True:
        return {"anyOf": [node, {"type": "null"}]}
    return node


@cache
def document() -> dict:
    doc = json.loads(DOCUMENT.read_text())
    feature = doc["components"]["schemas"]["Integration"]["definitions"]["dataTypeFeature"]
    feature["required"] = ["dataType" if name == "datatype" else name for name in feature["required"]]
    return _nullable(doc)


@cache
def _registry():
    return Registry().with_resource(URI, Resource.from_contents(document(), default_specification=DRAFT202012))


def _resolve(node):
    while "$ref" in node:
        pointer = node["$ref"].lstrip("#/").split("/")
        node = document()
        for part in pointer:
            node = node[part]
    return node


def operation(operation_id):
    for path, item in document()["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                return path, method, op
    raise KeyError(operation_id)


def response_schema(operation_id, status) -> dict | None:
    """The JSON schema of an operation's answer with `status` (None when Codat documents no body)."""
    if str(status) == "204":
        return None  # no body by definition (Codat's delete-api-key 204 wrongly refers to its 429 body)
    _, _, op = operation(operation_id)
    response = _resolve(op["responses"][str(status)])
    content = response.get("content", {}).get("application/json")
    return content["schema"] if content else None


def _errors(schema, instance) -> list:
    wrapped = {"$schema": "https://json-schema.org/draft/2020-12/schema", **copy.deepcopy(schema)}
    wrapped = json.loads(json.dumps(wrapped).replace('"$ref": "#/', f'"$ref": "{URI}#/'))
    validator = Draft202012Validator(wrapped, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER)
    return sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))


def request_errors(operation_id, body) -> list[str]:
    """What is wrong with a request body by Codat's schema for the operation (empty when it conforms)."""
    _, _, op = operation(operation_id)
    schema = _resolve(op["requestBody"])["content"]["application/json"]["schema"]
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _errors(schema, body)]


def validate(operation_id, response):
    """Assert that a test-client response is documented by Codat for this operation and matches its schema."""
    _, _, op = operation(operation_id)
    status = str(response.status_code)
    assert status in op["responses"], f"{operation_id}: Codat documents no {status} answer ({list(op['responses'])})"
    schema = response_schema(operation_id, status)
    if schema is None:
        assert not response.content, f"{operation_id}: Codat's {status} has no body, ours has {response.content!r}"
        return None
    body = response.json()
    errors = _errors(schema, body)
    assert not errors, f"{operation_id} {status}: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:20]
    )
    return body
