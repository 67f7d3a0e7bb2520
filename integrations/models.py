from django.conf import settings as django_settings
from django.db import models
from django.utils import timezone

from . import registry
from .registry import Frequency


class Integration(models.Model):
    """A third-party platform we can connect to; one row per registered provider.

    Rows are created and updated from the registry (`sync_catalogue`). `enabled` is
    the admin's switch: off refuses new links and pauses schedules, never touching
    connection statuses.
    """

    key = models.CharField("platform key", max_length=4, unique=True)
    name = models.CharField(max_length=100)
    category = models.CharField(max_length=20, choices=[(c, c) for c in registry.CATEGORIES])
    enabled = models.BooleanField(default=False)
    settings = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["category", "name"]

    def __str__(self):
        return f"{self.name} ({self.key})"

    @property
    def provider(self):
        return registry.get(self.key)

    def effective_settings(self) -> dict:
        """Provider defaults overlaid with what the admin saved."""
        return {**self.provider.default_settings(), **(self.settings or {})}

    def refuse_new_links_reason(self) -> str:
        """Empty when new links are allowed; otherwise a sentence saying why not."""
        if not self.enabled:
            return f"{self.name} is switched off in this portal, so new links are not accepted right now."
        return ""

    @property
    def schedules_paused(self) -> bool:
        return not self.enabled


class SyncSetting(models.Model):
    """Per integration and data type: fetch on first link, and how often to sync."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="sync_settings")
    data_type = models.CharField(max_length=50)
    fetch_on_first_link = models.BooleanField(default=True)
    frequency = models.CharField(
        max_length=10, choices=[(f.value, f.value.capitalize()) for f in Frequency], default=Frequency.DAILY
    )

    class Meta:
        ordering = ["integration", "data_type"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "data_type"], name="unique_sync_setting"),
        ]

    def __str__(self):
        return f"{self.integration.key}/{self.data_type}"

    @property
    def interval_seconds(self):
        return registry.FREQUENCY_SECONDS[Frequency(self.frequency)]


class AuditEvent(models.Model):
    """Who changed what, when, from what to what. Never edited or deleted through the portal.

    `changes` is a list of {"field", "before", "after"}; secret fields are masked
    before they get here.
    """

    class Action(models.TextChoices):
        ENABLED = "enabled", "Switched on"
        DISABLED = "disabled", "Switched off"
        SETTINGS_CHANGED = "settings_changed", "Settings changed"
        SYNC_SETTINGS_CHANGED = "sync_settings_changed", "Sync settings changed"
        COMPANY_CREATED = "company_created", "Company created"
        COMPANY_CHANGED = "company_changed", "Company changed"
        COMPANY_DELETED = "company_deleted", "Company deleted"
        CONNECTION_CREATED = "connection_created", "Connection created"
        CONNECTION_UNLINKED = "connection_unlinked", "Connection unlinked"
        CONNECTION_DELETED = "connection_deleted", "Connection deleted"
        LINK_URL_ISSUED = "link_url_issued", "New Link URL issued"
        API_KEY_CREATED = "api_key_created", "API key created"
        API_KEY_REVOKED = "api_key_revoked", "API key revoked"
        COMPANY_SYNC_SETTINGS_CHANGED = "company_sync_settings", "Company sync settings changed"
        WEBHOOK_CREATED = "webhook_created", "Webhook endpoint added"
        WEBHOOK_CHANGED = "webhook_changed", "Webhook endpoint changed"
        WEBHOOK_SECRET_ROTATED = "webhook_secret_rotated", "Webhook secret rotated"
        WEBHOOK_DELETED = "webhook_deleted", "Webhook endpoint deleted"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)  # kept when the user is deleted
    integration = models.ForeignKey(
        Integration, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    action = models.CharField(max_length=30, choices=Action.choices)
    target = models.CharField(max_length=200, blank=True)  # e.g. a company or connection name
    target_id = models.CharField(max_length=64, blank=True)
    changes = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["integration", "-created_at"])]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name} {self.get_action_display()}"
