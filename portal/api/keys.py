"""Creating, finding and revoking API keys: the one place a key is made or hashed.

The plaintext key exists only in the return value of `create_key`; callers show it once
and forget it. Nothing here logs a key.
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from .models import ApiKey
from .signals import api_key_created, api_key_revoked

KEY_BYTES = 30  # 40 characters of URL-safe base64, like Codat's keys
MAX_ACTIVE_KEYS = 10  # Codat's limit
LAST_USED_RESOLUTION = timedelta(minutes=1)  # last_used_at is written at most once a minute per key


class TooManyKeys(Exception):
    """The portal already has MAX_ACTIVE_KEYS active keys."""


@sensitive_variables("key")
def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@sensitive_variables("key")
def create_key(name="", *, user=None, actor_name=None) -> tuple[ApiKey, str]:
    """A new active key; returns (row, plaintext key). The plaintext is never stored, nor announced."""
    limit = getattr(settings, "API_MAX_KEYS", MAX_ACTIVE_KEYS)
    with transaction.atomic():
        if ApiKey.objects.filter(revoked_at__isnull=True).count() >= limit:
            raise TooManyKeys(
                "Maximum number of API keys reached. To create a new API key, delete an unused key and try again."
            )
        key = secrets.token_urlsafe(KEY_BYTES)
        row = ApiKey.objects.create(
            name=(name or "").strip()[:50],
            key_hash=hash_key(key),
            prefix=key[:8],
            created_by=user,
            created_by_name=actor_name or (user.get_username() if user is not None else "system"),
        )
        api_key_created.send(ApiKey, api_key=row, actor=user, actor_name=row.created_by_name)
    return row, key


@sensitive_variables("key")
def find_active_key(key: str) -> ApiKey | None:
    """The active key row for a plaintext key, or None (unknown or revoked)."""
    if not key:
        return None
    return ApiKey.objects.filter(key_hash=hash_key(key), revoked_at__isnull=True).first()


def touch(row: ApiKey, now=None):
    """Record that a key was used, at most once per LAST_USED_RESOLUTION (no write per request)."""
    now = now or timezone.now()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now


def revoke_key(row: ApiKey, *, user=None, actor_name=None) -> bool:
    """Revoke a key at once; returns False when it was already revoked (and announces nothing)."""
    actor_name = actor_name or (user.get_username() if user is not None else "system")
    with transaction.atomic():
        revoked = ApiKey.objects.filter(pk=row.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by_name=actor_name[:150]
        )
        if revoked:
            api_key_revoked.send(ApiKey, api_key=row, actor=user, actor_name=actor_name)
    return bool(revoked)
