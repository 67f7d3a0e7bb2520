import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from integrations.models import Integration
from integrations.registry import FREQUENCY_SECONDS, Frequency

#
# Companies and connections
#


class Company(models.Model):
    """An end customer whose data we read."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, db_index=True)
    description = models.TextField(blank=True)
    # Codat's company tags: a flat map of short strings ({"region": "uk"}), used to
    # filter companies and to route webhooks to the endpoints that ask for them.
    tags = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Denormalised for the companies list (sort and show without a join per row);
    # kept current by the sync engine when a pull completes.
    last_synced_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "companies"

    def __str__(self):
        return self.name


class CompanySyncSetting(models.Model):
    """A company's own sync setting for one data type, in force instead of the portal's.

    Codat keeps these per company and data type (`/companies/{id}/syncSettings`); the portal's
    defaults are per integration and data type (`integrations.SyncSetting`). Which one is in
    force for a connection is decided in one place, `connections.sync.effective`. Written only
    by `connections.company_sync_settings`, which audits each change.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="sync_settings")
    data_type = models.CharField(max_length=50)
    fetch_on_first_link = models.BooleanField()
    frequency = models.CharField(max_length=10, choices=[(f.value, f.value.capitalize()) for f in Frequency])

    class Meta:
        ordering = ["company", "data_type"]
        constraints = [
            models.UniqueConstraint(fields=["company", "data_type"], name="unique_company_sync_setting"),
        ]

    def __str__(self):
        return f"{self.company_id}/{self.data_type}"

    @property
    def interval_seconds(self):
        return FREQUENCY_SECONDS[Frequency(self.frequency)]


class ConnectionStatus(models.TextChoices):
    PENDING_AUTH = "PendingAuth", "PendingAuth"
    LINKED = "Linked", "Linked"
    DEAUTHORIZED = "Deauthorized", "Deauthorized"
    UNLINKED = "Unlinked", "Unlinked"


class Connection(models.Model):
    """One company's link to one integration.

    Status moves happen only through `connections.status.move()`, which allows the
    legal moves and records each one. Credentials are Fernet-encrypted JSON
    (`connections.credentials`); the plaintext is never stored.
    """

    Status = ConnectionStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="connections")
    integration = models.ForeignKey(Integration, on_delete=models.PROTECT, related_name="connections")
    # Copied from the integration so the database can enforce one active connection per category.
    category = models.CharField(max_length=20)
    status = models.CharField(max_length=20, choices=ConnectionStatus.choices, default=ConnectionStatus.PENDING_AUTH)
    status_reason = models.CharField(max_length=500, blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    linked_at = models.DateTimeField(null=True, blank=True)

    # Link URL token: unguessable (secrets.token_urlsafe), shown on the company page
    # so support can resend it; it only lets someone submit credentials, never read data.
    link_token = models.CharField(max_length=64, null=True, blank=True, unique=True)
    link_token_created_at = models.DateTimeField(null=True, blank=True)
    link_token_expires_at = models.DateTimeField(null=True, blank=True)
    link_token_used_at = models.DateTimeField(null=True, blank=True)

    # Credentials
    credentials_encrypted = models.TextField(blank=True)
    credentials_fingerprint = models.CharField(max_length=40, blank=True)
    credentials_set_at = models.DateTimeField(null=True, blank=True)
    credentials_validated_at = models.DateTimeField(null=True, blank=True)
    credentials_validated_by = models.CharField(max_length=10, blank=True)  # link, test, sync

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "category"],
                condition=~Q(status="Unlinked"),
                name="one_active_connection_per_category",
            ),
        ]
        # The dashboard counts connections by status and lists the Deauthorized ones, newest first.
        indexes = [models.Index(fields=["status", "status_changed_at"], name="connection_status_idx")]
        permissions = [
            ("refresh_data", "Can queue pulls (refresh data)"),
            ("test_connection", "Can re-validate a connection's credentials"),
            ("cancel_pull", "Can cancel a queued or running pull"),
            ("add_note", "Can leave notes on a connection"),
            ("manage_connection", "Can unlink, delete and issue new Link URLs"),
        ]

    def __str__(self):
        return f"{self.company.name} · {self.integration.name}"

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials_encrypted)


