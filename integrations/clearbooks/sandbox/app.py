"""The WSGI app: the WSDL, the SOAP endpoint and the `/_sandbox/` control endpoints.

Paths are the real service's (`/api/accounting/wsdl/`, `/api/accounting/soap/`); the
WSDL's soap:address is built from the request's Host, so the sandbox works on any
port. Nothing here logs a request body, and keys travel only in bodies, never in URLs.
"""

import json
import time

from . import render
from .soap import SoapFault, parse_request
from .state import CONTROL_ACTIONS, ControlError, SandboxState
from .wsdl import SOAP_PATH, WSDL_PATH, render_wsdl

CONTROL_PREFIX = "/_sandbox/"
MAX_REQUEST_BYTES = 1024 * 1024
XML = "text/xml; charset=utf-8"
HTML_ERROR = (
    b"<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head>"
    b"<body><h1>Internal Server Error</h1><p>The server encountered an internal error.</p></body></html>"
)


def _respond(start_response, status, body, content_type=XML, headers=()):
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))), *headers])
    return [body]


def _host_url(environ):
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"


def _read_body(environ):
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_REQUEST_BYTES:
        return None
    return environ["wsgi.input"].read(length) if length > 0 else b""


def _failure(start_response, rule, operation, state):
    kind = rule["kind"]
    if kind == "http500":
        return _respond(start_response, "500 Internal Server Error", HTML_ERROR, "text/html; charset=utf-8")
    if kind in ("http503", "http429"):
        status = "503 Service Unavailable" if kind == "http503" else "429 Too Many Requests"
        body = f"<html><body><h1>{status}</h1></body></html>".encode()
        return _respond(start_response, status, body, "text/html; charset=utf-8", [("Retry-After", "1")])
    if kind == "empty":
        return _respond(start_response, "500 Internal Server Error", b"", "text/html; charset=utf-8")
    if kind == "fault":
        return _respond(start_response, "500 Internal Server Error", render.fault(rule["fault_string"]))
    if kind == "malformed":
        whole = render.envelope(operation, "result", '<ns1:Invoice invoice_id="1" status="paid"/>')
        return _respond(start_response, "200 OK", whole[: len(whole) // 2])
    if kind in ("entity_bomb", "external_entity"):
        return _respond(start_response, "200 OK", render.with_dtd(operation, "result", kind))
    if kind == "oversized":
        return _oversized(start_response, operation, state.oversized_bytes())
    return None  # "slow" answers normally, late


def _oversized(start_response, operation, size):
    head, tail = render.envelope(operation, "result", "\x00").split(b"\x00")
    chunk = b" " * (1024 * 1024)
    total = len(head) + len(tail) + size
    start_response("200 OK", [("Content-Type", XML), ("Content-Length", str(total))])

    def body():
        yield head
        for _ in range(size // len(chunk)):
            yield chunk
        yield b" " * (size % len(chunk))
        yield tail

    return body()


def _soap(environ, start_response, state):
    data = _read_body(environ)
    if data is None:
        return _respond(start_response, "413 Payload Too Large", b"Request too large", "text/plain")
    if state.latency():
        time.sleep(state.latency())
    try:
        call = parse_request(data)
    except SoapFault as exc:
        return _respond(start_response, "500 Internal Server Error", render.fault(exc.faultstring, exc.faultcode))
    rule = state.injected_failure(call.api_key, call.operation)
    if rule is not None:
        if rule["kind"] == "slow":
            time.sleep(rule["delay_ms"] / 1000)
        else:
            return _failure(start_response, rule, call.operation, state)
    try:
        body = state.answer(call)
    except SoapFault as exc:
        return _respond(start_response, "500 Internal Server Error", render.fault(exc.faultstring, exc.faultcode))
    return _respond(start_response, "200 OK", body)


def _control(environ, start_response, state, action):
    def reply(status, payload):
        return _respond(start_response, status, json.dumps(payload).encode(), "application/json")

    if environ["REQUEST_METHOD"] == "GET" and action in ("health", "config"):
        return reply("200 OK", {"ok": True} if action == "health" else state.config())
    if environ["REQUEST_METHOD"] != "POST":
        return reply("405 Method Not Allowed", {"error": "use POST with a JSON body"})
    if action not in CONTROL_ACTIONS:
        return reply("404 Not Found", {"error": f"no such action; use one of {', '.join(CONTROL_ACTIONS)}"})
    try:
        params = json.loads(_read_body(environ) or b"{}")
        if not isinstance(params, dict):
            raise ControlError("the body must be a JSON object")
        return reply("200 OK", getattr(state, action)(**params))
    except (ControlError, json.JSONDecodeError) as exc:
        return reply("400 Bad Request", {"error": str(exc)})
    except TypeError:
        return reply("400 Bad Request", {"error": f"unexpected or missing parameters for {action}"})


def make_app(state: SandboxState | None = None):
    """A WSGI app serving one sandbox; `app.state` is its SandboxState."""
    state = state or SandboxState()

    def app(environ, start_response):
        path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
        if path == WSDL_PATH or (path == SOAP_PATH and environ.get("QUERY_STRING", "").lower() == "wsdl"):
            return _respond(start_response, "200 OK", render_wsdl(_host_url(environ) + SOAP_PATH).encode())
        if path == SOAP_PATH:
            if method != "POST":
                return _respond(start_response, "405 Method Not Allowed", b"POST a SOAP envelope", "text/plain")
            return _soap(environ, start_response, state)
        if path.startswith(CONTROL_PREFIX):
            return _control(environ, start_response, state, path[len(CONTROL_PREFIX) :].strip("/"))
        return _respond(start_response, "404 Not Found", b"Not found", "text/plain")

    app.state = state
    return app
