"""Companies page, company and connection admin: through real requests with the personas."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from connections import credentials
from connections.models import Company, Connection, ConnectionEvent, PullOperation, Record
from integrations.models import AuditEvent, Integration
from tests import factory

S = Connection.Status
LIST = reverse("connections:company-list")


def detail(company):
    return reverse("connections:company-detail", args=[company.pk])


#
# The Companies page
#


def test_it_lists_companies_with_connection_badges_and_last_sync(admin_client, clearbooks):
    synced = timezone.now() - timedelta(hours=2)
    acme = factory.make_company("Acme Ltd", last_synced_at=synced)
    factory.make_connection(acme, status=S.LINKED)
    factory.make_company("Brick & Co")
    response = admin_client.get(LIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Acme Ltd" in html and "Brick &amp; Co" in html
    assert '<span class="badge badge--good">Linked</span> Clear Books' in html
    assert "No connections yet" in html
    assert synced.isoformat() in html  # the <time> of the last successful sync
    assert detail(acme) in html


def test_it_searches_by_name_company_id_and_connection_id(support_client, clearbooks):
    acme = factory.make_company("Acme Ltd")
    other = factory.make_company("Other plc")
    conn = factory.make_connection(other)
    names = lambda r: [c.name for c in r.context["companies"]]  # noqa: E731
    assert names(support_client.get(LIST, {"q": "acme"})) == ["Acme Ltd"]
    assert names(support_client.get(LIST, {"q": str(acme.pk)})) == ["Acme Ltd"]
    assert names(support_client.get(LIST, {"q": str(conn.pk)})) == ["Other plc"]
    response = support_client.get(LIST, {"q": "nothing like it"})
    assert names(response) == []
    assert "No company matches these filters." in response.content.decode()


def test_it_filters_by_connection_status_and_integration(support_client, clearbooks):
    linked = factory.make_company("Linked Co")
    factory.make_connection(linked, status=S.LINKED)
    pending = factory.make_company("Pending Co")
    factory.make_connection(pending, status=S.PENDING_AUTH)
    factory.make_company("Bare Co")
    names = lambda r: [c.name for c in r.context["companies"]]  # noqa: E731
    assert names(support_client.get(LIST, {"status": "PendingAuth"})) == ["Pending Co"]
    assert names(support_client.get(LIST, {"status": "Linked"})) == ["Linked Co"]
    assert names(support_client.get(LIST, {"integration": "jhch"})) == ["Linked Co", "Pending Co"]
    # A made-up filter value is ignored, not an error.
    assert len(names(support_client.get(LIST, {"status": "Bogus"}))) == 3


def test_it_sorts_by_name_created_and_last_sync(support_client, db):
    now = timezone.now()
    factory.make_company("B", created_at=now - timedelta(days=1), last_synced_at=now - timedelta(hours=5))
    factory.make_company("A", created_at=now - timedelta(days=3), last_synced_at=None)
    factory.make_company("C", created_at=now - timedelta(days=2), last_synced_at=now - timedelta(hours=1))
    names = lambda sort: [c.name for c in support_client.get(LIST, {"sort": sort}).context["companies"]]  # noqa: E731
    assert names("name") == ["A", "B", "C"]
    assert names("-name") == ["C", "B", "A"]
    assert names("-created") == ["B", "C", "A"]
    assert names("created") == ["A", "C", "B"]
    assert names("-last_sync") == ["C", "B", "A"]  # never synced goes last
    assert names("last_sync") == ["B", "C", "A"]


def test_it_paginates_by_25(support_client, db):
    Company.objects.bulk_create([Company(name=f"Company {i:03}") for i in range(30)])
    first = support_client.get(LIST)
    assert len(first.context["companies"]) == 25
    assert "Page 1 of 2" in first.content.decode()
    second = support_client.get(LIST, {"page": 2})
    assert [c.name for c in second.context["companies"]] == [f"Company {i:03}" for i in range(25, 30)]


def test_it_lists_with_a_bounded_number_of_queries(admin_client, clearbooks, django_assert_max_num_queries):
    for i in range(25):
        company = factory.make_company(f"Company {i:02}")
        factory.make_connection(company, status=S.LINKED if i % 2 else S.PENDING_AUTH)
    admin_client.get(LIST)  # warm up the session and permission caches of this client
    with django_assert_max_num_queries(10):
        response = admin_client.get(LIST, {"q": "Company", "status": "Linked", "integration": "jhch"})
    assert len(response.context["companies"]) == 12


def test_it_lets_support_see_companies_but_not_change_them(support_client, client, db):
    company = factory.make_company("Acme Ltd")
    assert support_client.get(LIST).status_code == 200
    assert "Add company" not in support_client.get(LIST).content.decode()
    for name in ("connections:company-edit", "connections:company-delete", "connections:connection-create"):
        assert support_client.get(reverse(name, args=[company.pk])).status_code == 403
    assert support_client.get(reverse("connections:company-create")).status_code == 403
    assert support_client.post(reverse("connections:company-create"), {"name": "X"}).status_code == 403
    client.logout()
    response = client.get(LIST)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


#
# Create, edit, delete a company
#


def test_it_creates_a_company_and_audits_it(admin_client, admin_user):
    response = admin_client.post(reverse("connections:company-create"), {"name": "  Acme   Ltd ", "description": "UK"})
    company = Company.objects.get()
    assert company.name == "Acme Ltd"
    assert company.created_by == admin_user
    assert response.status_code == 302 and response["Location"] == detail(company)
    event = AuditEvent.objects.get(action=AuditEvent.Action.COMPANY_CREATED)
    assert (event.actor, event.target, event.target_id) == (admin_user, "Acme Ltd", str(company.pk))


def test_it_refuses_a_company_without_a_name_and_keeps_the_input(admin_client):
    response = admin_client.post(reverse("connections:company-create"), {"name": "   ", "description": "kept"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Give the company a name." in html
    assert "kept" in html
    assert not Company.objects.exists()


def test_it_renames_a_company_and_audits_the_change(admin_client, admin_user):
    company = factory.make_company("Acme")
    assert admin_client.get(reverse("connections:company-edit", args=[company.pk])).status_code == 200
    response = admin_client.post(reverse("connections:company-edit", args=[company.pk]), {"name": "Acme Ltd"})
    assert response["Location"] == detail(company)
    company.refresh_from_db()
    assert company.name == "Acme Ltd"
    event = AuditEvent.objects.get(action=AuditEvent.Action.COMPANY_CHANGED)
    assert event.changes == [{"field": "name", "before": "Acme", "after": "Acme Ltd"}]


def test_it_confirms_then_deletes_a_company_with_its_data(admin_client, admin_user, clearbooks):
    company = factory.make_company("Acme Ltd")
    conn = factory.make_connection(company)
    factory.make_connection(company, status=S.UNLINKED)
    pull = factory.make_pull(conn)
    for _ in range(3):
        factory.make_record(conn, last_pull=pull)
    keep = factory.make_connection()
    factory.make_record(keep)
    url = reverse("connections:company-delete", args=[company.pk])
    page = admin_client.get(url).content.decode()
    assert "<strong>2</strong> connections" in page
    assert "<strong>3</strong> synced records" in page
    assert Company.objects.filter(pk=company.pk).exists()  # GET deletes nothing
    response = admin_client.post(url)
    assert response["Location"] == LIST
    assert not Company.objects.filter(pk=company.pk).exists()
    assert Record.objects.count() == 1 and Connection.objects.count() == 1
    event = AuditEvent.objects.get(action=AuditEvent.Action.COMPANY_DELETED)
    assert event.target == "Acme Ltd"
    assert {"field": "records", "before": 3, "after": 0} in event.changes


#
# Connections
#


def test_it_adds_a_pending_connection_with_a_link_url(admin_client, admin_user, clearbooks):
    company = factory.make_company("Acme Ltd")
    url = reverse("connections:connection-create", args=[company.pk])
    assert "Clear Books" in admin_client.get(url).content.decode()
    response = admin_client.post(url, {"integration": clearbooks.pk})
    assert response["Location"] == detail(company)
    conn = company.connections.get()
    assert conn.status == S.PENDING_AUTH
    assert conn.category == "Accounting"
    assert len(conn.link_token) >= 43
    assert conn.link_token_expires_at > timezone.now() + timedelta(days=6)
    kinds = set(conn.events.values_list("kind", flat=True))
    assert kinds == {ConnectionEvent.Kind.CREATED, ConnectionEvent.Kind.LINK_URL_ISSUED}
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {AuditEvent.Action.CONNECTION_CREATED, AuditEvent.Action.LINK_URL_ISSUED} <= actions
    assert all(conn.link_token not in str(e.changes) for e in AuditEvent.objects.all())


def test_it_offers_only_enabled_integrations(admin_client, db):
    factory.get_integration("jhch", enabled=False)
    company = factory.make_company()
    url = reverse("connections:connection-create", args=[company.pk])
    assert "No integration is switched on" in admin_client.get(url).content.decode()
    response = admin_client.post(url, {"integration": Integration.objects.get(key="jhch").pk})
    assert response.status_code == 200
    assert "switched off or does not exist" in response.content.decode()
    assert not company.connections.exists()


def test_it_refuses_a_second_active_accounting_connection_in_code(admin_client, clearbooks):
    company = factory.make_company("Acme Ltd")
    factory.make_connection(company, status=S.DEAUTHORIZED)
    response = admin_client.post(
        reverse("connections:connection-create", args=[company.pk]), {"integration": clearbooks.pk}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Acme Ltd already has an active Accounting connection (Clear Books, Deauthorized)" in html
    assert 'class="field field--error"' in html  # next to the field
    assert company.connections.count() == 1


def test_it_allows_a_new_connection_once_the_old_one_is_unlinked(admin_client, clearbooks):
    company = factory.make_company()
    factory.make_connection(company, status=S.UNLINKED)
    admin_client.post(reverse("connections:connection-create", args=[company.pk]), {"integration": clearbooks.pk})
    assert sorted(company.connections.values_list("status", flat=True)) == ["PendingAuth", "Unlinked"]


def test_it_refuses_a_second_active_accounting_connection_in_the_database(clearbooks):
    company = factory.make_company()
    factory.make_connection(company, status=S.LINKED)
    with pytest.raises(IntegrityError), transaction.atomic():
        factory.make_connection(company, status=S.PENDING_AUTH)
    factory.make_connection(company, status=S.UNLINKED)  # Unlinked ones do not count
    assert company.connections.count() == 2


def test_it_unlinks_wipes_credentials_and_keeps_data(admin_client, admin_user, clearbooks):
    conn = factory.make_connection(status=S.LINKED)
    credentials.store_credentials(conn, {"api_key": "sbx-some-key-0000"}, validated_by="link")
    factory.make_record(conn)
    response = admin_client.post(reverse("connections:connection-unlink", args=[conn.pk]))
    assert response["Location"] == detail(conn.company)
    conn.refresh_from_db()
    assert conn.status == S.UNLINKED
    assert not conn.has_credentials and conn.credentials_fingerprint == ""
    assert conn.records.count() == 1
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CONNECTION_UNLINKED, actor=admin_user).exists()
    # Only Linked connections are scheduled, so its schedules stop.
    assert not Connection.objects.filter(status=S.LINKED).exists()


def test_it_refuses_to_unlink_a_connection_that_is_not_linked(admin_client, clearbooks):
    conn = factory.make_connection(status=S.PENDING_AUTH)
    response = admin_client.post(reverse("connections:connection-unlink", args=[conn.pk]), follow=False)
    assert response.status_code == 302
    conn.refresh_from_db()
    assert conn.status == S.PENDING_AUTH
    assert admin_client.get(reverse("connections:connection-unlink", args=[conn.pk])).status_code == 405


def test_it_confirms_then_deletes_a_connection_and_its_data(admin_client, clearbooks):
    conn = factory.make_connection()
    pull = factory.make_pull(conn)
    factory.make_record(conn, last_pull=pull)
    url = reverse("connections:connection-delete", args=[conn.pk])
    assert "<strong>1</strong> synced record" in admin_client.get(url).content.decode()
    response = admin_client.post(url)
    assert response["Location"] == detail(conn.company)
    assert not Connection.objects.exists() and not Record.objects.exists()
    assert not PullOperation.objects.exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CONNECTION_DELETED).exists()
    assert Company.objects.filter(pk=conn.company_id).exists()


@pytest.mark.parametrize("current", [S.DEAUTHORIZED, S.UNLINKED])
def test_it_issues_a_new_link_url_for_relinking(admin_client, clearbooks, current):
    conn = factory.make_connection(status=current, link_token="old-token", link_token_used_at=timezone.now())
    admin_client.post(reverse("connections:connection-new-link-url", args=[conn.pk]))
    conn.refresh_from_db()
    assert conn.link_token not in ("", None, "old-token")
    assert conn.link_token_used_at is None
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LINK_URL_ISSUED).count() == 1


def test_it_reissues_an_expired_pending_link_url_but_not_a_working_one(admin_client, clearbooks):
    conn = factory.make_connection(
        status=S.PENDING_AUTH, link_token="working", link_token_expires_at=timezone.now() + timedelta(days=1)
    )
    url = reverse("connections:connection-new-link-url", args=[conn.pk])
    admin_client.post(url)
    conn.refresh_from_db()
    assert conn.link_token == "working"
    conn.link_token_expires_at = timezone.now() - timedelta(minutes=1)
    conn.save()
    admin_client.post(url)
    conn.refresh_from_db()
    assert conn.link_token != "working"
    assert conn.link_token_expires_at > timezone.now()


def test_it_issues_no_link_url_for_a_linked_connection_or_a_disabled_integration(admin_client, clearbooks):
    linked = factory.make_connection(status=S.LINKED)
    admin_client.post(reverse("connections:connection-new-link-url", args=[linked.pk]))
    linked.refresh_from_db()
    assert linked.link_token is None
    unlinked = factory.make_connection(status=S.UNLINKED)
    factory.get_integration("jhch", enabled=False)
    admin_client.post(reverse("connections:connection-new-link-url", args=[unlinked.pk]))
    unlinked.refresh_from_db()
    assert unlinked.link_token is None


def test_it_lets_only_admins_manage_connections(support_client, clearbooks):
    conn = factory.make_connection(status=S.LINKED)
    for name in (
        "connections:connection-unlink",
        "connections:connection-delete",
        "connections:connection-new-link-url",
    ):
        assert support_client.post(reverse(name, args=[conn.pk])).status_code == 403
    conn.refresh_from_db()
    assert conn.status == S.LINKED
