"""The mapping against every captured Clear Books response (fixtures/, see its README) and the
documented quirks: no database, no network."""

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from integrations.clearbooks import mapping
from integrations.registry import ErrorKind, NormalizedRecord

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = Path("/work/shared/clearbooks/samples")
UK = mapping.UK


def load(name):
    return mapping.parse_xml((FIXTURES / name).read_bytes())


def envelope(body: str, ns="https://secure.clearbooks.co.uk/api/accounting/soap/") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns:ns1="{ns}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<SOAP-ENV:Body>{body}</SOAP-ENV:Body></SOAP-ENV:Envelope>"
    ).encode()


def assert_normalized(record):
    assert isinstance(record, NormalizedRecord)
    assert record.id and isinstance(record.id, str)
    assert isinstance(record.attributes, dict) and record.attributes


@pytest.mark.skipif(not SAMPLES.exists(), reason="shared samples not mounted")
def test_it_keeps_the_fixtures_byte_for_byte_with_their_credit():
    for sample in SAMPLES.iterdir():
        assert (FIXTURES / sample.name).read_bytes() == sample.read_bytes(), sample.name
    readme = (FIXTURES / "README.md").read_text()
    assert "greylon/clearbooks" in readme and "MIT License" in readme


def test_it_maps_the_captured_invoices():
    records = mapping.map_records("invoices", load("list_invoices.xml"))

    assert [r.id for r in records] == ["1", "2", "3"]
    for record in records:
        assert_normalized(record)
    first, second, third = records
    assert first.number == "INV1"
    assert first.issued_on == date(2015, 4, 27) and first.due_on == date(2015, 5, 27)
    assert first.status == "Paid" and first.attributes["status"] == "paid"
    assert second.status == "Submitted" and second.attributes["status"] == "approved"
    assert second.total == Decimal("2") and second.balance == Decimal("2")
    assert third.status == "PartiallyPaid"  # approved, 2 paid, balance left
    assert third.related_id == "1"
    assert third.currency == "GBP"  # multicurrency="1", the home currency
    assert [item["description"] for item in third.attributes["items"]] == ["123123", "123232", "232323"]
    assert third.attributes["items"][2]["project"] == "3"
    assert third.attributes["description"] == "asasdasd"
    assert "&type=invoice&c=58055" in first.attributes["statementPage"]


def test_it_maps_the_same_invoices_as_bills_with_codat_bill_statuses():
    records = mapping.map_records("bills", load("list_invoices.xml"))
    assert [r.status for r in records] == ["Paid", "Open", "PartiallyPaid"]


def test_it_maps_the_captured_entities_as_customers_and_suppliers():
    for data_type in ("customers", "suppliers"):
        records = mapping.map_records(data_type, load("list_entities.xml"))
        assert [r.id for r in records] == ["1", "2", "3", "4", "5", "6"]
        for record in records:
            assert_normalized(record)

    john = records[4]
    assert john.name == "John Doe"
    assert john.modified_at == datetime(2015, 10, 30, 12, 55, 7, tzinfo=UK)
    assert john.attributes["customer"] == {
        "default_account_code": "0",
        "default_vat_rate": "0",
        "default_credit_terms": "30",
    }
    assert john.attributes["bankAccount"]["sortcode"] == ""
    bank_entity = records[0]
    assert bank_entity.attributes["supplier"] == {} and bank_entity.attributes["customer"] == {}
    assert bank_entity.attributes["external_id"] == "0"


def test_it_maps_the_captured_chart_of_accounts_and_unescapes_once():
    records = mapping.map_records("chartOfAccounts", load("list_account_codes.xml"))

    assert len(records) == 77
    for record in records:
        assert_normalized(record)
        assert "&amp;" not in record.name
    by_id = {r.id: r for r in records}
    assert by_id["4010001"].name == "Fixtures & fittings dep"
    assert by_id["4010001"].attributes["account_name"] == "Fixtures & fittings dep"
    assert by_id["7502001"].number == "7502001"
    assert by_id["7502001"].status == "Active"
    assert by_id["1001001"].attributes["show_sales"] == "true"


