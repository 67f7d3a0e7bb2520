"""Connection status moves: only the legal ones, each recorded with actor and reason."""

import itertools

import pytest

from connections import status
from connections.models import Connection, ConnectionEvent
from tests import factory

S = Connection.Status
LEGAL = {
    (S.PENDING_AUTH, S.LINKED),
    (S.LINKED, S.DEAUTHORIZED),
    (S.LINKED, S.UNLINKED),
    (S.DEAUTHORIZED, S.LINKED),
    (S.UNLINKED, S.LINKED),
}
ALL_PAIRS = list(itertools.product(S.values, repeat=2))


def test_it_knows_exactly_the_legal_moves():
    assert {(a, b) for a, b in ALL_PAIRS if status.can_move(a, b)} == LEGAL


@pytest.mark.parametrize(("current", "target"), sorted(LEGAL))
def test_it_makes_every_legal_move_and_records_it(clearbooks, admin_user, current, target):
    # The one-active-per-category rule is per company: give each connection its own.
    conn = factory.make_connection(status=current)
    before = conn.status_changed_at
    status.move(conn, target, reason="because the test says so", actor=admin_user)
    conn.refresh_from_db()
    assert conn.status == target
    assert conn.status_reason == "because the test says so"
    assert conn.status_changed_at >= before
    if target == S.LINKED:
        assert conn.linked_at is not None
    event = conn.events.get(kind=ConnectionEvent.Kind.STATUS_CHANGED)
    assert event.actor == admin_user
    assert event.actor_label == "alice"
    assert event.detail == {"from": current, "to": target, "reason": "because the test says so"}


@pytest.mark.parametrize(("current", "target"), sorted(set(ALL_PAIRS) - LEGAL))
def test_it_refuses_every_illegal_move_and_changes_nothing(clearbooks, current, target):
    conn = factory.make_connection(status=current, status_reason="as it was")
    with pytest.raises(status.IllegalStatusMove) as caught:
        status.move(conn, target, reason="should not happen", actor_label="system")
    assert f"from {current} to {target}" in str(caught.value)
    conn.refresh_from_db()
    assert conn.status == current
    assert conn.status_reason == "as it was"
    assert not conn.events.exists()


def test_it_labels_moves_by_the_company_user_and_the_system(clearbooks):
    conn = factory.make_connection(status=S.PENDING_AUTH)
    status.move(conn, S.LINKED, reason="linked on the Link page", actor_label="company user")
    status.move(conn, S.DEAUTHORIZED, reason="Clear Books rejected the key")
    labels = list(conn.events.order_by("created_at", "id").values_list("actor_label", flat=True))
    assert labels == ["company user", "system"]
    conn.refresh_from_db()
    assert conn.status == S.DEAUTHORIZED
    assert conn.status_reason == "Clear Books rejected the key"


def test_it_moves_on_the_current_row_not_a_stale_copy(clearbooks):
    conn = factory.make_connection(status=S.LINKED)
    stale = Connection.objects.get(pk=conn.pk)
    status.move(conn, S.UNLINKED, reason="unlinked by an admin")
    # The stale copy still says Linked; the move reads the row, which says Unlinked.
    with pytest.raises(status.IllegalStatusMove):
        status.move(stale, S.DEAUTHORIZED, reason="a worker saw a rejected key")
    conn.refresh_from_db()
    assert conn.status == S.UNLINKED


def test_a_move_is_announced_with_the_connection_saved_and_both_statuses(db):
    from connections.signals import connection_status_changed

    heard = []

    def listener(sender, connection, before, after, reason, **kwargs):
        heard.append((Connection.objects.get(pk=connection.pk).status, before, after, reason))

    connection_status_changed.connect(listener, dispatch_uid="test-listener")
    try:
        conn = factory.make_connection(status=Connection.Status.LINKED)
        status.move(conn, Connection.Status.UNLINKED, reason="We gave up access.")
    finally:
        connection_status_changed.disconnect(dispatch_uid="test-listener")
    assert heard == [("Unlinked", "Linked", "Unlinked", "We gave up access.")]
