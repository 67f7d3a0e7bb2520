"""The dashboard: connections by status, the last 24 hours of pulls as an SVG chart, and Needs attention."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from connections.models import Connection, PullOperation
from tests import factory
from tests.connections.test_attention import troubled  # noqa: F401 (fixture)

S = Connection.Status
P = PullOperation.Status
URL = reverse("connections:dashboard")


def test_it_is_the_page_after_login(client, admin_user):
    response = client.post(reverse("login"), {"username": "alice", "password": factory.PASSWORD})
    assert response["Location"] == URL


def test_it_counts_connections_by_status(support_client, clearbooks):
    for _ in range(3):
        factory.make_connection()
    factory.make_connection(status=S.DEAUTHORIZED)
    response = support_client.get(URL)
    assert response.context["connection_counts"] == {"PendingAuth": 0, "Linked": 3, "Deauthorized": 1, "Unlinked": 0}
    assert 'data-status="Linked">3<' in response.content.decode()


def test_it_charts_the_last_24_hours_of_pulls_by_outcome(support_client, clearbooks):
    connection = factory.make_connection()
    now = timezone.now()
    for status in (P.COMPLETE, P.COMPLETE, P.FETCH_ERROR, P.CANCELLED):
        factory.make_pull(connection, "invoices", status, requested_at=now - timedelta(minutes=5))
    factory.make_pull(connection, "invoices", P.AUTH_ERROR, requested_at=now - timedelta(hours=30))  # too old
    response = support_client.get(URL)
    assert response.context["outcome_totals"] == {"Complete": 2, "Failed": 1, "Cancelled": 1, "Queued or running": 0}
    html = response.content.decode()
    assert '<svg class="chart" role="img"' in html
    assert "Complete 2, Failed 1, Cancelled 1, Queued or running 0" in html
    columns = response.context["chart"]["columns"]
    assert len(columns) == 24
    busy = [c for c in columns if c["total"]]
    assert len(busy) == 1 and busy[0] in columns[-2:]  # this hour (or the last, a few minutes past the hour)
    assert [s["count"] for s in busy[0]["segments"]] == [2, 1, 1]
    assert [s["height"] for s in busy[0]["segments"]] == [60, 30, 30]  # the peak hour fills the 120px chart
    assert "AuthError" not in html.split('id="pulls-title"')[1].split("</section>")[0]


def test_it_lists_what_needs_attention_with_links_and_next_actions(support_client, troubled):  # noqa: F811
    html = support_client.get(URL).content.decode()
    assert "Deauthorized connections" in html and "Deauth Ltd" in html
    assert reverse("connections:connection-detail", args=[troubled["deauthorized"].pk]) in html
    assert "Failing now" in html and "bills failed 4 times in a row" in html
    assert "Stale data" in html and "Stale Ltd" in html
    assert reverse("connections:pull-detail", args=[troubled["stuck_pull"].pk]) in html
    assert html.count("Next action:") == 4
    assert "Fine Ltd" not in html and "Gone Ltd" not in html


def test_it_says_when_nothing_needs_attention(support_client, clearbooks):
    assert "Nothing needs attention" in support_client.get(URL).content.decode()


def test_it_shows_the_most_recent_few_of_a_long_list_and_says_how_many_there_are(support_client, clearbooks):
    for _ in range(7):
        factory.make_connection(status=S.DEAUTHORIZED)
    html = support_client.get(URL).content.decode()
    start = html.index('id="attention-deauthorized"')
    group = html[start : html.index("</ul>", start)]
    assert group.count('<li class="tone-bad">') == 5
    assert "Showing the first 5 of 7." in html
