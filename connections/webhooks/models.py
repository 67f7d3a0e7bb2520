import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

#
# Endpoints (Codat's webhook consumers)
#


DISABLED_BY_HAND = "Disabled by hand."


class Endpoint(models.Model):
    """Where events are sent: a URL, the event types it wants, and optional company tags.

    The signing secret is Fernet-encrypted (`secrets`); during a rotation the previous one
    also signs until `previous_secret_expires_at`.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list)
    # "tagKey:tagValue" strings: when any is given, only events of companies with a matching tag.
    company_tags = models.JSONField(default=list, blank=True)
    disabled = models.BooleanField(default=False)
    disabled_reason = models.CharField(max_length=300, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    secret_encrypted = models.TextField()
    secret_fingerprint = models.CharField(max_length=20)
    previous_secret_encrypted = models.TextField(blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # The first failed attempt of the current run of failures (null after any success):
    # failing for WEBHOOK_DISABLE_AFTER_SECONDS in a row disables the endpoint.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by_name = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        permissions = [("manage_endpoint", "Can create, change, delete endpoints, see their secrets and replay")]

    def __str__(self):
        return self.url

    def wants(self, event_type: str, tags: dict) -> bool:
        """Subscribed to `event_type`, and (when it names tags) the company has one of them."""
        if event_type not in self.event_types:
            return False
        if not self.company_tags:
            return True
        pairs = {f"{key}:{value}" for key, value in (tags or {}).items()}
        return bool(pairs & set(self.company_tags))


#
# Events (the outbox) and their deliveries
#


class Event(models.Model):
    """One thing that happened, written in the same transaction as the change that caused it.

    `body` is the exact JSON text sent (and re-sent by a replay), so every delivery of an
    event carries the same bytes and the same id.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event_type = models.CharField(max_length=60)
    generated_at = models.DateTimeField(default=timezone.now)
    body = models.TextField()
    # No foreign keys: an event outlives the company or connection it tells of.
    company_id = models.UUIDField(null=True, blank=True)
    company_name = models.CharField(max_length=200, blank=True)
    connection_id = models.UUIDField(null=True, blank=True)
    summary = models.CharField(max_length=300, blank=True)  # a sentence for the timeline and the log

    class Meta:
        ordering = ["-generated_at", "-id"]
        indexes = [
            models.Index(fields=["connection_id", "event_type", "-generated_at"], name="webhook_event_conn_idx"),
            models.Index(fields=["company_id", "-generated_at"], name="webhook_event_company_idx"),
            models.Index(fields=["generated_at"], name="webhook_event_generated_idx"),
        ]

    def __str__(self):
        return f"{self.event_type} {self.id}"


class Message(models.Model):
    """One event for one endpoint: pending until delivered, or failed once its retries ran out."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="messages")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="messages")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)  # in the current round (a replay starts a new one)
    next_attempt_at = models.DateTimeField(null=True, blank=True)  # null once delivered or failed
    # A worker holds the message until then; past it (the worker died) the sweeper takes it again.
    leased_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # Why the current round runs: the schedule, a replay, or the "Send test event" button.
    trigger = models.CharField(max_length=10, default="schedule")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["event", "endpoint"], name="one_message_per_endpoint")]
        indexes = [
            # The sweeper: pending messages that are due.
            models.Index(fields=["next_attempt_at"], name="webhook_message_due_idx", condition=Q(status="pending")),
            models.Index(fields=["endpoint", "status", "-created_at"], name="webhook_message_endpoint_idx"),
        ]

    def __str__(self):
        return f"{self.event_id} → {self.endpoint_id}: {self.status}"


class Attempt(models.Model):
    """One HTTP request of a delivery: when, how it ended, how long it took, the start of the answer."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        REPLAY = "replay", "Replay"
        TEST = "test", "Test event"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attempt_log")
    started_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    error = models.CharField(max_length=300, blank=True)
    response_start = models.CharField(max_length=500, blank=True)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.SCHEDULE)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["message", "-started_at"], name="webhook_attempt_message_idx")]

    def __str__(self):
        return f"{self.started_at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error}"
