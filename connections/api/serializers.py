"""Companies, connections, pull operations, data statuses and records as Codat's Platform API shows them."""

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from integrations.api.serializers import SOURCE_TYPES, SyncSettingSerializer, source_type
from portal.api import ids
from portal.api.fields import (
    DateTimeField,
    StrictBooleanField,
    StrictCharField,
    StrictRegexField,
    StrictUUIDField,
    codat_datetime,
)

from .. import tags as company_tags
from ..link_urls import link_url
from ..models import FAILED_PULL_STATUSES, Connection, PullOperation

CONNECTION_STATUSES = [status.value for status in Connection.Status]
DATASET_STATUSES = ["Initial", "Queued", "Fetching", "MapQueued", "Mapping", "Complete", "FetchError", "MapError",
                    "InternalError", "ProcessingQueued", "Processing", "ProcessingError", "ValidationQueued",
                    "Validating", "ValidationError", "AuthError", "Cancelled", "NotSupported", "RateLimitError",
                    "PermissionsError", "PrerequisiteNotMet"]  # fmt: skip
# Codat's name pattern for companies.
COMPANY_NAME_PATTERN = r"^[A-Za-z0-9\s\-',&@.,?!\s]+$"
# Codat's tags (Company.definitions.companyDetails.properties.tags); OpenAPI 3.0 has no
# propertyNames, so the name's length is said in words and checked by tags.tag_errors.
TAGS_SCHEMA = {
    "type": "object",
    "maxProperties": company_tags.MAX_TAGS,
    "additionalProperties": {"type": "string", "maxLength": company_tags.MAX_VALUE},
    "description": (
        f"At most {company_tags.MAX_TAGS} tags: each name 1 to {company_tags.MAX_NAME} characters, "
        f"each value a string of at most {company_tags.MAX_VALUE}."
    ),
}


def _absolute(request, path):
    return request.build_absolute_uri(path) if request is not None else settings.PORTAL_BASE_URL + path


class DataConnectionErrorSerializer(serializers.Serializer):
    statusCode = serializers.CharField()
    statusText = serializers.CharField()
    errorMessage = serializers.CharField()
    erroredOnUtc = serializers.CharField()
    status = serializers.ChoiceField(choices=["Active", "Resolved"], allow_null=True)


class ConnectionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    integrationId = serializers.SerializerMethodField()
    integrationKey = serializers.CharField(source="integration.key")
    sourceId = serializers.SerializerMethodField()
    sourceType = serializers.SerializerMethodField()
    platformName = serializers.CharField(source="integration.name")
    linkUrl = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=CONNECTION_STATUSES)
    lastSync = serializers.SerializerMethodField()
    created = DateTimeField(source="created_at")
    dataConnectionErrors = serializers.SerializerMethodField()
    connectionInfo = serializers.SerializerMethodField()

    @extend_schema_field(serializers.UUIDField())
    def get_integrationId(self, connection) -> str:
        return ids.integration_id(connection.integration.key)

    @extend_schema_field(serializers.UUIDField())
    def get_sourceId(self, connection) -> str:
        return ids.source_id(connection.integration.key)

    @extend_schema_field(serializers.ChoiceField(choices=SOURCE_TYPES))
    def get_sourceType(self, connection) -> str:
        return source_type(connection.category)

    @extend_schema_field(serializers.URLField())
    def get_linkUrl(self, connection) -> str:
        """The connection's Link URL, where the company's user enters their credentials."""
        request = self.context.get("request")
        url = link_url(connection, request)
        if url:
            return url
        return _absolute(request, reverse("connections:connection-detail", args=[connection.pk]))

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_lastSync(self, connection) -> str | None:
        return codat_datetime(getattr(connection, "last_sync", None))

    @extend_schema_field(DataConnectionErrorSerializer(many=True, allow_null=True))
    def get_dataConnectionErrors(self, connection):
        if connection.status != Connection.Status.DEAUTHORIZED:
            return []
        return [
            {
                "statusCode": "401",
                "statusText": "Deauthorized",
                "errorMessage": connection.status_reason or "The platform no longer accepts the credentials.",
                "erroredOnUtc": codat_datetime(connection.status_changed_at),
                "status": "Active",
            }
        ]

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_connectionInfo(self, connection):
        return None


class CompanySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField(allow_null=True)
    redirect = serializers.SerializerMethodField()
    lastSync = DateTimeField(source="last_synced_at", allow_null=True)
    created = DateTimeField(source="created_at")
    createdByUserName = serializers.SerializerMethodField()
    products = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()
    dataConnections = ConnectionSerializer(source="connections.all", many=True)

    @extend_schema_field(serializers.URLField())
    def get_redirect(self, company) -> str:
        """The Link URL of the newest connection that has one, else the company's page in the portal."""
        request = self.context.get("request")
        for connection in company.connections.all():
            url = link_url(connection, request)
            if url and connection.status != Connection.Status.UNLINKED:
                return url
        return _absolute(request, reverse("connections:company-detail", args=[company.pk]))

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_createdByUserName(self, company) -> str | None:
        return company.created_by.get_username() if company.created_by_id else None

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_products(self, company):
        return []

    @extend_schema_field(TAGS_SCHEMA)
    def get_tags(self, company):
        return dict(company.tags or {})


@extend_schema_field(TAGS_SCHEMA)
class TagsField(serializers.DictField):
    child = StrictCharField(max_length=company_tags.MAX_VALUE, allow_blank=True, trim_whitespace=False)


class CompanyRequestSerializer(serializers.Serializer):
    """Create, replace (PUT: tags left out are removed) or update (PATCH: tags replaced when given) a company."""

    name = StrictRegexField(COMPANY_NAME_PATTERN, max_length=200)
    description = StrictCharField(required=False, allow_blank=True)
    tags = TagsField(required=False)

    def validate_name(self, value):
        name = " ".join(value.split())
        if not name:
            raise serializers.ValidationError("Give the company a name.")
        return name

    def validate_tags(self, value):
        errors = company_tags.tag_errors(value)
        if errors:
            raise serializers.ValidationError(errors)
        return value


class CreateConnectionSerializer(serializers.Serializer):
    platformKey = StrictRegexField(r"^[a-z]{4}$")


class UpdateConnectionStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=CONNECTION_STATUSES, allow_null=True, required=False)


class UpdateAuthorizationSerializer(serializers.Serializer):
    apiKey = StrictCharField(max_length=500, trim_whitespace=True, write_only=True)


