"""The public Link flow over real HTTP against the Clear Books sandbox (no mocks of the client)."""

import socket
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connections import credentials
from connections.link import lockout
from connections.link_urls import issue_link_url, token_hash
from connections.models import Connection, ConnectionEvent, LinkAttempt, PullOperation
from integrations.clearbooks.sandbox.server import SandboxServer
from integrations.models import SyncSetting
from portal.web.addresses import client_address
from tests import factory

S = Connection.Status
Kind = ConnectionEvent.Kind
REJECTED = "Clear Books did not accept this API key"
UNREACHABLE = "We couldn&#x27;t reach Clear Books; nothing was saved — please try again"


@pytest.fixture(autouse=True)
def quick_retries(settings):
    # A person waits on the Link page, so the client retries once; keep that retry short here.
    settings.CLEARBOOKS_RETRY_BASE_DELAY = 0.05
    settings.CLEARBOOKS_RETRY_MAX_DELAY = 0.1


@pytest.fixture
def pending(clearbooks):
    company = factory.make_company("Acme Ltd")
    conn = factory.make_connection(company, status=S.PENDING_AUTH)
    issue_link_url(conn)
    return conn


def link(conn):
    return reverse("connections:link", args=[conn.link_token])


def submit(client, conn, key, **extra):
    return client.post(link(conn), {"api_key": key}, **extra)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def assert_nothing_stored(conn, status=S.PENDING_AUTH):
    conn.refresh_from_db()
    assert conn.status == status
    assert conn.credentials_encrypted == "" and conn.credentials_fingerprint == ""
    assert conn.link_token_used_at is None
    assert not conn.pulls.exists()


#
# The page
#


def test_it_shows_the_link_page_without_login(client, pending):
    clearbooks = pending.integration
    clearbooks.settings = {**clearbooks.settings, "app_name": "Ledgerly Sync", "portal_name": "Ledgerly"}
    clearbooks.save()
    response = client.get(link(pending))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Acme Ltd" in html and "Link your Clear Books books" in html
    assert "Settings &gt; Configure system &gt; API keys" in html
    assert "<strong>Ledgerly Sync</strong>" in html and "<strong>Ledgerly</strong>" in html
    assert 'type="password"' in html and 'autocomplete="off"' in html
    assert "csrfmiddlewaretoken" in html
    assert response["Cache-Control"].startswith("max-age=0") or "no-cache" in response["Cache-Control"]


def test_it_requires_the_csrf_token(pending, sandbox):
    client = Client(enforce_csrf_checks=True)
    response = submit(client, pending, sandbox.make_key(seed="acme"))
    assert response.status_code == 403
    assert_nothing_stored(pending)


#
# Valid, rejected, unreachable
#


def test_it_links_with_a_valid_key(client, pending, sandbox):
    SyncSetting.objects.filter(integration=pending.integration, data_type="bills").update(fetch_on_first_link=False)
    key = sandbox.make_key(seed="acme")
    response = submit(client, pending, key)
    assert response.status_code == 302
    assert response["Location"] == reverse("connections:link-done", args=[pending.link_token])
    pending.refresh_from_db()
    assert pending.status == S.LINKED and pending.linked_at is not None
    assert credentials.connection_credentials(pending) == {"api_key": key}
    assert key not in pending.credentials_encrypted
    assert pending.credentials_fingerprint.startswith("…" + key[-4:])
    assert pending.credentials_validated_by == "link"
    assert pending.link_token_used_at is not None
    queued = set(pending.pulls.values_list("data_type", flat=True))
    expected = {dt.name for dt in pending.integration.provider.data_types} - {"bills"}
    assert queued == expected
    assert set(pending.pulls.values_list("trigger", flat=True)) == {PullOperation.Trigger.FIRST_LINK}
    moved = pending.events.get(kind=Kind.STATUS_CHANGED)
    assert moved.actor_label == "company user" and moved.detail["to"] == S.LINKED
    assert pending.events.filter(kind=Kind.LINK_ACCEPTED).exists()
    assert LinkAttempt.objects.get().outcome == "accepted"
    done = client.get(response["Location"])
    assert done.status_code == 200
    assert "Acme Ltd's Clear Books books are now linked" in done.content.decode()


