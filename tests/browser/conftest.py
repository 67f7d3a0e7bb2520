"""Helpers shared by the browser journeys: logging in, linked connections, and waiting on the page.

Every journey runs against pytest-django's `live_server` (a real HTTP server on the test
database) with the Clear Books sandbox; those that need pulls to run start a real
qcluster (`start_worker`). Pages come from tests/plugins/browser.py and fail the test
on any console error, failed request or HTTP error the test did not allow.
"""

import re
import signal
import time

import pytest

from connections import status
from connections.credentials import store_credentials
from connections.events import SYSTEM
from connections.models import Connection
from tests import factory

# A journey is bounded: a hung page, server or worker fails it instead of blocking the suite.
JOURNEY_TIMEOUT = 90


@pytest.fixture
def url(live_server):
    """`url("/path/")`: an absolute address on the live server."""
    return lambda path: f"{live_server.url}{path}"


def log_in(page, url, username, password=factory.PASSWORD):
    """Log in through the login page, as a person would; ends on the dashboard."""
    page.goto(url("/accounts/login/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r".*/dashboard/$"))
    return page


def link_directly(company, key):
    """A Linked Clear Books connection with a sandbox key, without the Link page (and without pulls)."""
    connection = factory.make_connection(company, status=Connection.Status.PENDING_AUTH)
    store_credentials(connection, {"api_key": key}, validated_by="link")
    status.move(connection, Connection.Status.LINKED, reason="Linked for a browser test.", actor_label=SYSTEM)
    return Connection.objects.get(pk=connection.pk)


def poll(condition, *, timeout=30.0, interval=0.25, message="condition"):
    """Poll `condition()` (bounded by count and time) until it returns something truthy; return it."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / interval) + 2):
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            break
        time.sleep(interval)
    pytest.fail(f"Timed out after {timeout:.0f}s waiting for {message}")


def flash(page):
    """The text of the flash messages on the current page."""
    return page.locator(".messages").inner_text()


@pytest.fixture(autouse=True)
def journey_deadline(request):
    """Fail a browser test that runs longer than JOURNEY_TIMEOUT s (a module's DEADLINE overrides it)."""
    seconds = getattr(request.module, "DEADLINE", JOURNEY_TIMEOUT)

    def expired(signum, frame):
        pytest.fail(f"The browser test took longer than {seconds} s.", pytrace=True)

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def click_and_wait(page, target):
    """Click a link or a form's button and wait for the page it leads to (not the one still showing)."""
    with page.expect_navigation():
        target.click()
    return page