def test_it_maps_the_captured_projects_as_tracking_categories():
    records = mapping.map_records("trackingCategories", load("list_projects.xml"))

    assert [(r.id, r.name, r.status) for r in records] == [
        ("1", "Project 1 name", "Active"),
        ("2", "Project 2 name", "Active"),
        ("3", "Project 3 name", "Active"),
    ]
    assert records[2].attributes["description"] == "description3"


@pytest.mark.parametrize(
    ("name", "string"),
    [("no_api_key_fault.xml", "Login Failed : no api key set"), ("wrong_api_key_fault.xml", "Login Failed")],
)
def test_it_reads_both_captured_faults_as_login_failures(name, string):
    from integrations.clearbooks.errors import error_from_fault

    fault = mapping.parse_fault(load(name))

    assert fault == mapping.Fault(code="Receiver", string=string)
    assert fault.is_login_failure
    error = error_from_fault(fault, "listInvoices")
    assert error.kind == ErrorKind.AUTH
    assert error.message == "Clear Books rejected the API key: the company must relink."
    assert string in error.detail


def test_it_finds_no_fault_or_records_in_a_success_without_records():
    root = load("void_invoice.xml")
    assert mapping.parse_fault(root) is None
    assert mapping.map_records("invoices", root) == []


def test_it_reads_fields_sent_as_child_elements_like_the_current_docs():
    root = mapping.parse_xml(
        envelope(
            "<ns1:listEntitiesResponse><return>"
            '<ns1:Entity id="7" country="GB" date_modified="2024-03-01 09:15:00">'
            "<company_name>Smith &amp;amp; Sons</company_name><email>a@b.uk</email>"
            "<bankAccount><bankName>HSBC</bankName><sortcode>40-11-62</sortcode></bankAccount>"
            "</ns1:Entity></return></ns1:listEntitiesResponse>"
        )
    )

    (record,) = mapping.map_records("customers", root)

    assert record.id == "7" and record.name == "Smith & Sons"
    assert record.modified_at == datetime(2024, 3, 1, 9, 15, tzinfo=UK)
    assert record.attributes["bankAccount"] == {"bankName": "HSBC", "sortcode": "40-11-62"}


def test_it_maps_bank_accounts_and_payment_methods_in_the_documented_shapes():
    root = mapping.parse_xml(
        envelope(
            "<ns1:listBankAccountsResponse><return><bankAccounts>"
            '<ns1:BankAccountListItem last_date="23 Jul 2010"><id>3</id><bank_name>Barclays</bank_name>'
            "<account_type>0</account_type><balance>38253.83</balance><currency>2</currency>"
            "<gl_account_code>7502001</gl_account_code></ns1:BankAccountListItem>"
            "</bankAccounts><total>38253.83</total></return></ns1:listBankAccountsResponse>"
        )
    )
    (bank,) = mapping.map_records("bankAccounts", root, currencies={"1": "GBP", "2": "EUR"})
    assert (bank.id, bank.name, bank.currency, bank.related_id) == ("3", "Barclays", "EUR", "7502001")
    assert bank.balance == Decimal("38253.83")
    assert bank.modified_at == datetime(2010, 7, 23, tzinfo=UK)

    root = mapping.parse_xml(
        envelope(
            '<ns1:listPaymentMethodsResponse><return><ns1:PaymentMethod id="1" name="Cheque" isClosed=""/>'
            '<ns1:PaymentMethod id="2" name="BACS" isClosed="1"/></return></ns1:listPaymentMethodsResponse>'
        )
    )
    assert [(r.name, r.status) for r in mapping.map_records("paymentMethods", root)] == [
        ("Cheque", "Active"),
        ("BACS", "Archived"),
    ]


