"""Journey 4: a Support user sees read-only controls, can test a connection and refresh its data,
and is refused everything else, even when forcing a POST past the disabled controls."""

import pytest
from playwright.sync_api import expect

from connections.models import Connection, PullOperation
from integrations.models import Integration
from tests import factory

from .conftest import click_and_wait, flash, link_directly, log_in, poll

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Sends a POST from the page with its own CSRF token, as a crafted form would; returns the HTTP status.
FORCE_POST = """async (action) => {
  const token = document.querySelector('input[name=csrfmiddlewaretoken]').value;
  const response = await fetch(action, {method: 'POST', body: new URLSearchParams({csrfmiddlewaretoken: token}),
                                       headers: {'Content-Type': 'application/x-www-form-urlencoded'}});
  return response.status;
}"""


def test_it_lets_support_test_and_refresh_but_nothing_else(
    page, browser_problems, url, sandbox, start_worker, clearbooks, support_user
):
    key = sandbox.make_key(seed="support-books", invoices=12, bills=4, customers=3, suppliers=2, both=1)
    connection = link_directly(factory.make_company("Fenwick Bakery"), key)
    start_worker()
    log_in(page, url, "sam")

    # Integrations and Manage: everything visible, nothing changeable.
    page.goto(url("/integrations/"))
    switch = page.get_by_role("switch", name="Clear Books: switched on")
    expect(switch).to_be_disabled()
    assert "for admins" in page.locator(".callout").first.inner_text()
    page.get_by_role("link", name="Manage Clear Books").click()
    expect(page.get_by_label("Request timeout (seconds)")).to_be_disabled()
    assert page.get_by_role("button", name="Save settings").count() == 0

    # The company: no admin actions.
    page.goto(url("/companies/"))
    assert page.get_by_role("link", name="Add company").count() == 0
    click_and_wait(page, page.get_by_role("link", name="Fenwick Bakery"))
    for admin_only in ("Add connection", "Edit company", "Delete company"):
        assert page.get_by_role("link", name=admin_only).count() == 0, admin_only
    assert page.get_by_role("button", name="Unlink").count() == 0

    # The connection: Test connection and Refresh data work; the admin's actions are not offered.
    page.get_by_role("link", name="Clear Books").first.click()
    page.wait_for_url(url(f"/connections/{connection.pk}/"))
    assert page.locator(".credentials-shown").inner_text() == "set"  # no fingerprint for Support
    for admin_only in ("Unlink", "New Link URL"):
        assert page.get_by_role("button", name=admin_only).count() == 0, admin_only
    assert page.get_by_role("link", name="Delete").count() == 0
    click_and_wait(page, page.get_by_role("button", name="Test connection"))
    assert "Clear Books accepted the stored credentials" in flash(page)
    assert "sam" in page.locator(".timeline").inner_text()

    click_and_wait(page, page.get_by_role("button", name="Refresh data").first)
    assert "Refresh queued for" in flash(page)
    pulls = PullOperation.objects.filter(connection=connection)
    poll(
        lambda: pulls.exists() and not pulls.exclude(status=PullOperation.Status.COMPLETE).exists(),
        timeout=60,
        message="the refresh's pulls to complete",
    )
    page.reload()
    statuses = page.locator("table.data-status tbody tr td:nth-child(2)").all_inner_texts()
    assert statuses and all("Complete" in text for text in statuses), statuses
    assert pulls.get(data_type="invoices").records_created == 12

    # Forced POSTs past the disabled controls are refused with 403, and change nothing.
    browser_problems.allow_status(403)
    unlink = url(f"/connections/{connection.pk}/unlink/")
    assert page.evaluate(FORCE_POST, unlink) == 403
    assert page.evaluate(FORCE_POST, url(f"/connections/{connection.pk}/new-link-url/")) == 403
    assert page.evaluate(FORCE_POST, url(f"/companies/{connection.company_id}/delete/")) == 403
    page.goto(url("/integrations/"))
    page.get_by_role("switch", name="Clear Books: switched on").evaluate("button => button.disabled = false")
    page.once("dialog", lambda dialog: dialog.accept())  # "Switch off Clear Books? 1 linked connection…"
    click_and_wait(page, page.get_by_role("switch", name="Clear Books: switched on"))
    assert page.get_by_role("heading", level=1).inner_text() == "You can't do that here"
    assert Connection.objects.get(pk=connection.pk).status == Connection.Status.LINKED
    assert Integration.objects.get(key="jhch").enabled