@pytest.mark.parametrize("how", ["made up", "revoked"])
def test_it_rejects_a_key_clear_books_does_not_accept(client, pending, sandbox, how):
    key = "CBNOTAREALKEY0123456789" if how == "made up" else sandbox.make_key(seed="acme", revoked=True)
    response = submit(client, pending, key)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count(REJECTED) == 1  # said once, next to the field
    assert "Settings &gt; Configure system &gt; API keys" in html  # where to find the right one
    assert key not in html  # never re-rendered
    assert 'class="field field--error"' in html
    assert_nothing_stored(pending)
    event = pending.events.get(kind=Kind.LINK_REJECTED)
    assert event.actor_label == "company user"
    assert key not in event.message and key not in str(event.detail)
    assert LinkAttempt.objects.get().outcome == "rejected"


def test_it_says_so_when_clear_books_cannot_be_reached(client, pending, sandbox, settings):
    settings.CLEARBOOKS_WSDL_URL = f"http://127.0.0.1:{closed_port()}/api/accounting/wsdl/"
    key = sandbox.make_key(seed="acme")
    response = submit(client, pending, key)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count(UNREACHABLE) == 1
    assert key not in html
    assert_nothing_stored(pending)
    assert pending.events.filter(kind=Kind.LINK_UNREACHABLE).count() == 1
    assert LinkAttempt.objects.get().outcome == "unreachable"


def test_it_saves_nothing_when_the_sandbox_stops(client, pending, sandbox, settings):
    server = SandboxServer(port=0).start()
    try:
        settings.CLEARBOOKS_WSDL_URL = server.wsdl_url
        # A first attempt, with a wrong key, reaches it (and the client caches its WSDL).
        assert REJECTED in submit(client, pending, "CBWRONGKEY000000000000").content.decode()
    finally:
        server.stop()
    response = submit(client, pending, sandbox.make_key(seed="acme"))
    assert UNREACHABLE in response.content.decode()
    assert_nothing_stored(pending)
    assert list(LinkAttempt.objects.order_by("created_at").values_list("outcome", flat=True)) == [
        "rejected",
        "unreachable",
    ]


def test_it_gives_up_on_a_slow_clear_books_and_saves_nothing(client, pending, sandbox):
    clearbooks = pending.integration
    clearbooks.settings = {**clearbooks.settings, "timeout": 1}
    clearbooks.save()
    sandbox.configure(latency_ms=2500)
    response = submit(client, pending, sandbox.make_key(seed="acme"))
    assert UNREACHABLE in response.content.decode()
    assert_nothing_stored(pending)


def test_it_checks_the_form_before_calling_clear_books(client, pending, sandbox):
    calls = sandbox.calls()  # counted from here: the sandbox is shared by the whole session
    empty = submit(client, pending, "   ")
    assert "Paste your API key into this box." in empty.content.decode()
    spaced = submit(client, pending, "abc def")
    assert "An API key has no spaces" in spaced.content.decode()
    assert not LinkAttempt.objects.exists()
    assert sandbox.calls() == calls
    assert_nothing_stored(pending)


#
# Tokens that cannot be used
#


def test_it_refuses_an_unknown_token(client, clearbooks):
    for response in (client.get("/link/not-a-token/"), client.post("/link/not-a-token/", {"api_key": "x"})):
        assert response.status_code == 404
        assert "This Link URL does not exist." in response.content.decode()
    # Each visit counts against the address as a guess (see test_it_limits_guessing_link_urls); no key is kept.
    attempts = list(LinkAttempt.objects.values_list("outcome", "token_hash"))
    assert attempts == [("unknown", token_hash("not-a-token"))] * 2


