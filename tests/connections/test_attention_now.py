"""The dashboard tells the truth now (issue #13): a failure is listed from the first, with how many
in a row and the pull it happened on; a Deauthorized entry says whether a new Link URL is waiting
for the company; pulls retrying, not moving or waiting for a worker are listed as they happen; and
the 24-hour chart is as wide as its card."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from connections.link_urls import issue_link_url
from connections.models import Connection, PullOperation
from connections.support.attention import needs_attention
from tests import factory
from tests.connections.test_health import deauthorize

P = PullOperation.Status
URL = reverse("connections:dashboard")


@pytest.fixture(autouse=True)
def beats(settings):
    settings.SYNC_HEARTBEAT_SECONDS = 10
    settings.SYNC_STALE_SECONDS = 60


def groups():
    return {g.kind: g for g in needs_attention()}


def failed_once(company="Once Ltd", *, retry=None):
    now = timezone.now()
    connection = factory.make_connection(factory.make_company(company), linked_at=now - timedelta(days=2))
    failed = factory.make_pull(
        connection, "invoices", P.FETCH_ERROR, error_message="We couldn't reach Clear Books after 5 tries (timed out)."
    )
    latest = failed
    if retry is not None:
        latest = factory.make_pull(connection, "invoices", retry, heartbeat_at=now)
    factory.make_data_status(
        connection, "invoices", current_status=latest.status, failures_in_row=1, latest_pull=latest
    )
    return connection, failed, latest


def test_a_failure_is_listed_from_the_first_with_how_many_in_a_row(clearbooks, support_client):
    _, failed, _ = failed_once()

    failing = groups()["failing"]

    assert failing.title == "Failing now" and failing.total == 1
    [item] = failing.items
    assert (
        item.sentence
        == f"invoices failed once (pull {failed.pk}): We couldn't reach Clear Books after 5 tries (timed out)."
    )
    assert (item.url_name, item.url_arg, item.tone) == ("connections:pull-detail", failed.pk, "warn")
    html = support_client.get(URL).content.decode()
    assert "Failing now" in html and f"invoices failed once (pull {failed.pk})" in html


def test_a_failure_being_retried_names_the_failed_pull_and_the_retry(clearbooks):
    _, failed, retry = failed_once(retry=P.FETCHING)
    [item] = groups()["failing"].items
    assert item.sentence == (
        f"invoices failed once (pull {failed.pk}): We couldn't reach Clear Books after 5 tries (timed out). "
        f"Pull {retry.pk} is running to read it again."
    )
    assert item.url_arg == failed.pk


def test_failing_repeatedly_is_marked_bad_and_listed_first(clearbooks):
    failed_once("Once Ltd")
    connection, _, _ = failed_once("Often Ltd")
    connection.data_statuses.update(failures_in_row=4)
    items = groups()["failing"].items
    assert [(i.company, i.tone) for i in items] == [("Often Ltd", "bad"), ("Once Ltd", "warn")]
    assert items[0].sentence.startswith("invoices failed 4 times in a row (pull ")


def test_a_failing_data_type_is_not_listed_as_stale_too(clearbooks):
    connection, _, _ = failed_once()
    connection.data_statuses.update(last_successful_sync_at=timezone.now() - timedelta(days=5))
    assert "stale" not in groups() and groups()["failing"].total == 1


#
# Deauthorized: is a new Link URL waiting for the company?
#


def test_a_deauthorized_entry_says_a_new_link_url_was_issued_and_not_used_yet(clearbooks, support_client):
    connection = factory.make_connection(factory.make_company("Relink Ltd"))
    deauthorize(connection, timezone.now() - timedelta(hours=3))
    issue_link_url(Connection.objects.get(pk=connection.pk))
    connection.refresh_from_db()

    group = groups()["deauthorized"]

    [item] = group.items
    assert "rejected the API key on" in item.sentence
    assert (
        f"A new Link URL was issued on {_when(connection.link_token_created_at)}; the company has not used it yet "
        f"(it works until {_when(connection.link_token_expires_at)})." in item.sentence
    )
    assert "where one is, remind them to use it" in group.action
    html = support_client.get(URL).content.decode()
    assert "the company has not used it yet" in html


def test_a_deauthorized_entry_without_a_new_link_url_says_none_was_issued(clearbooks):
    connection = factory.make_connection()
    deauthorize(connection, timezone.now() - timedelta(hours=3))
    [item] = groups()["deauthorized"].items
    assert item.sentence.endswith("No new Link URL has been issued since.")


def test_a_link_url_from_before_the_rejection_does_not_count(clearbooks):
    connection = factory.make_connection()
    issue_link_url(connection)
    deauthorize(connection, timezone.now() + timedelta(minutes=1))
    [item] = groups()["deauthorized"].items
    assert item.sentence.endswith("No new Link URL has been issued since.")


def test_a_new_link_url_that_expired_unused_says_so(clearbooks):
    connection = factory.make_connection()
    deauthorize(connection, timezone.now() - timedelta(days=9))
    issue_link_url(Connection.objects.get(pk=connection.pk))
    Connection.objects.filter(pk=connection.pk).update(link_token_expires_at=timezone.now() - timedelta(hours=1))
    [item] = groups()["deauthorized"].items
    assert "expired unused on" in item.sentence


def _when(value):
    from portal.web.dates import format_datetime

    return format_datetime(value)


#
# Pulls in flight: not moving, retrying, waiting for a worker
#


def test_pulls_not_moving_are_listed_after_three_missed_heartbeats_not_two_minutes(clearbooks):
    now = timezone.now()
    connection = factory.make_connection(factory.make_company("Silent Ltd"))
    pull = factory.make_pull(connection, "invoices", P.FETCHING, heartbeat_at=now - timedelta(seconds=40))
    factory.make_pull(connection, "bills", P.FETCHING, heartbeat_at=now - timedelta(seconds=5))
    [item] = groups()["stuck"].items
    assert item.url_arg == pull.pk
    assert item.sentence.startswith(f"Pull {pull.pk} (invoices) is Fetching with no progress for 4")


def test_pulls_retrying_are_listed_with_their_attempt_and_reason(clearbooks):
    now = timezone.now()
    connection = factory.make_connection(factory.make_company("Retry Ltd"))
    pull = factory.make_pull(
        connection,
        "invoices",
        P.FETCHING,
        heartbeat_at=now,
        retry_attempt=3,
        retry_attempts=5,
        retry_at=now + timedelta(seconds=8),
        retry_reason="Clear Books had a temporary problem (HTTP 503).",
    )
    group = groups()["retrying"]
    [item] = group.items
    assert item.sentence == (
        f"Pull {pull.pk} (invoices) is retrying: attempt 3 of 5 — Clear Books had a temporary problem (HTTP 503)."
    )
    assert item.tone == "warn" and group.title == "Retrying now"


def test_pulls_no_worker_picked_up_are_listed_oldest_first(clearbooks, support_client):
    now = timezone.now()
    connection = factory.make_connection(factory.make_company("Queue Ltd"))
    old = factory.make_pull(connection, "invoices", P.QUEUED, requested_at=now - timedelta(minutes=12))
    factory.make_pull(connection, "bills", P.QUEUED, requested_at=now - timedelta(seconds=5))  # just queued
    group = groups()["waiting"]
    assert group.total == 1
    assert group.items[0].sentence == (
        f"Pull {old.pk} (invoices) has been queued for 12 minutes; no worker has picked it up."
    )
    assert "Waiting for a worker" in support_client.get(URL).content.decode()


#
# The chart
#


def test_the_chart_is_drawn_at_the_full_width_of_its_card(support_client, clearbooks):
    html = support_client.get(URL).content.decode()
    svg = html[html.index('<svg class="chart"') :].split(">", 1)[0]
    assert 'width="100%"' in svg and 'class="chart"' in svg  # the stylesheet's .chart: width 100%, no inline style
    assert "max-width" not in svg  # it filled half the card at 1280 px
    chart = support_client.get(URL).context["chart"]
    assert chart["width"] >= 1100  # about a pixel per unit in a 1280 px dashboard: labels keep their size
