"""Company, connection and their safe actions, per role, through real requests."""

from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from connections.credentials import store_credentials
from connections.events import record_event
from connections.link_urls import issue_link_url
from connections.models import Connection, ConnectionEvent, PullOperation
from tests import factory

S = Connection.Status
P = PullOperation.Status
KEY = "sk-test-0123456789abcdefghijklmnop"


@pytest.fixture
def linked(clearbooks):
    company = factory.make_company("Acme Widgets Ltd")
    connection = factory.make_connection(company)
    store_credentials(connection, {"api_key": KEY}, "link")
    pull = factory.make_pull(connection, "invoices", records_fetched=12, records_created=12)
    factory.make_data_status(
        connection,
        "invoices",
        current_status=P.COMPLETE,
        last_successful_sync_at=timezone.now(),
        latest_pull=pull,
        latest_successful_pull=pull,
    )
    return connection


def pages(connection):
    return [
        reverse("connections:dashboard"),
        reverse("connections:company-detail", args=[connection.company_id]),
        reverse("connections:connection-detail", args=[connection.pk]),
        reverse("connections:pull-list"),
        reverse("connections:company-pulls", args=[connection.company_id]),
        reverse("connections:record-list", args=[connection.pk, "invoices"]),
    ]


def test_it_shows_every_support_page_to_admin_and_support_and_refuses_the_outsider(
    client, linked, admin_user, support_user, outsider_user
):
    pull = linked.pulls.get()
    record = factory.make_record(linked, last_pull=pull)
    urls = pages(linked) + [
        reverse("connections:pull-detail", args=[pull.pk]),
        reverse("connections:pull-progress", args=[pull.pk]),
        reverse("connections:record-detail", args=[record.pk]),
    ]
    for url in urls:
        client.logout()
        assert client.get(url).status_code == 302, url  # anonymous: to the login page
        client.force_login(outsider_user)
        assert client.get(url).status_code == 403, url
        for user in (admin_user, support_user):
            client.force_login(user)
            response = client.get(url)
            assert response.status_code == 200, (url, user)
            assert KEY.encode() not in response.content


def test_it_shows_the_company_with_its_connection_and_data_status(admin_client, linked):
    response = admin_client.get(reverse("connections:company-detail", args=[linked.company_id]))
    html = response.content.decode()
    assert "Acme Widgets Ltd" in html
    assert 'badge--good">Linked<' in html
    assert "Invoices" in html and 'badge--good">Complete<' in html
    assert reverse("connections:pull-detail", args=[linked.pulls.get().pk]) in html


def test_it_shows_admin_actions_only_to_admin(client, linked, admin_user, support_user):
    url = reverse("connections:company-detail", args=[linked.company_id])
    admin_only = [
        reverse("connections:connection-unlink", args=[linked.pk]),
        reverse("connections:connection-delete", args=[linked.pk]),
        reverse("connections:company-edit", args=[linked.company_id]),
        reverse("connections:company-delete", args=[linked.company_id]),
        reverse("connections:connection-create", args=[linked.company_id]),
    ]
    refresh = reverse("connections:connection-refresh", args=[linked.pk])
    client.force_login(admin_user)
    html = client.get(url).content.decode()
    assert all(u in html for u in admin_only) and refresh in html
    client.force_login(support_user)
    html = client.get(url).content.decode()
    assert not any(u in html for u in admin_only)
    assert refresh in html


def test_it_shows_a_live_link_url_with_a_copy_button(admin_client, clearbooks):
    connection = factory.make_connection(status=S.PENDING_AUTH)
    token = issue_link_url(connection)
    html = admin_client.get(reverse("connections:company-detail", args=[connection.company_id])).content.decode()
    assert reverse("connections:link", args=[token]) in html
    assert 'data-copy="#link-url-' in html


def test_it_hides_an_expired_link_url(admin_client, clearbooks):
    connection = factory.make_connection(status=S.PENDING_AUTH)
    token = issue_link_url(connection)
    Connection.objects.filter(pk=connection.pk).update(link_token_expires_at=timezone.now() - timedelta(minutes=1))
    html = admin_client.get(reverse("connections:connection-detail", args=[connection.pk])).content.decode()
    assert token not in html
    assert "The Link URL expired on" in html


