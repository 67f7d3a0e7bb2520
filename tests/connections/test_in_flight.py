"""The diagnosis while work is in flight (issue #13): a first sync under way, a pull retrying, a pull
whose worker stopped moving, a pull no worker has picked up. "Nothing is wrong" only when every
scheduled data type has been read and nothing is failing, retrying, stalled or waiting; a failure
is quoted with the pull it happened on, and no refresh is advised while one runs."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django_q.models import Schedule

from connections.models import Connection, PullOperation
from connections.support.diagnosis import diagnose
from connections.support.health import Activity
from connections.support.lines import data_type_lines
from integrations.models import SyncSetting
from tests import factory
from tests.connections.test_health import NOW, row, rows_of

P = PullOperation.Status
WATCHDOG = "connections.sync.tasks.watchdog"
GOOD = "Nothing is wrong"


@pytest.fixture(autouse=True)
def beats(settings):
    settings.SYNC_HEARTBEAT_SECONDS = 10
    settings.SYNC_STALE_SECONDS = 60


def read_recently(connection, *except_for, at=NOW - timedelta(hours=1)):
    """Every data type read successfully an hour before NOW, but those named."""
    for setting in SyncSetting.objects.filter(integration=connection.integration).exclude(data_type__in=except_for):
        pull = factory.make_pull(connection, setting.data_type, P.COMPLETE, started_at=at, finished_at=at)
        factory.make_data_status(
            connection,
            setting.data_type,
            current_status=P.COMPLETE,
            latest_pull=pull,
            latest_successful_pull=pull,
            last_successful_sync_at=at,
            last_successful_started_at=at,
        )


def running(connection, data_type="invoices", *, ever_read=True, **pull_fields):
    """A pull of `data_type` running now, its data status pointing at it (as the claim leaves it)."""
    pull_fields.setdefault("started_at", NOW - timedelta(minutes=2))
    pull_fields.setdefault("heartbeat_at", NOW - timedelta(seconds=4))
    pull_fields.setdefault("requested_at", NOW - timedelta(minutes=2))
    pull = factory.make_pull(connection, data_type, P.FETCHING, **pull_fields)
    status = {"current_status": P.FETCHING, "latest_pull": pull}
    if ever_read:
        status.update(
            last_successful_sync_at=NOW - timedelta(hours=1), last_successful_started_at=NOW - timedelta(hours=1)
        )
    factory.make_data_status(connection, data_type, **status)
    return pull


def page(client, connection):
    return client.get(reverse("connections:connection-detail", args=[connection.pk])).content.decode()


def healthy_connection():
    return factory.make_connection(linked_at=NOW - timedelta(days=3))


#
# Nothing is wrong: only then
#


def test_a_healthy_connection_reading_a_data_type_normally_is_still_nothing_is_wrong(clearbooks):
    connection = healthy_connection()
    read_recently(connection, "invoices")
    pull = running(connection, records_fetched=120)
    connection, rows = rows_of(connection)
    assert diagnose(connection, rows, now=NOW) == []
    data_type_lines(connection, rows, NOW)
    assert row(rows, "invoices").activity == Activity.RUNNING
    assert row(rows, "invoices").line == f"Reading: 120 records so far (pull {pull.pk})."
    assert row(rows, "customers").line == ""


#
# Defect: "Nothing is wrong" while invoices had never been read during a first sync
#


def test_a_first_sync_with_invoices_still_unread_says_so_instead_of_nothing_is_wrong(clearbooks, support_client):
    connection = factory.make_connection(linked_at=NOW - timedelta(minutes=3))
    read_recently(connection, "invoices", at=NOW - timedelta(minutes=1))
    pull = running(connection, ever_read=False)
    connection, rows = rows_of(connection)

    [found] = diagnose(connection, rows, now=NOW)

    assert found.sentence == "First sync: 7 of 8 data types read; reading Invoices"
    assert found.action == "nothing to do: each data type appears as its pull completes (progress on each pull's page)."
    assert found.tone == "info"
    data_type_lines(connection, rows, NOW)
    assert row(rows, "invoices").line == f"Reading: 0 records so far (pull {pull.pk})."


def test_a_data_type_never_read_and_not_started_keeps_nothing_is_wrong_away(clearbooks, support_client):
    connection = healthy_connection()
    read_recently(connection, "bills")
    connection, rows = rows_of(connection)
    found, stale = diagnose(connection, rows, now=NOW)
    assert found.sentence == "First sync: 7 of 8 data types read; not started yet: Bills"
    assert found.action.startswith("refresh the data to start it now")
    assert stale.sentence.startswith("Bills has not synced successfully since the connection was linked")
    html = page(support_client, connection)
    assert "First sync: 7 of 8 data types read; not started yet: Bills" in html and GOOD not in html


def test_a_data_type_the_schedule_never_reads_is_not_expected(clearbooks):
    connection = healthy_connection()
    read_recently(connection, "bills")
    SyncSetting.objects.filter(integration=clearbooks, data_type="bills").update(frequency="none")
    connection, rows = rows_of(connection)
    assert diagnose(connection, rows, now=NOW) == []  # refreshed by hand only, and never asked for


#
# Defect: "Nothing is wrong" while a pull silently retried against an unreachable Clear Books
#


def test_a_pull_retrying_says_which_attempt_when_the_next_try_is_and_why(clearbooks, support_client):
    connection = healthy_connection()
    read_recently(connection, "invoices")
    pull = running(
        connection,
        retry_attempt=3,
        retry_attempts=5,
        retry_at=NOW + timedelta(seconds=20),
        retry_reason="We couldn't reach Clear Books (timed out).",
    )
    connection, rows = rows_of(connection)

    [found] = diagnose(connection, rows, now=NOW)

    assert found.sentence == (
        "Retrying invoices: attempt 3 of 5, next try at 12:00:20 — We couldn't reach Clear Books (timed out)"
    )
    assert found.action.startswith(f"nothing to do yet: pull {pull.pk} tries again by itself")
    assert found.tone == "warn"
    data_type_lines(connection, rows, NOW)
    assert row(rows, "invoices").activity == Activity.RETRYING
    assert row(rows, "invoices").line == (
        "Retrying: attempt 3 of 5, next try at 12:00:20 — We couldn't reach Clear Books (timed out)."
    )


def test_a_retry_under_way_says_trying_now(clearbooks):
    connection = healthy_connection()
    read_recently(connection, "invoices")
    running(connection, retry_attempt=2, retry_attempts=5, retry_at=NOW - timedelta(seconds=3), retry_reason="")
    connection, rows = rows_of(connection)
    [found] = diagnose(connection, rows, now=NOW)
    assert found.sentence == "Retrying invoices: attempt 2 of 5, trying now — the last try failed"


def test_the_page_says_retrying_not_nothing_is_wrong(clearbooks, support_client):
    from django.utils import timezone

    now = timezone.now()
    connection = factory.make_connection(linked_at=now - timedelta(days=3))
    read_recently(connection, "invoices", at=now - timedelta(hours=1))
    running(
        connection,
        started_at=now - timedelta(seconds=30),
        heartbeat_at=now,
        retry_attempt=2,
        retry_attempts=5,
        retry_at=now + timedelta(seconds=30),
        retry_reason="Clear Books had a temporary problem (HTTP 503).",
    )
    html = page(support_client, connection)
    assert "Retrying invoices: attempt 2 of 5, next try at " in html
    assert "Clear Books had a temporary problem (HTTP 503)" in html
    assert GOOD not in html


#
# Defect: "Nothing is wrong" for minutes after the worker died mid-pull ("Fetching", no movement)
#


def schedules(*next_runs):
    for index, next_run in enumerate(next_runs):
        Schedule.objects.create(
            name=f"watchdog {index}", func=WATCHDOG, schedule_type=Schedule.MINUTES, minutes=1, next_run=next_run
        )


def test_a_pull_whose_worker_went_silent_says_no_progress_and_when_the_watchdog_fails_it(clearbooks, support_client):
    connection = healthy_connection()
    read_recently(connection, "invoices")
    pull = running(connection, heartbeat_at=NOW - timedelta(seconds=35))
    # The two watchdog schedules, half a minute apart; the pull counts as dead at 12:00:25.
    schedules(NOW + timedelta(seconds=10), NOW + timedelta(seconds=40))
    connection, rows = rows_of(connection)

    [found] = diagnose(connection, rows, now=NOW)

    assert found.sentence == (
        f"Invoices: no progress for 35 s on pull {pull.pk}; it will be failed and queued again at 12:00:40"
    )
    assert found.action.startswith("nothing to do: its worker stopped (last sign of life 11:59:25)")
    assert found.tone == "bad"
    data_type_lines(connection, rows, NOW)
    assert row(rows, "invoices").line == "No progress for 35 s; it will be failed and queued again at 12:00:40."


def test_a_pull_silent_longer_waits_for_the_first_watchdog_run_after_it_counts_as_dead(clearbooks):
    connection = healthy_connection()
    read_recently(connection, "invoices")
    running(connection, heartbeat_at=NOW - timedelta(seconds=50))  # dead at 12:00:10
    schedules(NOW - timedelta(seconds=5), NOW + timedelta(seconds=25))  # runs at 11:59:55 +1 min…, 12:00:25 …
    connection, rows = rows_of(connection)
    [found] = diagnose(connection, rows, now=NOW)
    assert found.sentence.endswith("; it will be failed and queued again at 12:00:25")


def test_a_silent_pull_with_no_worker_running_the_schedules_says_so(clearbooks):
    connection = healthy_connection()
    read_recently(connection, "invoices")
    running(connection, heartbeat_at=NOW - timedelta(minutes=4))
    schedules(NOW - timedelta(minutes=3), NOW - timedelta(minutes=3, seconds=30))  # nobody moved them since
    connection, rows = rows_of(connection)
    [found] = diagnose(connection, rows, now=NOW)
    assert "no progress for 4 minutes" in found.sentence
    assert found.sentence.endswith("but no worker runs the schedules")
    assert found.action.startswith("start the worker (manage.py qcluster)")


def test_a_silent_pull_without_a_scheduled_watchdog_says_nothing_will_fail_it(clearbooks):
    connection = healthy_connection()
    read_recently(connection, "invoices")
    running(connection, heartbeat_at=NOW - timedelta(seconds=40))
    connection, rows = rows_of(connection)
    [found] = diagnose(connection, rows, now=NOW)
    assert found.sentence.endswith("; the watchdog is not scheduled, so nothing will fail it")


def test_a_pull_beating_a_little_late_is_not_called_stalled(clearbooks):
    connection = healthy_connection()
    read_recently(connection, "invoices")
    running(connection, heartbeat_at=NOW - timedelta(seconds=25))  # under three beats of 10 s
    connection, rows = rows_of(connection)
    assert diagnose(connection, rows, now=NOW) == []


#
# A pull no worker has picked up
#


def queued(connection, data_type="invoices", ago=timedelta(minutes=12)):
    pull = factory.make_pull(connection, data_type, P.QUEUED, requested_at=NOW - ago)
    factory.make_data_status(
        connection,
        data_type,
        current_status=P.QUEUED,
        latest_pull=pull,
        last_successful_sync_at=NOW - timedelta(hours=1),
        last_successful_started_at=NOW - timedelta(hours=1),
    )
    return pull


def test_a_pull_queued_for_long_says_no_worker_has_picked_it_up(clearbooks, support_client):
    connection = healthy_connection()
    read_recently(connection, "invoices")
    queued(connection)
    connection, rows = rows_of(connection)

    [found] = diagnose(connection, rows, now=NOW)

    assert found.sentence == "Invoices queued for 12 minutes; no worker has picked it up"
    assert found.action.startswith("check that the worker (manage.py qcluster) runs")
    data_type_lines(connection, rows, NOW)
    assert row(rows, "invoices").line == "Queued for 12 minutes; no worker has picked it up."


def test_a_pull_queued_a_few_seconds_ago_is_not_waiting(clearbooks):
    connection = healthy_connection()
    read_recently(connection, "invoices")
    pull = queued(connection, ago=timedelta(seconds=5))
    connection, rows = rows_of(connection)
    assert diagnose(connection, rows, now=NOW) == []
    data_type_lines(connection, rows, NOW)
    assert row(rows, "invoices").line == f"Queued 5 s ago (pull {pull.pk})."


def test_a_queued_pull_behind_busy_workers_says_how_many_run_and_wait_before_it(clearbooks):
    connection = healthy_connection()
    read_recently(connection, "invoices")
    queued(connection)
    other = factory.make_connection()
    factory.make_pull(other, "bills", P.FETCHING, heartbeat_at=NOW - timedelta(seconds=2))
    factory.make_pull(other, "invoices", P.QUEUED, requested_at=NOW - timedelta(minutes=20))
    connection, rows = rows_of(connection)
    [found] = diagnose(connection, rows, now=NOW)
    assert found.sentence == (
        "Invoices queued for 12 minutes; no worker has picked it up yet: the workers are busy "
        "(1 pull running and 1 queued before)"
    )


def test_a_queued_pull_while_no_worker_runs_the_schedules_says_start_the_worker(clearbooks):
    connection = healthy_connection()
    read_recently(connection, "invoices")
    queued(connection)
    schedules(NOW - timedelta(minutes=10))
    connection, rows = rows_of(connection)
    [found] = diagnose(connection, rows, now=NOW)
    assert found.sentence == "Invoices queued for 12 minutes; no worker has picked it up, and none runs the schedules"


def test_a_pull_queued_while_the_integration_is_off_says_it_will_be_cancelled(clearbooks, admin_user):
    from integrations import services

    connection = healthy_connection()
    read_recently(connection, "invoices")
    queued(connection)
    services.set_enabled(clearbooks, False, admin_user)
    connection, rows = rows_of(connection)
    off, found = diagnose(connection, rows, now=NOW)
    assert off.sentence.startswith("Clear Books is switched off")
    assert (
        found.sentence == "Invoices queued for 12 minutes; no worker has picked it up, and Clear Books is switched off"
    )
    assert found.action.startswith("a worker that picks it up cancels it")


#
# Defect: the diagnosis named the wrong pull during a retry, and advised a refresh already running
#


def failed_then_retried(connection, retry_status=P.FETCHING):
    """Pull 32 failed (the watchdog's sentence), pull 33 queued again by it: the data status points at 33."""
    failed = factory.make_pull(
        connection,
        "invoices",
        P.INTERNAL_ERROR,
        requested_at=NOW - timedelta(minutes=6),
        started_at=NOW - timedelta(minutes=6),
        finished_at=NOW - timedelta(minutes=2),
        error_message="The worker stopped while reading invoices: no sign of life for over 60 seconds.",
    )
    retry = factory.make_pull(
        connection,
        "invoices",
        retry_status,
        trigger=PullOperation.Trigger.RETRY,
        requested_at=NOW - timedelta(seconds=10 if retry_status == P.QUEUED else 120),
        started_at=None if retry_status == P.QUEUED else NOW - timedelta(minutes=1),
        heartbeat_at=None if retry_status == P.QUEUED else NOW - timedelta(seconds=3),
    )
    factory.make_data_status(
        connection,
        "invoices",
        current_status=retry_status,
        latest_pull=retry,
        failures_in_row=1,
        last_successful_sync_at=NOW - timedelta(hours=20),
        last_successful_started_at=NOW - timedelta(hours=20),
    )
    return failed, retry


def test_during_a_retry_it_quotes_the_failed_pull_and_advises_no_refresh(clearbooks, support_client):
    connection = healthy_connection()
    read_recently(connection, "invoices")
    failed, retry = failed_then_retried(connection)
    connection, rows = rows_of(connection)

    [found] = diagnose(connection, rows, now=NOW)

    assert found.sentence == (
        f"Invoices failed once; the last error on pull {failed.pk}: "
        "The worker stopped while reading invoices: no sign of life for over 60 seconds"
    )
    assert found.action == (
        f"pull {retry.pk} is reading it again now, so there is nothing to refresh; "
        f"pull {failed.pk} has the technical detail."
    )
    assert "no error was recorded" not in found.text
    data_type_lines(connection, rows, NOW)
    assert row(rows, "invoices").line == f"Reading: 0 records so far (pull {retry.pk})."


def test_with_the_retry_still_queued_it_says_so_and_names_the_failed_pull(clearbooks):
    connection = healthy_connection()
    read_recently(connection, "invoices")
    failed, retry = failed_then_retried(connection, P.QUEUED)
    connection, rows = rows_of(connection)
    [found] = diagnose(connection, rows, now=NOW)
    assert f"the last error on pull {failed.pk}: The worker stopped" in found.sentence
    assert found.action.startswith(f"pull {retry.pk} is queued to read it again, so there is nothing to refresh")


def test_after_the_retry_failed_too_it_quotes_the_retry(clearbooks):
    connection = healthy_connection()
    read_recently(connection, "invoices")
    failed, retry = failed_then_retried(connection)
    PullOperation.objects.filter(pk=retry.pk).update(
        status=P.FETCH_ERROR, error_message="We couldn't reach Clear Books after 5 tries (timed out).", finished_at=NOW
    )
    Connection.objects.get(pk=connection.pk).data_statuses.filter(data_type="invoices").update(
        current_status=P.FETCH_ERROR, failures_in_row=2
    )
    connection, rows = rows_of(connection)
    [found] = diagnose(connection, rows, now=NOW)
    assert found.text == (
        f"Invoices failed 2 times in a row; the last error on pull {retry.pk}: We couldn't reach Clear Books after "
        f"5 tries (timed out) — read pull {retry.pk} for the technical detail, then refresh invoices."
    )


def test_the_health_rows_cost_four_queries_with_failures_and_retries(clearbooks, django_assert_num_queries):
    from connections.support.health import health_for_connections

    connection = healthy_connection()
    read_recently(connection, "invoices")
    failed, _ = failed_then_retried(connection)
    connection = Connection.objects.select_related("integration").get(pk=connection.pk)
    # data statuses (latest failed pull annotated), the portal's and the company's sync settings, failed pulls
    with django_assert_num_queries(4):
        rows = health_for_connections([connection], NOW)[connection.pk]
    assert row(rows, "invoices").failed_pull == failed


def test_the_pull_page_says_it_is_retrying(clearbooks, support_client):
    from django.utils import timezone

    now = timezone.now()
    pull = factory.make_pull(
        factory.make_connection(),
        "invoices",
        P.FETCHING,
        heartbeat_at=now,
        retry_attempt=4,
        retry_attempts=5,
        retry_at=now + timedelta(seconds=30),
        retry_reason="Clear Books had a temporary problem (HTTP 500).",
    )
    html = support_client.get(reverse("connections:pull-progress", args=[pull.pk])).content.decode()
    assert "Retrying: attempt 4 of 5, next try at " in html
    assert "Clear Books had a temporary problem (HTTP 500)." in html
