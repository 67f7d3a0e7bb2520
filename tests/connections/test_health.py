"""Diagnosis sentences, health per data type, next scheduled pull and the needs-attention queries."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from connections import status
from connections.credentials import store_credentials
from connections.link import issue_link_url
from connections.models import Connection, PullOperation
from connections.support import health
from integrations import services
from integrations.models import SyncSetting
from tests import factory

S = Connection.Status
P = PullOperation.Status
LONDON = ZoneInfo("Europe/London")
NOW = datetime(2025, 3, 10, 12, 0, tzinfo=LONDON)


def rows_of(connection, now=NOW):
    connection = Connection.objects.select_related("integration").get(pk=connection.pk)
    return connection, health.health_for_connections([connection], now)[connection.pk]


def row(rows, data_type):
    return next(r for r in rows if r.data_type == data_type)


def deauthorize(connection, at):
    status.move(connection, S.DEAUTHORIZED, reason="Clear Books answered Login Failed (pull 7, invoices).")
    Connection.objects.filter(pk=connection.pk).update(status_changed_at=at)


def test_it_says_who_rejected_the_key_when_and_that_the_company_must_relink(clearbooks):
    connection = factory.make_connection()
    deauthorize(connection, datetime(2025, 3, 3, 10, 2, tzinfo=LONDON))
    connection, rows = rows_of(connection)
    [first] = health.diagnose(connection, rows, now=NOW)
    assert first.text == (
        "Clear Books rejected the API key on 3 March at 10:02 — "
        "the company must relink: issue a new Link URL (Admin) and send it to them."
    )
    assert first.detail == "Clear Books answered Login Failed (pull 7, invoices)."
    assert first.tone == "bad"


def test_it_says_send_them_this_link_url_once_a_new_one_is_live(clearbooks, admin_client):
    connection = factory.make_connection()
    deauthorize(connection, timezone.now() - timedelta(hours=1))
    token = issue_link_url(connection)
    connection, rows = rows_of(connection, timezone.now())
    [first] = health.diagnose(connection, rows)
    assert first.text.endswith("the company must relink: send them this Link URL.")
    assert first.show_link_url
    html = admin_client.get(reverse("connections:connection-detail", args=[connection.pk])).content.decode()
    assert "the company must relink: send them this Link URL." in html
    assert reverse("connections:link", args=[token]) in html


def test_it_adds_the_year_to_dates_from_another_year(clearbooks):
    connection = factory.make_connection()
    deauthorize(connection, datetime(2024, 12, 30, 9, 5, tzinfo=LONDON))
    connection, rows = rows_of(connection)
    assert health.diagnose(connection, rows, now=NOW)[0].sentence.endswith("on 30 December 2024 at 09:05")


def test_it_says_the_integration_is_off_and_schedules_are_paused(clearbooks, admin_user):
    connection = factory.make_connection()
    services.set_enabled(clearbooks, False, admin_user)
    connection, rows = rows_of(connection)
    texts = [d.text for d in health.diagnose(connection, rows, now=NOW)]
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
    [found] = health.diagnose(connection, rows, now=NOW)
    assert found.text == (
        "Invoices failed 3 times in a row; the last error: Clear Books did not answer in time — "
        f"read pull {pull.pk} for the technical detail, then refresh invoices."
    )
    assert found.tone == "bad"
    assert row(rows, "invoices").is_failing


def test_it_warns_about_a_single_failure_without_calling_it_repeated(clearbooks):
    connection = factory.make_connection(linked_at=NOW - timedelta(hours=2))
    pull = factory.make_pull(connection, "bills", P.INTERNAL_ERROR, error_message="Something broke.")
    factory.make_data_status(connection, "bills", current_status=P.INTERNAL_ERROR, failures_in_row=1, latest_pull=pull)
    connection, rows = rows_of(connection)
    first_sync, found = health.diagnose(connection, rows, now=NOW)  # nothing has synced yet, either
    assert "the first sync failed for Bills" in first_sync.sentence
    assert found.sentence == "Bills failed once; the last error: Something broke"
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
    sentences = [d.sentence for d in health.diagnose(connection, rows, now=NOW)]
    assert "Customers has not synced successfully since 7 March at 12:00 (expected daily)" in sentences
    assert not any(s.startswith("Suppliers") for s in sentences)


def test_it_is_quiet_about_a_healthy_connection(clearbooks):
    connection = factory.make_connection(linked_at=NOW - timedelta(days=3))
    for setting in SyncSetting.objects.filter(integration=clearbooks):
        factory.make_data_status(
            connection, setting.data_type, current_status=P.COMPLETE, last_successful_sync_at=NOW - timedelta(hours=1)
        )
    connection, rows = rows_of(connection)
    assert health.diagnose(connection, rows, now=NOW) == []


ALL_TYPES = (
    "Customers, Suppliers, Invoices, Bills, Chart of accounts, Bank accounts, Tracking categories and Payment methods"
)


def test_it_says_the_first_sync_has_not_run_yet_instead_of_nothing_is_wrong(clearbooks, support_client):
    connection = factory.make_connection(linked_at=NOW - timedelta(minutes=30))
    connection, rows = rows_of(connection)
    [found] = health.diagnose(connection, rows, now=NOW)
    assert (
        found.sentence
        == f"Linked on 10 March at 11:30; no data has synced yet: the first sync has not run yet for {ALL_TYPES}"
    )
    assert found.action == "refresh the data to start it now, or wait for the schedule (11 March at 11:30)."
    assert found.tone == "warn"
    html = support_client.get(reverse("connections:connection-detail", args=[connection.pk])).content.decode()
    assert "no data has synced yet: the first sync has not run yet for Customers" in html
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
    [found] = health.diagnose(connection, rows, now=NOW)
    assert found.sentence == (
        "Linked on 10 March at 11:55; no data has synced yet: the first sync is running for Invoices; "
        "it is queued for Customers and Bills; it has not run yet for Suppliers, Chart of accounts, Bank accounts, "
        "Tracking categories and Payment methods"
    )
    assert found.action.startswith(
        f"nothing to do: the data appears as each pull completes (pull {pulls['invoices'].pk}"
    )
    assert found.tone == "info"
    html = support_client.get(reverse("connections:connection-detail", args=[connection.pk])).content.decode()
    assert "the first sync is running for Invoices" in html and "Nothing is wrong" not in html


def test_it_says_the_first_sync_is_queued_when_no_worker_has_taken_it(clearbooks):
    from connections.sync.queueing import queue_first_link_pulls

    connection = factory.make_connection(linked_at=NOW - timedelta(minutes=5))
    assert queue_first_link_pulls(connection, enqueue=False)
    connection, rows = rows_of(connection)
    [found] = health.diagnose(connection, rows, now=NOW)
    assert "no data has synced yet: the first sync is queued for Customers" in found.sentence
    assert "check that the worker runs" in found.action


def test_it_tells_the_next_scheduled_pull_from_the_frequency_and_last_success(clearbooks):
    connection = factory.make_connection(linked_at=NOW - timedelta(days=3))
    pull = factory.make_pull(connection, "invoices", started_at=NOW - timedelta(hours=2))
    factory.make_data_status(
        connection,
        "invoices",
        current_status=P.COMPLETE,
        last_successful_sync_at=NOW - timedelta(hours=2),
        last_successful_started_at=NOW - timedelta(hours=2),
        latest_pull=pull,
    )
    SyncSetting.objects.filter(integration=clearbooks, data_type="bills").update(frequency="none")
    connection, rows = rows_of(connection)
    assert row(rows, "invoices").next_pull.at == NOW + timedelta(hours=22)
    assert row(rows, "invoices").next_pull.text == ""
    assert row(rows, "bills").next_pull.text == "none — refreshed by hand only"
    assert row(rows, "customers").next_pull.text == "due now"


def test_it_says_none_for_a_connection_that_is_not_linked(clearbooks):
    connection = factory.make_connection(status=S.PENDING_AUTH)
    connection, rows = rows_of(connection)
    assert {r.next_pull.text for r in rows} == {"none — not Linked"}
    assert not any(r.is_stale for r in rows)


def test_it_reports_a_pull_silent_for_too_long(clearbooks, settings):
    settings.SYNC_STALE_SECONDS = 120
    connection = factory.make_connection()
    now = timezone.now()
    stuck = factory.make_pull(connection, "invoices", P.FETCHING, heartbeat_at=now - timedelta(minutes=5))
    factory.make_pull(connection, "bills", P.FETCHING, heartbeat_at=now - timedelta(seconds=10))
    assert health.stuck_pulls(now) == [stuck]
    assert health.is_stuck(stuck, now)
    connection, rows = rows_of(connection, now)
    found = health.diagnose(connection, rows, [stuck], now)
    assert found[0].sentence.startswith(f"Pull {stuck.pk} (invoices) has reported no progress since")


@pytest.fixture
def troubled(clearbooks, settings):
    """One connection per kind of trouble, and a healthy one."""
    settings.SYNC_STALE_SECONDS = 120
    now = timezone.now()
    made = {}
    made["deauthorized"] = factory.make_connection(factory.make_company("Deauth Ltd"))
    deauthorize(made["deauthorized"], now - timedelta(hours=3))
    made["failing"] = factory.make_connection(factory.make_company("Failing Ltd"), linked_at=now - timedelta(days=2))
    pull = factory.make_pull(made["failing"], "bills", P.FETCH_ERROR, error_message="Clear Books did not answer.")
    factory.make_data_status(
        made["failing"], "bills", current_status=P.FETCH_ERROR, failures_in_row=4, latest_pull=pull
    )
    made["stale"] = factory.make_connection(factory.make_company("Stale Ltd"), linked_at=now - timedelta(days=9))
    factory.make_data_status(
        made["stale"], "customers", current_status=P.COMPLETE, last_successful_sync_at=now - timedelta(days=3)
    )
    made["stuck"] = factory.make_connection(factory.make_company("Stuck Ltd"))
    made["stuck_pull"] = factory.make_pull(
        made["stuck"], "invoices", P.PROCESSING, heartbeat_at=now - timedelta(minutes=10)
    )
    healthy = factory.make_connection(factory.make_company("Fine Ltd"), linked_at=now - timedelta(days=9))
    factory.make_data_status(healthy, "customers", current_status=P.COMPLETE, last_successful_sync_at=now)
    unlinked = factory.make_connection(factory.make_company("Gone Ltd"), status=S.UNLINKED)
    factory.make_data_status(unlinked, "bills", current_status=P.AUTH_ERROR, failures_in_row=5)
    return made


def test_it_lists_what_needs_attention_by_kind(troubled):
    groups = {g.kind: g for g in health.needs_attention()}
    assert set(groups) == {"deauthorized", "failing", "stale", "stuck"}
    assert [i.company for i in groups["deauthorized"].items] == ["Deauth Ltd"]
    assert [i.company for i in groups["failing"].items] == ["Failing Ltd"]
    assert groups["failing"].items[0].sentence == "bills failed 4 times in a row: Clear Books did not answer."
    assert [i.company for i in groups["stale"].items] == ["Stale Ltd"]
    assert [i.company for i in groups["stuck"].items] == ["Stuck Ltd"]
    assert groups["stuck"].items[0].url_arg == troubled["stuck_pull"].pk
    assert all(g.action for g in groups.values())


def test_it_lists_new_stale_data_at_once_most_overdue_first(troubled, clearbooks):
    assert [i.company for g in health.needs_attention() if g.kind == "stale" for i in g.items] == ["Stale Ltd"]
    late = factory.make_connection(factory.make_company("Late Ltd"), linked_at=timezone.now() - timedelta(days=9))
    factory.make_data_status(late, "bills", last_successful_sync_at=timezone.now() - timedelta(days=5))
    stale = {g.kind: g for g in health.needs_attention()}["stale"]
    assert stale.total == 2
    assert [i.company for i in stale.items] == ["Late Ltd", "Stale Ltd"]


def test_it_never_calls_the_data_of_deauthorized_or_unlinked_connections_stale(clearbooks):
    old = timezone.now() - timedelta(days=40)
    for name, target in (("Revoked Ltd", S.DEAUTHORIZED), ("Left Ltd", S.UNLINKED)):
        connection = factory.make_connection(factory.make_company(name), linked_at=old)
        factory.make_data_status(connection, "invoices", last_successful_sync_at=old)
        status.move(connection, target, reason="test")
    assert "stale" not in {g.kind for g in health.needs_attention()}


def test_it_stops_calling_data_stale_when_the_integration_is_off(troubled, clearbooks, admin_user):
    services.set_enabled(clearbooks, False, admin_user)
    kinds = {g.kind for g in health.needs_attention()}
    assert "stale" not in kinds and "deauthorized" in kinds


def test_it_counts_connections_by_status(clearbooks):
    factory.make_connection()
    factory.make_connection(status=S.PENDING_AUTH)
    factory.make_connection(status=S.PENDING_AUTH)
    assert health.connection_counts() == {"PendingAuth": 2, "Linked": 1, "Deauthorized": 0, "Unlinked": 0}


def test_it_spots_a_stored_key_in_a_note_even_split_by_spaces(clearbooks):
    from connections.notes import holds_credential

    connection = factory.make_connection()
    assert not holds_credential(connection, "anything at all")  # no key stored: nothing to refuse
    store_credentials(connection, {"api_key": "abcdef123456"}, "link")
    assert holds_credential(connection, "the key is abc def 123 456")
    assert not holds_credential(connection, "the key ends in 3456")
