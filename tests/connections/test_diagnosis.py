"""Diagnosis sentences: what is wrong with a connection and what to do next, on its page."""

from datetime import datetime, timedelta

from django.urls import reverse
from django.utils import timezone

from connections.link_urls import issue_link_url
from connections.models import PullOperation
from connections.support.diagnosis import diagnose
from integrations import services
from integrations.models import SyncSetting
from tests import factory
from tests.connections.test_health import LONDON, NOW, deauthorize, row, rows_of

P = PullOperation.Status


def test_it_says_who_rejected_the_key_when_and_that_the_company_must_relink(clearbooks):
    connection = factory.make_connection()
    deauthorize(connection, datetime(2025, 3, 3, 10, 2, tzinfo=LONDON))
    connection, rows = rows_of(connection)
    [first] = diagnose(connection, rows, now=NOW)
    assert first.text == (
        "Clear Books rejected the API key on 3 Mar 2025, 10:02 — "
        "the company must relink: issue a new Link URL (Admin) and send it to them."
    )
    assert first.detail == "Clear Books answered Login Failed (pull 7, invoices)."
    assert first.tone == "bad"


def test_it_says_send_them_this_link_url_once_a_new_one_is_live(clearbooks, admin_client):
    connection = factory.make_connection()
    deauthorize(connection, timezone.now() - timedelta(hours=1))
    token = issue_link_url(connection)
    connection, rows = rows_of(connection, timezone.now())
    [first] = diagnose(connection, rows)
    assert first.text.endswith("the company must relink: send them this Link URL.")
    assert first.show_link_url
    html = admin_client.get(reverse("connections:connection-detail", args=[connection.pk])).content.decode()
    assert "the company must relink: send them this Link URL." in html
    assert reverse("connections:link", args=[token]) in html


def test_it_writes_times_as_every_page_does_with_the_year(clearbooks):
    connection = factory.make_connection()
    deauthorize(connection, datetime(2024, 12, 30, 9, 5, tzinfo=LONDON))
    connection, rows = rows_of(connection)
    assert diagnose(connection, rows, now=NOW)[0].sentence.endswith("on 30 Dec 2024, 09:05")


def test_it_says_the_integration_is_off_and_schedules_are_paused(clearbooks, admin_user):
    connection = factory.make_connection()
    services.set_enabled(clearbooks, False, admin_user)
    connection, rows = rows_of(connection)
    texts = [d.text for d in diagnose(connection, rows, now=NOW)]
    assert texts == [
        "Clear Books is switched off in this portal, so scheduled pulls are paused — "
        "an admin can switch it on from the Integrations page; the status is unchanged."
    ]
    assert {r.next_pull.text for r in rows} == {"paused — integration is off"}


def test_it_says_a_data_type_fails_in_a_row_with_the_last_error(clearbooks):
    connection = factory.make_connection(linked_at=NOW - timedelta(days=1))
    pull = factory.make_pull(connection, "invoices", P.FETCH_ERROR, error_message="Clear Books did not answer in time.")
    factory.make_data_status(
        connection,
        "invoices",
        current_status=P.FETCH_ERROR,
        failures_in_row=3,
        latest_pull=pull,
        last_successful_sync_at=NOW - timedelta(hours=5),
    )
    connection, rows = rows_of(connection)
    found, first_sync = diagnose(connection, rows, now=NOW)  # failing repeatedly first; the others never read
    assert found.text == (
        f"Invoices failed 3 times in a row; the last error on pull {pull.pk}: Clear Books did not answer in time — "
        f"read pull {pull.pk} for the technical detail, then refresh invoices."
    )
    assert first_sync.sentence.startswith("First sync: 1 of 8 data types read; not started yet: Customers")
    assert found.tone == "bad"
    assert row(rows, "invoices").is_failing


def test_it_warns_about_a_single_failure_without_calling_it_repeated(clearbooks):
    connection = factory.make_connection(linked_at=NOW - timedelta(hours=2))
    pull = factory.make_pull(connection, "bills", P.INTERNAL_ERROR, error_message="Something broke.")
    factory.make_data_status(connection, "bills", current_status=P.INTERNAL_ERROR, failures_in_row=1, latest_pull=pull)
    connection, rows = rows_of(connection)
    first_sync, found = diagnose(connection, rows, now=NOW)  # nothing has synced yet, either
    assert "; failed: Bills; not started yet: Customers," in first_sync.sentence
    assert found.sentence == f"Bills failed once; the last error on pull {pull.pk}: Something broke"
    assert found.tone == "warn"


