"""Answers for the parsing and mapping tests: the captured fixtures, and envelopes around a body.

The fixtures are copies of real captures (fixtures/README.md says whose, under which licence).
"""

from pathlib import Path

from integrations.clearbooks import parsing

FIXTURES = Path(__file__).parent / "fixtures"


def load(name):
    return parsing.parse_xml((FIXTURES / name).read_bytes())


def envelope(body: str, ns="https://secure.clearbooks.co.uk/api/accounting/soap/") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns:ns1="{ns}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<SOAP-ENV:Body>{body}</SOAP-ENV:Body></SOAP-ENV:Envelope>"
    ).encode()
