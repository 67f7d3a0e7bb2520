"""Finding what a URL names, or answering Codat's 404."""

from django.db.models import Max, Prefetch

from portal.api.errors import not_found

from ..models import Company, Connection


def connections():
    """Connections with what the API shows of them: integration, and last successful sync."""
    return Connection.objects.select_related("integration").annotate(
        last_sync=Max("data_statuses__last_successful_sync_at")
    )


def companies():
    return Company.objects.select_related("created_by").prefetch_related(
        Prefetch("connections", queryset=connections().order_by("-created_at"))
    )


def company_or_404(company_id, queryset=None):
    company = (queryset if queryset is not None else Company.objects).filter(pk=company_id).first()
    if company is None:
        raise not_found(f"No company was found with ID {company_id}")
    return company


def connection_or_404(company, connection_id):
    connection = connections().select_related("company").filter(company=company, pk=connection_id).first()
    if connection is None:
        raise not_found(f"Data connection {connection_id} not found")
    return connection
