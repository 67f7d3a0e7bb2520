"""The README's backup and restore commands work: pg_dump of a portal database, pg_restore into
a new one, and the restored portal has every row and reads its stored credentials (with the
same CREDENTIAL_KEYS: the dump holds them encrypted)."""

import shutil
import subprocess
import uuid

import psycopg
import pytest
from django.apps import apps
from django.db import connection

from connections.credentials import decrypt_credentials, store_credentials
from tests import factory
from tests.plugins.worker import database_url

pytestmark = pytest.mark.django_db(transaction=True)


def test_pg_dump_and_pg_restore_bring_back_every_row_and_the_credentials(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("needs the test database on PostgreSQL (make test-postgres, or DATABASE_URL=postgres://…)")
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("needs pg_dump and pg_restore")
    factory.get_integration("jhch", enabled=True)
    for i in range(3):
        linked = factory.make_connection(company=factory.make_company(f"Backed up {i}"))
        store_credentials(linked, {"api_key": f"key-{i}-{uuid.uuid4().hex}"}, validated_by="link")
        factory.make_record(linked)
        factory.make_pull(linked)
    tables = sorted(m._meta.db_table for m in apps.get_models() if m._meta.managed and not m._meta.proxy)
    source = database_url()
    restored_name = f"{connection.settings_dict['NAME']}_restore"
    restored = source.rsplit("/", 1)[0] + f"/{restored_name}"
    server = source.rsplit("/", 1)[0] + "/postgres"
    dump = tmp_path / "portal.dump"

    # README, "Backups": the commands as written there.
    subprocess.run(["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", source], check=True, timeout=120)
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{restored_name}"')
        admin.execute(f'CREATE DATABASE "{restored_name}"')
    try:
        subprocess.run(["pg_restore", "--no-owner", f"--dbname={restored}", str(dump)], check=True, timeout=120)

        def counts(url):
            with psycopg.connect(url) as db:
                return {t: db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}

        before, after = counts(source), counts(restored)
        assert after == before and before["connections_record"] == 3
        with psycopg.connect(restored) as db:
            tokens = [row[0] for row in db.execute("SELECT credentials_encrypted FROM connections_connection")]
        assert sorted(decrypt_credentials(t)["api_key"][:5] for t in tokens) == ["key-0", "key-1", "key-2"]
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{restored_name}" WITH (FORCE)')
