"""Records as they came over the wire: cut from an answer's bytes, hashed, parsed alone.

A re-sync reads every invoice again (their modifiedSince does not work, docs/clearbooks.md
§8), and most have not changed. Parsing and mapping a page costs more than fetching it, so
the sync engine compares each record's bytes first: a record whose bytes it stored last
time has not changed, and is neither parsed nor mapped. Any record it does not recognise
goes the whole way (parse, map, content hash), which alone decides created, updated or
unchanged.

The bytes of each record are cut from the answer without parsing it, so the cut is made
only where it cannot be wrong: an answer with no comment, CDATA section, DOCTYPE or
processing instruction (every "<" in it starts a real tag, so the record's start tags are
exactly where `<prefix:Name` appears), whose records each end with their closing tag before
the next one starts (no record nested in another), and which ends its envelope. Otherwise
`record_spans` says None and the page is parsed as usual.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

from .parsing import MappingError, find_records, parse_xml


@lru_cache(maxsize=64)
def _scanner(name: str) -> re.Pattern:
    # One pass finds both the record's start tags and anything that stops the cut: `<!`
    # (comment, CDATA, DOCTYPE) or `<?` (a processing instruction; the XML declaration is
    # allowed, at the very start).
    return re.compile(rb"<(?:[!?]|(?:[A-Za-z_][\w.\-]*:)?" + re.escape(name.encode()) + rb"[\s/>])")


def record_spans(body: bytes, name: str) -> list[tuple[int, int]] | None:
    """Where each record element named `name` (any prefix) starts and ends in `body`, in
    document order; None when there is none, or when the bytes cannot be cut safely."""
    if not body[-64:].rstrip().endswith(b"Envelope>"):  # cut short, or not an envelope
        return None
    starts = []
    for match in _scanner(name).finditer(body):
        tag = match.group()
        if tag[1] in b"!?":
            if match.start() or tag != b"<?":
                return None
            continue
        starts.append((match.start(), tag[1:-1]))
    if not starts:
        return None
    spans = []
    ends = [start for start, _ in starts[1:]] + [len(body)]
    for (start, qname), end in zip(starts, ends, strict=True):
        close = body.rfind(b"</" + qname + b">", start, end)
        if close < 0:  # self-closing, nested in another or cut short: parse instead
            return None
        spans.append((start, close + len(qname) + 3))
    return spans


_NAMESPACE_DECLARATION = re.compile(rb"""\sxmlns(?::([A-Za-z_][\w.\-]*))?\s*=\s*("[^"]*"|'[^']*')""")


def parse_records_alone(body: bytes, spans, every_span, name: str) -> list | None:
    """Parse only the records at `spans` (some of `every_span`, from record_spans), each inside
    a wrapper that declares the namespaces of the answer around its records; their
    elements, or None when that cannot be done exactly (a prefix declared twice with
    different meanings, or a record that does not parse alone): parse the whole answer then."""
    # The declarations in scope at a record are on its ancestors, whose start tags all come
    # before it and outside every record: in the bytes before the first record and between them.
    head = body[: every_span[0][0]]
    outside = [head] + [body[end:start] for (_, end), (start, _) in zip(every_span, every_span[1:], strict=False)]
    # The XML declaration goes first too: it names the encoding the record's bytes are in.
    declaration = head[: head.find(b"?>") + 2] if head.startswith(b"<?xml") else b""
    declared = {}
    for prefix, value in _NAMESPACE_DECLARATION.findall(b" ".join(outside)):
        if declared.setdefault(prefix, value) != value:
            return None
    wrapper = b"<w" + b"".join(
        b" xmlns" + (b":" + prefix if prefix else b"") + b"=" + value for prefix, value in declared.items()
    )
    found = []
    for start, end in spans:
        try:
            root = parse_xml(declaration + wrapper + b">" + body[start:end] + b"</w>")
        except MappingError:
            return None
        elements = find_records(root, name)
        if len(elements) != 1:
            return None
        found.append(elements[0])
    return found


def wire_hashes(body: bytes, spans) -> list[str]:
    """A digest of each record's bytes as received. Not a security measure: it only tells a
    record from its own earlier bytes, so the fastest digest at hand (SHA-1, here) will do."""
    view = memoryview(body)
    return [hashlib.sha1(view[start:end], usedforsecurity=False).hexdigest() for start, end in spans]