def test_it_shows_the_fingerprint_to_admin_and_only_set_to_support(client, linked, admin_user, support_user):
    url = reverse("connections:connection-detail", args=[linked.pk])
    client.force_login(admin_user)
    html = client.get(url).content.decode()
    assert linked.credentials_fingerprint in html
    assert "by link" in html
    client.force_login(support_user)
    html = client.get(url).content.decode()
    assert linked.credentials_fingerprint not in html
    assert '<dd class="mono credentials-shown">set</dd>' in html


def test_it_lists_the_timeline_newest_first_with_integration_changes(admin_client, linked, admin_user):
    record_event(linked, ConnectionEvent.Kind.NOTE, "first note", actor=admin_user)
    from integrations import services

    services.set_enabled(linked.integration, False, admin_user)
    record_event(linked, ConnectionEvent.Kind.NOTE, "second note", actor=admin_user)
    html = admin_client.get(reverse("connections:connection-detail", args=[linked.pk])).content.decode()
    assert html.index("second note") < html.index("Clear Books: switched off") < html.index("first note")
    assert "Clear Books is switched off in this portal" in html
    assert "paused — integration is off" in html


def test_it_caps_the_timeline_and_shows_more_on_request(admin_client, linked):
    ConnectionEvent.objects.bulk_create(
        ConnectionEvent(connection=linked, kind="note", message=f"note {i}", actor_label="sam") for i in range(40)
    )
    url = reverse("connections:connection-detail", args=[linked.pk])
    html = admin_client.get(url).content.decode()
    assert html.count('class="tone-') == 30  # the pull, older than the 30th note, waits for "Show more"
    assert "timeline=100" in html
    html = admin_client.get(url + "?timeline=100").content.decode()
    shown = ConnectionEvent.objects.filter(connection=linked).count() + linked.pulls.count()
    assert html.count('class="tone-') == shown
    assert "Show more" not in html


def test_it_adds_a_note_with_who_and_when(support_client, linked):
    url = reverse("connections:connection-note", args=[linked.pk])
    response = support_client.post(url, {"text": "Customer says they rotated the key on Monday."}, follow=True)
    assert response.status_code == 200
    note = ConnectionEvent.objects.get(connection=linked, kind="note")
    assert note.actor_label == "sam"
    html = response.content.decode()
    assert "Customer says they rotated the key on Monday." in html
    assert "Note added to the timeline." in html


