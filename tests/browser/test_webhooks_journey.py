"""Journey: an Admin adds a webhook endpoint (its secret shown once), sends a test event that a real
qcluster delivers to a real receiver, and reads the delivery in the log; the secret is gone on reload."""

import re

import pytest
from playwright.sync_api import expect

from connections.webhooks.models import Endpoint

from ..connections.webhooks.helpers import verify_both
from .conftest import click_and_wait, log_in, poll

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_adds_an_endpoint_sends_a_test_event_and_reads_the_log(
    page, browser_problems, url, receiver, start_worker, admin_user
):
    start_worker()
    log_in(page, url, "alice")
    page.get_by_role("link", name="Webhooks").click()
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("connection.disconnected").check()
    click_and_wait(page, page.get_by_role("button", name="Add endpoint"))
    secret = page.locator("#new-webhook-secret").inner_text()
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/=]+", secret)

    click_and_wait(page, page.get_by_role("link", name=f"Open {receiver.url}"))
    assert secret not in page.content()
    click_and_wait(page, page.get_by_role("button", name="Send test event"))
    [got] = receiver.wait_for(1, timeout=30)
    assert verify_both(secret, got)["eventType"] == "webhook.test"

    poll(lambda: Endpoint.objects.get().messages.filter(status="delivered").exists(), message="delivered")
    page.reload()
    expect(page.locator("table")).to_contain_text("webhook.test")
    expect(page.locator("table")).to_contain_text("HTTP 200")
    assert secret not in page.content()
