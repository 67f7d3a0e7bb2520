"""A record's page keeps long values inside its card (issue #13: the statement URL ran past it)."""

import pytest

from tests import factory

from .conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STATEMENT_URL = "https://secure.clearbooks.co.uk/s/64372:" + "jPr2XuqMLUE8cu3nncYs-w" * 6


def test_long_values_wrap_inside_their_card(new_page, url, clearbooks, admin_user):
    connection = factory.make_connection(factory.make_company("Acme Ltd"))
    attributes = {"id": "7", "company_name": "Acme Ltd", "statement_url": STATEMENT_URL, "notes": "x" * 400}
    record = factory.make_record(connection, "customers", remote_id="7", name="Acme Ltd", attributes=attributes)
    page = log_in(new_page(viewport={"width": 1280, "height": 900}), url, "alice")
    page.goto(url(f"/records/{record.pk}/"))
    card = page.locator("section", has=page.get_by_role("heading", name="Every attribute as received"))
    right = card.bounding_box()["x"] + card.bounding_box()["width"]
    for text in (STATEMENT_URL, "x" * 400):
        value = card.get_by_text(text, exact=True)
        box = value.bounding_box()
        assert box["x"] + box["width"] <= right, f"{text[:30]}… ends at {box['x'] + box['width']}, the card at {right}"
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