def test_it_limits_guessing_link_urls_per_client_address(client, pending, settings):
    """An address that opened LINK_ADDRESS_RATE_LIMIT Link URLs that do not exist is paused, even for a real one."""
    settings.LINK_ADDRESS_RATE_LIMIT = 5
    for i in range(4):
        assert client.get(f"/link/guess-{i}/").status_code == 404
    assert client.get("/link/guess-4/done/").status_code == 404  # the thank-you page counts as well: the fifth
    guessed = client.get("/link/guess-next/")
    assert guessed.status_code == 429 and "Too many failed attempts from your network." in guessed.content.decode()
    assert "does not exist" not in guessed.content.decode()  # a locked guesser learns nothing more
    assert client.get(link(pending)).status_code == 429
    assert client.get(link(pending), REMOTE_ADDR="192.0.2.200").status_code == 200  # another address is not paused
    # The window passes: the address may open Link URLs again.
    LinkAttempt.objects.update(created_at=timezone.now() - timedelta(minutes=settings.LINK_RATE_WINDOW_MINUTES + 1))
    assert client.get(link(pending)).status_code == 200


def test_it_refuses_an_expired_token(client, pending, sandbox):
    pending.link_token_expires_at = timezone.now() - timedelta(seconds=1)
    pending.save()
    assert client.get(link(pending)).status_code == 410
    calls = sandbox.calls()  # counted from here: the sandbox is shared by the whole session
    response = submit(client, pending, sandbox.make_key(seed="acme"))
    assert response.status_code == 410
    assert "This Link URL has expired." in response.content.decode()
    assert_nothing_stored(pending)
    assert sandbox.calls() == calls  # the key was never sent to Clear Books


def test_it_refuses_a_token_that_was_used(client, pending, sandbox):
    assert submit(client, pending, sandbox.make_key(seed="acme")).status_code == 302
    response = client.get(link(pending))
    assert response.status_code == 410
    assert "This Link URL has already been used." in response.content.decode()
    other = sandbox.make_key(seed="someone-else")
    assert submit(client, pending, other).status_code == 410
    pending.refresh_from_db()
    assert credentials.connection_credentials(pending) != {"api_key": other}


def test_it_refuses_links_while_the_integration_is_switched_off(client, pending, sandbox):
    factory.get_integration("jhch", enabled=False)
    response = client.get(link(pending))
    assert response.status_code == 503
    assert "Clear Books is switched off in this portal" in response.content.decode()
    calls = sandbox.calls()  # counted from here: the sandbox is shared by the whole session
    assert submit(client, pending, sandbox.make_key(seed="acme")).status_code == 503
    assert_nothing_stored(pending)
    assert sandbox.calls() == calls  # the key was never sent to Clear Books


def test_it_shows_the_thank_you_page_only_after_linking(client, pending):
    response = client.get(reverse("connections:link-done", args=[pending.link_token]))
    assert response.status_code == 302 and response["Location"] == link(pending)
    assert client.get("/link/unknown/done/").status_code == 404


#
# Rate limits
#


def pending_links(n):
    links = [factory.make_connection(status=S.PENDING_AUTH) for _ in range(n)]
    for conn in links:
        issue_link_url(conn)
    return links


def test_it_locks_a_link_url_after_its_failed_attempts_and_says_until_when(client, pending, sandbox, settings):
    for i in range(settings.LINK_RATE_LIMIT):
        response = submit(client, pending, f"CBWRONGKEY{i:012}", REMOTE_ADDR=f"10.0.0.{i + 1}")
        assert REJECTED in response.content.decode()
    calls = sandbox.calls()
    response = submit(client, pending, sandbox.make_key(seed="acme"), REMOTE_ADDR="10.0.1.1")
    assert response.status_code == 429
    html = response.content.decode()
    assert "This Link URL is locked for a while." in html
    unlocks = LinkAttempt.objects.order_by("created_at").first().created_at + timedelta(
        minutes=settings.LINK_RATE_WINDOW_MINUTES
    )
    assert f'<time datetime="{unlocks.isoformat()}"' in html  # when it works again
    assert 0 < int(response["Retry-After"]) <= settings.LINK_RATE_WINDOW_MINUTES * 60
    assert sandbox.calls() == calls  # not even checked with Clear Books
    assert_nothing_stored(pending)
    # Once the window has passed, the Link URL works again.
    LinkAttempt.objects.update(created_at=timezone.now() - timedelta(minutes=settings.LINK_RATE_WINDOW_MINUTES + 1))
    assert submit(client, pending, sandbox.make_key(seed="acme"), REMOTE_ADDR="10.0.1.1").status_code == 302


