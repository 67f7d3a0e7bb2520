"""Event payloads, shaped as Codat's webhook document shapes them (`referenceCompany`, `connection`, …)."""

from django.conf import settings
from django.db.models import Count
from django.urls import reverse

from ..api.serializers import ConnectionSerializer
from ..models import Record


def company_reference(company) -> dict:
    return {
        "id": str(company.pk),
        "name": company.name,
        "description": company.description,
        "links": {"portal": settings.PORTAL_BASE_URL + reverse("connections:company-detail", args=[company.pk])},
        "tags": dict(company.tags or {}),
    }


def company_payload(company) -> dict:
    """Codat's companyDetails: the reference plus when it was created."""
    return {**company_reference(company), "created": company.created_at.isoformat().replace("+00:00", "Z")}


def connection_payload(connection) -> dict:
    return {
        "referenceCompany": company_reference(connection.company),
        "connection": ConnectionSerializer(connection).data,
    }


def read_summary(pull, stored: int) -> dict:
    """One data type of a read: Codat's dataTypeReadSummary, plus the counts (our extension)."""
    modified = bool(pull.records_created or pull.records_updated or pull.records_deleted)
    return {
        "connectionId": str(pull.connection_id),
        "dataType": pull.data_type,
        "status": pull.status,
        "recordsModified": modified,
        "issues": [{"type": "error", "message": pull.error_message}] if pull.error_message else [],
        "counts": {
            "fetched": pull.records_fetched,
            "created": pull.records_created,
            "updated": pull.records_updated,
            "unchanged": pull.records_unchanged,
            "deleted": pull.records_deleted,
            "stored": stored,
        },
    }


def read_completed_payload(connection, pulls, modified_from) -> dict:
    """The pulls of one read, each with the records now stored for its data type (not deleted)."""
    rows = (
        Record.objects.filter(connection=connection, is_deleted=False, data_type__in=[p.data_type for p in pulls])
        .values("data_type")
        .annotate(n=Count("id"))
    )
    stored = {row["data_type"]: row["n"] for row in rows}
    return {
        "referenceCompany": company_reference(connection.company),
        "modifiedFromDate": modified_from.isoformat().replace("+00:00", "Z") if modified_from else None,
        "dataTypes": [read_summary(pull, stored.get(pull.data_type, 0)) for pull in pulls],
    }


def data_status_payload(pull) -> dict:
    return {
        "referenceCompany": company_reference(pull.connection.company),
        "connectionId": str(pull.connection_id),
        "dataType": pull.data_type,
        "status": pull.status,
        "datasetId": str(pull.pk),
        "message": pull.error_message,
    }
