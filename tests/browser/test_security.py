"""Security in a real browser: the Content-Security-Policy holds on the portal's pages, the API docs
and Django admin, the CSP watch really catches a violation, and a locked login says until when.

Every page comes from tests/plugins/browser.py, which fails the test on any `securitypolicyviolation`
event and on any page served without the policy; these tests visit the pages the other journeys do not.
"""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from connections.models import PullOperation
from tests import factory

from .conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

P = PullOperation.Status


def a_busy_connection():
    """A connection with what the richest pages draw: chart bars, a state line, a running pull's progress."""
    connection = factory.make_connection(factory.make_company("Policy Ltd"))
    an_hour_ago = timezone.now() - timedelta(hours=1)
    failed = factory.make_pull(
        connection, "invoices", P.FETCH_ERROR, error_message="Clear Books did not answer.", finished_at=an_hour_ago
    )
    factory.make_pull(connection, "customers", P.COMPLETE, records_fetched=4, expected_records=4)
    running = factory.make_pull(connection, "bills", P.FETCHING, records_fetched=10, expected_records=40)
    factory.make_data_status(
        connection, "invoices", current_status=P.FETCH_ERROR, latest_pull=failed, failures_in_row=2
    )
    factory.make_record(connection, "invoices")
    return connection, failed, running


def test_the_portal_pages_the_api_docs_and_django_admin_keep_the_policy(page, url, clearbooks):
    factory.make_user("root", is_staff=True, is_superuser=True)
    connection, failed, running = a_busy_connection()
    log_in(page, url, "root")
    for path in (
        "/dashboard/",
        f"/connections/{connection.pk}/",
        f"/pulls/{failed.pk}/",
        f"/connections/{connection.pk}/records/invoices/",
        "/integrations/jhch/",
        "/settings/api-keys/",
    ):
        page.goto(url(path))
    # A running pull's page: htmx polls the progress card and swaps it in (no inline style or eval).
    with page.expect_response(re.compile(r".*/progress/$")):
        page.goto(url(f"/pulls/{running.pk}/"))
    page.wait_for_timeout(200)  # the swap follows its response
    assert page.locator("#pull-progress .progress-bar").get_attribute("width") == "25%"

    # Swagger UI, from the vendored files: the operations are drawn (its script ran, its styles applied).
    page.goto(url("/api/docs/"))
    page.locator(".swagger-ui .opblock").first.wait_for()
    assert page.locator(".swagger-ui .opblock").count() > 10

    for path in ("/admin/", "/admin/integrations/integration/", "/admin/auth/user/add/", "/admin/auth/user/"):
        page.goto(url(path))
        assert page.locator("#content").count() == 1, path
    page.get_by_role("link", name=re.compile("root")).first.click()  # a change form, with its scripts
    page.locator("#user_form").wait_for()


def test_the_watch_fails_a_page_that_breaks_the_policy(page, url, browser_problems):
    """The CSP watch is no dead letter: an inline style set on a page is reported as a violation."""
    page.goto(url("/accounts/login/"))
    page.evaluate("document.body.setAttribute('style', 'color: red')")
    found = []
    for _ in range(50):  # the event is queued, then reported through the binding: wait for it, at most 5 s
        page.wait_for_timeout(100)
        found = [problem for problem in browser_problems.problems if problem.startswith("CSP violation")]
        if found:
            break
    assert found and "style-src" in found[0], browser_problems.problems
    browser_problems.problems.clear()  # seen: this test's page must not fail it


def test_a_locked_login_says_until_when(page, url, admin_user, browser_problems):
    browser_problems.allow_status(429)  # the locked login page answers 429 Too Many Requests
    page.goto(url("/accounts/login/"))
    for attempt in range(1, settings.AXES_FAILURE_LIMIT + 1):
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Log in").click()
        errors = page.locator(".form-errors").inner_text()
        if attempt < settings.AXES_FAILURE_LIMIT:
            assert "did not match" in errors, attempt
    # The failure that reached the limit locked the username; now the right password changes nothing.
    assert "Logging in is paused" in errors
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(factory.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    message = page.locator(".login-locked").inner_text()
    assert re.search(r"Logging in is paused until \d\d:\d\d \(15 minutes from now\)", message), message
    assert "failed log-ins with this username or from your network" in message
    assert page.url.endswith("/accounts/login/")