def test_it_reads_php_encoded_arrays_by_xsi_type():
    root = mapping.parse_xml(
        envelope(
            '<ns1:listProjectsResponse><return xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" '
            'SOAP-ENC:arrayType="ns1:Project[1]"><item xsi:type="ns1:Project"><id>4</id>'
            "<projectName>Fit-out</projectName><status>closed</status></item></return></ns1:listProjectsResponse>"
        )
    )
    (project,) = mapping.map_records("trackingCategories", root)
    assert (project.id, project.name, project.status) == ("4", "Fit-out", "Archived")


def test_it_parses_currencies_for_the_currency_lookup():
    root = mapping.parse_xml(
        envelope(
            "<ns1:listCurrenciesResponse><return>"
            "<ns1:Currency><id>1</id><name>Pound</name><code>GBP</code><symbol>&amp;pound;</symbol></ns1:Currency>"
            "<ns1:Currency><id>2</id><name>Euro</name><code>eur</code></ns1:Currency>"
            "</return></ns1:listCurrenciesResponse>"
        )
    )
    assert mapping.parse_currencies(root) == {"1": "GBP", "2": "EUR"}
    assert mapping.fields(mapping.find_records(root, "Currency")[0])["symbol"] == "£"


@pytest.mark.parametrize(
    ("raw", "gross", "paid", "balance", "expected"),
    [
        ("draft", "10", "0", "10", "Draft"),
        ("voided", "10", "0", "10", "Void"),
        ("paid", "10", "10", "0", "Paid"),
        ("approved", "10", "0", "10", "Submitted"),
        ("approved", "10", "4", "6", "PartiallyPaid"),
        ("approved", "10", "10", "0", "Paid"),
        ("bad_debt", "10", "0", "10", "Unknown"),
    ],
)
def test_it_derives_invoice_statuses_like_codat(raw, gross, paid, balance, expected):
    assert mapping.invoice_status(raw, Decimal(gross), Decimal(paid), Decimal(balance)) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("1", True), ("false", False), ("0", False), ("", False), ("maybe", None), (None, None)],
)
def test_it_reads_booleans_in_every_documented_form(value, expected):
    assert mapping.boolean(value) is expected


def test_it_reads_money_as_decimal_and_refuses_nonsense():
    assert mapping.money("6608.66") == Decimal("6608.66")
    assert mapping.money("0") == Decimal("0")
    assert mapping.money("") is None
    assert mapping.money("NaN") is None
    assert mapping.money("1e40") is None
    assert mapping.money("twelve") is None


def test_it_reads_dates_and_leaves_php_zero_dates_empty():
    assert mapping.day("2015-04-27 00:00:00") == date(2015, 4, 27)
    assert mapping.day("23 Jul 2010") == date(2010, 7, 23)
    assert mapping.day("0000-00-00 00:00:00") is None
    assert mapping.day("soon") is None
    assert mapping.timestamp("0000-00-00 00:00:00") is None
    assert mapping.timestamp("2015-10-30 08:00:58") == datetime(2015, 10, 30, 8, 0, 58, tzinfo=UK)


def test_it_refuses_a_record_without_an_id():
    body = '<ns1:listProjectsResponse><ns1:Project projectName="x"/></ns1:listProjectsResponse>'
    root = mapping.parse_xml(envelope(body))
    with pytest.raises(mapping.MappingError, match="no id"):
        mapping.map_records("trackingCategories", root)


def test_it_refuses_doctypes_and_entities():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><lolz>&lol2;</lolz>'
    )
    with pytest.raises(mapping.MappingError, match="DOCTYPE"):
        mapping.parse_xml(bomb)
    xxe = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    with pytest.raises(mapping.MappingError, match="DOCTYPE"):
        mapping.parse_xml(xxe)


