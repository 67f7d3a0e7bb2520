"""Health per data type: next scheduled pull, staleness and pulls silent for too long."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from connections import status
from connections.credentials import store_credentials
from connections.models import Connection, PullOperation
from connections.support import health
from connections.support.attention import stuck_pulls
from connections.support.diagnosis import diagnose
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
    assert stuck_pulls(now) == [stuck]
    assert health.is_stuck(stuck, now)
    connection, rows = rows_of(connection, now)
    found = diagnose(connection, rows, [stuck], now)
    assert found[0].sentence.startswith(f"Pull {stuck.pk} (invoices) has reported no progress since")


def test_it_spots_a_stored_key_in_a_note_even_split_by_spaces(clearbooks):
    from connections.notes import holds_credential

    connection = factory.make_connection()
    assert not holds_credential(connection, "anything at all")  # no key stored: nothing to refuse
    store_credentials(connection, {"api_key": "abcdef123456"}, "link")
    assert holds_credential(connection, "the key is abc def 123 456")
    assert not holds_credential(connection, "the key ends in 3456")
