"""Parsing answers: DOCTYPEs refused in every encoding, what is not XML, and faults in both
SOAP versions and as captured: no database, no network."""

import pytest

from integrations.clearbooks import parsing
from integrations.registry import ErrorKind

from .answers import load


@pytest.mark.parametrize(
    ("name", "string"),
    [("no_api_key_fault.xml", "Login Failed : no api key set"), ("wrong_api_key_fault.xml", "Login Failed")],
)
def test_it_reads_both_captured_faults_as_login_failures(name, string):
    from integrations.clearbooks.errors import error_from_fault

    fault = parsing.parse_fault(load(name))

    assert fault == parsing.Fault(code="Receiver", string=string)
    assert fault.is_login_failure
    error = error_from_fault(fault, "listInvoices")
    assert error.kind == ErrorKind.AUTH
    assert error.message == "Clear Books rejected the API key: the company must relink."
    assert string in error.detail


def test_it_reads_soap_12_faults_too():
    soap12 = (
        b'<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault>'
        b"<env:Code><env:Value>env:Receiver</env:Value></env:Code>"
        b'<env:Reason><env:Text xml:lang="en">Login Failed</env:Text></env:Reason>'
        b"</env:Fault></env:Body></env:Envelope>"
    )
    fault = parsing.parse_fault(parsing.parse_xml(soap12))
    assert fault == parsing.Fault("env:Receiver", "Login Failed") and fault.is_login_failure
    assert parsing.parse_fault(parsing.parse_xml(b"<html><body>Bad gateway</body></html>")) is None


def test_it_refuses_doctypes_and_entities():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><lolz>&lol2;</lolz>'
    )
    with pytest.raises(parsing.MappingError, match="DOCTYPE"):
        parsing.parse_xml(bomb)
    xxe = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    with pytest.raises(parsing.MappingError, match="DOCTYPE"):
        parsing.parse_xml(xxe)


@pytest.mark.parametrize("encoding", ["utf-16-be", "utf-16-le", "cp1252", "koi8-r", "cp500", "utf-32", "utf-7"])
def test_it_refuses_doctypes_in_every_encoding(encoding):
    # The DOCTYPE check runs on the bytes before parsing: expat reads only UTF-8, UTF-16 and
    # single-byte encodings that keep ASCII markup as ASCII, so no other spelling gets through.
    bomb = f'<?xml version="1.0" encoding="{encoding}"?><!DOCTYPE r [<!ENTITY x "boom">]><r>&x;</r>'
    for body in (bomb.encode(encoding), b'<?xml version="1.0" encoding="utf-7"?>+ADwAIQ-DOCTYPE r+AD4-'):
        with pytest.raises(parsing.MappingError):
            parsing.parse_xml(body)


def test_it_refuses_what_is_not_xml():
    for body in (b"", b"<html><body>Bad gateway", b"Internal Server Error"):
        with pytest.raises(parsing.MappingError):
            parsing.parse_xml(body)
