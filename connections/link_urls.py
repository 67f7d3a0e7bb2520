"""Link URLs: issuing one (an unguessable token, valid for LINK_TOKEN_TTL_HOURS), its address, and
whether a connection may be given a new one. Using one is `connections.link`.
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from integrations import audit

from .events import record_event
from .models import Connection, ConnectionEvent

S = Connection.Status


def token_hash(token: str) -> str:
    # LinkAttempt keeps a hash, so the attempts table never holds a usable token.
    return hashlib.sha256(token.encode()).hexdigest()


#
# Issuing Link URLs
#


def issue_link_url(connection, user=None, *, actor_name=None) -> str:
    """Give `connection` a fresh Link URL token (the old one stops working); returns the token.

    `actor_name` names who acted when no portal user did (an API key).
    """
    now = timezone.now()
    token = secrets.token_urlsafe(32)
    previous_expiry = connection.link_token_expires_at
    connection.link_token = token
    connection.link_token_created_at = now
    connection.link_token_expires_at = now + timedelta(hours=settings.LINK_TOKEN_TTL_HOURS)
    connection.link_token_used_at = None
    until = timezone.localtime(connection.link_token_expires_at)
    with transaction.atomic():
        connection.save(
            update_fields=["link_token", "link_token_created_at", "link_token_expires_at", "link_token_used_at"]
        )
        record_event(
            connection,
            ConnectionEvent.Kind.LINK_URL_ISSUED,
            f"New Link URL issued; it works until {until:%d %b %Y %H:%M}.",
            actor=user,
            actor_label=actor_name,
        )
        audit.record(
            audit.Action.LINK_URL_ISSUED,
            actor=user,
            actor_name=actor_name,
            integration=connection.integration,
            target=str(connection),
            target_id=connection.pk,
            changes=[
                {
                    "field": "link_url_expires_at",
                    "before": previous_expiry.isoformat() if previous_expiry else None,
                    "after": connection.link_token_expires_at.isoformat(),
                }
            ],
        )
    return token


def link_url(connection, request=None) -> str:
    """The absolute Link URL of a connection ("" when it has none)."""
    if not connection.link_token:
        return ""
    path = reverse("connections:link", args=[connection.link_token])
    if request is not None:
        return request.build_absolute_uri(path)
    return settings.PORTAL_BASE_URL + path


def link_url_expired(connection, now=None) -> bool:
    now = now or timezone.now()
    return bool(connection.link_token_expires_at and connection.link_token_expires_at <= now)


def can_issue_new_link_url(connection) -> bool:
    """A new Link URL is for relinking, or for a pending connection whose URL no longer works."""
    if connection.status in (S.DEAUTHORIZED, S.UNLINKED):
        return True
    if connection.status == S.PENDING_AUTH:
        return not connection.link_token or connection.link_token_used_at is not None or link_url_expired(connection)
    return False
