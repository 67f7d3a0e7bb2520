"""Needs attention (the dashboard's list) and the connection counts by status."""

from datetime import timedelta

import pytest
from django.utils import timezone

from connections import status
from connections.models import Connection, PullOperation
from connections.support.attention import needs_attention
from connections.support.dashboard import connection_counts
from integrations import services
from tests import factory
from tests.connections.test_health import deauthorize

S = Connection.Status
P = PullOperation.Status


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
    groups = {g.kind: g for g in needs_attention()}
    assert set(groups) == {"deauthorized", "failing", "stale", "stuck"}
    assert [i.company for i in groups["deauthorized"].items] == ["Deauth Ltd"]
    assert [i.company for i in groups["failing"].items] == ["Failing Ltd"]
    failed = troubled["failing"].pulls.get()
    assert (
        groups["failing"].items[0].sentence
        == f"bills failed 4 times in a row (pull {failed.pk}): Clear Books did not answer."
    )
    assert [i.company for i in groups["stale"].items] == ["Stale Ltd"]
    assert [i.company for i in groups["stuck"].items] == ["Stuck Ltd"]
    assert groups["stuck"].items[0].url_arg == troubled["stuck_pull"].pk
    assert all(g.action for g in groups.values())


def test_it_lists_new_stale_data_at_once_most_overdue_first(troubled, clearbooks):
    assert [i.company for g in needs_attention() if g.kind == "stale" for i in g.items] == ["Stale Ltd"]
    late = factory.make_connection(factory.make_company("Late Ltd"), linked_at=timezone.now() - timedelta(days=9))
    factory.make_data_status(late, "bills", last_successful_sync_at=timezone.now() - timedelta(days=5))
    stale = {g.kind: g for g in needs_attention()}["stale"]
    assert stale.total == 2
    assert [i.company for i in stale.items] == ["Late Ltd", "Stale Ltd"]


def test_it_never_calls_the_data_of_deauthorized_or_unlinked_connections_stale(clearbooks):
    old = timezone.now() - timedelta(days=40)
    for name, target in (("Revoked Ltd", S.DEAUTHORIZED), ("Left Ltd", S.UNLINKED)):
        connection = factory.make_connection(factory.make_company(name), linked_at=old)
        factory.make_data_status(connection, "invoices", last_successful_sync_at=old)
        status.move(connection, target, reason="test")
    assert "stale" not in {g.kind for g in needs_attention()}


def test_it_stops_calling_data_stale_when_the_integration_is_off(troubled, clearbooks, admin_user):
    services.set_enabled(clearbooks, False, admin_user)
    kinds = {g.kind for g in needs_attention()}
    assert "stale" not in kinds and "deauthorized" in kinds


def test_it_counts_connections_by_status(clearbooks):
    factory.make_connection()
    factory.make_connection(status=S.PENDING_AUTH)
    factory.make_connection(status=S.PENDING_AUTH)
    assert connection_counts() == {"PendingAuth": 2, "Linked": 1, "Deauthorized": 0, "Unlinked": 0}
