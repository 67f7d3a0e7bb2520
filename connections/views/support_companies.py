"""The company page: its connections, their data status and what each role may do with them."""

from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from portal.web.access import require_perm

from ..link import can_issue_new_link_url, link_url
from ..models import Company, PullOperation
from ..support import health
from ..sync.queueing import refresh_refusal

RECENT_PULLS = 10


def connection_cards(connections, request, now):
    """What the page shows per connection; a fixed number of queries for all of them."""
    by_connection = health.health_for_connections(connections, now)
    cards = []
    for connection in connections:
        rows = by_connection[connection.pk]
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


@require_perm("connections.view_company")
def company_detail(request, pk):
    company = get_object_or_404(Company, pk=pk)
    connections = sorted(
        company.connections.select_related("integration").order_by("-created_at"),
        key=lambda c: c.status == c.Status.UNLINKED,  # the active connection first, history after
    )
    recent = (
        PullOperation.objects.filter(connection__company=company)
        .select_related("connection__integration")
        .order_by("-requested_at", "-id")[:RECENT_PULLS]
    )
    ctx = {
        "company": company,
        "cards": connection_cards(connections, request, timezone.now()),
        "recent_pulls": list(recent),
    }
    return render(request, "connections/company_detail.html", ctx)
