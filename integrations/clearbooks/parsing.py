"""Clear Books answers as XML: parsed safely, faults read, records found by local name.

Wrappers, prefixes and namespaces differ between API generations (docs/clearbooks.md §9),
so nothing here depends on them: elements are matched by local name.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from operator import attrgetter

XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSI_NIL = f"{{{XSI}}}nil"
XSI_TYPE = f"{{{XSI}}}type"
SOAP_ENC_ARRAY = "{http://schemas.xmlsoap.org/soap/encoding/}arrayType"
_TAG = attrgetter("tag")

# Answers are parsed by the standard library's C ElementTree (expat), not lxml: lxml hands
# every attribute to Python through a slow per-attribute call, while expat builds each
# element's attributes as a plain dict while parsing, and an invoice has dozens of them.
# lxml still builds our requests (via zeep).
#
# Safety: a DOCTYPE anywhere is refused before parsing, so there is no DTD, hence no entity
# (an undefined `&name;` is a syntax error) and no external reference. The byte check covers
# every encoding expat reads: UTF-8, UTF-16 and single-byte encodings, which expat only
# accepts when they map ASCII markup characters to themselves. expat never fetches anything,
# and answers are size-capped by the transport. Records nested deeper than MAX_DEPTH are
# refused where they are read recursively (mapping.fields), rather than by walking every
# parsed tree (lxml's limit without huge_tree is 256 too).
MAX_DEPTH = 256


class MappingError(ValueError):
    """An answer we cannot read: not XML, a DOCTYPE, or a record without what it must have."""


@dataclass(frozen=True)
class Fault:
    code: str
    string: str

    @property
    def is_login_failure(self) -> bool:
        # The API answers faultcode "Receiver" for bad keys, so only the string tells
        # (docs/clearbooks.md §5).
        return self.string.strip().lower().startswith("login failed")


def parse_xml(data: bytes) -> ET.Element:
    """Parse an answer's body, refusing any DOCTYPE (the door to entity bombs and XXE)."""
    # A "<" every few bytes makes searching a whole page for "<!DOCTYPE" slow, so it is
    # searched for only when the text holds a "!" at all, and the UTF-16 spelling only in
    # UTF-16 text, whose first characters (markup or a byte order mark) always hold a zero byte.
    if (b"!" in data and b"<!DOCTYPE" in data) or (b"\x00" in data[:64] and b"<\x00!\x00D\x00O\x00C" in data):
        raise MappingError("the response declares a DOCTYPE, which we refuse")
    parser = ET.XMLParser(target=ET.TreeBuilder())  # comments and processing instructions are dropped
    try:
        parser.feed(data)
        root = parser.close()
    except ET.ParseError as exc:
        raise MappingError(f"the response is not well-formed XML: {exc}") from None
    except (ValueError, LookupError) as exc:  # e.g. an encoding expat cannot read
        raise MappingError(f"the response is not XML: {exc}") from None
    return root


def local_name(element) -> str:
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def soap_body(root) -> ET.Element | None:
    """The SOAP Body of an envelope, whatever its prefix or SOAP version."""
    if local_name(root) != "Envelope":
        return None
    return next((child for child in root if local_name(child) == "Body"), None)


def parse_fault(root) -> Fault | None:
    """The SOAP Fault in an envelope, if any (SOAP 1.1 faultstring, or SOAP 1.2 Reason/Text)."""
    body = soap_body(root)
    if body is None:
        return None
    fault = next((child for child in body if local_name(child) == "Fault"), None)
    if fault is None:
        return None
    fields = {local_name(child): child for child in fault}
    code = fields.get("faultcode") if "faultcode" in fields else fields.get("Code")
    string = fields.get("faultstring") if "faultstring" in fields else fields.get("Reason")
    return Fault(code=_all_text(code), string=_all_text(string))


def _all_text(element) -> str:
    return " ".join("".join(element.itertext()).split()) if element is not None else ""


def find_records(root, name: str) -> list:
    """Every element whose local name is `name`, in any namespace or wrapper, in document order.

    PHP's SoapServer in encoded style names array members `item` and types them with
    xsi:type, so fall back to matching `xsi:type="…:Name"` when no element is named so.
    """
    # Distinct tags first (a page has a dozen), then iteration by exact tag, which runs in C,
    # where a `{*}` wildcard path would be matched in Python.
    wanted = {tag for tag in set(map(_TAG, root.iter())) if isinstance(tag, str) and tag.rpartition("}")[2] == name}
    if len(wanted) == 1:
        return list(root.iter(wanted.pop()))
    if wanted:  # the same name in several namespaces: keep document order
        return [el for el in root.iter() if el.tag in wanted]
    return [el for el in root.iter() if isinstance(el.tag, str) and el.get(XSI_TYPE, "").rpartition(":")[2] == name]
