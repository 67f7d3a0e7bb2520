"""Refresh (all, one data type), data status, pull operations and the records extension."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from connections.models import Connection, ConnectionEvent, PullOperation
from tests import factory
from tests.api.conftest import assert_codat_error

pytestmark = pytest.mark.django_db
P = PullOperation.Status
KEY_LABEL = "billing service (API key)"


@pytest.fixture
def linked(clearbooks):
    return factory.make_connection(factory.make_company("Acme"))


def pull_id(pull):
    return str(uuid.UUID(int=pull.pk))


def test_refresh_all_queues_the_fetch_on_first_link_data_types(api, linked, clearbooks):
    clearbooks.sync_settings.filter(data_type="bills").update(fetch_on_first_link=False)
    response = api.post(f"/api/companies/{linked.company_id}/data/all")
    assert response.status_code == 204
    queued = set(PullOperation.objects.filter(connection=linked).values_list("data_type", flat=True))
    assert queued == {dt.name for dt in clearbooks.provider.data_types} - {"bills"}
    assert {e.actor_label for e in linked.events.filter(kind=ConnectionEvent.Kind.PULL_QUEUED)} == {KEY_LABEL}


def test_refresh_all_is_refused_without_a_linked_connection(api, clearbooks):
    company = factory.make_company("Pending")
    factory.make_connection(company, status=Connection.Status.PENDING_AUTH)
    assert_codat_error(api.post(f"/api/companies/{company.pk}/data/all"), 400)
    assert_codat_error(api.post(f"/api/companies/{factory.make_company('Empty').pk}/data/all"), 400)


def test_refresh_one_data_type_answers_the_pull_and_a_second_one_the_same_pull(api, linked):
    url = f"/api/companies/{linked.company_id}/data/queue/invoices"
    first = api.post(url, QUERY_STRING=f"connectionId={linked.pk}")
    assert first.status_code == 200, first.json()
    body = first.json()
    assert body["status"] == "Queued" and body["dataType"] == "invoices" and body["progress"] == 0
    assert body["connectionId"] == str(linked.pk) and body["companyId"] == str(linked.company_id)
    assert body["isCompleted"] is False and body["isErrored"] is False and "completed" not in body
    again = api.post(url)
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert PullOperation.objects.filter(connection=linked, data_type="invoices").count() == 1


def test_refresh_one_data_type_refuses_what_cannot_be_read(api, linked):
    base = f"/api/companies/{linked.company_id}/data/queue"
    assert_codat_error(api.post(f"{base}/balanceSheet"), 400)
    assert_codat_error(api.post(f"{base}/invoices", QUERY_STRING=f"connectionId={uuid.uuid4()}"), 404)
    assert_codat_error(api.post(f"{base}/invoices", QUERY_STRING="connectionId=nope"), 400)
    factory.get_integration("jhch", enabled=False)
    body = assert_codat_error(api.post(f"{base}/invoices"), 400)
    assert "switched off" in body["error"]


def test_data_status_per_data_type(api, linked):
    done = factory.make_pull(linked, "invoices")
    factory.make_data_status(
        linked,
        "invoices",
        current_status=P.COMPLETE,
        latest_pull=done,
        latest_successful_pull=done,
        last_successful_sync_at=timezone.now(),
    )
    running = factory.make_pull(linked, "customers", status=P.FETCHING)
    factory.make_data_status(linked, "customers", current_status=P.FETCHING, latest_pull=running)
    body = api.get(f"/api/companies/{linked.company_id}/dataStatus").json()
    assert body["invoices"]["currentStatus"] == "Complete"
    assert body["invoices"]["latestSyncId"] == body["invoices"]["latestSuccessfulSyncId"] == pull_id(done)
    assert body["invoices"]["lastSuccessfulSync"].endswith("Z")
    assert body["customers"] == {"dataType": "customers", "currentStatus": "Fetching", "latestSyncId": pull_id(running)}


def test_pull_operations_list_filter_and_get(api, linked):
    now = timezone.now()
    ok = factory.make_pull(linked, "invoices", records_fetched=5, records_created=5, requested_at=now - timedelta(1))
    bad = factory.make_pull(
        linked, "bills", status=P.FETCH_ERROR, error_message="Clear Books timed out.", error_detail="ReadTimeout"
    )
    base = f"/api/companies/{linked.company_id}/data/history"
    body = api.get(base).json()
    assert [p["id"] for p in body["results"]] == [pull_id(bad), pull_id(ok)]
    failed = api.get(base, {"query": "status=FetchError"}).json()["results"]
    assert [p["id"] for p in failed] == [pull_id(bad)]
    assert failed[0]["isErrored"] is True and failed[0]["errorMessage"] == "Clear Books timed out."
    assert failed[0]["statusDescription"] == "ReadTimeout" and failed[0]["progress"] == 100
    one = api.get(f"{base}/{pull_id(ok)}").json()
    assert one["status"] == "Complete" and one["isCompleted"] is True and one["completed"].endswith("Z")
    assert one["statusDescription"].startswith("Complete: 5 records")
    assert_codat_error(api.get(base, {"query": "isCompleted=true"}), 400)
    assert_codat_error(api.get(f"{base}/{uuid.uuid4()}"), 404)


class TestRecords:
    def url(self, connection, data_type="invoices"):
        return f"/api/companies/{connection.company_id}/connections/{connection.pk}/data/{data_type}"

    def test_it_pages_records_in_the_normalised_shape(self, api, linked):
        for n in range(3):
            factory.make_record(linked, "invoices", remote_id=f"inv-{n}", currency="GBP")
        body = api.get(self.url(linked), {"pageSize": 2}).json()
        assert body["totalResults"] == 3 and [r["id"] for r in body["results"]] == ["inv-0", "inv-1"]
        record = body["results"][0]
        assert record["total"] == "120.0000" and record["currency"] == "GBP" and record["isDeleted"] is False
        assert record["attributes"] == {"invoice_id": "inv-0"}

    def test_query_filters_on_the_normalised_fields(self, api, linked):
        factory.make_record(linked, "invoices", remote_id="small", total=10)
        factory.make_record(linked, "invoices", remote_id="big", total=500, status="Paid")
        assert [r["id"] for r in api.get(self.url(linked), {"query": "total>100"}).json()["results"]] == ["big"]
        assert api.get(self.url(linked), {"query": "status=paid"}).json()["totalResults"] == 1
        assert_codat_error(api.get(self.url(linked), {"query": "colour=red"}), 400)

    def test_modified_date_reads_only_what_changed_and_deleted_records_are_flagged(self, api, linked):
        old = timezone.now() - timedelta(days=2)
        factory.make_record(linked, "invoices", remote_id="old", updated_at=old)
        factory.make_record(linked, "invoices", remote_id="gone", is_deleted=True)
        since = (timezone.now() - timedelta(days=1)).isoformat()
        body = api.get(self.url(linked), {"modifiedDate": since}).json()
        assert [(r["id"], r["isDeleted"]) for r in body["results"]] == [("gone", True)]
        for wrong in ("yesterday", "2025-13-45T00:00:00Z"):
            assert_codat_error(api.get(self.url(linked), {"modifiedDate": wrong}), 400)

    def test_an_unknown_data_type_answers_404(self, api, linked):
        assert_codat_error(api.get(self.url(linked, "balanceSheet")), 404)
