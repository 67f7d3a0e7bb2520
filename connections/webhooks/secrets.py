"""Endpoint signing secrets: made here, encrypted at rest, shown once, rotated with an overlap.

A secret is Standard Webhooks' `whsec_` + base64 of 24 random bytes. Stored Fernet-encrypted
with the credential keys; only its fingerprint is ever shown after creation.
"""

import base64
import hashlib
import secrets as random
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from ..credentials import decrypt_credentials, encrypt_credentials

PREFIX = "whsec_"
SECRET_BYTES = 24


@sensitive_variables("secret")
def new_secret() -> str:
    return PREFIX + base64.b64encode(random.token_bytes(SECRET_BYTES)).decode()


@sensitive_variables("secret")
def fingerprint(secret: str) -> str:
    """Enough to tell two secrets apart, nothing to sign with: the start of a SHA-256."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:10]


@sensitive_variables("secret")
def encrypt(secret: str) -> str:
    return encrypt_credentials({"secret": secret})


def decrypt(token: str) -> str:
    return decrypt_credentials(token)["secret"]


@sensitive_variables("secret")
def set_new_secret(endpoint) -> str:
    """Give `endpoint` (unsaved changes) a fresh secret; returns the plaintext, to show once."""
    secret = new_secret()
    endpoint.secret_encrypted = encrypt(secret)
    endpoint.secret_fingerprint = fingerprint(secret)
    return secret


@sensitive_variables("secret")
def rotate(endpoint, now=None) -> str:
    """A new secret; the old one keeps signing for WEBHOOK_SECRET_OVERLAP_HOURS. Returns the new plaintext."""
    now = now or timezone.now()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_expires_at = now + timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS)
    return set_new_secret(endpoint)


def signing_secrets(endpoint, now=None) -> list[str]:
    """The secrets that sign now: the current one, and the previous one while its overlap lasts."""
    now = now or timezone.now()
    found = [decrypt(endpoint.secret_encrypted)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_encrypted and expires is not None and expires > now:
        found.append(decrypt(endpoint.previous_secret_encrypted))
    return found