@pytest.mark.parametrize("encoding", ["utf-16-be", "utf-16-le", "cp1252", "koi8-r", "cp500", "utf-32", "utf-7"])
def test_it_refuses_doctypes_in_every_encoding(encoding):
    # The DOCTYPE check runs on the bytes before parsing: expat reads only UTF-8, UTF-16 and
    # single-byte encodings that keep ASCII markup as ASCII, so no other spelling gets through.
    bomb = f'<?xml version="1.0" encoding="{encoding}"?><!DOCTYPE r [<!ENTITY x "boom">]><r>&x;</r>'
    for body in (bomb.encode(encoding), b'<?xml version="1.0" encoding="utf-7"?>+ADwAIQ-DOCTYPE r+AD4-'):
        with pytest.raises(mapping.MappingError):
            mapping.parse_xml(body)


def test_it_refuses_records_nested_deeper_than_the_limit():
    def project(depth):
        nested = "<a>" * depth + "x" + "</a>" * depth
        return mapping.parse_xml(envelope(f'<r><ns1:Project id="1">{nested}</ns1:Project></r>'))

    (shallow,) = mapping.map_records("trackingCategories", project(mapping.MAX_DEPTH))
    assert shallow.id == "1"
    for depth in (mapping.MAX_DEPTH + 2, 20_000):  # the second is deeper than Python's own recursion limit
        with pytest.raises(mapping.MappingError, match="nests elements more than 256 deep"):
            mapping.map_records("trackingCategories", project(depth))


def test_it_leaves_comments_and_processing_instructions_out():
    root = mapping.parse_xml(
        envelope(
            '<ns1:listProjectsResponse><!-- a note --><ns1:Project id="3"><?php echo 1; ?><!-- x -->'
            "<projectName>Fit-out<!-- y --></projectName></ns1:Project></ns1:listProjectsResponse>"
        )
    )
    (project,) = mapping.map_records("trackingCategories", root)
    assert project.attributes == {"id": "3", "projectName": "Fit-out"}


def test_it_refuses_what_is_not_xml():
    for body in (b"", b"<html><body>Bad gateway", b"Internal Server Error"):
        with pytest.raises(mapping.MappingError):
            mapping.parse_xml(body)


def test_it_reads_soap_12_faults_too():
    soap12 = (
        b'<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault>'
        b"<env:Code><env:Value>env:Receiver</env:Value></env:Code>"
        b'<env:Reason><env:Text xml:lang="en">Login Failed</env:Text></env:Reason>'
        b"</env:Fault></env:Body></env:Envelope>"
    )
    fault = mapping.parse_fault(mapping.parse_xml(soap12))
    assert fault == mapping.Fault("env:Receiver", "Login Failed") and fault.is_login_failure
    assert mapping.parse_fault(mapping.parse_xml(b"<html><body>Bad gateway</body></html>")) is None


def test_it_reads_nil_and_empty_elements():
    root = mapping.parse_xml(
        envelope(
            '<ns1:listEntitiesResponse><return><ns1:Entity id="7"><company_name>Acme</company_name>'
            '<customer/><external_id xsi:nil="true"/><email/></ns1:Entity></return></ns1:listEntitiesResponse>'
        )
    )
    (record,) = mapping.map_records("customers", root)
    assert record.attributes == {"id": "7", "company_name": "Acme", "customer": {}, "external_id": None, "email": ""}


#
# Records cut from the bytes, for the sync engine's wire hashes
#

INVOICE_A = '<ns1:Invoice invoice_id="1" status="paid"><items><ns1:Item unitPrice="1"/></items></ns1:Invoice>'
INVOICE_B = '<ns1:Invoice invoice_id="2" status="draft"><description>Two</description></ns1:Invoice>'


def cut(body: bytes, name="Invoice"):
    spans = mapping.record_spans(body, name)
    return None if spans is None else [body[start:end] for start, end in spans]


def test_it_cuts_each_record_element_exactly_from_the_bytes():
    body = envelope(f"<ns1:listInvoicesResponse><r>{INVOICE_A}\n  {INVOICE_B}</r></ns1:listInvoicesResponse>")

    assert cut(body) == [INVOICE_A.encode(), INVOICE_B.encode()]
    assert len(cut(body)) == len(mapping.map_records("invoices", mapping.parse_xml(body)))


