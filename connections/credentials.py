"""Credentials at rest: Fernet-encrypted JSON, never the plaintext.

`settings.CREDENTIAL_KEYS` lists Fernet keys; the first encrypts, all decrypt
(MultiFernet), so a key can be rotated in without breaking what is stored:
add the new key first, run `manage.py rotate_credentials`, then drop the old one.

Only a fingerprint (from the provider) is ever shown; callers must never log,
render or audit the dict these functions return.
"""

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from .models import Connection

VALIDATED_BY = ("link", "test", "sync")
# The connection's columns that store_credentials() sets and wipe_credentials() clears.
CREDENTIAL_FIELDS = [
    "credentials_encrypted",
    "credentials_fingerprint",
    "credentials_set_at",
    "credentials_validated_at",
    "credentials_validated_by",
]


class CredentialsUnreadable(Exception):
    """Stored credentials no configured key can decrypt (a key was dropped too early)."""


@sensitive_variables()  # the keys themselves: never in an exception report
def _fernet() -> MultiFernet:
    keys = settings.CREDENTIAL_KEYS
    if not keys:
        raise ValueError("CREDENTIAL_KEYS is empty: at least one Fernet key is needed.")
    return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])


@sensitive_variables("credentials")
def encrypt_credentials(credentials: dict) -> str:
    """The dict as a Fernet token (text), encrypted with the first key."""
    return _fernet().encrypt(json.dumps(credentials, sort_keys=True).encode()).decode()


def decrypt_credentials(token: str) -> dict:
    """The dict back from a token made with any configured key."""
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken:
        # No detail: the token itself is secret material.
        raise CredentialsUnreadable(
            "The stored credentials cannot be decrypted with the configured CREDENTIAL_KEYS."
        ) from None


def rotate_token(token: str) -> str:
    """Re-encrypt a token with the first key (a no-op in effect when it already is)."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise CredentialsUnreadable(
            "The stored credentials cannot be decrypted with the configured CREDENTIAL_KEYS."
        ) from None


@sensitive_variables("credentials")
def store_credentials(connection, credentials: dict, validated_by: str):
    """Encrypt and save a connection's credentials, just validated by `validated_by`."""
    if validated_by not in VALIDATED_BY:
        raise ValueError(f"validated_by must be one of {VALIDATED_BY}")
    now = timezone.now()
    connection.credentials_encrypted = encrypt_credentials(credentials)
    connection.credentials_fingerprint = connection.integration.provider.fingerprint(credentials)[:40]
    connection.credentials_set_at = now
    connection.credentials_validated_at = now
    connection.credentials_validated_by = validated_by
    connection.save(update_fields=CREDENTIAL_FIELDS)
    return connection


def connection_credentials(connection) -> dict:
    """The plaintext credentials of a connection, for the provider only; {} when none are set."""
    if not connection.credentials_encrypted:
        return {}
    return decrypt_credentials(connection.credentials_encrypted)


def wipe_credentials(connection):
    """Forget a connection's credentials (on unlink); the fingerprint goes too."""
    connection.credentials_encrypted = ""
    connection.credentials_fingerprint = ""
    connection.credentials_set_at = None
    connection.credentials_validated_at = None
    connection.credentials_validated_by = ""
    connection.save(update_fields=CREDENTIAL_FIELDS)
    return connection


def mark_validated(connection, by: str):
    """The platform accepted the stored credentials again (a test or a successful pull)."""
    if by not in VALIDATED_BY:
        raise ValueError(f"by must be one of {VALIDATED_BY}")
    connection.credentials_validated_at = timezone.now()
    connection.credentials_validated_by = by
    connection.save(update_fields=["credentials_validated_at", "credentials_validated_by"])
    return connection


def rotate_all() -> tuple[int, int]:
    """Re-encrypt every stored credential with the first key.

    Returns (rotated, unreadable). Row by row with `update()` so a long run never
    holds one big transaction and never touches other columns a worker may be writing.
    """
    rotated = unreadable = 0
    rows = Connection.objects.exclude(credentials_encrypted="").values_list("pk", "credentials_encrypted")
    for pk, token in rows.iterator():
        try:
            new_token = rotate_token(token)
        except CredentialsUnreadable:
            unreadable += 1
            continue
        Connection.objects.filter(pk=pk, credentials_encrypted=token).update(credentials_encrypted=new_token)
        rotated += 1
    return rotated, unreadable


def generate_key() -> str:
    return Fernet.generate_key().decode()
