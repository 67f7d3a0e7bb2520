"""Login throttling (django-axes): failed logins lock the username and the client address for a while,
the login page says until when, and behind trusted proxies the client is the proxies' address for it.

Real requests through the login page (django-axes needs the request; Client.login() passes none).
"""

import logging
import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from tests import factory

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"
WRONG = "not-the-password"
LIMIT = settings.AXES_FAILURE_LIMIT


def log_in(client, username, password, address="192.0.2.10", **meta):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address, **meta)


def logged_in(response):
    return response.status_code == 302 and response.wsgi_request.user.is_authenticated


def fail(client, username, times, **kwargs):
    return [log_in(client, username, WRONG, **kwargs).status_code for _ in range(times)]


def test_the_limit_is_a_few_tries_and_the_lock_a_quarter_of_an_hour():
    cool_off, parameters = settings.AXES_COOLOFF_TIME, settings.AXES_LOCKOUT_PARAMETERS
    assert LIMIT == 5 and cool_off == timedelta(minutes=15)
    assert parameters == ["username", "ip_address"]


def test_failed_logins_lock_the_username_and_the_page_says_until_when(client, admin_user):
    assert fail(client, "alice", LIMIT - 1) == [200] * (LIMIT - 1)  # "did not match", the form again

    def in_a_quarter_hour():
        return timezone.localtime(timezone.now() + timedelta(minutes=15)).strftime("%H:%M")

    earliest = in_a_quarter_hour()
    locked = log_in(client, "alice", WRONG)
    latest = in_a_quarter_hour()  # the same minute, unless the clock turned one during the request
    assert locked.status_code == 429
    assert locked["Retry-After"] == "900"
    html = locked.content.decode()
    shown = re.search(r"Logging in is paused until (\d\d:\d\d) \(15 minutes from now\)", html)
    assert shown and shown.group(1) in {earliest, latest}, html
    assert "failed log-ins with this username or from your network" in html
    assert 'name="password"' in html and WRONG not in html  # the form again, never what was typed
    # The right password changes nothing while the lock lasts.
    response = log_in(client, "alice", factory.PASSWORD)
    assert response.status_code == 429 and not response.wsgi_request.user.is_authenticated


def test_the_username_stays_locked_from_another_address(client, admin_user):
    fail(client, "alice", LIMIT, address="192.0.2.10")
    assert log_in(client, "alice", factory.PASSWORD, address="198.51.100.7").status_code == 429


def test_an_address_that_tried_many_usernames_is_locked_for_every_username(client, admin_user):
    for i in range(LIMIT):
        log_in(client, f"guess-{i}", WRONG, address="192.0.2.66")
    assert log_in(client, "alice", factory.PASSWORD, address="192.0.2.66").status_code == 429
    assert logged_in(log_in(client, "alice", factory.PASSWORD, address="192.0.2.67"))  # alice herself is not locked


def test_the_lock_ends_after_the_cool_off(client, admin_user):
    fail(client, "alice", LIMIT)
    assert log_in(client, "alice", factory.PASSWORD).status_code == 429
    # Fifteen minutes and a second later (the attempt's clock moved back, as time would).
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=1))
    assert logged_in(log_in(client, "alice", factory.PASSWORD))


def test_a_successful_login_forgets_the_failures_before_it(client, admin_user):
    fail(client, "alice", LIMIT - 1)
    assert logged_in(log_in(client, "alice", factory.PASSWORD))
    client.post(reverse("logout"))
    assert fail(client, "alice", LIMIT - 1) == [200] * (LIMIT - 1)
    assert logged_in(log_in(client, "alice", factory.PASSWORD))


@pytest.mark.parametrize("proxies", [1, 2])
def test_behind_trusted_proxies_the_client_is_the_address_they_saw(client, admin_user, settings, proxies):
    """The Link limits' client address (portal.web.addresses): the N-th from the right of X-Forwarded-For."""
    settings.TRUSTED_PROXY_COUNT = proxies
    proxy_chain = ", ".join(["10.0.0.2"] * (proxies - 1))

    def forwarded(client_ip, spoofed="203.0.113.99"):
        # What a client writes in the header (`spoofed`) comes first; each proxy appends the address it saw.
        chain = ", ".join(part for part in (spoofed, client_ip, proxy_chain) if part)
        return {"address": "10.0.0.1", "HTTP_X_FORWARDED_FOR": chain}

    for i in range(LIMIT):
        log_in(client, f"guess-{i}", WRONG, **forwarded("192.0.2.50", spoofed=f"203.0.113.{i}"))
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"192.0.2.50"}
    # The same client is locked whatever it writes in the header; another client behind the same proxy is not.
    same_client = forwarded("192.0.2.50", spoofed="198.51.100.1")
    assert log_in(client, "alice", factory.PASSWORD, **same_client).status_code == 429
    assert logged_in(log_in(client, "alice", factory.PASSWORD, **forwarded("192.0.2.51")))


def test_the_password_tried_is_never_kept_or_logged(client, admin_user, caplog):
    secret_guess = "hunter2-correct-horse"
    with caplog.at_level(logging.DEBUG):
        for _ in range(LIMIT + 1):
            log_in(client, "alice", secret_guess)
    attempts = list(AccessAttempt.objects.values_list("post_data", "get_data"))
    assert attempts and all(secret_guess not in post + get for post, get in attempts)
    assert caplog.records and all(secret_guess not in record.getMessage() for record in caplog.records)


def test_a_login_made_in_code_counts_with_no_address(rf, admin_user, client):
    """force_login (and any login without a client) has no address: django-axes keeps none, not a made-up one."""
    from axes.models import AccessLog

    from portal.web.addresses import client_ip

    assert client_ip(rf.get("/", REMOTE_ADDR="")) is None
    assert client_ip(rf.get("/", REMOTE_ADDR="2001:db8::1")) == "2001:db8::1"
    client.force_login(admin_user)
    assert list(AccessLog.objects.values_list("ip_address", flat=True)) == [None]
