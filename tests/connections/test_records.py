"""The record browser and a record's page."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from connections.models import Connection
from tests import factory


@pytest.fixture
def books(clearbooks):
    connection = factory.make_connection(factory.make_company("Acme Ltd"))
    pull = factory.make_pull(connection, "invoices")
    made = [
        factory.make_record(
            connection,
            remote_id="101",
            number="INV-0001",
            name="Bolt & Co",
            issued_on=date(2025, 1, 5),
            total=Decimal("100.00"),
            balance=Decimal("40.00"),
            last_pull=pull,
        ),
        factory.make_record(
            connection,
            remote_id="102",
            number="INV-0002",
            name="Nuts Ltd",
            issued_on=date(2025, 2, 5),
            total=Decimal("2500.50"),
            balance=Decimal("0"),
            last_pull=pull,
        ),
        factory.make_record(
            connection,
            remote_id="103",
            number="INV-0003",
            name="Bolt & Co",
            issued_on=date(2025, 3, 5),
            total=Decimal("10.00"),
            balance=Decimal("10.00"),
            last_pull=pull,
        ),
        factory.make_record(
            connection,
            remote_id="104",
            number="INV-0004",
            name="Gone Ltd",
            issued_on=date(2025, 4, 5),
            total=Decimal("999.00"),
            balance=Decimal("999.00"),
            is_deleted=True,
        ),
    ]
    factory.make_record(connection, "customers", remote_id="c1", number="", name="Bolt & Co", total=None, balance=None)
    return connection, made


def url(connection, data_type="invoices"):
    return reverse("connections:record-list", args=[connection.pk, data_type])


def numbers(response):
    return [r.number for r in response.context["page"].items]


def test_it_lists_records_newest_first_with_totals_in_pounds(support_client, books):
    connection, _ = books
    response = support_client.get(url(connection))
    assert numbers(response) == ["INV-0003", "INV-0002", "INV-0001"]  # deleted hidden
    html = response.content.decode()
    assert 'id="total-count">3<' in html
    assert 'id="total-amount">£2,610.50<' in html
    assert 'id="total-balance">£50.00<' in html


def test_it_sums_amounts_per_currency_never_across_them(support_client, books):
    connection, _ = books
    factory.make_record(
        connection, remote_id="201", total=Decimal("1000.00"), balance=Decimal("234.00"), currency="EUR"
    )
    factory.make_record(connection, remote_id="202", total=Decimal("234.00"), balance=Decimal("0"), currency="EUR")
    factory.make_record(connection, remote_id="203", total=Decimal("5.00"), balance=Decimal("5.00"), currency="GBP")
    factory.make_record(connection, remote_id="204", total=Decimal("70.00"), balance=Decimal("7.00"), currency="USD")
    response = support_client.get(url(connection))
    totals = response.context["totals"]
    assert totals["count"] == 7
    # Pounds first (no currency counts as pounds, as each row shows it), then the others by code.
    assert [(c["currency"], c["total"], c["balance"]) for c in totals["currencies"]] == [
        ("GBP", Decimal("2615.50"), Decimal("55.00")),
        ("EUR", Decimal("1234.00"), Decimal("234.00")),
        ("USD", Decimal("70.00"), Decimal("7.00")),
    ]
    html = response.content.decode()
    assert 'id="total-amount">£2,615.50 · EUR 1,234.00 · USD 70.00<' in html
    assert 'id="total-balance">£55.00 · EUR 234.00 · USD 7.00<' in html
    assert "per currency" in html


def test_it_shows_zero_pounds_when_nothing_matches(support_client, books):
    connection, _ = books
    html = support_client.get(url(connection), {"q": "nothing-like-this"}).content.decode()
    assert 'id="total-count">0<' in html
    assert 'id="total-amount">£0.00<' in html and 'id="total-balance">£0.00<' in html


def test_it_shows_deleted_records_on_request(support_client, books):
    connection, _ = books
    response = support_client.get(url(connection) + "?deleted=on")
    assert "INV-0004" in numbers(response)
    assert "Deleted remotely" in response.content.decode()
    assert response.context["totals"]["count"] == 4


@pytest.mark.parametrize(
    ("term", "expected"),
    [("INV-0002", ["INV-0002"]), ("bolt", ["INV-0003", "INV-0001"]), ("103", ["INV-0003"]), ("nothing", [])],
)
def test_it_searches_number_name_and_remote_id(support_client, books, term, expected):
    connection, _ = books
    response = support_client.get(url(connection), {"q": term})
    assert numbers(response) == expected
    assert response.context["totals"]["count"] == len(expected)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("amount", ["INV-0003", "INV-0001", "INV-0002"]),
        ("-amount", ["INV-0002", "INV-0001", "INV-0003"]),
        ("number", ["INV-0001", "INV-0002", "INV-0003"]),
        ("date", ["INV-0001", "INV-0002", "INV-0003"]),
    ],
)
def test_it_sorts_by_date_amount_and_number(support_client, books, sort, expected):
    connection, _ = books
    assert numbers(support_client.get(url(connection), {"sort": sort})) == expected


def test_it_reports_a_bad_sort_and_keeps_the_rest(support_client, books):
    connection, _ = books
    response = support_client.get(url(connection), {"sort": "price", "q": "bolt"})
    assert "Choose one of the listed sort orders." in response.content.decode()
    assert numbers(response) == ["INV-0003", "INV-0001"]


def test_it_pages_through_many_records(support_client, clearbooks):
    connection = factory.make_connection()
    for i in range(120):
        factory.make_record(connection, remote_id=f"r{i:03}", number=f"N{i:03}")
    first = support_client.get(url(connection), {"sort": "number"})
    assert numbers(first)[0] == "N000" and len(numbers(first)) == 50
    assert "Page 1 of 3" in first.content.decode()
    last = support_client.get(url(connection), {"sort": "number", "page": 3})
    assert numbers(last) == [f"N{i:03}" for i in range(100, 120)]


def test_it_leaves_out_amounts_for_data_types_without_them(support_client, books):
    connection, _ = books
    html = support_client.get(url(connection, "customers")).content.decode()
    assert 'id="total-count">1<' in html and "total-amount" not in html


def test_it_refuses_an_unknown_data_type(support_client, books):
    connection, _ = books
    assert support_client.get(url(connection, "spaceships")).status_code == 404


def test_it_shows_a_record_with_every_attribute_nested_and_its_last_pull(support_client, clearbooks):
    connection = factory.make_connection()
    pull = factory.make_pull(connection, "invoices")
    attributes = {
        "invoice_id": "101",
        "items": [{"description": "Widgets", "unitPrice": "12.50", "tracking": {"project": "North"}}],
        "notes": "",
        "voided": None,
    }
    record = factory.make_record(connection, remote_id="101", number="INV-0001", attributes=attributes, last_pull=pull)
    response = support_client.get(reverse("connections:record-detail", args=[record.pk]))
    html = response.content.decode()
    for text in ("invoice_id", "items", "description", "Widgets", "unitPrice", "tracking", "project", "North"):
        assert f">{text}<" in html, text
    # Nested inside "items" (PostgreSQL's jsonb orders keys its own way, so only nesting is checked).
    items = html[html.index(">items<") :]
    assert '<ol class="attributes"' in items.split(">Widgets<")[0] and ">North<" in items
    assert reverse("connections:pull-detail", args=[pull.pk]) in html
    assert "£120.00" in html


def test_it_runs_a_bounded_number_of_queries_whatever_the_size(
    support_client, clearbooks, django_assert_max_num_queries
):
    connection = factory.make_connection()
    page = url(connection)
    for count in (3, 300):
        for i in range(count):  # in many currencies: still one totals query
            factory.make_record(connection, remote_id=f"{count}-{i}", currency=f"C{i % 40:02d}")
        with django_assert_max_num_queries(8):
            assert support_client.get(page).status_code == 200
        record = connection.records.first()
        with django_assert_max_num_queries(6):
            assert support_client.get(reverse("connections:record-detail", args=[record.pk])).status_code == 200


#
# Issue #13: columns that fit each data type, sorting on each, outstanding without drafts
#


@pytest.fixture
def customers(clearbooks):
    """Three customers with invoices: outstanding, paid, draft, voided, deleted and in euros."""
    connection = factory.make_connection(factory.make_company("Acme Ltd"))

    def customer(remote_id, name, email):
        return factory.make_record(
            connection,
            "customers",
            remote_id=remote_id,
            number="",
            name=name,
            total=None,
            balance=None,
            attributes={"id": remote_id, "company_name": name, "email": email},
        )

    customer("1", "Zephyr Joinery Ltd", "accounts@zephyr.co.uk")
    customer("2", "Abbey Bakery", "")
    customer("3", "Mill & Co", "mill@example.co.uk")

    def invoice(remote_id, customer_id, balance, status="Submitted", currency="GBP", **kwargs):
        factory.make_record(
            connection,
            remote_id=remote_id,
            related_id=customer_id,
            total=Decimal(balance) + 10,
            balance=Decimal(balance),
            status=status,
            currency=currency,
            issued_on=date(2025, 3, int(remote_id)),
            **kwargs,
        )

    invoice("1", "1", "100.00")
    invoice("2", "1", "0", status="Paid")
    invoice("3", "1", "900.00", status="Draft")  # not owed yet
    invoice("4", "1", "50.00", status="Void")  # owed no more
    invoice("5", "3", "30.00")
    invoice("6", "3", "20.00", currency="EUR")
    invoice("7", "2", "999.00", is_deleted=True)
    return connection


def headers(response):
    return [column.label for column, _, _ in response.context["headers"]]


def names(response):
    return [row.record.name for row in response.context["rows"]]


def test_customers_show_name_email_and_balance_not_empty_date_and_status(support_client, customers):
    response = support_client.get(url(customers, "customers"))
    assert headers(response) == ["Name", "E-mail", "Balance"]
    html = response.content.decode()
    assert ">Date<" not in html and ">Status<" not in html
    cells = {row.record.name: row.cells for row in response.context["rows"]}
    assert cells["Zephyr Joinery Ltd"][1].value == "accounts@zephyr.co.uk"
    # What is owed on their invoices: drafts, voided and deleted ones not counted, never across currencies.
    assert cells["Zephyr Joinery Ltd"][2].amounts == [(Decimal("100.00"), "GBP")]
    assert cells["Mill & Co"][2].amounts == [(Decimal("30.00"), "GBP"), (Decimal("20.00"), "EUR")]
    assert cells["Abbey Bakery"][2].amounts == []
    assert "£30.00 · EUR 20.00" in html


def test_customers_open_by_name_and_sort_on_every_column(support_client, customers):
    assert names(support_client.get(url(customers, "customers"))) == ["Abbey Bakery", "Mill & Co", "Zephyr Joinery Ltd"]
    expected = {
        "name": ["Abbey Bakery", "Mill & Co", "Zephyr Joinery Ltd"],
        "-name": ["Zephyr Joinery Ltd", "Mill & Co", "Abbey Bakery"],
        "email": ["Zephyr Joinery Ltd", "Mill & Co", "Abbey Bakery"],  # none last
        "-balance": ["Zephyr Joinery Ltd", "Mill & Co", "Abbey Bakery"],  # by what is owed in pounds
        "balance": ["Abbey Bakery", "Mill & Co", "Zephyr Joinery Ltd"],
    }
    for sort, order in expected.items():
        response = support_client.get(url(customers, "customers"), {"sort": sort})
        assert "Choose one of the listed sort orders" not in response.content.decode(), sort
        assert names(response) == order, sort


def test_it_searches_customers_by_email(support_client, customers):
    assert names(support_client.get(url(customers, "customers"), {"q": "zephyr.co"})) == ["Zephyr Joinery Ltd"]


def test_invoices_show_number_date_due_status_total_and_outstanding(support_client, customers):
    response = support_client.get(url(customers))
    assert headers(response) == ["Number", "Date", "Due", "Status", "Total", "Outstanding"]
    draft = next(row for row in response.context["rows"] if row.record.status == "Draft")
    assert draft.cells[5].not_owed
    assert "not owed" in response.content.decode()


def test_outstanding_leaves_out_drafts_and_voided_invoices(support_client, customers):
    html = support_client.get(url(customers)).content.decode()
    # £100 + £0 + £30 owed in pounds; the £900 draft and the £50 voided invoice are not.
    assert 'id="total-balance">£130.00 · EUR 20.00<' in html
    assert "drafts and voided not counted" in html


def test_every_column_of_every_data_type_sorts_both_ways_and_links_its_header(support_client, customers):
    for data_type in customers.integration.provider.data_types:
        factory.make_record(customers, data_type.name, remote_id=f"x-{data_type.name}", name="Something")
        for column in data_type.columns:
            for sort in (column.key, f"-{column.key}"):
                response = support_client.get(url(customers, data_type.name), {"sort": sort})
                assert response.status_code == 200
                assert "Choose one of the listed sort orders" not in response.content.decode(), (data_type, sort)
        html = support_client.get(url(customers, data_type.name)).content.decode()
        for column in data_type.columns:
            assert f">{column.label}</a></th>" in html, (data_type.name, column.label)


def test_the_header_of_the_current_sort_says_so_and_reverses_it(support_client, customers):
    response = support_client.get(url(customers, "customers"), {"sort": "name"})
    html = response.content.decode()
    assert '<th aria-sort="ascending"><a href="?sort=-name">Name</a></th>' in html


def test_it_says_where_records_are_read_without_a_doubled_parenthesis(support_client, customers):
    html = support_client.get(url(customers, "customers")).content.decode()
    assert "with listEntities (type customer)." in html
    assert "))" not in html


def test_a_record_page_numbers_line_items_from_1(support_client, customers):
    attributes = {"invoice_id": "9", "items": [{"description": "Widgets"}, {"description": "Nails"}]}
    record = factory.make_record(customers, remote_id="9", attributes=attributes)
    html = support_client.get(reverse("connections:record-detail", args=[record.pk])).content.decode()
    assert 'start="0"' not in html and '<ol class="attributes">' in html


def test_a_deauthorized_connections_empty_list_does_not_promise_a_pull(support_client, clearbooks):
    connection = factory.make_connection(status=Connection.Status.DEAUTHORIZED)
    factory.make_record(connection, "invoices", remote_id="1")  # read before the key was revoked
    html = support_client.get(url(connection, "customers")).content.decode()
    assert "after the first successful pull" not in html
    assert "rejected the credentials before any were read: they are read once the company relinks." in html
    invoices = support_client.get(url(connection)).content.decode()
    assert "No invoices" not in invoices and "INV1" in invoices


def test_an_empty_list_says_when_every_record_was_deleted_or_none_were_there(support_client, clearbooks):
    connection = factory.make_connection()
    factory.make_record(connection, "suppliers", remote_id="1", is_deleted=True)
    html = support_client.get(url(connection, "suppliers")).content.decode()
    assert "Every record of this data type read from Clear Books (1) was deleted there since." in html
    factory.make_data_status(connection, "customers", last_successful_sync_at=timezone.now())
    html = support_client.get(url(connection, "customers")).content.decode()
    assert "Clear Books had no customers when they were last read." in html
