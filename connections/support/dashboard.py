"""The dashboard's figures: connections by status, the last 24 hours of pulls by outcome, what needs attention."""

from datetime import UTC, timedelta

from django.db import connection as db_connection
from django.db.models import Count
from django.utils import timezone

from portal.web.dates import format_hour

from ..models import ACTIVE_PULL_STATUSES, FAILED_PULL_STATUSES, Connection, PullOperation, PullStatus
from . import attention, chart

HOURS = 24
# The chart stacks pulls by outcome; the tones match the status badges.
OUTCOMES = (
    ("Complete", "good", (PullStatus.COMPLETE,)),
    ("Failed", "bad", FAILED_PULL_STATUSES),
    ("Cancelled", "muted", (PullStatus.CANCELLED,)),
    ("Queued or running", "info", ACTIVE_PULL_STATUSES),
)


def dashboard(now=None) -> dict:
    """Everything the dashboard shows, for its template."""
    now = now or timezone.now()
    buckets, by_status, start = pull_outcomes(now)
    totals = {label: sum(bucket[label] for bucket in buckets) for label, _, _ in OUTCOMES}
    counts = connection_counts()
    labels = [format_hour(start + timedelta(hours=index)) for index in range(HOURS)]
    return {
        "connection_counts": counts,
        "chart": chart.stacked_columns(buckets, [(label, tone) for label, tone, _ in OUTCOMES], labels),
        "outcome_totals": totals,
        "pulls_by_status": sorted(by_status.items(), key=lambda item: -item[1]),
        "pull_total": sum(totals.values()),
        "since": start,
        "attention": attention.needs_attention(now, counts=counts),
    }


def connection_counts() -> dict:
    """{status: count} for every connection status (zeros included).

    COUNT(*), not COUNT(id): the status index answers it alone, without reading a row per connection.
    """
    counts = dict.fromkeys(Connection.Status.values, 0)
    for row in Connection.objects.order_by().values("status").annotate(n=Count("*")).order_by():
        counts[row["status"]] = row["n"]
    return counts


def _outcome_of(status):
    return next((label for label, _, statuses in OUTCOMES if status in statuses), "Failed")


def pull_outcomes(now):
    """(hour buckets of {outcome: n}, {status: n}, start) for the last 24 hours, in one query."""
    start = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS - 1)
    buckets = [dict.fromkeys((label for label, _, _ in OUTCOMES), 0) for _ in range(HOURS)]
    by_status = {}
    for index, status, n in hourly_pull_counts(start):
        buckets[index][_outcome_of(status)] += n
        by_status[status] = by_status.get(status, 0) + n
    return buckets, by_status, start


def hourly_pull_counts(start):
    """[(hour index, status, n)] for the HOURS hours from `start`.

    Hand-written SQL, on purpose (benchmarks/README.md lists it with its measured gain):
    one COUNT per hour range, joined by UNION ALL. Each is a range of the (status,
    requested_at) index that the index alone answers, already in status order, so no row
    is read and nothing is sorted. The ORM's way, grouping by TruncHour, sorts every pull
    of the day and calls a Python function per pull on SQLite; 24 ORM querysets joined
    by union() give the same SQL but cost more to build than the query costs to run.
    """
    quote = db_connection.ops.quote_name
    table, status, requested_at = (
        quote(PullOperation._meta.db_table),
        quote("status"),
        quote("requested_at"),
    )
    parts, params = [], []
    for index in range(HOURS):  # the index is ours: a literal, so every database types the column alike
        parts.append(
            f"SELECT {index}, {status}, COUNT(*) FROM {table} "
            f"WHERE {requested_at} >= %s AND {requested_at} < %s GROUP BY {status}"
        )
        for hour in (index, index + 1):
            params.append(db_connection.ops.adapt_datetimefield_value(start + timedelta(hours=hour)))
    with db_connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        return cursor.fetchall()
