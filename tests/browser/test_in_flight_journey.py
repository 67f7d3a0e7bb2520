"""Journey (issue #13): Support refreshes invoices while Clear Books fails; the connection page says
"Retrying", not "Nothing is wrong", until the pull completes. And the dashboard's 24-hour chart is as
wide as its card.

Screenshots of what was seen go to the test's temporary directory (printed), for a person to look at.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from connections.models import PullOperation
from integrations.models import SyncSetting
from tests import factory

from .conftest import click_and_wait, flash, link_directly, log_in, poll

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

P = PullOperation.Status
GOOD = "Nothing is wrong"


def everything_read(connection):
    at = timezone.now() - timedelta(minutes=5)
    for setting in SyncSetting.objects.filter(integration=connection.integration):
        pull = factory.make_pull(connection, setting.data_type, P.COMPLETE, started_at=at, finished_at=at)
        factory.make_data_status(
            connection,
            setting.data_type,
            current_status=P.COMPLETE,
            latest_pull=pull,
            latest_successful_pull=pull,
            last_successful_sync_at=at,
            last_successful_started_at=at,
        )


def diagnosis(page):
    return page.get_by_role("region", name="Diagnosis").inner_text()


def test_a_connection_page_during_a_retry_says_retrying_not_nothing_is_wrong(
    page, url, sandbox, start_worker, clearbooks, support_user, tmp_path
):
    key = sandbox.make_key(seed="journey-retry", invoices=30, bills=4, customers=3, suppliers=2, both=1)
    connection = link_directly(factory.make_company("Harbour Chandlery"), key)
    everything_read(connection)
    # The first page of invoices fails three times (HTTP 500), then answers: tries 1.5 to 6 s apart.
    sandbox.fail_next("http500", count=3, key=key, operation="listInvoices")
    start_worker(CLEARBOOKS_RETRY_BASE_DELAY=3, CLEARBOOKS_RETRY_MAX_DELAY=6, CLEARBOOKS_RETRY_ATTEMPTS=5)
    log_in(page, url, "sam")

    page.goto(url(f"/connections/{connection.pk}/"))
    assert diagnosis(page).startswith(GOOD)
    click_and_wait(page, page.get_by_role("button", name="Refresh Invoices"))
    assert "Refresh queued for invoices" in flash(page)

    def retrying():
        page.reload()
        return "Retrying invoices" in diagnosis(page)

    poll(retrying, timeout=40, interval=0.3, message="the page to say Retrying")
    said = diagnosis(page)
    assert re.search(
        r"Retrying invoices: attempt [234] of 5, (next try at \d\d:\d\d:\d\d|trying now) — "
        r"Clear Books had a temporary problem \(HTTP 500\)",
        said,
    ), said
    assert GOOD not in said
    line = page.locator("#data-type-invoices .state-line")
    expect(line).to_contain_text("Retrying: attempt")
    shot = tmp_path / "connection-retrying.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"\nscreenshot: {shot}")

    pull = PullOperation.objects.filter(connection=connection, data_type="invoices").latest("pk")
    poll(
        lambda: PullOperation.objects.get(pk=pull.pk).status == P.COMPLETE,
        timeout=60,
        message="the pull to complete after its retries",
    )
    page.reload()
    assert diagnosis(page).startswith(GOOD)
    assert page.locator("#data-type-invoices .state-line").count() == 0


def test_the_dashboard_chart_is_as_wide_as_its_card(page, url, clearbooks, support_user, tmp_path):
    connection = factory.make_connection()
    now = timezone.now()
    for hours, status in ((1, P.COMPLETE), (3, P.FETCH_ERROR), (7, P.COMPLETE), (20, P.CANCELLED)):
        factory.make_pull(connection, "invoices", status, requested_at=now - timedelta(hours=hours))
    log_in(page, url, "sam")  # ends on the dashboard

    card = page.locator("section.card", has=page.locator("svg.chart"))
    chart = card.locator("svg.chart").bounding_box()
    inner = card.evaluate(
        "card => { const s = getComputedStyle(card);"
        " return card.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight); }"
    )
    assert chart["width"] >= inner - 1, (chart, inner)  # it filled half the card before
    assert 120 <= chart["height"] <= 200  # and kept its shape: about a pixel per unit at 1280 px
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"\nscreenshot: {shot}")
