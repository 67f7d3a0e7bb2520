"""DataStatus.stale_after and .scheduled are kept current where their inputs change: creation, a completed
pull, a status move, the integration switch and a frequency change; the migrations' backfill computes the same."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection as db_connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connections import status
from connections.models import Connection, DataStatus, PullOperation
from connections.support.attention import needs_attention
from connections.sync import data_status
from connections.sync.outcomes import end_pull
from connections.sync.queueing import queue_pull
from integrations import services
from tests import factory
from tests.connections.test_pulls import SMALL, linked, run
from tests.integrations.test_services import forms_for
from tests.integrations.test_views import manage_data

S = Connection.Status
P = PullOperation.Status
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def fast_retries(settings):
    settings.CLEARBOOKS_RETRY_BASE_DELAY = 0.01
    settings.CLEARBOOKS_RETRY_MAX_DELAY = 0.05


def stale_after(connection, data_type="invoices"):
    return DataStatus.objects.get(connection=connection, data_type=data_type).stale_after


def scheduled(connection, data_type="invoices"):
    return DataStatus.objects.get(connection=connection, data_type=data_type).scheduled


def failing_totals():
    return [g.total for g in needs_attention() if g.kind == "failing"]


def stale_companies():
    return [i.company for g in needs_attention() if g.kind == "stale" for i in g.items]


def test_it_counts_from_the_link_time_until_the_first_success(clearbooks):
    linked_at = timezone.now() - 5 * DAY
    connection = factory.make_connection(linked_at=linked_at)
    row = factory.make_data_status(connection, "invoices")
    assert row.stale_after == stale_after(connection) == linked_at + 2 * DAY  # daily: twice a day's interval


def test_the_first_pull_of_a_data_type_creates_its_row_with_its_schedule(clearbooks):
    linked_at = timezone.now() - 5 * DAY
    connection = factory.make_connection(linked_at=linked_at)
    pull, _ = queue_pull(connection, "invoices", PullOperation.Trigger.MANUAL, enqueue=False)
    row = DataStatus.objects.get(connection=connection, data_type="invoices")
    assert (row.current_status, row.latest_pull, row.stale_after, row.scheduled) == (
        P.QUEUED,
        pull,
        linked_at + 2 * DAY,
        True,
    )


def test_a_pull_that_fails_saves_the_schedule_as_it_is_when_it_ends(clearbooks):
    connection = factory.make_connection(linked_at=timezone.now() - 5 * DAY)
    pull, _ = queue_pull(connection, "invoices", PullOperation.Trigger.MANUAL, enqueue=False)
    assert scheduled(connection)
    # Switched off behind the engine's back (no signal): the pull's end reads it anyway.
    type(clearbooks).objects.filter(pk=clearbooks.pk).update(enabled=False)
    assert end_pull(pull, P.FETCH_ERROR, "Clear Books did not answer.", statuses=[P.QUEUED])
    row = DataStatus.objects.get(connection=connection, data_type="invoices")
    assert (row.current_status, row.failures_in_row, row.stale_after, row.scheduled) == (P.FETCH_ERROR, 1, None, False)


def test_it_moves_forward_when_a_pull_completes(clearbooks, sandbox):
    interval = timedelta(seconds=clearbooks.sync_settings.get(data_type="chartOfAccounts").interval_seconds)
    connection, _ = linked(sandbox, **SMALL)
    Connection.objects.filter(pk=connection.pk).update(linked_at=timezone.now() - 3 * interval)
    factory.make_data_status(connection, "chartOfAccounts")
    assert stale_after(connection, "chartOfAccounts") < timezone.now()  # stale: never synced since the link
    assert connection.company.name in stale_companies()
    pull = run(connection, "chartOfAccounts")
    assert pull.status == P.COMPLETE
    assert stale_after(connection, "chartOfAccounts") == pull.finished_at + 2 * interval
    assert connection.company.name not in stale_companies()


def test_it_is_null_while_not_linked_and_counts_from_the_relink(clearbooks):
    old = timezone.now() - 30 * DAY
    connection = factory.make_connection(linked_at=old)
    factory.make_data_status(connection, "invoices")
    assert stale_after(connection) == old + 2 * DAY
    assert scheduled(connection)
    status.move(connection, S.DEAUTHORIZED, reason="Clear Books answered Login Failed.")
    assert (stale_after(connection), scheduled(connection)) == (None, False)
    status.move(connection, S.LINKED, reason="Relinked.")
    assert stale_after(connection) == connection.linked_at + 2 * DAY
    assert scheduled(connection)
    status.move(connection, S.UNLINKED, reason="Unlinked by an admin.")
    assert (stale_after(connection), scheduled(connection)) == (None, False)


def test_it_is_null_while_the_integration_is_off(clearbooks, admin_user):
    linked_at = timezone.now() - 5 * DAY
    connection = factory.make_connection(linked_at=linked_at)
    factory.make_data_status(connection, "invoices")
    factory.make_data_status(connection, "bills", failures_in_row=4)
    assert failing_totals() == [1]
    services.set_enabled(clearbooks, False, admin_user)
    assert (stale_after(connection), scheduled(connection)) == (None, False)
    assert stale_companies() == [] and failing_totals() == []
    services.set_enabled(clearbooks, True, admin_user)
    assert stale_after(connection) == linked_at + 2 * DAY
    assert scheduled(connection) and failing_totals() == [1]


def test_it_follows_the_frequency_and_is_null_for_none(clearbooks, admin_user):
    last = timezone.now() - 3 * DAY
    connection = factory.make_connection(linked_at=last - DAY)
    factory.make_data_status(connection, "invoices", last_successful_sync_at=last)
    factory.make_data_status(connection, "bills", last_successful_sync_at=last)

    def save(frequency):
        data = manage_data(clearbooks, sync={"invoices": {"frequency": frequency}})
        services.save_settings(clearbooks, *forms_for(clearbooks, data), admin_user)

    save("weekly")
    assert stale_after(connection) == last + 14 * DAY
    assert stale_after(connection, "bills") == last + 2 * DAY  # its own frequency, unchanged
    save("none")
    assert stale_after(connection) is None
    assert scheduled(connection)  # refreshed by hand only: never stale, but its failures still count
    save("hourly")
    assert stale_after(connection) == last + timedelta(hours=2)


def test_the_backfill_computes_what_the_maintenance_keeps(clearbooks):
    now = timezone.now()
    fine = factory.make_connection(linked_at=now - 9 * DAY)
    factory.make_data_status(fine, "invoices", last_successful_sync_at=now - DAY)
    never = factory.make_connection(linked_at=now - 9 * DAY)
    factory.make_data_status(never, "invoices")
    gone = factory.make_connection(status=S.UNLINKED)
    factory.make_data_status(gone, "invoices", last_successful_sync_at=now - 9 * DAY)
    kept = {pk: rest for pk, *rest in DataStatus.objects.values_list("pk", "stale_after", "scheduled")}
    assert sorted(s for _, s in kept.values()) == [False, True, True]
    DataStatus.objects.update(stale_after=None, scheduled=False)
    for name in ("0003_data_status_stale_after", "0004_data_status_scheduled"):
        importlib.import_module(f"connections.migrations.{name}").backfill(apps, None)
    assert {pk: rest for pk, *rest in DataStatus.objects.values_list("pk", "stale_after", "scheduled")} == kept
    assert (stale_after(fine), stale_after(never), stale_after(gone)) == (now + DAY, now - 7 * DAY, None)


@pytest.mark.parametrize("frequency", ["hourly", "daily", "weekly", "monthly", "none"])
@pytest.mark.parametrize("state", ["linked", "deauthorized", "off", "no setting"])
def test_it_saves_after_a_success_what_the_general_recomputation_gives(clearbooks, frequency, state):
    """The one UPDATE that saves a completed pull (data_status.ended) agrees with data_status.refresh."""
    clearbooks.sync_settings.filter(data_type="invoices").update(frequency=frequency)
    if state == "no setting":
        clearbooks.sync_settings.filter(data_type="invoices").delete()
    connection = factory.make_connection(linked_at=timezone.now() - 30 * DAY)
    if state == "deauthorized":
        Connection.objects.filter(pk=connection.pk).update(status=S.DEAUTHORIZED)
    if state == "off":
        type(clearbooks).objects.filter(pk=clearbooks.pk).update(enabled=False)
    factory.make_data_status(connection, "invoices")
    finished = timezone.now() - timedelta(minutes=7)
    pull = factory.make_pull(connection, "invoices", started_at=finished - DAY, finished_at=finished)
    rows = DataStatus.objects.filter(connection=connection, data_type="invoices")
    with CaptureQueriesContext(db_connection) as queries:
        data_status.ended(pull, P.COMPLETE)
    assert len(queries) == 1  # the success and its schedule in one UPDATE
    saved = rows.values_list("stale_after", "scheduled").get()
    data_status.refresh(rows)
    assert saved == rows.values_list("stale_after", "scheduled").get()
    seconds = {"hourly": 3600, "daily": 86400, "weekly": 7 * 86400, "monthly": 30 * 86400}.get(frequency)
    expected = finished + 2 * timedelta(seconds=seconds) if seconds and state == "linked" else None
    assert saved == (expected, state in ("linked", "no setting"))


@pytest.mark.django_db(transaction=True)
def test_the_migrations_backfill_the_data_statuses_that_predate_them():
    """Migrated from before stale_after and scheduled existed, rows get what the sync engine keeps now."""
    executor = MigrationExecutor(db_connection)
    before = [("connections", "0002_support_page_indexes")]
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        Company, Connection_, DataStatus_ = (
            old.get_model("connections", n) for n in ("Company", "Connection", "DataStatus")
        )
        integration = old.get_model("integrations", "Integration").objects.get(key="jhch")
        type(integration).objects.filter(pk=integration.pk).update(enabled=True)
        integration.sync_settings.filter(data_type="bills").update(frequency="weekly")
        now = timezone.now()

        def connection(status):
            return Connection_.objects.create(
                company=Company.objects.create(name=status),
                integration=integration,
                category=integration.category,
                status=status,
                linked_at=now - 9 * DAY,
            )

        linked, unlinked = connection("Linked"), connection("Unlinked")
        DataStatus_.objects.create(connection=linked, data_type="invoices", last_successful_sync_at=now - DAY)
        DataStatus_.objects.create(connection=linked, data_type="bills")
        DataStatus_.objects.create(connection=unlinked, data_type="invoices", last_successful_sync_at=now - DAY)
        executor.loader.build_graph()
        executor.migrate([("connections", "0004_data_status_scheduled")])
    finally:
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    rows = {(s.connection_id, s.data_type): (s.stale_after, s.scheduled) for s in DataStatus.objects.all()}
    assert rows == {
        (linked.pk, "invoices"): (now + DAY, True),  # daily: twice a day from the last success
        (linked.pk, "bills"): (now + 5 * DAY, True),  # weekly, never synced: from the link
        (unlinked.pk, "invoices"): (None, False),
    }
    data_status.refresh(DataStatus.objects.all())  # what the sync engine keeps
    assert {(s.connection_id, s.data_type): (s.stale_after, s.scheduled) for s in DataStatus.objects.all()} == rows
