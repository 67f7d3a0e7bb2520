"""Read-side queries for the Integrations pages (one query per list, never one per row)."""

from django.db.models import Count, Q

from . import registry
from .models import Integration

# The connection status that counts as "linked" (the vocabulary's word; `connections`
# depends on this app, not the other way round, so the value is named here).
LINKED = "Linked"


def with_connection_counts(integrations):
    return integrations.select_related("updated_by").annotate(
        total_connections=Count("connections", distinct=True),
        linked_connections=Count("connections", filter=Q(connections__status=LINKED), distinct=True),
    )


def linked_count(integration) -> int:
    return integration.connections.filter(status=LINKED).count()


def catalogue_sections(query=""):
    """[{category, slug, rows: [{integration, provider}]}] for every category, in order.

    Rows whose provider is no longer registered are left out: there is no code to run them.
    """
    integrations = Integration.objects.all()
    if query:
        integrations = integrations.filter(Q(name__icontains=query) | Q(key__icontains=query))
    providers = {p.key: p for p in registry.all_providers()}
    rows = [
        {"integration": i, "provider": providers[i.key]}
        for i in with_connection_counts(integrations).order_by("name")
        if i.key in providers
    ]
    return [
        {
            "category": category,
            "slug": category.lower(),
            "rows": [r for r in rows if r["integration"].category == category],
        }
        for category in registry.CATEGORIES
    ]
