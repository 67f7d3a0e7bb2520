import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiKey(models.Model):
    """A key for the REST API. Only a SHA-256 hash of the key is stored; the key is shown once.

    Keys are random (256 bits), so a plain hash is as safe as a slow one and can be looked up
    directly. A revoked key keeps its row (who made it, when it was last used) but never
    authenticates again.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=50, blank=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=8, editable=False)  # the first characters, to recognise a key
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_name = models.CharField(max_length=150, blank=True)  # a username, a key's label or "system"
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, db_index=True)
    revoked_by_name = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self):
        return self.label

    @property
    def label(self) -> str:
        """Who acted, for audit events and timelines: the key's name, marked as a key."""
        return f"{self.name or 'unnamed ' + self.prefix} (API key)"

    @property
    def active(self) -> bool:
        return self.revoked_at is None
