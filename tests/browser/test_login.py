"""The smallest browser journey: the login page renders and a wrong password is refused."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_logs_in_and_refuses_a_wrong_password(page, live_server, admin_user):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    assert "did not match" in page.locator(".form-errors").inner_text()

    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("correct-horse-battery-staple")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/dashboard/")
    assert page.locator(".site-user").inner_text().startswith("alice")
