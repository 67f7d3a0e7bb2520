"""Request envelopes: rendered by zeep once per shape, then filled in with the key and offset.

zeep builds every request from the WSDL's types (`Client.create_message`), so any server
that follows the documented protocol works. Rendering from types costs about as much as
parsing a page of answers, and a read sends the same envelope page after page with only
the offset changed. So each shape (an operation with its parameters but the offset) is
rendered once, with placeholders for the API key and the offset, serialised as zeep's own
transport serialises (UTF-8, with an XML declaration), and cut at the placeholders. A call
joins the pieces with its own key and offset:

- the key is escaped by lxml itself, exactly as it escapes element text when it
  serialises the header (`key_text`), and a key XML cannot carry is refused;
- the offset is an integer, written as zeep writes an xsd:int.

When a placeholder does not come out exactly once (a WSDL that types things otherwise),
that shape has no template and each call is rendered by zeep in full. Tests compare the
filled templates with zeep's own envelopes, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass

import zeep
from lxml import etree
from zeep.wsdl.bindings import Soap12Binding

from .redaction import ApiKey

KEY_PLACEHOLDER = "cb-api-key-placeholder-5d0b9e27f1a4"
OFFSET_PLACEHOLDER = 7_301_946_285_113  # an offset no real read reaches
MAX_SHAPES = 256  # shapes are a handful per data type; never let them pile up


@dataclass(frozen=True)
class Template:
    """A rendered envelope cut at its placeholders."""

    parts: tuple[bytes, ...]
    slots: tuple[str, ...]  # what goes between parts: "key" or "offset"

    @classmethod
    def cut(cls, body: bytes, *, has_offset: bool) -> Template | None:
        """The template of `body`, or None unless each placeholder appears exactly once."""
        key, offset = KEY_PLACEHOLDER.encode(), str(OFFSET_PLACEHOLDER).encode()
        if body.count(key) != 1 or body.count(offset) != has_offset:
            return None
        marks = [(body.index(key), key, "key")]
        if has_offset:
            marks = sorted(marks + [(body.index(offset), offset, "offset")])
        parts, slots, at = [], [], 0
        for position, mark, slot in marks:
            parts.append(body[at:position])
            slots.append(slot)
            at = position + len(mark)
        parts.append(body[at:])
        return cls(tuple(parts), tuple(slots))

    def fill(self, key: bytes, offset: int | None = None) -> bytes:
        """The envelope with `key` (already escaped: see key_text) and `offset` in place."""
        values = {"key": key, "offset": b"" if offset is None else str(int(offset)).encode()}
        out = [self.parts[0]]
        for slot, part in zip(self.slots, self.parts[1:], strict=True):
            out += (values[slot], part)
        return b"".join(out)


def key_text(api_key: ApiKey) -> bytes:
    """The key as it goes between <apiKey> and </apiKey>: lxml serialises it as the text of
    an element, in UTF-8, so it is escaped exactly as in an envelope lxml renders (and
    refused with lxml's ValueError when it holds characters XML cannot carry)."""
    element = etree.Element("k")
    element.text = api_key.reveal()
    return etree.tostring(element, encoding="utf-8")[len(b"<k>") : -len(b"</k>")]


def offset_of(params: dict) -> int | None:
    """The offset in a call's parameters: an `offset` part, or the `query` part's field."""
    query = params.get("query")
    if "offset" not in params and isinstance(query, dict):
        return query.get("offset")
    return params.get("offset")


def _with_placeholder(params: dict) -> dict:
    """The parameters with the offset, wherever it goes, replaced by its placeholder."""
    if "offset" in params:
        return {**params, "offset": OFFSET_PLACEHOLDER}
    query = params.get("query")
    if isinstance(query, dict) and "offset" in query:
        return {**params, "query": {**query, "offset": OFFSET_PLACEHOLDER}}
    return params


def _frozen(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    return value


class Envelopes:
    """The envelopes and HTTP headers of one WSDL port's operations."""

    def __init__(self, client: zeep.Client, service_name: str, port):
        self.client = client
        self.binding = port.binding
        # The authenticate header lives in the target namespace (docs/clearbooks.md §4):
        # the one the WSDL's binding is declared in.
        self.namespace = port.binding.name.namespace
        self.proxy = client.bind(service_name, port.name)
        self._templates: dict[tuple, Template | None] = {}
        self._headers: dict[str, dict] = {}

    def operations(self):
        return self.binding.all()

    def authenticate(self, key: str):
        """The SOAP header that carries the key: `<authenticate><apiKey>KEY</apiKey></authenticate>`."""
        header = etree.Element(etree.QName(self.namespace, "authenticate"), nsmap={"cb": self.namespace})
        etree.SubElement(header, "apiKey").text = key
        return header

    def http_headers(self, operation: str) -> dict:
        """The HTTP headers zeep's own transport sends with `operation` (a test holds them equal)."""
        headers = self._headers.get(operation)
        if headers is None:
            action = self.binding.get(operation).soapaction
            headers = {"SOAPAction": f'"{action}"' if action else '""'}
            if isinstance(self.binding, Soap12Binding):
                headers["Content-Type"] = f'application/soap+xml; charset=utf-8; action="{action}"'
            else:
                headers["Content-Type"] = "text/xml; charset=utf-8"
            self._headers[operation] = headers
        return headers

    def build(self, operation: str, api_key: ApiKey, params: dict) -> bytes:
        """The envelope of one call: its shape's template filled in, else zeep's full render."""
        template = self._template(operation, params)
        if template is None:
            return self.render(operation, api_key.reveal(), params)
        return template.fill(key_text(api_key), offset_of(params))

    def render(self, operation: str, key: str, params: dict) -> bytes:
        """zeep's envelope for the call, serialised as zeep's transport would."""
        envelope = self.client.create_message(self.proxy, operation, _soapheaders=[self.authenticate(key)], **params)
        return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")

    def _template(self, operation, params) -> Template | None:
        placeheld = _with_placeholder(params)
        shape = (operation, _frozen(placeheld))
        if shape in self._templates:
            return self._templates[shape]
        body = self.render(operation, KEY_PLACEHOLDER, placeheld)
        template = Template.cut(body, has_offset=placeheld is not params)
        if len(self._templates) >= MAX_SHAPES:
            self._templates.clear()
        self._templates[shape] = template
        return template
