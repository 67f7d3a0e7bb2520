"""The dashboard after login: connections by status, the last 24 hours of pulls, and what needs attention."""

from datetime import UTC, timedelta

from django.db import connection as db_connection
from django.shortcuts import render
from django.utils import timezone

from portal.web.access import require_perm

from ..models import ACTIVE_PULL_STATUSES, FAILED_PULL_STATUSES, PullOperation, PullStatus
from ..support import health

HOURS = 24
# The chart stacks pulls by outcome; the tones match the status badges.
OUTCOMES = (
    ("Complete", "good", (PullStatus.COMPLETE,)),
    ("Failed", "bad", FAILED_PULL_STATUSES),
    ("Cancelled", "muted", (PullStatus.CANCELLED,)),
    ("Queued or running", "info", ACTIVE_PULL_STATUSES),
)
CHART = {"bar": 20, "gap": 6, "height": 120, "top": 8, "bottom": 22}


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

    One COUNT per hour range, joined by UNION ALL: each is a range of the (status,
    requested_at) index that the index alone answers, already in status order, so no
    row is read and nothing is sorted. Grouping by a computed hour instead sorts every
    pull of the day, a cost that grows with the number of pulls.
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


def outcome_chart(buckets, start):
    """Geometry for the server-rendered SVG: one stacked column per hour."""
    bar, gap, height, top, bottom = (CHART[k] for k in ("bar", "gap", "height", "top", "bottom"))
    peak = max((sum(b.values()) for b in buckets), default=0) or 1
    columns = []
    for index, bucket in enumerate(buckets):
        x = index * (bar + gap)
        y = top + height
        segments = []
        for label, tone, _ in OUTCOMES:
            count = bucket[label]
            if not count:
                continue
            h = max(1, round(count / peak * height))
            y -= h
            segments.append({"x": x, "y": y, "height": h, "tone": tone, "label": label, "count": count})
        hour = timezone.localtime(start + timedelta(hours=index))
        columns.append(
            {
                "x": x,
                "hour": f"{hour:%H}:00",
                "segments": segments,
                "total": sum(bucket.values()),
                "tick": index % 6 == 0,
            }
        )
    return {
        "columns": columns,
        "width": HOURS * (bar + gap) - gap,
        "height": top + height + bottom,
        "baseline": top + height,
        "label_y": top + height + 16,
        "bar": bar,
        "peak": peak,
        "legend": [(label, tone) for label, tone, _ in OUTCOMES],
    }


@require_perm("connections.view_connection")
def dashboard(request):
    now = timezone.now()
    buckets, by_status, start = pull_outcomes(now)
    totals = {label: sum(b[label] for b in buckets) for label, _, _ in OUTCOMES}
    counts = health.connection_counts()
    ctx = {
        "connection_counts": counts,
        "chart": outcome_chart(buckets, start),
        "outcome_totals": totals,
        "pulls_by_status": sorted(by_status.items(), key=lambda item: -item[1]),
        "pull_total": sum(totals.values()),
        "since": start,
        "attention": health.needs_attention(now, counts=counts),
    }
    return render(request, "connections/dashboard.html", ctx)