def pull_progress(pull) -> int:
    if pull.status == PullOperation.Status.QUEUED:
        return 0
    if not pull.is_active:
        return 100
    if pull.expected_records:
        return min(99, pull.records_fetched * 100 // pull.expected_records)
    return 50 if pull.status == PullOperation.Status.PROCESSING else 10


def pull_description(pull) -> str:
    """What the pull did or is doing, in a sentence (the technical detail when it failed)."""
    if pull.status in FAILED_PULL_STATUSES or pull.status == PullOperation.Status.CANCELLED:
        return pull.error_detail or pull.error_message or pull.status
    if pull.status == PullOperation.Status.QUEUED:
        return f"Queued ({pull.get_trigger_display().lower()}, {pull.get_mode_display().lower()} read)."
    counts = (
        f"{pull.records_fetched} records read in {pull.pages_fetched} pages: {pull.records_created} new, "
        f"{pull.records_updated} changed, {pull.records_unchanged} unchanged, {pull.records_deleted} deleted"
    )
    if pull.status == PullOperation.Status.COMPLETE:
        return f"Complete: {counts}."
    return f"{pull.status}: {counts} so far."


class PullOperationSerializer(serializers.Serializer):
    id = serializers.SerializerMethodField()
    companyId = serializers.UUIDField(source="connection.company_id")
    connectionId = serializers.UUIDField(source="connection_id")
    dataType = serializers.CharField(source="data_type")
    status = serializers.ChoiceField(choices=DATASET_STATUSES)
    statusDescription = serializers.SerializerMethodField()
    errorMessage = serializers.SerializerMethodField()
    requested = DateTimeField(source="requested_at")
    started = DateTimeField(source="started_at", allow_null=True)
    completed = DateTimeField(source="finished_at", required=False)
    progress = serializers.SerializerMethodField()
    isCompleted = serializers.SerializerMethodField()
    isErrored = serializers.SerializerMethodField()

    def to_representation(self, pull):
        data = super().to_representation(pull)
        if data.get("completed") is None:
            data.pop("completed", None)  # Codat's `completed` is a date, never null: absent until the end
        return data

    @extend_schema_field(serializers.UUIDField())
    def get_id(self, pull) -> str:
        return ids.pull_uuid(pull.pk)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_statusDescription(self, pull) -> str | None:
        return pull_description(pull)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_errorMessage(self, pull) -> str | None:
        return pull.error_message or None

    def get_progress(self, pull) -> int:
        return pull_progress(pull)

    def get_isCompleted(self, pull) -> bool:
        return pull.status == PullOperation.Status.COMPLETE

    def get_isErrored(self, pull) -> bool:
        return pull.status in FAILED_PULL_STATUSES


class DataStatusSerializer(serializers.Serializer):
    dataType = serializers.CharField(source="data_type")
    lastSuccessfulSync = DateTimeField(source="last_successful_sync_at", required=False)
    currentStatus = serializers.ChoiceField(source="current_status", choices=DATASET_STATUSES)
    latestSyncId = serializers.SerializerMethodField()
    latestSuccessfulSyncId = serializers.SerializerMethodField()

    def to_representation(self, status):
        data = super().to_representation(status)
        # Codat's dates and ids here are never null: absent until there is one.
        return {key: value for key, value in data.items() if value is not None}

    @extend_schema_field(serializers.UUIDField(required=False))
    def get_latestSyncId(self, status) -> str | None:
        return ids.pull_uuid(status.latest_pull_id)

    @extend_schema_field(serializers.UUIDField(required=False))
    def get_latestSuccessfulSyncId(self, status) -> str | None:
        return ids.pull_uuid(status.latest_successful_pull_id)


# Codat's data types, each a key of a company's data status (DataStatuses).
CODAT_DATA_TYPES = ["accountTransactions", "balanceSheet", "bankAccounts", "bankTransactions", "billCreditNotes",
                    "billPayments", "bills", "cashFlowStatement", "chartOfAccounts", "company", "creditNotes",
                    "customers", "directCosts", "directIncomes", "invoices", "itemReceipts", "items",
                    "journalEntries", "journals", "paymentMethods", "payments", "profitAndLoss", "purchaseOrders",
                    "salesOrders", "suppliers", "taxRates", "trackingCategories", "transfers",
                    "banking-accountBalances", "banking-accounts", "banking-transactionCategories",
                    "banking-transactions", "commerce-companyInfo", "commerce-customers", "commerce-disputes",
                    "commerce-locations", "commerce-orders", "commerce-paymentMethods", "commerce-payments",
                    "commerce-productCategories", "commerce-products", "commerce-taxComponents",
                    "commerce-transactions"]  # fmt: skip

# For the schema only: the answer is a dict, one DataStatus per data type that has one.
DataStatusesSerializer = type(
    "DataStatusesSerializer",
    (serializers.Serializer,),
    {name: DataStatusSerializer(required=False) for name in CODAT_DATA_TYPES},
)


class CompanySyncSettingsSerializer(serializers.Serializer):
    companyId = serializers.UUIDField()
    settings = SyncSettingSerializer(many=True)
    overridesDefaults = serializers.BooleanField()


class CompanySyncSettingsUpdateSerializer(serializers.Serializer):
    companyId = StrictUUIDField()
    settings = SyncSettingSerializer(many=True)
    overridesDefaults = StrictBooleanField(default=True)


class RecordSerializer(serializers.Serializer):
    """One synced record in the portal's normalised shape (our extension, not Codat's data model)."""

    id = serializers.CharField(source="remote_id")
    dataType = serializers.CharField(source="data_type")
    number = serializers.CharField()
    name = serializers.CharField()
    issuedOn = serializers.DateField(source="issued_on", allow_null=True)
    dueOn = serializers.DateField(source="due_on", allow_null=True)
    total = serializers.DecimalField(max_digits=18, decimal_places=4, allow_null=True, coerce_to_string=True)
    balance = serializers.DecimalField(max_digits=18, decimal_places=4, allow_null=True, coerce_to_string=True)
    currency = serializers.CharField()
    status = serializers.CharField()
    relatedId = serializers.CharField(source="related_id")
    sourceModifiedDate = DateTimeField(source="remote_modified_at", allow_null=True)
    modifiedDate = DateTimeField(source="updated_at")
    createdDate = DateTimeField(source="created_at")
    isDeleted = serializers.BooleanField(source="is_deleted")
    attributes = serializers.DictField()