def test_it_refuses_a_note_holding_the_stored_key_without_echoing_it(support_client, linked):
    url = reverse("connections:connection-note", args=[linked.pk])
    response = support_client.post(url, {"text": f"Their key is {KEY[:10]} {KEY[10:]} fyi"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "This note contains the connection&#x27;s Clear Books API key" in html
    assert KEY[:10] not in html and KEY not in html
    assert not ConnectionEvent.objects.filter(connection=linked, kind="note").exists()


def test_it_keeps_the_text_of_an_overlong_note(support_client, linked):
    url = reverse("connections:connection-note", args=[linked.pk])
    text = "x" * 1001
    html = support_client.post(url, {"text": text}).content.decode()
    assert "Keep notes under 1000 characters." in html
    assert text in html


def test_it_refuses_actions_to_those_without_the_permission(client, linked, outsider_user):
    client.force_login(outsider_user)
    for name in ("connections:connection-test", "connections:connection-note"):
        assert client.post(reverse(name, args=[linked.pk]), {"text": "hi"}).status_code == 403
    assert not ConnectionEvent.objects.filter(connection=linked, kind__in=["note", "test"]).exists()


def test_it_only_accepts_posts_for_actions(support_client, linked):
    for name in ("connections:connection-test", "connections:connection-note"):
        assert support_client.get(reverse(name, args=[linked.pk])).status_code == 405


#
# Test connection, over HTTP against the sandbox
#


@pytest.fixture
def sandbox_linked(sandbox, clearbooks):
    key = sandbox.make_key(seed="test-connection", invoices=5)
    connection = factory.make_connection(factory.make_company("Sandbox Ltd"))
    store_credentials(connection, {"api_key": key}, "link")
    Connection.objects.filter(pk=connection.pk).update(credentials_validated_at=timezone.now() - timedelta(days=2))
    return connection, key


def test_it_tests_a_good_key_and_marks_it_validated_by_test(support_client, sandbox_linked):
    connection, key = sandbox_linked
    response = support_client.post(reverse("connections:connection-test", args=[connection.pk]), follow=True)
    html = response.content.decode()
    assert "Clear Books accepted the stored credentials." in html
    connection.refresh_from_db()
    assert connection.status == S.LINKED
    assert connection.credentials_validated_by == "test"
    assert timezone.now() - connection.credentials_validated_at < timedelta(minutes=1)
    event = ConnectionEvent.objects.get(connection=connection, kind="test")
    assert event.detail["result"] == "valid" and event.actor_label == "sam"
    assert key not in html and key not in event.message


def test_it_deauthorizes_only_when_clear_books_rejects_the_key(support_client, sandbox_linked, sandbox):
    connection, key = sandbox_linked
    sandbox.revoke(key)
    response = support_client.post(reverse("connections:connection-test", args=[connection.pk]), follow=True)
    connection.refresh_from_db()
    assert connection.status == S.DEAUTHORIZED
    html = response.content.decode()
    assert "Clear Books rejected the stored credentials; the connection is now Deauthorized." in html
    assert "Clear Books rejected the API key on" in html  # the diagnosis at the top
    kinds = list(ConnectionEvent.objects.filter(connection=connection).values_list("kind", flat=True))
    assert kinds[:2] == ["status_changed", "test"]
    assert key not in html


def test_it_changes_nothing_when_clear_books_is_unreachable(support_client, sandbox_linked, settings):
    connection, _ = sandbox_linked
    settings.CLEARBOOKS_WSDL_URL = "http://127.0.0.1:9/nothing-listens-here?wsdl"
    before = Connection.objects.get(pk=connection.pk)
    response = support_client.post(reverse("connections:connection-test", args=[connection.pk]), follow=True)
    assert "Could not reach Clear Books, so nothing was changed." in response.content.decode()
    after = Connection.objects.get(pk=connection.pk)
    assert (after.status, after.credentials_validated_at) == (S.LINKED, before.credentials_validated_at)
    assert ConnectionEvent.objects.get(connection=connection, kind="test").detail["result"] == "unreachable"


def test_it_says_there_is_nothing_to_test_without_a_key(support_client, clearbooks):
    connection = factory.make_connection(status=S.PENDING_AUTH)
    response = support_client.post(reverse("connections:connection-test", args=[connection.pk]), follow=True)
    assert "No credentials are stored for this connection, so there is nothing to test." in response.content.decode()
    assert not ConnectionEvent.objects.filter(connection=connection, kind="test").exists()


#
# The timeline after a scripted life: created, link attempts, linked, syncs, a failure,
# deauthorized, relinked; all through the real functions, the Link page and the sandbox.
#


def run_queued(connection):
    from connections.sync.tasks import run_pull

    for pull in PullOperation.objects.filter(connection=connection, status=P.QUEUED).order_by("pk"):
        run_pull(pull.pk)


def test_it_tells_the_whole_life_of_a_connection_newest_first(client, sandbox, clearbooks, admin_user):
    from connections import lifecycle
    from connections.sync.queueing import queue_refresh
    from integrations import services

    sandbox.configure(page_sizes={"listInvoices": 50})
    key = sandbox.make_key(seed="life", invoices=30, bills=5, customers=4, suppliers=3, both=1)
    company = lifecycle.create_company("Life Ltd", user=admin_user)
    connection = lifecycle.create_connection(company, clearbooks, admin_user)
    link = reverse("connections:link", args=[connection.link_token])
    client.post(link, {"api_key": "sbxNOTAREALKEY0000"})  # rejected
    client.post(link, {"api_key": key})  # accepted: Linked, first-link pulls queued
    connection.refresh_from_db()
    assert connection.status == S.LINKED
    run_queued(connection)
    services.set_enabled(clearbooks, False, admin_user)
    services.set_enabled(clearbooks, True, admin_user)
    sandbox.fail_next("fault", count=5, key=key, operation="listInvoices")
    queue_refresh(connection, ["invoices"], user=admin_user)
    run_queued(connection)  # fails
    sandbox.revoke(key)
    queue_refresh(connection, ["bills"], user=admin_user)
    run_queued(connection)  # AuthError: Deauthorized
    connection.refresh_from_db()
    assert connection.status == S.DEAUTHORIZED
    client.force_login(admin_user)
    client.post(reverse("connections:connection-new-link-url", args=[connection.pk]))
    connection.refresh_from_db()
    client.logout()
    new_key = sandbox.make_key(seed="life-2", invoices=30)
    client.post(reverse("connections:link", args=[connection.link_token]), {"api_key": new_key})
    connection.refresh_from_db()
    assert connection.status == S.LINKED

    client.force_login(admin_user)
    response = client.get(reverse("connections:connection-detail", args=[connection.pk]), {"timeline": 100})
    entries = response.context["timeline"]
    labels = [e.label for e in reversed(entries)]  # oldest first, to read as a story

    def after(label, start=0):
        return labels.index(label, start)

    created = after("Created")
    rejected = after("Link rejected", created)
    accepted = after("Link accepted", rejected)
    linked = after("Status changed", accepted)
    # The first link's eight pulls, one after another, fold into one entry listing them.
    completed = after("8 pulls", linked)
    assert entries[len(entries) - 1 - completed].message.startswith("8 complete; ")
    off = after("Switched off", completed)
    on = after("Switched on", off)
    failed = after("Pull failed", on)
    deauthorized = after("Status changed", failed)
    issued = after("Link URL issued", deauthorized)
    relinked = after("Link accepted", issued)
    assert after("Status changed", relinked) > relinked
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)
    messages = " | ".join(e.message for e in entries)
    assert "from Linked to Deauthorized" in messages and "from Deauthorized to Linked" in messages
    html = response.content.decode()
    assert key not in html and new_key not in html and key not in messages


#
# Bounded queries: the same count with a little data and with a lot more
#


def grow(connection, n):
    """n more pulls, events, records and data statuses for one connection, plus n more companies."""
    now = timezone.now()
    PullOperation.objects.bulk_create(
        PullOperation(
            connection=connection,
            data_type="invoices",
            status=P.COMPLETE,
            trigger="schedule",
            requested_at=now - timedelta(minutes=i),
        )
        for i in range(n)
    )
    ConnectionEvent.objects.bulk_create(
        ConnectionEvent(connection=connection, kind="note", message=f"note {i}", actor_label="sam") for i in range(n)
    )
    for i in range(n):
        factory.make_record(connection, remote_id=f"grow-{n}-{i}")
        other = factory.make_connection(factory.make_company(), status=S.DEAUTHORIZED)
        factory.make_data_status(other, "invoices", failures_in_row=0)


# Queries per page, including the session, the user and its permissions.
# The company's own sync settings cost the health rows one query (company: its settings table two more);
# the dashboard, company and connection pages each read one more for webhooks (disabled endpoints; what was
# told; the messages still being sent: the delivered and failed ones are timeline rows, read with the others).
QUERY_BOUNDS = {"dashboard": 17, "company": 14, "connection": 14, "pulls": 8, "company-pulls": 10, "records": 8}


@pytest.mark.parametrize("page", list(QUERY_BOUNDS))
def test_it_runs_a_bounded_number_of_queries_whatever_the_size(admin_client, linked, page):
    url = dict(zip(QUERY_BOUNDS, pages(linked), strict=True))[page]
    counts = []
    for n in (2, 60):
        grow(linked, n)
        with CaptureQueriesContext(db_connection) as queries:
            assert admin_client.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1] <= QUERY_BOUNDS[page], counts
