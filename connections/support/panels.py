"""What the support pages show per object, worked out here so the views only look up and render:
a connection's card, what may be said of its credentials, a pull's progress, a record's attributes."""

from portal.web.dates import timespan

from ..link_urls import can_issue_new_link_url, link_url
from ..models import ACTIVE_PULL_STATUSES, PullStatus
from ..sync.queueing import refresh_refusal
from . import health, lines

MAX_DEPTH = 12  # attributes nest a few levels; deeper is shown as text rather than recursed into


def connection_cards(connections, request, now):
    """What the company and connection pages show per connection; a fixed number of queries for all of them."""
    by_connection = health.health_for_connections(connections, now)
    cards = []
    for connection in connections:
        rows = lines.data_type_lines(connection, by_connection[connection.pk], now)
        cards.append(
            {
                "connection": connection,
                "health": rows,
                "last_success": health.last_success(rows),
                "field_id": f"link-url-{connection.pk}",
                "link_url": link_url(connection, request) if health.has_live_link(connection, now) else "",
                "refresh_refusal": refresh_refusal(connection),
                "can_unlink": connection.status == connection.Status.LINKED,
                "can_issue_link": can_issue_new_link_url(connection),
            }
        )
    return cards


def credentials_facts(connection, user, now):
    """What the page may say about the stored credentials: a fingerprint only for those who manage them."""
    if not connection.has_credentials:
        return None
    return {
        "shown": connection.credentials_fingerprint if user.has_perm("connections.manage_connection") else "set",
        "set_at": connection.credentials_set_at,
        "age": timespan(connection.credentials_set_at, now) if connection.credentials_set_at else "",
        "validated_at": connection.credentials_validated_at,
        "validated_by": connection.credentials_validated_by,
    }


def pull_progress(pull, now=None):
    """The progress bar's state: percent (None when unknown), tone, whether to keep polling, and what
    the pull is doing now when that is not plain reading (retrying, not moving, waiting for a worker)."""
    active = pull.status in ACTIVE_PULL_STATUSES
    if pull.status == PullStatus.COMPLETE:
        percent, tone = 100, "done"
    elif not active:
        percent, tone = 100, "failed" if pull.status != PullStatus.CANCELLED else "done"
    elif pull.expected_records:
        # The last complete pull's size is an estimate: never claim 100% before the end.
        percent, tone = min(99, pull.records_fetched * 100 // pull.expected_records), ""
    else:
        percent, tone = None, ""
    return {"pull": pull, "active": active, "percent": percent, "tone": tone, "doing": lines.pull_line(pull, now)}


def attribute_tree(value, depth=0):
    """Attributes as nodes the template can render without knowing Python types: dicts, lists, values."""
    if depth < MAX_DEPTH and isinstance(value, dict):
        return {"kind": "dict", "items": [(str(k), attribute_tree(v, depth + 1)) for k, v in value.items()]}
    if depth < MAX_DEPTH and isinstance(value, list):
        return {"kind": "list", "items": [attribute_tree(v, depth + 1) for v in value]}
    if value is None or value == "":
        return {"kind": "empty", "value": "empty" if value == "" else "null"}
    return {"kind": "value", "value": value}