class ConnectionEvent(models.Model):
    """One entry in a connection's timeline. Never holds a credential."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        LINK_URL_ISSUED = "link_url_issued", "Link URL issued"
        LINK_ACCEPTED = "link_accepted", "Link accepted"
        LINK_REJECTED = "link_rejected", "Link rejected"
        LINK_UNREACHABLE = "link_unreachable", "Link attempt: platform unreachable"
        STATUS_CHANGED = "status_changed", "Status changed"
        PULL_QUEUED = "pull_queued", "Pull queued"
        PULL_STARTED = "pull_started", "Pull started"
        PULL_COMPLETED = "pull_completed", "Pull completed"
        PULL_FAILED = "pull_failed", "Pull failed"
        TEST = "test", "Connection tested"
        NOTE = "note", "Note"
        # What a webhook endpoint was told about the connection (written by connections.webhooks.told).
        WEBHOOK_DELIVERED = "webhook_delivered", "Webhook delivered"
        WEBHOOK_FAILED = "webhook_failed", "Webhook not delivered"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)  # "company user", "system", or a username
    message = models.TextField()
    detail = models.JSONField(default=dict, blank=True)
    pull = models.ForeignKey("PullOperation", null=True, blank=True, on_delete=models.SET_NULL, related_name="events")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["connection", "-created_at"])]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.kind} {self.message[:40]}"


class LinkAttempt(models.Model):
    """A submitted Link form, kept for rate limiting (per token and per client address)."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    token_hash = models.CharField(max_length=64, db_index=True)
    client_address = models.CharField(max_length=64, db_index=True)
    outcome = models.CharField(max_length=20, blank=True)

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.outcome}"


#
# Pull operations, records and data status
#


class PullStatus(models.TextChoices):
    QUEUED = "Queued", "Queued"
    FETCHING = "Fetching", "Fetching"
    PROCESSING = "Processing", "Processing"
    COMPLETE = "Complete", "Complete"
    FETCH_ERROR = "FetchError", "FetchError"
    AUTH_ERROR = "AuthError", "AuthError"
    INTERNAL_ERROR = "InternalError", "InternalError"
    NOT_SUPPORTED = "NotSupported", "NotSupported"
    CANCELLED = "Cancelled", "Cancelled"
    RATE_LIMIT_ERROR = "RateLimitError", "RateLimitError"


ACTIVE_PULL_STATUSES = (PullStatus.QUEUED, PullStatus.FETCHING, PullStatus.PROCESSING)
RUNNING_PULL_STATUSES = (PullStatus.FETCHING, PullStatus.PROCESSING)  # claimed by a worker
FAILED_PULL_STATUSES = (
    PullStatus.FETCH_ERROR,
    PullStatus.AUTH_ERROR,
    PullStatus.INTERNAL_ERROR,
    PullStatus.NOT_SUPPORTED,
    PullStatus.RATE_LIMIT_ERROR,
)


