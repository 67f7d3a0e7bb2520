"""Safe targets in production settings: HTTPS only, never loopback, private or link-local addresses.

Literal addresses need no DNS; `localhost` is a DNS name this machine resolves to 127.0.0.1
(and ::1). No request is sent: the guard refuses before any connection.
"""

import socket

import pytest

from connections.webhooks.targets import UnsafeTarget, check_url

REFUSED = [
    ("https://127.0.0.1/hook", "loopback"),
    ("https://127.8.9.10:8443/hook", "loopback"),
    ("https://10.1.2.3/hook", "private"),
    ("https://192.168.0.7/hook", "private"),
    ("https://172.16.5.4/hook", "private"),
    ("https://169.254.169.254/latest/meta-data", "link-local"),
    ("https://0.0.0.0/hook", "unspecified"),
    ("https://[::1]/hook", "loopback"),
    ("https://[fe80::1]/hook", "link-local"),
    ("https://[fd00::1]/hook", "private"),
    ("https://[::ffff:127.0.0.1]/hook", "loopback"),
    ("https://localhost/hook", "loopback"),
]


@pytest.mark.parametrize("url,kind", REFUSED)
def test_production_refuses_local_and_private_addresses(url, kind):
    with pytest.raises(UnsafeTarget, match=kind):
        check_url(url, allow_local=False)


def test_a_dns_name_is_checked_by_what_it_resolves_to():
    assert {info[4][0] for info in socket.getaddrinfo("localhost", 443)} & {"127.0.0.1", "::1"}
    with pytest.raises(UnsafeTarget, match=r"localhost resolves to (127\.0\.0\.1|::1), a loopback address"):
        check_url("https://localhost:8443/hook", allow_local=False)


def test_production_refuses_plain_http_credentials_and_other_schemes():
    for url, words in (
        ("http://93.184.216.34/hook", "must use HTTPS"),
        ("ftp://93.184.216.34/hook", "must start with https://"),
        ("https://user:pass@93.184.216.34/hook", "user name or password"),
        ("https:///hook", "name a host"),
    ):
        with pytest.raises(UnsafeTarget, match=words):
            check_url(url, allow_local=False)


def test_a_public_address_is_allowed():
    check_url("https://93.184.216.34/hook", allow_local=False)
    check_url("https://[2606:2800:220:1:248:1893:25c8:1946]/hook", allow_local=False)


def test_the_development_setting_allows_loopback_and_http():
    check_url("http://127.0.0.1:8080/hook", allow_local=True)
    check_url("http://[::1]:8080/hook", allow_local=True)


def test_delivery_checks_again_and_never_calls_a_refused_target(db, settings, receiver):
    """An endpoint saved while allowed, then production settings: the attempt is refused and logged, nothing sent."""
    from connections import lifecycle
    from connections.webhooks import delivery, endpoints
    from connections.webhooks.models import Attempt, Message

    settings.WEBHOOK_RETRY_SCHEDULE = []
    endpoints.create(receiver.url, ["company.created"], actor_name="test")
    settings.WEBHOOK_ALLOW_LOCAL_TARGETS = False
    lifecycle.create_company("Acme Ltd")
    assert delivery.deliver(Message.objects.get().pk) == Message.Status.FAILED
    assert receiver.started == 0
    assert "must use HTTPS" in Attempt.objects.get().error
