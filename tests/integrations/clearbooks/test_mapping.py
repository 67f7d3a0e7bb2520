"""The mapping against every captured Clear Books response (fixtures/, see its README) and the
documented quirks: no database, no network."""

import hashlib
from datetime import date, datetime
from decimal import Decimal

import pytest

from integrations.clearbooks import mapping, parsing
from integrations.registry import NormalizedRecord

from .answers import FIXTURES, envelope, load

UK = mapping.UK


def assert_normalized(record):
    assert isinstance(record, NormalizedRecord)
    assert record.id and isinstance(record.id, str)
    assert isinstance(record.attributes, dict) and record.attributes


def test_it_keeps_the_fixtures_byte_for_byte_with_their_credit():
    # The captures are copies of the gem's files; SHA256SUMS holds their digests, so an
    # edited fixture shows here (check by hand with `sha256sum -c SHA256SUMS` in fixtures/).
    lines = (FIXTURES / "SHA256SUMS").read_text().splitlines()
    sums = {name: digest for digest, name in (line.split() for line in lines)}
    assert set(sums) == {path.name for path in FIXTURES.glob("*.xml")}
    for name, digest in sums.items():
        assert hashlib.sha256((FIXTURES / name).read_bytes()).hexdigest() == digest, name
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


def test_it_finds_no_fault_or_records_in_a_success_without_records():
    root = load("void_invoice.xml")
    assert parsing.parse_fault(root) is None
    assert mapping.map_records("invoices", root) == []


def test_it_reads_fields_sent_as_child_elements_like_the_current_docs():
    root = parsing.parse_xml(
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
    root = parsing.parse_xml(
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

    root = parsing.parse_xml(
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
    root = parsing.parse_xml(
        envelope(
            '<ns1:listProjectsResponse><return xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" '
            'SOAP-ENC:arrayType="ns1:Project[1]"><item xsi:type="ns1:Project"><id>4</id>'
            "<projectName>Fit-out</projectName><status>closed</status></item></return></ns1:listProjectsResponse>"
        )
    )
    (project,) = mapping.map_records("trackingCategories", root)
    assert (project.id, project.name, project.status) == ("4", "Fit-out", "Archived")


def test_it_parses_currencies_for_the_currency_lookup():
    root = parsing.parse_xml(
        envelope(
            "<ns1:listCurrenciesResponse><return>"
            "<ns1:Currency><id>1</id><name>Pound</name><code>GBP</code><symbol>&amp;pound;</symbol></ns1:Currency>"
            "<ns1:Currency><id>2</id><name>Euro</name><code>eur</code></ns1:Currency>"
            "</return></ns1:listCurrenciesResponse>"
        )
    )
    assert mapping.parse_currencies(root) == {"1": "GBP", "2": "EUR"}
    assert mapping.fields(parsing.find_records(root, "Currency")[0])["symbol"] == "£"


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
    root = parsing.parse_xml(envelope(body))
    with pytest.raises(mapping.MappingError, match="no id"):
        mapping.map_records("trackingCategories", root)


def test_it_refuses_records_nested_deeper_than_the_limit():
    def project(depth):
        nested = "<a>" * depth + "x" + "</a>" * depth
        return parsing.parse_xml(envelope(f'<r><ns1:Project id="1">{nested}</ns1:Project></r>'))

    (shallow,) = mapping.map_records("trackingCategories", project(parsing.MAX_DEPTH))
    assert shallow.id == "1"
    for depth in (parsing.MAX_DEPTH + 2, 20_000):  # the second is deeper than Python's own recursion limit
        with pytest.raises(mapping.MappingError, match="nests elements more than 256 deep"):
            mapping.map_records("trackingCategories", project(depth))


def test_it_leaves_comments_and_processing_instructions_out():
    root = parsing.parse_xml(
        envelope(
            '<ns1:listProjectsResponse><!-- a note --><ns1:Project id="3"><?php echo 1; ?><!-- x -->'
            "<projectName>Fit-out<!-- y --></projectName></ns1:Project></ns1:listProjectsResponse>"
        )
    )
    (project,) = mapping.map_records("trackingCategories", root)
    assert project.attributes == {"id": "3", "projectName": "Fit-out"}


def test_it_reads_nil_and_empty_elements():
    root = parsing.parse_xml(
        envelope(
            '<ns1:listEntitiesResponse><return><ns1:Entity id="7"><company_name>Acme</company_name>'
            '<customer/><external_id xsi:nil="true"/><email/></ns1:Entity></return></ns1:listEntitiesResponse>'
        )
    )
    (record,) = mapping.map_records("customers", root)
    assert record.attributes == {"id": "7", "company_name": "Acme", "customer": {}, "external_id": None, "email": ""}