def test_it_says_data_is_stale_after_twice_its_interval(clearbooks):
    connection = factory.make_connection(linked_at=NOW - timedelta(days=30))
    factory.make_data_status(
        connection, "customers", current_status=P.COMPLETE, last_successful_sync_at=NOW - timedelta(days=3)
    )
    factory.make_data_status(
        connection, "suppliers", current_status=P.COMPLETE, last_successful_sync_at=NOW - timedelta(hours=40)
    )
    connection, rows = rows_of(connection)
    assert row(rows, "customers").is_stale and not row(rows, "suppliers").is_stale
    sentences = [d.sentence for d in diagnose(connection, rows, now=NOW)]
    assert "Customers has not synced successfully since 7 Mar 2025, 12:00 (expected daily)" in sentences
    assert not any(s.startswith("Suppliers") for s in sentences)


def test_it_is_quiet_about_a_healthy_connection(clearbooks):
    connection = factory.make_connection(linked_at=NOW - timedelta(days=3))
    for setting in SyncSetting.objects.filter(integration=clearbooks):
        factory.make_data_status(
            connection, setting.data_type, current_status=P.COMPLETE, last_successful_sync_at=NOW - timedelta(hours=1)
        )
    connection, rows = rows_of(connection)
    assert diagnose(connection, rows, now=NOW) == []


ALL_TYPES = (
    "Customers, Suppliers, Invoices, Bills, Chart of accounts, Bank accounts, Tracking categories and Payment methods"
)


def test_it_says_the_first_sync_has_not_run_yet_instead_of_nothing_is_wrong(clearbooks, support_client):
    connection = factory.make_connection(linked_at=NOW - timedelta(minutes=30))
    connection, rows = rows_of(connection)
    [found] = diagnose(connection, rows, now=NOW)
    assert found.sentence == (
        f"First sync: 0 of 8 data types read since the link on 10 Mar 2025, 11:30; not started yet: {ALL_TYPES}"
    )
    assert found.action == "refresh the data to start it now, or wait for the schedule (11 Mar 2025, 11:30)."
    assert found.tone == "warn"
    html = support_client.get(reverse("connections:connection-detail", args=[connection.pk])).content.decode()
    assert "First sync: 0 of 8 data types read since the link on 10 Mar 2025, 11:30; not started yet" in html
    assert "Nothing is wrong" not in html


def test_it_says_which_data_types_of_the_first_sync_run_and_wait(clearbooks, support_client):
    from connections.sync.pulls import claim
    from connections.sync.queueing import queue_pull

    connection = factory.make_connection(linked_at=NOW - timedelta(minutes=5))
    pulls = {
        dt: queue_pull(connection, dt, PullOperation.Trigger.FIRST_LINK, full=True, enqueue=False)[0]
        for dt in ("customers", "invoices", "bills")
    }
    assert claim(pulls["invoices"])
    connection, rows = rows_of(connection)
    [found] = diagnose(connection, rows, now=NOW)
    assert found.sentence == (
        "First sync: 0 of 8 data types read since the link on 10 Mar 2025, 11:55; reading Invoices; "
        "queued: Customers and Bills; not started yet: Suppliers, Chart of accounts, Bank accounts, "
        "Tracking categories and Payment methods"
    )
    assert found.action.startswith("refresh the data to start it now")  # some have not started
    assert found.tone == "warn"
    html = support_client.get(reverse("connections:connection-detail", args=[connection.pk])).content.decode()
    assert "; reading Invoices; queued: Customers and Bills;" in html and "Nothing is wrong" not in html


def test_it_says_the_first_sync_is_queued_when_no_worker_has_taken_it(clearbooks):
    from connections.sync.queueing import queue_first_link_pulls

    connection = factory.make_connection(linked_at=NOW - timedelta(minutes=5))
    assert queue_first_link_pulls(connection, enqueue=False)
    connection, rows = rows_of(connection)
    [found] = diagnose(connection, rows, now=NOW)
    assert found.sentence == (
        f"First sync: 0 of 8 data types read since the link on 10 Mar 2025, 11:55; queued: {ALL_TYPES}"
    )
    assert found.action == "nothing to do: each data type appears as its pull completes (progress on each pull's page)."
    assert found.tone == "info"
