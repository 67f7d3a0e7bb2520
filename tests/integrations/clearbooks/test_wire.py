"""Records cut from an answer's bytes, hashed, and parsed alone, for the sync engine's wire
hashes: no database, no network."""

import pytest

from integrations.clearbooks import mapping, parsing, wire

from .answers import envelope

INVOICE_A = '<ns1:Invoice invoice_id="1" status="paid"><items><ns1:Item unitPrice="1"/></items></ns1:Invoice>'


INVOICE_B = '<ns1:Invoice invoice_id="2" status="draft"><description>Two</description></ns1:Invoice>'


def cut(body: bytes, name="Invoice"):
    spans = wire.record_spans(body, name)
    return None if spans is None else [body[start:end] for start, end in spans]


def test_it_cuts_each_record_element_exactly_from_the_bytes():
    body = envelope(f"<ns1:listInvoicesResponse><r>{INVOICE_A}\n  {INVOICE_B}</r></ns1:listInvoicesResponse>")

    assert cut(body) == [INVOICE_A.encode(), INVOICE_B.encode()]
    assert len(cut(body)) == len(mapping.map_records("invoices", parsing.parse_xml(body)))


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
    assert wire.record_spans(body, "Invoice") is None


def test_wire_hashes_tell_records_apart_and_stay_the_same_for_the_same_bytes():
    first = envelope(f"<r>{INVOICE_A}{INVOICE_B}</r>")
    again = envelope(f"<r>{INVOICE_B}<!---->{INVOICE_A}</r>".replace("<!---->", "  "))
    changed = envelope(f"<r>{INVOICE_A.replace('paid', 'voided')}{INVOICE_B}</r>")

    a, b = wire.wire_hashes(first, wire.record_spans(first, "Invoice"))
    b_again, a_again = wire.wire_hashes(again, wire.record_spans(again, "Invoice"))
    a_changed, b_same = wire.wire_hashes(changed, wire.record_spans(changed, "Invoice"))

    assert a != b and (a, b) == (a_again, b_again)
    assert a_changed != a and b_same == b


def test_records_parsed_alone_read_exactly_as_in_the_whole_answer():
    typed = '<ns1:Invoice invoice_id="7"><note xsi:nil="true"/><items><ns1:Item unitPrice="2"/></items></ns1:Invoice>'
    body = envelope(f"<ns1:listInvoicesResponse><r>{INVOICE_A}{INVOICE_B}{typed}</r></ns1:listInvoicesResponse>")
    spans = wire.record_spans(body, "Invoice")
    whole = parsing.find_records(parsing.parse_xml(body), "Invoice")

    alone = wire.parse_records_alone(body, [spans[0], spans[2]], spans, "Invoice")

    assert [mapping.fields(e) for e in alone] == [mapping.fields(whole[0]), mapping.fields(whole[2])]
    assert mapping.fields(alone[1])["note"] is None  # xsi: still means the schema instance namespace


def test_records_are_not_parsed_alone_when_a_prefix_means_two_things():
    body = envelope(f'<r><a xmlns:ns1="urn:other"/>{INVOICE_A}</r>')
    spans = wire.record_spans(body, "Invoice")
    assert wire.parse_records_alone(body, spans, spans, "Invoice") is None


def test_records_parsed_alone_keep_the_answers_encoding():
    record = '<ns1:Invoice invoice_id="8"><description>Café £5</description></ns1:Invoice>'
    text = envelope(f"<r>{INVOICE_A}{record}</r>").decode().replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
    body = text.encode("latin-1")
    spans = wire.record_spans(body, "Invoice")

    (alone,) = wire.parse_records_alone(body, spans[1:], spans, "Invoice")

    assert mapping.fields(alone)["description"] == "Café £5"
