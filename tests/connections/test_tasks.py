"""The schedule, the watchdog, the task entry points, and the Refresh / Cancel actions."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import OrmQ, Schedule

from connections.credentials import store_credentials
from connections.models import Connection, DataStatus, PullOperation
from connections.sync import schedules as schedule
from connections.sync import tasks
from connections.sync.queueing import RUN_PULL_TASK, queue_pull
from integrations.models import SyncSetting
from tests import factory

P = PullOperation.Status
DAY = timedelta(days=1)


def active(connection):
    return sorted(
        PullOperation.objects.filter(connection=connection, status=P.QUEUED).values_list("data_type", flat=True)
    )


def synced(connection, data_type, ago, *, failures=0, finished_ago=None):
    """A data status as after a pull that started `ago` (and, with failures, a failed one since)."""
    now = timezone.now()
    pull = factory.make_pull(connection, data_type, started_at=now - ago, finished_at=now - ago)
    latest = pull
    if failures:
        latest = factory.make_pull(
            connection, data_type, status=P.FETCH_ERROR, finished_at=now - (finished_ago or ago), started_at=now - ago
        )
    return factory.make_data_status(
        connection,
        data_type,
        current_status=latest.status,
        latest_pull=latest,
        latest_successful_pull=pull,
        last_successful_started_at=now - ago,
        last_successful_sync_at=now - ago,
        failures_in_row=failures,
    )


@pytest.fixture
def only_invoices_daily(clearbooks):
    """Keep the schedule to one data type so each test reads plainly."""
    SyncSetting.objects.filter(integration=clearbooks).update(frequency="none")
    SyncSetting.objects.filter(integration=clearbooks, data_type="invoices").update(frequency="daily")
    return clearbooks


def test_it_queues_a_data_type_once_its_frequency_has_passed(only_invoices_daily):
    due = factory.make_connection()
    synced(due, "invoices", 25 * timedelta(hours=1))
    fresh = factory.make_connection()
    synced(fresh, "invoices", timedelta(hours=2))

    queued = schedule.queue_due_pulls()

    assert [(p.connection_id, p.data_type) for p in queued] == [(due.pk, "invoices")]
    assert queued[0].trigger == PullOperation.Trigger.SCHEDULE
    assert queued[0].mode == PullOperation.Mode.INCREMENTAL  # asked for changes only
    assert active(fresh) == []
    assert schedule.queue_due_pulls() == []  # the one queued is still active: nothing doubles


def test_a_never_synced_data_type_is_due_one_interval_after_linking(only_invoices_daily):
    old = factory.make_connection(linked_at=timezone.now() - 2 * DAY)
    new = factory.make_connection()
    schedule.queue_due_pulls()
    assert active(old) == ["invoices"]
    assert active(new) == []


def test_frequency_none_never_runs(clearbooks):
    SyncSetting.objects.filter(integration=clearbooks).update(frequency="none")
    factory.make_connection(linked_at=timezone.now() - 90 * DAY)
    assert schedule.queue_due_pulls() == []


def test_a_disabled_integration_pauses_schedules_and_they_resume(only_invoices_daily):
    connection = factory.make_connection(linked_at=timezone.now() - 2 * DAY)
    factory.get_integration("jhch", enabled=False)
    assert tasks.queue_due_pulls() == 0
    factory.get_integration("jhch", enabled=True)
    assert tasks.queue_due_pulls() == 1
    assert active(connection) == ["invoices"]


def test_only_linked_connections_are_scheduled(only_invoices_daily):
    for status in (Connection.Status.DEAUTHORIZED, Connection.Status.UNLINKED, Connection.Status.PENDING_AUTH):
        factory.make_connection(status=status, linked_at=timezone.now() - 9 * DAY)
    assert schedule.queue_due_pulls() == []


def test_after_a_failure_it_tries_again_sooner_with_backoff(only_invoices_daily):
    soon = factory.make_connection()
    synced(soon, "invoices", timedelta(hours=3), failures=1, finished_ago=timedelta(minutes=6))
    waiting = factory.make_connection()
    synced(waiting, "invoices", timedelta(hours=3), failures=3, finished_ago=timedelta(minutes=6))

    schedule.queue_due_pulls()

    assert active(soon) == ["invoices"]  # 5 minutes after one failure
    assert active(waiting) == []  # 20 minutes after three in a row


def test_the_schedule_hands_pulls_to_the_queue(only_invoices_daily, django_capture_on_commit_callbacks):
    factory.make_connection(linked_at=timezone.now() - 2 * DAY)
    with django_capture_on_commit_callbacks(execute=True):
        queued = schedule.queue_due_pulls()
    assert len(queued) == 1
    assert OrmQ.objects.count() == 1


def test_the_watchdog_fails_a_silent_pull_and_queues_a_retry(clearbooks, settings):
    settings.SYNC_STALE_SECONDS = 120
    connection = factory.make_connection()
    now = timezone.now()
    silent = factory.make_pull(
        connection, "invoices", status=P.FETCHING, mode="full", heartbeat_at=now - timedelta(minutes=5)
    )
    alive = factory.make_pull(connection, "bills", status=P.FETCHING, heartbeat_at=now - timedelta(seconds=10))

    result = tasks.watchdog()

    assert result["failed"] == 1 and result["retried"] == 1
    silent.refresh_from_db()
    assert silent.status == P.INTERNAL_ERROR
    assert silent.error_message.startswith("The worker stopped while reading invoices")
    retry = PullOperation.objects.get(connection=connection, data_type="invoices", status=P.QUEUED)
    assert retry.trigger == PullOperation.Trigger.RETRY and retry.mode == PullOperation.Mode.FULL
    alive.refresh_from_db()
    assert alive.status == P.FETCHING
    assert DataStatus.objects.get(connection=connection, data_type="invoices").failures_in_row == 1


def test_the_watchdog_does_not_requeue_for_a_connection_no_longer_linked(clearbooks):
    connection = factory.make_connection(status=Connection.Status.DEAUTHORIZED)
    factory.make_pull(connection, "invoices", status=P.FETCHING, heartbeat_at=timezone.now() - DAY)
    assert tasks.watchdog()["failed"] == 1
    assert not PullOperation.objects.filter(status=P.QUEUED).exists()


def test_the_watchdog_offers_again_a_pull_queued_too_long(clearbooks, django_capture_on_commit_callbacks):
    connection = factory.make_connection()
    stuck = factory.make_pull(connection, "invoices", status=P.QUEUED, requested_at=timezone.now() - DAY)
    assert tasks.watchdog()["reoffered"] == 1
    assert OrmQ.objects.count() == 1
    assert tasks.watchdog()["reoffered"] == 0  # once per period, not every minute
    stuck.refresh_from_db()
    assert stuck.status == P.QUEUED


def test_run_pull_runs_the_pull_and_a_second_delivery_does_nothing(clearbooks, sandbox):
    key = sandbox.make_key(seed="tasks")
    connection = factory.make_connection()
    store_credentials(connection, {"api_key": key}, validated_by="link")
    pull, _ = queue_pull(connection, "paymentMethods", PullOperation.Trigger.MANUAL, enqueue=False)

    assert tasks.run_pull(pull.pk) == P.COMPLETE
    calls = sandbox.calls(key)
    assert tasks.run_pull(pull.pk) == P.COMPLETE
    assert sandbox.calls(key) == calls
    assert tasks.run_pull(10**9) == "gone"


def test_the_task_a_queued_pull_is_handed_to_names_run_pull():
    assert import_string(RUN_PULL_TASK) is tasks.run_pull


def test_schedule_syncs_creates_the_schedules_once(db):
    call_command("schedule_syncs", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("schedule_syncs", stdout=open("/dev/null", "w"))  # noqa: SIM115
    rows = {s.func: s for s in Schedule.objects.all()}
    assert set(rows) == {
        "connections.sync.tasks.queue_due_pulls",
        "connections.sync.tasks.watchdog",
        "connections.webhooks.tasks.sweep",
    }
    assert Schedule.objects.filter(func="connections.webhooks.tasks.sweep").count() == 2  # half a minute apart
    assert all(s.schedule_type == Schedule.MINUTES and s.minutes == 1 and s.repeats == -1 for s in rows.values())


#
# Refresh data and Cancel (views)
#


def test_support_refreshes_all_data_types_and_returns_to_the_page(support_client, clearbooks):
    connection = factory.make_connection()
    page = reverse("connections:company-detail", args=[connection.company_id])

    response = support_client.post(reverse("connections:connection-refresh", args=[connection.pk]), HTTP_REFERER=page)

    assert response.status_code == 302 and response["Location"] == page
    assert len(active(connection)) == len(clearbooks.provider.data_types)
    assert all(p.requested_by.username == "sam" for p in PullOperation.objects.filter(connection=connection))
    followed = support_client.get(page)
    assert "Refresh queued for customers" in followed.content.decode()


def test_refresh_of_one_data_type_queues_only_it_and_never_twice(support_client, clearbooks):
    connection = factory.make_connection()
    url = reverse("connections:connection-refresh", args=[connection.pk])

    first = support_client.post(url, {"data_type": "bills"})
    support_client.post(url, {"data_type": "bills"}, follow=True)

    assert first["Location"] == reverse("connections:connection-detail", args=[connection.pk])
    assert active(connection) == ["bills"]


def test_refresh_rejects_an_unknown_data_type_in_plain_words(support_client, clearbooks):
    connection = factory.make_connection()
    response = support_client.post(
        reverse("connections:connection-refresh", args=[connection.pk]), {"data_type": "journals"}, follow=True
    )
    assert "has no data type called “journals”" in response.content.decode()
    assert active(connection) == []


def test_refresh_is_refused_for_a_disabled_integration_or_an_unlinked_connection(support_client, clearbooks):
    deauthorized = factory.make_connection(status=Connection.Status.DEAUTHORIZED)
    response = support_client.post(reverse("connections:connection-refresh", args=[deauthorized.pk]), follow=True)
    assert "must link it again" in response.content.decode()
    linked = factory.make_connection()
    factory.get_integration("jhch", enabled=False)
    response = support_client.post(reverse("connections:connection-refresh", args=[linked.pk]), follow=True)
    assert "switched off" in response.content.decode()
    assert not PullOperation.objects.exists()


def test_refresh_and_cancel_need_their_permission_and_post(client, outsider_user, support_client, clearbooks):
    connection = factory.make_connection()
    pull = factory.make_pull(connection, status=P.QUEUED)
    refresh = reverse("connections:connection-refresh", args=[connection.pk])
    cancel = reverse("connections:pull-cancel", args=[pull.pk])
    assert support_client.get(refresh).status_code == 405
    assert support_client.get(cancel).status_code == 405
    client.force_login(outsider_user)
    assert client.post(refresh).status_code == 403
    assert client.post(cancel).status_code == 403
    pull.refresh_from_db()
    assert pull.status == P.QUEUED and PullOperation.objects.count() == 1


def test_support_cancels_a_queued_pull_once(support_client, clearbooks):
    connection = factory.make_connection()
    pull, _ = queue_pull(connection, "invoices", PullOperation.Trigger.MANUAL, enqueue=False)
    url = reverse("connections:pull-cancel", args=[pull.pk])

    first = support_client.post(url, follow=True)
    second = support_client.post(url, follow=True)

    pull.refresh_from_db()
    assert pull.status == P.CANCELLED and pull.error_message == "Cancelled by sam."
    assert "cancelled. Records already saved are kept." in first.content.decode()
    assert "had already ended (Cancelled)" in second.content.decode()
    assert DataStatus.objects.get(connection=connection, data_type="invoices").current_status == P.CANCELLED