def test_a_locked_link_url_says_so_when_it_is_opened(client, pending, settings):
    LinkAttempt.objects.bulk_create(
        LinkAttempt(token_hash=token_hash(pending.link_token), client_address=f"10.0.0.{i}", outcome="rejected")
        for i in range(settings.LINK_RATE_LIMIT)
    )
    response = client.get(link(pending), REMOTE_ADDR="192.0.2.50")  # anyone, from anywhere
    assert response.status_code == 429
    html = response.content.decode()
    assert "This Link URL is locked for a while." in html and "You can try again from" in html
    assert 'type="password"' not in html  # no form to paste a key into, only to be refused
    assert response["Retry-After"]


def test_one_address_does_not_block_every_link_url(client, clearbooks, sandbox, settings):
    """Issue #13: ten attempts on any Link URLs from one address, successful ones and the demo's
    included, then a never-used Link URL with the right key: it must link (it answered 429)."""
    address = "203.0.113.9"  # the office's, or the load balancer's
    links = pending_links(settings.LINK_RATE_LIMIT + 1)
    for i, conn in enumerate(links[:-1]):
        key = sandbox.make_key(seed=f"office-{i}") if i % 2 else f"CBWRONGKEY{i:012}"
        assert submit(client, conn, key, REMOTE_ADDR=address).status_code in (200, 302)
    response = submit(client, links[-1], sandbox.make_key(seed="newcomer"), REMOTE_ADDR=address)
    assert response.status_code == 302
    links[-1].refresh_from_db()
    assert links[-1].status == S.LINKED


def test_successful_links_never_count(client, clearbooks, sandbox, settings):
    settings.LINK_RATE_LIMIT = settings.LINK_ADDRESS_RATE_LIMIT = 2
    links = pending_links(4)
    for i, conn in enumerate(links):
        response = submit(client, conn, sandbox.make_key(seed=f"firm-{i}"), REMOTE_ADDR="203.0.113.9")
        assert response.status_code == 302, i
    assert set(LinkAttempt.objects.values_list("outcome", flat=True)) == {"accepted"}


def test_attempts_clear_books_could_not_check_do_not_count(client, pending, sandbox, settings):
    settings.LINK_RATE_LIMIT = 2
    settings.CLEARBOOKS_WSDL_URL = f"http://127.0.0.1:{closed_port()}/api/accounting/wsdl/"
    for _ in range(3):
        assert UNREACHABLE in submit(client, pending, sandbox.make_key(seed="acme")).content.decode()
    assert client.get(link(pending)).status_code == 200


