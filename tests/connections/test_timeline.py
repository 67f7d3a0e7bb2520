"""A connection's timeline (issue #13): one entry per pull, runs of pulls folded, filters by kind,
and status changes and notes never pushed behind "Show more" by pull noise."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from connections import timeline
from connections.events import record_event
from connections.models import Connection, ConnectionEvent, PullOperation
from integrations import services
from tests import factory

K = ConnectionEvent.Kind
P = PullOperation.Status
S = Connection.Status


@pytest.fixture
def connection(clearbooks):
    return factory.make_connection(factory.make_company("Acme Ltd"))


def clock(start=None):
    """Moments one minute apart, from an hour ago: entries get distinct, ordered times."""
    moment = start or timezone.now() - timedelta(hours=10)
    while True:
        moment += timedelta(minutes=1)
        yield moment


def event(connection, kind, message, at, **kwargs):
    made = record_event(connection, kind, message, **kwargs)
    ConnectionEvent.objects.filter(pk=made.pk).update(created_at=at)
    return made


def pull(connection, at, data_type="invoices", status=P.COMPLETE, **counts):
    """A pull as the sync engine leaves it, with its queued, started and ended events."""
    started, finished = at + timedelta(seconds=1), at + timedelta(seconds=5, milliseconds=200)
    made = factory.make_pull(
        connection,
        data_type,
        status,
        requested_at=at,
        started_at=started,
        finished_at=finished,
        records_fetched=counts.get("fetched", 12),
        records_created=counts.get("created", 2),
        records_updated=counts.get("updated", 1),
        records_unchanged=counts.get("unchanged", 9),
        error_message="" if status == P.COMPLETE else "Clear Books answered with a fault.",
    )
    event(connection, K.PULL_QUEUED, f"{data_type}: pull {made.pk} queued (manual).", at, pull=made)
    event(connection, K.PULL_STARTED, f"{data_type}: pull {made.pk} started (full read).", started, pull=made)
    ended = K.PULL_COMPLETED if status == P.COMPLETE else K.PULL_FAILED
    event(connection, ended, f"{data_type}: pull {made.pk} ended {status}.", finished, pull=made)
    return made


def page(client, connection, **query):
    response = client.get(reverse("connections:connection-detail", args=[connection.pk]), query)
    assert response.status_code == 200
    return response


def labels(response):
    return [entry.label for entry in response.context["timeline"]]


def test_a_pull_is_one_entry_with_its_outcome_counts_and_duration(support_client, connection):
    times = clock()
    made = pull(connection, next(times), fetched=96, created=96, updated=0, unchanged=0)
    response = page(support_client, connection)
    assert labels(response) == ["Pull completed"]  # not queued, started and completed
    entry = response.context["timeline"][0]
    assert entry.message == "invoices: 96 fetched (96 created, 0 updated, 0 unchanged, 0 marked deleted) in 4.2 s."
    html = response.content.decode()
    assert '<details class="timeline-details">' in html
    steps = html[html.index('<dl class="facts timeline-steps">') :]
    assert "Queued" in steps and "Started" in steps and "Ended" in steps and "after 4.2 s" in steps
    assert reverse("connections:pull-detail", args=[made.pk]) in steps


def test_a_failed_pull_says_why(support_client, connection):
    pull(connection, next(clock()), status=P.FETCH_ERROR)
    entry = page(support_client, connection).context["timeline"][0]
    assert (entry.label, entry.tone) == ("Pull failed", "bad")
    assert entry.message == "invoices: FetchError — Clear Books answered with a fault. in 4.2 s."


def test_status_changes_and_notes_are_never_pushed_behind_show_more_by_pulls(support_client, connection, support_user):
    times = clock()
    event(
        connection,
        K.STATUS_CHANGED,
        "Status changed from PendingAuth to Linked: linked.",
        next(times),
        detail={"from": S.PENDING_AUTH, "to": S.LINKED},
    )
    event(connection, K.NOTE, "Customer rang about missing invoices.", next(times), actor=support_user)
    for _ in range(15):  # repeated refreshes: 8 data types each, 120 pulls and 360 pull events
        for data_type in [dt.name for dt in connection.integration.provider.data_types]:
            pull(connection, next(times), data_type)
    response = page(support_client, connection)
    assert labels(response) == ["120 pulls", "Note", "Status changed"]
    assert "Show more" not in response.content.decode()
    run = response.context["timeline"][0]
    assert run.message == "120 complete; 1,440 records fetched, of 8 data types."
    assert len(run.pulls) == timeline.RUN_LISTED and run.more == 120 - timeline.RUN_LISTED


def test_a_short_run_of_pulls_is_not_folded(support_client, connection):
    times = clock()
    for data_type in ("invoices", "bills", "customers"):
        pull(connection, next(times), data_type)
    assert labels(page(support_client, connection)) == ["Pull completed"] * 3


def test_runs_are_split_by_what_happened_between_them(support_client, connection, admin_user):
    times = clock()
    for _ in range(5):
        pull(connection, next(times))
    event(connection, K.NOTE, "Between the runs.", next(times), actor=admin_user)
    for _ in range(4):
        pull(connection, next(times), status=P.FETCH_ERROR)
    response = page(support_client, connection)
    assert labels(response) == ["4 pulls", "Note", "5 pulls"]
    failed_run = response.context["timeline"][0]
    assert failed_run.tone == "bad" and failed_run.message.startswith("0 complete, 4 failed; ")


@pytest.fixture
def eventful(connection, admin_user, support_user):
    """One of each kind, oldest first, then a run of pulls."""
    times = clock()
    event(connection, K.CREATED, "Connection created.", next(times), actor=admin_user)
    event(connection, K.LINK_URL_ISSUED, "New Link URL issued.", next(times), actor=admin_user)
    event(
        connection, K.LINK_REJECTED, "Clear Books did not accept the API key.", next(times), actor_label="company user"
    )
    event(connection, K.LINK_ACCEPTED, "Clear Books accepted the API key.", next(times), actor_label="company user")
    event(
        connection,
        K.STATUS_CHANGED,
        "Status changed from PendingAuth to Linked.",
        next(times),
        detail={"from": S.PENDING_AUTH, "to": S.LINKED},
    )
    pull(connection, next(times))
    pull(connection, next(times), "bills", status=P.AUTH_ERROR)
    event(
        connection,
        K.STATUS_CHANGED,
        "Status changed from Linked to Deauthorized.",
        next(times),
        detail={"from": S.LINKED, "to": S.DEAUTHORIZED},
    )
    event(connection, K.NOTE, "Asked them to relink.", next(times), actor=support_user)
    services.set_enabled(connection.integration, False, admin_user)
    return connection


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("status", ["Status changed", "Status changed", "Created"]),
        ("link", ["Link accepted", "Link rejected", "Link URL issued"]),
        ("pulls", ["Pull failed", "Pull completed"]),
        ("failures", ["Switched off", "Status changed", "Pull failed", "Link rejected"]),
        ("notes", ["Note"]),
        ("admin", ["Switched off"]),
        (
            "",
            [
                "Switched off",
                "Note",
                "Status changed",
                "Pull failed",
                "Pull completed",
                "Status changed",
                "Link accepted",
                "Link rejected",
                "Link URL issued",
                "Created",
            ],
        ),
    ],
)
def test_it_filters_by_kind(support_client, eventful, kind, expected):
    response = page(support_client, eventful, events=kind)
    assert labels(response) == expected
    html = response.content.decode()
    current = dict(timeline.FILTERS)[kind]
    assert f'aria-current="true">{current}</a>' in html


def test_a_filter_with_nothing_to_show_says_so_and_a_bad_one_shows_all(support_client, connection):
    assert "Nothing of this kind has happened yet." in page(support_client, connection, events="notes").content.decode()
    response = page(support_client, connection, events="everything")
    assert response.context["timeline"].kind == ""


def test_the_pull_filter_lists_pulls_one_by_one_and_shows_more(support_client, connection):
    times = clock()
    for _ in range(35):
        pull(connection, next(times))
    response = page(support_client, connection, events="pulls")
    assert labels(response) == ["Pull completed"] * 30
    assert "events=pulls&amp;timeline=100" in response.content.decode()
    assert len(page(support_client, connection, events="pulls", timeline=100).context["timeline"]) == 35


def test_it_reads_three_queries_whatever_the_history(connection, django_assert_num_queries):
    times = clock()
    for n in (3, 40):
        for _ in range(n):
            pull(connection, next(times))
            event(connection, K.NOTE, "note", next(times), actor_label="sam")
        with django_assert_num_queries(3):  # events, integration changes, pulls
            list(timeline.timeline(connection))
