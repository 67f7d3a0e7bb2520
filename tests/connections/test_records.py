"""The record browser and a record's page."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

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
