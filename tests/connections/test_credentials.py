"""Credentials at rest: Fernet with several keys, rotation, and nothing in clear."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection as db_connection
from django.test import override_settings

from connections import credentials
from connections.credentials import CredentialsUnreadable
from tests import factory

KEY = "CB-test-key-7f3a9c2e5b1d4e6f"
OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


def test_it_round_trips_a_dict():
    token = credentials.encrypt_credentials({"api_key": KEY})
    assert KEY not in token
    assert credentials.decrypt_credentials(token) == {"api_key": KEY}


def test_it_decrypts_with_any_configured_key_and_encrypts_with_the_first():
    with override_settings(CREDENTIAL_KEYS=[OLD]):
        token = credentials.encrypt_credentials({"api_key": KEY})
    with override_settings(CREDENTIAL_KEYS=[NEW, OLD]):
        assert credentials.decrypt_credentials(token) == {"api_key": KEY}
        fresh = credentials.encrypt_credentials({"api_key": KEY})
    with override_settings(CREDENTIAL_KEYS=[NEW]):
        assert credentials.decrypt_credentials(fresh) == {"api_key": KEY}
        with pytest.raises(CredentialsUnreadable) as caught:
            credentials.decrypt_credentials(token)
    assert KEY not in str(caught.value)


def test_it_stores_encrypted_credentials_with_a_fingerprint(clearbooks):
    conn = factory.make_connection(status="PendingAuth")
    credentials.store_credentials(conn, {"api_key": KEY}, validated_by="link")
    conn.refresh_from_db()
    assert conn.has_credentials
    assert KEY not in conn.credentials_encrypted
    assert conn.credentials_fingerprint.startswith("…4e6f")
    assert conn.credentials_validated_by == "link"
    assert conn.credentials_set_at and conn.credentials_validated_at
    assert credentials.connection_credentials(conn) == {"api_key": KEY}


def test_it_refuses_an_unknown_validator(clearbooks):
    conn = factory.make_connection()
    with pytest.raises(ValueError):
        credentials.store_credentials(conn, {"api_key": KEY}, validated_by="guess")


def test_it_wipes_credentials(clearbooks):
    conn = factory.make_connection()
    credentials.store_credentials(conn, {"api_key": KEY}, validated_by="link")
    credentials.wipe_credentials(conn)
    conn.refresh_from_db()
    assert not conn.has_credentials
    assert conn.credentials_fingerprint == ""
    assert credentials.connection_credentials(conn) == {}


def test_it_marks_credentials_validated(clearbooks):
    conn = factory.make_connection()
    credentials.store_credentials(conn, {"api_key": KEY}, validated_by="link")
    before = conn.credentials_validated_at
    credentials.mark_validated(conn, "test")
    conn.refresh_from_db()
    assert conn.credentials_validated_by == "test"
    assert conn.credentials_validated_at >= before


def test_it_never_writes_the_plaintext_to_the_database_column(clearbooks):
    conn = factory.make_connection()
    credentials.store_credentials(conn, {"api_key": KEY}, validated_by="link")
    table = conn._meta.db_table
    with db_connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")
        rows = cursor.fetchall()
    assert rows
    assert all(KEY not in str(value) for row in rows for value in row)
    # Not even a recognisable fragment of the key.
    assert all(KEY[3:15] not in str(value) for row in rows for value in row)


def test_it_rotates_every_stored_credential_to_the_first_key(clearbooks, capsys):
    with override_settings(CREDENTIAL_KEYS=[OLD]):
        conns = [factory.make_connection() for _ in range(3)]
        for i, conn in enumerate(conns):
            credentials.store_credentials(conn, {"api_key": f"{KEY}-{i}"}, validated_by="link")
    factory.make_connection(status="PendingAuth")  # nothing stored: not counted
    with override_settings(CREDENTIAL_KEYS=[NEW, OLD]):
        # Before rotation, the old key still decrypts.
        conns[0].refresh_from_db()
        assert credentials.connection_credentials(conns[0]) == {"api_key": f"{KEY}-0"}
        call_command("rotate_credentials")
        assert "Re-encrypted 3 stored credential(s)" in capsys.readouterr().out
        call_command("rotate_credentials")  # idempotent
        assert "Re-encrypted 3 stored credential(s)" in capsys.readouterr().out
    with override_settings(CREDENTIAL_KEYS=[NEW]):
        for i, conn in enumerate(conns):
            conn.refresh_from_db()
            assert credentials.connection_credentials(conn) == {"api_key": f"{KEY}-{i}"}


def test_it_reports_credentials_no_key_can_read(clearbooks, capsys):
    from django.core.management.base import CommandError

    with override_settings(CREDENTIAL_KEYS=[OLD]):
        conn = factory.make_connection()
        credentials.store_credentials(conn, {"api_key": KEY}, validated_by="link")
    with override_settings(CREDENTIAL_KEYS=[NEW]), pytest.raises(CommandError) as caught:
        call_command("rotate_credentials")
    assert "1 stored credential(s) could not be decrypted" in str(caught.value)
    conn.refresh_from_db()
    with override_settings(CREDENTIAL_KEYS=[OLD]):
        assert credentials.connection_credentials(conn) == {"api_key": KEY}


def test_it_generates_a_usable_fernet_key(capsys):
    call_command("generate_credential_key")
    key = capsys.readouterr().out.strip()
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"
