"""XML for responses and faults, by string building (fast enough for 20,000-invoice books).

The envelope copies the captures: `SOAP-ENV`/`ns1` prefixes, a header echoing
`<ns1:authenticate>true</ns1:authenticate>`, the response element in the SOAP-ENV
namespace (docs/clearbooks.md §9, quirk 2), unqualified wrappers and qualified records.
"""

from .wsdl import SOAP_ENV, TNS, TYPES, element_order

_ATTR_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def _record(type_name, rec, tag):
    rt = TYPES[type_name]
    out = ["<", tag]
    for name, _ in rt.attrs:
        value = rec.get(name)
        if value is not None:
            out += [" ", name, '="', value.translate(_ATTR_ESCAPES), '"']
    body = []
    for name, child_type, kind in element_order(type_name):
        value = rec.get(name)
        if value is None:
            continue
        if kind == "elem":
            body += ["<", name, ">", value.translate(_TEXT_ESCAPES), "</", name, ">"] if value else ["<", name, "/>"]
        elif kind == "one":
            body.append(_record(child_type, value, name))
        else:
            body.append(f"<{name}>")
            body += [record(child_type, item) for item in value]
            body.append(f"</{name}>")
    if body:
        out.append(">")
        out += body
        out += ["</", tag, ">"]
    else:
        out.append("/>")
    return "".join(out)


def record(type_name, rec) -> str:
    """One record as a qualified element (`ns1:Invoice`), cached in the record until it changes."""
    xml = rec.get("_xml")
    if xml is None:
        xml = rec["_xml"] = _record(type_name, rec, "ns1:" + TYPES[type_name].tag)
    return xml


def envelope(operation: str, result_name: str, inner: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV}" xmlns:ns1="{TNS}">'
        "<SOAP-ENV:Header><ns1:authenticate>true</ns1:authenticate></SOAP-ENV:Header>"
        f"<SOAP-ENV:Body><SOAP-ENV:{operation}Response><{result_name}>{inner}</{result_name}>"
        f"</SOAP-ENV:{operation}Response></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    ).encode()


def fault(faultstring: str, faultcode: str = "Receiver") -> bytes:
    """A SOAP 1.1 Fault shaped like the captured ones (bare, unprefixed faultcode)."""
    return (
        f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV}"><SOAP-ENV:Body><SOAP-ENV:Fault>'
        f"<faultcode>{faultcode.translate(_TEXT_ESCAPES)}</faultcode>"
        f"<faultstring>{faultstring.translate(_TEXT_ESCAPES)}</faultstring>"
        "</SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    ).encode()


# Hostile answers for fault injection: a well-formed envelope whose DTD either expands one
# entity a billion times ("billion laughs") or pulls in a local file (XXE). A safe client
# refuses both without expanding or reading anything.
LAUGHS = "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10 if n else "lol"}">' for n in range(10))
EXTERNAL_FILE = "file:///etc/passwd"


def with_dtd(operation: str, result_name: str, kind: str) -> bytes:
    """An envelope carrying a DTD: kind "entity_bomb" (&lol9; = 10^9 "lol") or "external_entity"."""
    if kind == "entity_bomb":
        dtd, use = f"<!DOCTYPE SOAP-ENV:Envelope [{LAUGHS}]>", "&lol9;"
    else:
        dtd, use = f'<!DOCTYPE SOAP-ENV:Envelope [<!ENTITY xxe SYSTEM "{EXTERNAL_FILE}">]>', "&xxe;"
    inner = f'<ns1:Invoice invoice_id="1" status="paid"><description>{use}</description></ns1:Invoice>'
    head, _, rest = envelope(operation, result_name, inner).partition(b"\n")
    return head + b"\n" + dtd.encode() + rest