def test_it_limits_failed_attempts_per_client_address(client, clearbooks, sandbox, settings):
    settings.LINK_ADDRESS_RATE_LIMIT = 3
    links = pending_links(settings.LINK_ADDRESS_RATE_LIMIT + 1)
    for conn in links[:-1]:
        assert REJECTED in submit(client, conn, "CBWRONGKEY000000000000", REMOTE_ADDR="203.0.113.9").content.decode()
    last = links[-1]
    opened = client.get(link(last), REMOTE_ADDR="203.0.113.9")
    assert opened.status_code == 429
    assert "Too many failed attempts from your network." in opened.content.decode()
    response = submit(client, last, sandbox.make_key(seed="acme"), REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 429
    assert_nothing_stored(last)
    # Another address is not held back by the first one's attempts.
    assert submit(client, last, sandbox.make_key(seed="acme"), REMOTE_ADDR="198.51.100.7").status_code == 302


def test_the_default_address_limit_lets_an_office_get_past_ten_failures(settings):
    assert settings.LINK_RATE_LIMIT == 10
    assert settings.LINK_ADDRESS_RATE_LIMIT >= 50


def test_counts_attempts_still_being_checked_so_a_burst_cannot_slip_under_the_limit(pending, settings):
    settings.LINK_RATE_LIMIT = 3
    for _ in range(3):
        LinkAttempt.objects.create(token_hash=token_hash(pending.link_token), client_address="10.0.0.1")  # outcome ""
    lock = lockout(pending.link_token, "10.0.0.2")
    assert lock is not None and lock.scope == "link"


#
# The client's address behind proxies
#


@pytest.mark.parametrize(
    ("proxies", "forwarded_for", "expected"),
    [
        (0, "", "192.0.2.10"),
        (0, "198.51.100.1", "192.0.2.10"),  # no proxy configured: the header is anyone's to write
        (1, "198.51.100.1", "198.51.100.1"),
        (1, "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # what the client wrote itself is ignored
        (2, "6.6.6.6, 198.51.100.1, 10.1.2.3", "198.51.100.1"),
        (2, "198.51.100.1", "192.0.2.10"),  # too short to be our proxies' doing
        (1, "not an address", "192.0.2.10"),
    ],
)
def test_it_takes_the_client_address_from_the_trusted_proxies(rf, settings, proxies, forwarded_for, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    meta = {"REMOTE_ADDR": "192.0.2.10"}
    if forwarded_for:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded_for
    assert client_address(rf.get("/link/x/", **meta)) == expected


def test_behind_a_load_balancer_one_customers_failures_leave_another_alone(client, clearbooks, sandbox, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.LINK_ADDRESS_RATE_LIMIT = 2
    balancer = {"REMOTE_ADDR": "10.0.0.2"}
    first, second = pending_links(2)
    for _ in range(2):
        submit(client, first, "CBWRONGKEY000000000000", HTTP_X_FORWARDED_FOR="198.51.100.1", **balancer)
    assert client.get(link(second), HTTP_X_FORWARDED_FOR="198.51.100.1", **balancer).status_code == 429
    other_customer = {"HTTP_X_FORWARDED_FOR": "203.0.113.77", **balancer}
    assert client.get(link(second), **other_customer).status_code == 200
    assert submit(client, second, sandbox.make_key(seed="other"), **other_customer).status_code == 302


#
# Relinking
#


@pytest.mark.parametrize("current", [S.DEAUTHORIZED, S.UNLINKED])
def test_it_relinks_through_a_new_link_url_and_updates_the_credentials(
    client, admin_client, clearbooks, sandbox, current
):
    old_key, new_key = sandbox.make_key(seed="old"), sandbox.make_key(seed="new")
    conn = factory.make_connection(status=S.LINKED)
    credentials.store_credentials(conn, {"api_key": old_key}, validated_by="link")
    old_fingerprint = conn.credentials_fingerprint
    record = factory.make_record(conn)
    if current == S.UNLINKED:
        admin_client.post(reverse("connections:connection-unlink", args=[conn.pk]))
    else:
        from connections import status

        status.move(conn, S.DEAUTHORIZED, reason="Clear Books rejected the API key")
    admin_client.post(reverse("connections:connection-new-link-url", args=[conn.pk]))
    conn.refresh_from_db()
    assert conn.status == current and conn.link_token

    anonymous = Client()
    assert anonymous.get(link(conn)).status_code == 200
    assert submit(anonymous, conn, new_key).status_code == 302
    conn.refresh_from_db()
    assert conn.status == S.LINKED
    assert credentials.connection_credentials(conn) == {"api_key": new_key}
    assert conn.credentials_fingerprint != old_fingerprint
    assert conn.records.filter(pk=record.pk).exists()  # data read before is kept
    accepted = conn.events.get(kind=Kind.LINK_ACCEPTED)
    assert "relinked" in accepted.message and accepted.detail["relink"] is True
    assert conn.pulls.filter(trigger=PullOperation.Trigger.FIRST_LINK).exists()


def test_it_forgets_attempts_older_than_a_day(client, pending, sandbox):
    old = LinkAttempt.objects.create(token_hash="x" * 64, client_address="192.0.2.1", outcome="rejected")
    LinkAttempt.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=1, minutes=1))
    recent = LinkAttempt.objects.create(token_hash="y" * 64, client_address="192.0.2.1", outcome="rejected")
    submit(client, pending, "CBWRONGKEY000000000000")
    assert not LinkAttempt.objects.filter(pk=old.pk).exists()
    assert LinkAttempt.objects.filter(pk=recent.pk).exists()
    assert LinkAttempt.objects.count() == 2
