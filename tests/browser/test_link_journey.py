"""Journeys 2 and 3: an admin adds a company and a connection and copies its Link URL; the company's
user links their books on the Link page (a wrong key first); back in the portal the first sync's
progress bar moves to Complete without a reload, and the invoices arrive with the right totals."""

import re
from decimal import Decimal

import pytest
from django.db.models import Count, Q, Sum
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from connections.link_urls import issue_link_url
from connections.models import Company, Connection, PullOperation, Record
from portal.web.templatetags.portal_tags import money
from tests import factory

from .conftest import click_and_wait, flash, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CLIPBOARD = ["clipboard-read", "clipboard-write"]

# Records what each htmx swap of the progress card showed. It lives in the page's window, so it
# survives only as long as the page is not reloaded: the list proves the updates came without one.
WATCH_PROGRESS = """() => {
  window.progressSeen = [];
  const note = () => {
    const card = document.querySelector('#pull-progress');
    const bar = card.querySelector('.progress-bar');
    window.progressSeen.push({status: card.dataset.status, fetched: Number(card.dataset.recordsFetched),
                              width: bar.getAttribute('width')});
  };
  note();
  document.body.addEventListener('htmx:afterSwap', note);
}"""


def test_it_links_a_new_company_and_shows_its_first_sync(new_page, url, sandbox, start_worker, clearbooks, admin_user):
    sandbox.configure(page_sizes={"listInvoices": 15})
    # Slow invoice pages a little, so the bar is seen between the first page and the last.
    sandbox.fail_next("slow", count=8, operation="listInvoices", delay_ms=350)
    key = sandbox.make_key(seed="browser-books", invoices=96, bills=12, customers=6, suppliers=4, both=1)
    admin = log_in(new_page(permissions=CLIPBOARD), url, "alice")

    # Journey 2: the company, the connection, the Link URL.
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Companies").click()
    admin.get_by_role("link", name="Add company").click()
    admin.get_by_label("Name").fill("Wren & Finch Ltd")
    admin.get_by_role("button", name="Add company").click()
    admin.wait_for_url(re.compile(r".*/companies/[0-9a-f-]{36}/$"))
    assert "Wren & Finch Ltd created" in flash(admin)
    admin.get_by_role("link", name="Add connection").click()
    admin.get_by_label("Integration").select_option(label="Clear Books (jhch)")
    admin.get_by_role("button", name="Add connection").click()
    admin.wait_for_url(re.compile(r".*/companies/[0-9a-f-]{36}/$"))
    assert "PendingAuth" in admin.locator(".badge").first.inner_text()
    connection = Connection.objects.get(company__name="Wren & Finch Ltd")
    shown = admin.get_by_label("Link URL").first.input_value()
    assert shown == url(f"/link/{connection.link_token}/")
    copy = admin.locator(".copy-field button").first
    assert copy.inner_text() == "Copy"
    copy.click()
    expect(copy).to_have_text("Copied")
    link_url = admin.evaluate("() => navigator.clipboard.readText()")
    assert link_url == shown

    # The company's user: no login, their own browser.
    user = new_page()
    user.goto(link_url)
    assert user.get_by_role("heading", level=1).inner_text() == "Link your Clear Books books"
    assert "Wren & Finch Ltd" in user.locator("main").inner_text()
    user.get_by_role("textbox", name="Clear Books API key").fill("sbx-this-is-not-my-key")
    click_and_wait(user, user.get_by_role("button", name="Link my books"))
    field = user.locator(".field--error", has=user.locator("#id_api_key"))
    assert "did not accept this API key" in field.inner_text()
    assert user.get_by_role("textbox", name="Clear Books API key").input_value() == ""  # never sent back
    assert Connection.objects.get(pk=connection.pk).status == Connection.Status.PENDING_AUTH
    user.get_by_role("textbox", name="Clear Books API key").fill(key)
    user.get_by_role("button", name="Link my books").click()
    user.wait_for_url(url(f"/link/{connection.link_token}/done/"))
    assert user.get_by_role("heading", level=1).inner_text() == "Thank you"
    assert "Wren & Finch Ltd's Clear Books books are now linked" in user.locator("main").inner_text()

    # Journey 3: back in the portal, the first sync of invoices, live. The worker starts only once
    # the pull page is open, so the page is sure to see the pull before it ends.
    admin.reload()
    assert "Linked" in admin.locator(".badge").first.inner_text()
    pull = PullOperation.objects.get(connection=connection, data_type="invoices")
    assert pull.status == PullOperation.Status.QUEUED
    admin.locator("table.pulls").get_by_role("link", name=f"#{pull.pk}", exact=True).click()
    admin.wait_for_url(url(f"/pulls/{pull.pk}/"))
    admin.evaluate(WATCH_PROGRESS)
    worker = start_worker()
    try:
        admin.wait_for_selector('#pull-progress[data-status="Complete"]', timeout=60_000)
    except PlaywrightTimeout:
        pytest.fail(f"The pull did not complete: {pull_states(connection)}\n--- worker ---\n{worker.log_tail()}")
    seen = admin.evaluate("() => window.progressSeen")
    assert seen[0]["status"] == "Queued", seen
    assert seen[-1] == {"status": "Complete", "fetched": 96, "width": "100%"}, seen
    fetched = [state["fetched"] for state in seen]
    assert fetched == sorted(fetched), seen
    assert any(state["status"] == "Fetching" for state in seen), seen
    assert admin.locator("#pull-progress .count-created").inner_text() == "96"
    assert admin.locator("#pull-progress .progress-bar--done").count() == 1
    assert worker.running

    # The invoices in the record browser: the count and totals of the sandbox's books, and of the DB.
    admin.get_by_role("link", name="Records").click()
    admin.wait_for_url(url(f"/connections/{connection.pk}/records/invoices/"))
    invoices = sandbox.books(key).records("invoices")
    gross = sum(Decimal(invoice["gross"]) for invoice in invoices)
    # Outstanding: what is owed, so neither drafts (not issued yet) nor voided invoices.
    owed = [invoice for invoice in invoices if invoice["status"] not in ("draft", "voided")]
    balance = sum(Decimal(invoice["balance"]) for invoice in owed)
    live = Record.objects.filter(connection=connection, data_type="invoices", is_deleted=False)
    stored = live.aggregate(count=Count("pk"), total=Sum("total"))
    stored["balance"] = live.exclude(status__in=("Draft", "Void")).aggregate(balance=Sum("balance"))["balance"]
    assert stored == {"count": len(invoices), "total": gross, "balance": balance}
    assert admin.locator("#total-count").inner_text() == str(len(invoices))
    # Summed per currency, pounds first, never adding one currency into another.
    per_currency = sorted(
        live.values_list("currency")
        .annotate(total=Sum("total"), balance=Sum("balance", filter=~Q(status__in=("Draft", "Void"))))
        .order_by(),
        key=lambda row: (row[0] not in ("", "GBP"), row[0]),
    )
    assert admin.locator("#total-amount").inner_text() == " · ".join(money(t, c) for c, t, _ in per_currency)
    assert admin.locator("#total-balance").inner_text() == " · ".join(money(b or 0, c) for c, _, b in per_currency)
    assert admin.locator("table.records tbody tr").count() == min(len(invoices), 50)
    assert Company.objects.count() == 1


