"""Times in the viewer's own time zone (with the relative hint), money in pounds, counts with separators."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connections.models import Company
from tests import factory

from .conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_shows_times_in_the_viewers_time_zone_with_a_hint(new_page, url, clearbooks, admin_user):
    company = factory.make_company("Tokyo Traders")
    Company.objects.filter(pk=company.pk).update(created_at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    page = log_in(new_page(timezone_id="Asia/Tokyo"), url, "alice")
    page.goto(url(f"/companies/{company.pk}/"))
    created = page.locator("time[datetime='2026-03-01T23:30:00+00:00']").first
    # The portal's zone is London (1 March, 23:30); the browser told the server it is in Tokyo (UTC+9).
    assert created.locator(".when-date").inner_text() == "2 Mar 2026, 08:30"
    assert created.locator(".muted").inner_text().endswith("ago)")
    assert created.get_attribute("title") == "2 Mar 2026, 08:30 (Asia/Tokyo)"


def test_it_formats_money_and_counts(page, url, clearbooks, admin_user):
    connection = factory.make_connection(factory.make_company("Big Numbers Ltd"))
    for n, (total, balance) in enumerate([("1234567.5", "1000"), ("0.25", "0.25")]):
        factory.make_record(connection, "invoices", remote_id=str(n), total=Decimal(total), balance=Decimal(balance))
    factory.make_pull(connection, "invoices", records_fetched=12345, records_created=12345)
    log_in(page, url, "alice")
    page.goto(url(f"/connections/{connection.pk}/records/invoices/"))
    assert page.locator("#total-amount").inner_text() == "£1,234,567.75"
    assert page.locator("#total-balance").inner_text() == "£1,000.25"
    assert "£1,234,567.50" in page.locator("table.records").inner_text()
    page.goto(url("/pulls/"))
    assert "12,345" in page.locator("table.pulls").inner_text()