def test_it_cuts_records_whatever_their_prefix_and_not_other_names_that_end_alike():
    plain = '<Invoice invoice_id="3"><description>x</description></Invoice>'
    body = envelope(f"<r>{plain}<ns1:OtherInvoice invoice_id='9'></ns1:OtherInvoice>{INVOICE_B}</r>")

    assert cut(body) == [plain.encode(), INVOICE_B.encode()]


@pytest.mark.parametrize(
    "body",
    [
        envelope(f"<r>{INVOICE_A}<!-- a note --></r>"),  # a comment could hide a start tag
        envelope(f"<r>{INVOICE_A}<x><![CDATA[<ns1:Invoice>]]></x></r>"),
        envelope(f"<r><?php echo 1; ?>{INVOICE_A}</r>"),  # a processing instruction after the declaration
        envelope('<r><ns1:Invoice invoice_id="4" status="paid"/></r>'),  # self-closing: no closing tag to end at
        envelope(f'<r><ns1:Invoice invoice_id="5">{INVOICE_B}</ns1:Invoice></r>'),  # nested
        envelope(f"<r>{INVOICE_A}</r>")[:-10],  # cut short
        envelope("<r></r>"),  # no records
        b"<html><body>Bad gateway</body></html>",
    ],
    ids=["comment", "cdata", "pi", "self-closing", "nested", "truncated", "empty", "not-soap"],
)
def test_it_refuses_to_cut_where_the_bytes_could_mislead(body):
    assert mapping.record_spans(body, "Invoice") is None


def test_wire_hashes_tell_records_apart_and_stay_the_same_for_the_same_bytes():
    first = envelope(f"<r>{INVOICE_A}{INVOICE_B}</r>")
    again = envelope(f"<r>{INVOICE_B}<!---->{INVOICE_A}</r>".replace("<!---->", "  "))
    changed = envelope(f"<r>{INVOICE_A.replace('paid', 'voided')}{INVOICE_B}</r>")

    a, b = mapping.wire_hashes(first, mapping.record_spans(first, "Invoice"))
    b_again, a_again = mapping.wire_hashes(again, mapping.record_spans(again, "Invoice"))
    a_changed, b_same = mapping.wire_hashes(changed, mapping.record_spans(changed, "Invoice"))

    assert a != b and (a, b) == (a_again, b_again)
    assert a_changed != a and b_same == b


def test_records_parsed_alone_read_exactly_as_in_the_whole_answer():
    typed = '<ns1:Invoice invoice_id="7"><note xsi:nil="true"/><items><ns1:Item unitPrice="2"/></items></ns1:Invoice>'
    body = envelope(f"<ns1:listInvoicesResponse><r>{INVOICE_A}{INVOICE_B}{typed}</r></ns1:listInvoicesResponse>")
    spans = mapping.record_spans(body, "Invoice")
    whole = mapping.find_records(mapping.parse_xml(body), "Invoice")

    alone = mapping.parse_records_alone(body, [spans[0], spans[2]], spans, "Invoice")

    assert [mapping.fields(e) for e in alone] == [mapping.fields(whole[0]), mapping.fields(whole[2])]
    assert mapping.fields(alone[1])["note"] is None  # xsi: still means the schema instance namespace


def test_records_are_not_parsed_alone_when_a_prefix_means_two_things():
    body = envelope(f'<r><a xmlns:ns1="urn:other"/>{INVOICE_A}</r>')
    spans = mapping.record_spans(body, "Invoice")
    assert mapping.parse_records_alone(body, spans, spans, "Invoice") is None


def test_records_parsed_alone_keep_the_answers_encoding():
    record = '<ns1:Invoice invoice_id="8"><description>Café £5</description></ns1:Invoice>'
    text = envelope(f"<r>{INVOICE_A}{record}</r>").decode().replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
    body = text.encode("latin-1")
    spans = mapping.record_spans(body, "Invoice")

    (alone,) = mapping.parse_records_alone(body, spans[1:], spans, "Invoice")

    assert mapping.fields(alone)["description"] == "Café £5"
