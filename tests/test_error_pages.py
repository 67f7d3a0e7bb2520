"""Refusal pages in the portal's look (400, 403, CSRF failure, 404, 413), and one log line each."""

import logging
import sys

import pytest
from django.test import Client
from django.urls import reverse

from connections.link_urls import issue_link_url
from connections.models import Connection
from portal.logs import OneLineRefusals
from tests import factory

FORMAT = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")


@pytest.fixture
def link_page(clearbooks):
    connection = factory.make_connection(factory.make_company("Acme Ltd"), status=Connection.Status.PENDING_AUTH)
    issue_link_url(connection)
    return reverse("connections:link", args=[connection.link_token])


def logged_lines(caplog):
    """What the console handler prints for the captured records (with its filter applied)."""
    out = []
    for record in caplog.records:
        OneLineRefusals().filter(record)
        out.append(FORMAT.format(record))
    return out


def test_a_missing_page_is_branded_and_says_what_to_do(admin_client):
    response = admin_client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "<h1>Page not found</h1>" in html and "portal.css" in html
    assert "Back to the dashboard" in html and 'aria-label="Main"' in html


def test_a_missing_page_for_an_anonymous_visitor_shows_no_navigation(client):
    response = client.get("/link/no-such-token/done/nothing-here/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "<h1>Page not found</h1>" in html
    assert 'aria-label="Main"' not in html and "open the Link URL you were sent again" in html


def test_a_refused_action_is_branded_and_logged_as_one_line(support_client, clearbooks, caplog):
    with caplog.at_level(logging.WARNING):
        response = support_client.post(reverse("integrations:integration-toggle", args=["jhch"]), {"enabled": "off"})
    assert response.status_code == 403
    assert "<h1>You can&#x27;t do that here</h1>" in response.content.decode()
    lines = logged_lines(caplog)
    assert lines and all("Traceback" not in line and "\n" not in line for line in lines)


def test_a_csrf_failure_on_the_link_page_explains_itself_in_the_public_look(link_page):
    client = Client(enforce_csrf_checks=True)
    response = client.post(link_page, {"api_key": "x" * 20})
    assert response.status_code == 403
    html = response.content.decode()
    assert "<h1>This form has expired</h1>" in html and "reload the page and send it again" in html
    assert 'aria-label="Main"' not in html


def test_an_oversized_post_to_the_link_page_answers_413_with_one_log_line(client, link_page, caplog):
    with caplog.at_level(logging.WARNING):
        response = client.post(link_page, {"api_key": "k" * (10 * 1024 * 1024)})
    assert response.status_code == 413
    html = response.content.decode()
    assert "That was more than the portal accepts" in html and "at most 2.5" in html
    lines = logged_lines(caplog)
    assert lines and all("Traceback" not in line for line in lines)


def test_a_malformed_request_is_a_branded_400(admin_client):
    fields = {f"f{i}": "1" for i in range(1500)}  # over DATA_UPLOAD_MAX_NUMBER_FIELDS
    response = admin_client.post(reverse("connections:company-create"), fields)
    assert response.status_code == 400
    assert "We could not read that request" in response.content.decode()


def test_server_errors_keep_their_traceback():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        failure = sys.exc_info()
    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal Server Error", (), failure)
    record.status_code = 500
    OneLineRefusals().filter(record)
    assert "Traceback" in FORMAT.format(record)