def pull_states(connection):
    pulls = PullOperation.objects.filter(connection=connection)
    return list(pulls.values_list("data_type", "status", "records_fetched"))


def test_a_link_url_works_after_another_customers_failed_attempts_from_the_same_address(
    new_page, url, sandbox, clearbooks, browser_problems, settings
):
    """Issue #13: both customers reach the portal from one address (an office, a load balancer; here
    127.0.0.1). The first mistypes their key until their own Link URL locks; the second links at once."""
    browser_problems.allow_status(429)  # the first customer's locked Link URL
    careless, careful = (
        factory.make_connection(factory.make_company(name), status=Connection.Status.PENDING_AUTH)
        for name in ("Careless Cafe Ltd", "Careful Carpentry Ltd")
    )
    issue_link_url(careless)
    issue_link_url(careful)

    other = new_page()
    other.goto(url(f"/link/{careless.link_token}/"))
    for attempt in range(settings.LINK_RATE_LIMIT):
        other.get_by_role("textbox", name="Clear Books API key").fill(f"sbx-wrong-key-{attempt}")
        click_and_wait(other, other.get_by_role("button", name="Link my books"))
        assert "did not accept this API key" in other.locator(".field--error").inner_text(), attempt
    other.goto(url(f"/link/{careless.link_token}/"))  # opened again: locked, and it says so at once
    assert other.get_by_role("heading", level=1).inner_text() == "This Link URL is locked for a while."
    assert "You can try again from" in other.locator("main").inner_text()

    customer = new_page()
    customer.goto(url(f"/link/{careful.link_token}/"))
    assert customer.get_by_role("heading", level=1).inner_text() == "Link your Clear Books books"
    customer.get_by_role("textbox", name="Clear Books API key").fill(sandbox.make_key(seed="careful"))
    customer.get_by_role("button", name="Link my books").click()
    customer.wait_for_url(url(f"/link/{careful.link_token}/done/"))
    assert customer.get_by_role("heading", level=1).inner_text() == "Thank you"
    assert Connection.objects.get(pk=careful.pk).status == Connection.Status.LINKED
    assert Connection.objects.get(pk=careless.pk).status == Connection.Status.PENDING_AUTH
