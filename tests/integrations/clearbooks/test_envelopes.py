"""Request envelopes: each shape rendered once by zeep, filled in with the key and offset, and
byte for byte what zeep itself would send.

Keys are secrets even here: never print them or put them in test ids.
"""

import pytest
import requests
import zeep
from lxml import etree

from integrations.clearbooks.envelopes import KEY_PLACEHOLDER, OFFSET_PLACEHOLDER, Template, key_text, offset_of
from integrations.clearbooks.reads import READS, _params
from integrations.clearbooks.redaction import ApiKey
from integrations.clearbooks.service import Service, clear_cache, get_service
from integrations.registry import ErrorKind

from .otherserver import OtherServer
from .reading import SMALL, flat, read_all, read_error

KEYS = ("plain-key", "a&b<c>\"d'e", "clé£", "]]></apiKey><x>")
KEY_IDS = ("plain", "markup", "non-ascii", "closing-tag")


class Recorder(zeep.Transport):
    """zeep's own transport, keeping what zeep would post instead of posting it."""

    def __init__(self):
        super().__init__()
        self.sent = []

    def post(self, address, message, headers):
        self.sent.append((address, message, dict(headers)))
        return requests.Response()


def sent_by_zeep(service):
    """A function calling an operation through zeep in full (its public client API, on the
    service's parsed WSDL), which returns the (address, body, HTTP headers) zeep posts."""
    recorder = Recorder()
    zeep_client = zeep.Client(service.client.wsdl, transport=recorder, settings=zeep.Settings(raw_response=True))

    def send(operation, key, params):
        getattr(zeep_client.service, operation)(_soapheaders=[service.envelopes.authenticate(key)], **params)
        return recorder.sent.pop()

    return send


@pytest.mark.parametrize("other_wsdl", [False, True])
def test_it_sends_byte_for_byte_what_zeep_sends_while_rendering_each_shape_once(sandbox, monkeypatch, other_wsdl):
    clear_cache()
    with OtherServer(sandbox.soap_url) as other:
        service = get_service(other.wsdl_url if other_wsdl else sandbox.wsdl_url, 60)
        renders = []
        create_message = service.client.create_message
        monkeypatch.setattr(
            service.client, "create_message", lambda *a, **kw: renders.append(a[1]) or create_message(*a, **kw)
        )
        zeep_sends = sent_by_zeep(service)
        compared = 0
        for key in KEYS:
            for read in READS.values():
                for offset in (0, 100, 12_345):
                    for since in ("2024-01-31", None) if read.incremental else (None,):
                        params = _params(read, offset, since)
                        body = service.envelopes.build(read.operation, ApiKey(key), params)
                        sent = (service.address, body, service.envelopes.http_headers(read.operation))
                        assert sent == zeep_sends(read.operation, key, params)
                        compared += 1
        # One render per (operation, parameters but the offset), however many calls.
        assert len(renders) == 10 < compared


def test_it_renders_each_call_in_full_when_a_shape_cannot_be_templated(sandbox, monkeypatch):
    clear_cache()
    monkeypatch.setattr(Template, "cut", classmethod(lambda cls, *a, **kw: None))
    key = sandbox.make_key(**SMALL)

    records = flat(read_all(sandbox, key, "invoices"))

    assert len(records) == sandbox.counts(key)["invoices"]
    assert set(get_service(sandbox.wsdl_url, 60).envelopes._templates.values()) == {None}


@pytest.mark.parametrize("key", KEYS, ids=KEY_IDS)
def test_the_key_is_filled_in_escaped_so_it_reads_back_exactly(sandbox, key):
    service = get_service(sandbox.wsdl_url, 60)

    body = service.envelopes.build("listInvoices", ApiKey(key), {"query": {"ledger": "sales", "offset": 200}})

    root = etree.fromstring(body)
    (api_key,) = root.iter("apiKey")
    assert api_key.text == key and len(api_key) == 0  # text, never markup
    assert [query.get("offset") for query in root.iter("query")] == ["200"]
    assert body == service.envelopes.render("listInvoices", key, {"query": {"ledger": "sales", "offset": 200}})


def test_key_text_escapes_markup_and_refuses_what_xml_cannot_carry():
    assert key_text(ApiKey("a&b<c>d")) == b"a&amp;b&lt;c&gt;d"
    assert key_text(ApiKey("clé")) == "clé".encode()
    assert key_text(ApiKey("")) == b""
    with pytest.raises(ValueError):
        key_text(ApiKey("bell\x07"))


def test_a_key_xml_cannot_carry_is_a_permanent_error_without_the_key(sandbox):
    error = read_error(sandbox, "sbx\x00secret", "paymentMethods")

    assert error.kind == ErrorKind.PERMANENT
    assert "could not build the request" in error.detail
    assert "secret" not in error.detail + error.message


def test_a_template_is_cut_only_where_each_placeholder_appears_exactly_once():
    key, offset = KEY_PLACEHOLDER.encode(), str(OFFSET_PLACEHOLDER).encode()

    template = Template.cut(b"<e><k>" + key + b"</k><o>" + offset + b"</o></e>", has_offset=True)

    assert template.slots == ("key", "offset")
    assert template.fill(b"K&amp;", 300) == b"<e><k>K&amp;</k><o>300</o></e>"
    assert Template.cut(b"<e>" + key + b"</e>", has_offset=False).fill(b"K") == b"<e>K</e>"
    assert Template.cut(b"<e>" + key + key + b"</e>", has_offset=False) is None
    assert Template.cut(b"<e>" + key + b"</e>", has_offset=True) is None  # the offset went elsewhere
    assert Template.cut(b"<e>" + offset + b"</e>", has_offset=True) is None  # so did the key
    with pytest.raises(ValueError):
        template.fill(b"K", "1</o><x>")  # an offset is a number, never text


def test_the_offset_is_found_wherever_the_operation_takes_it():
    assert offset_of({"offset": 300}) == 300
    assert offset_of({"query": {"ledger": "sales", "offset": 100}}) == 100
    assert offset_of({"query": {"ledger": "sales"}}) is None
    assert offset_of({}) is None


def test_soap_12_bindings_get_the_headers_zeep_sends_too(sandbox, tmp_path):
    soap11 = "http://schemas.xmlsoap.org/wsdl/soap/"
    wsdl = requests.get(sandbox.wsdl_url, timeout=10).text
    assert soap11 in wsdl
    path = tmp_path / "soap12.wsdl"
    path.write_text(wsdl.replace(soap11, "http://schemas.xmlsoap.org/wsdl/soap12/"))

    service = Service(str(path), 60)  # a local file, read by zeep

    assert isinstance(service.envelopes.binding, zeep.wsdl.bindings.Soap12Binding)
    _, _, headers = sent_by_zeep(service)("listCurrencies", "k", {})
    assert service.envelopes.http_headers("listCurrencies") == headers
    assert headers["Content-Type"].startswith("application/soap+xml")
