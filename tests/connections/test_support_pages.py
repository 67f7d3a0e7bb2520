"""Company, connection and their safe actions, per role, through real requests."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from connections.credentials import store_credentials
from connections.events import record_event
from connections.link import issue_link_url
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
    assert html.count('class="tone-') == 30
    assert "timeline=100" in html
    html = admin_client.get(url + "?timeline=100").content.decode()
    assert html.count('class="tone-') == ConnectionEvent.objects.filter(connection=linked).count()
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