class PullOperation(models.Model):
    """One read of one data type for one connection (Codat calls it a dataset)."""

    Status = PullStatus

    class Trigger(models.TextChoices):
        FIRST_LINK = "first_link", "First link"
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "Manual"
        RETRY = "retry", "Retry after a stalled pull"

    class Mode(models.TextChoices):
        FULL = "full", "Full"
        INCREMENTAL = "incremental", "Incremental"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="pulls")
    data_type = models.CharField(max_length=50)
    status = models.CharField(max_length=20, choices=PullStatus.choices, default=PullStatus.QUEUED)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.FULL)
    modified_since = models.DateTimeField(null=True, blank=True)

    requested_at = models.DateTimeField(default=timezone.now)  # indexed with status: see Meta.indexes
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    pages_fetched = models.PositiveIntegerField(default=0)
    records_fetched = models.PositiveIntegerField(default=0)
    records_created = models.PositiveIntegerField(default=0)
    records_updated = models.PositiveIntegerField(default=0)
    records_unchanged = models.PositiveIntegerField(default=0)
    records_deleted = models.PositiveIntegerField(default=0)
    # For the progress bar: what the last complete pull of this data type fetched.
    expected_records = models.PositiveIntegerField(null=True, blank=True)

    error_message = models.TextField(blank=True)  # a sentence for people
    error_detail = models.TextField(blank=True)  # technical detail

    # While the provider retries a failed request of a running pull: the try about to be made
    # (2 for the first retry) of at most `retry_attempts`, when it starts and why the last one
    # failed. Written by the sync engine's retry report (connections.sync.retrying), cleared
    # once a request goes through; null when nothing is being retried.
    retry_attempt = models.PositiveSmallIntegerField(null=True, blank=True)
    retry_attempts = models.PositiveSmallIntegerField(null=True, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)
    retry_reason = models.CharField(max_length=300, blank=True, default="", db_default="")

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            # At most one active pull per connection and data type, enforced by the database.
            models.UniqueConstraint(
                fields=["connection", "data_type"],
                condition=Q(status__in=["Queued", "Fetching", "Processing"]),
                name="one_active_pull_per_data_type",
            ),
        ]
        indexes = [
            models.Index(fields=["connection", "data_type", "-requested_at"]),
            models.Index(fields=["status", "-requested_at"]),
            # Read history filtered by data type, newest first.
            models.Index(fields=["data_type", "-requested_at"], name="pull_data_type_requested_idx"),
            # Time ranges (read history newest first, the dashboard's pulls per hour), with the status
            # beside the time: PostgreSQL counts an hour's pulls by status from this index alone (an
            # index-only scan), where the plain time index made it visit every pull of the hour
            # (66 ms → 7 ms for an hour of 9,500 pulls; docs/RELIABILITY.md).
            models.Index(fields=["requested_at", "status"], name="pull_requested_status_idx"),
        ]

    def __str__(self):
        return f"Pull {self.pk} {self.data_type} {self.status}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_PULL_STATUSES

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class Record(models.Model):
    """One synced item, per connection, data type and remote id."""

    # No index of its own: the unique (connection, data_type, remote_id) starts with it, and each
    # index more is written for every record a sync stores.
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="records", db_index=False)
    data_type = models.CharField(max_length=50)
    remote_id = models.CharField(max_length=100)
    number = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=300, blank=True)
    issued_on = models.DateField(null=True, blank=True)
    due_on = models.DateField(null=True, blank=True)
    remote_modified_at = models.DateTimeField(null=True, blank=True)
    total = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    balance = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    status = models.CharField(max_length=40, blank=True)
    related_id = models.CharField(max_length=100, blank=True)
    attributes = models.JSONField(default=dict)
    content_hash = models.CharField(max_length=64)
    # A digest of the record's bytes as last received, when the provider can tell: a re-sync
    # that receives the same bytes knows the record is unchanged without parsing it.
    wire_hash = models.CharField(max_length=40, blank=True, default="")
    is_deleted = models.BooleanField(default=False)
    # The pull that last wrote the record, for support. No foreign key constraint in the database:
    # PostgreSQL checked it row by row at every commit, a quarter of a full sync's insert time
    # (benchmarks/README.md). Django still nulls it when a pull is deleted (SET_NULL is Django's),
    # and pulls go only with their connection, which takes its records along.
    last_pull = models.ForeignKey(
        PullOperation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["data_type", "remote_id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "data_type", "remote_id"], name="unique_record"),
        ]
        indexes = [
            models.Index(fields=["connection", "data_type", "issued_on"]),
            models.Index(fields=["connection", "data_type", "total"]),
            models.Index(fields=["connection", "data_type", "number"]),
        ]

    def __str__(self):
        return f"{self.data_type} {self.remote_id}"


class DataStatus(models.Model):
    """Per connection and data type, as Codat reports it.

    Written only through `connections.sync.data_status`, which keeps `scheduled` and
    `stale_after` current with their inputs.
    """

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="data_statuses")
    data_type = models.CharField(max_length=50)
    current_status = models.CharField(max_length=20, choices=PullStatus.choices, blank=True)
    last_successful_sync_at = models.DateTimeField(null=True, blank=True)
    latest_pull = models.ForeignKey(PullOperation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    latest_successful_pull = models.ForeignKey(
        PullOperation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    failures_in_row = models.PositiveIntegerField(default=0)
    # When the last successful pull of this data type started: the next incremental
    # read starts from here (minus an overlap).
    last_successful_started_at = models.DateTimeField(null=True, blank=True)
    # When this data becomes stale (no success within twice the interval, from the last
    # success or the link); null while nothing schedules it (not Linked, integration off,
    # frequency "none"). The rule is connections.sync.staleness.
    stale_after = models.DateTimeField(null=True, blank=True, editable=False)
    # Its connection is Linked and its integration on.
    scheduled = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["connection", "data_type"]
        verbose_name_plural = "data statuses"
        constraints = [
            models.UniqueConstraint(fields=["connection", "data_type"], name="unique_data_status"),
        ]
        # The dashboard's Needs attention: stale data types and those failing in a row.
        indexes = [
            models.Index(fields=["data_type", "last_successful_sync_at"], name="data_status_last_success_idx"),
            models.Index(fields=["failures_in_row"], name="data_status_failures_idx"),
            # Stale data, most overdue first, less the failing ones: the index alone answers.
            models.Index(fields=["stale_after", "failures_in_row"], name="data_status_stale_after_idx"),
            # Data types failing in a row where the schedule runs, most failures (then newest) first.
            models.Index(fields=["scheduled", "failures_in_row", "latest_pull"], name="data_status_failing_idx"),
        ]

    def __str__(self):
        return f"{self.connection_id}/{self.data_type}: {self.current_status}"
