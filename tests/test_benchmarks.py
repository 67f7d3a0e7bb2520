"""`make bench` keeps running as the schema changes: each benchmark, tiny, in a subprocess.

The benchmarks seed their databases with plain SQL for speed, so a new NOT NULL column
breaks them without breaking anything else; these runs say so in CI. They measure nothing
(the figures come from `make bench`), they only check that every table is printed.
"""

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent

PAGES = """
import sys
from pathlib import Path
from benchmarks import bench_pages
bench_pages.WARMUP, bench_pages.RUNS = 0, 1
path = Path(sys.argv[1])
bench_pages.prepare(path, {"companies": 30, "pulls": 300, "records": 3000})
for name, (ms, cpu) in bench_pages.measure().items():
    print(f"{name}: {ms:.1f} ms")
"""

WRITES = """
import sys
from benchmarks import bench_writes
bench_writes.main(["--rounds", "1", "--pages", "1", "--database", sys.argv[1]])
"""

SYNC = """
from benchmarks import bench_sync
bench_sync.main(["--scale", "0.01", "--repeat", "1", "--naive-invoices", "100", "--naive-entities", "20"])
"""

CLIENT = """
from benchmarks import bench_client
bench_client.main(["--pages", "2", "--repeat", "1"])
"""


def run_bench(code, *args, tmp_path, database_url=None):
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    env = {
        **keep,
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "DATABASE_URL": database_url or f"sqlite:///{tmp_path / 'bench.sqlite3'}",
        "PYTHONPATH": str(BASE_DIR),
    }
    setup = "import django; django.setup()\n"
    result = subprocess.run(
        [sys.executable, "-c", setup + code, *args],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_the_pages_benchmark_seeds_the_current_schema_and_serves_every_page(tmp_path):
    out = run_bench(PAGES, str(tmp_path / "pages.sqlite3"), tmp_path=tmp_path)
    for page in ("companies list", "record browser", "dashboard", "pull page", "record page"):
        assert f"{page}: " in out


PAGES_ON_POSTGRESQL = (
    PAGES
    + """
from django.db import connections
connections["default"].close()
import psycopg
with psycopg.connect(dbname="postgres", user=sys.argv[2], host=sys.argv[3], port=sys.argv[4], autocommit=True) as admin:
    admin.execute(f'DROP DATABASE IF EXISTS "{bench_pages._postgres_name(path)}" WITH (FORCE)')
"""
)


def test_the_pages_benchmark_seeds_postgresql_by_copy_and_serves_every_page(tmp_path):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("runs with the suite on PostgreSQL (make test-postgres)")
    db = connection.settings_dict
    host, port, user = db["HOST"] or "127.0.0.1", str(db["PORT"] or 5432), db["USER"] or "postgres"
    name = f"portal_benchtest_{uuid.uuid4().hex[:8]}"  # the bench makes <name>_pages and drops it here
    url = f"postgres://{user}@{host}:{port}/{name}"
    out = run_bench(
        PAGES_ON_POSTGRESQL, str(tmp_path / "pages.sqlite3"), user, host, port, tmp_path=tmp_path, database_url=url
    )
    for page in ("companies list", "record browser", "dashboard", "pull page", "record page"):
        assert f"{page}: " in out


def test_the_writes_benchmark_times_every_fast_path_and_both_sides_store_the_same(tmp_path):
    out = run_bench(WRITES, str(tmp_path / "writes.sqlite3"), tmp_path=tmp_path)
    for write in ("upsert, new records", "upsert, changed records", "progress", "success"):
        assert f"{write} " in out
    assert "both sides stored the same records: yes" in out


def test_the_client_benchmark_prints_its_ratio(tmp_path):
    out = run_bench(CLIENT, tmp_path=tmp_path)
    assert "ratio client / floor" in out and "peak process RSS" in out


def test_the_sync_benchmark_prints_every_floor_and_goal_on_each_database_and_counts_exactly(tmp_path):
    # On PostgreSQL (make test-postgres) it syncs there too, into `<the test run's database>_bench`.
    database_url = os.environ.get("DATABASE_URL", "")
    on_postgres = database_url.startswith("postgres")
    out = run_bench(SYNC, tmp_path=tmp_path, database_url=database_url if on_postgres else None)
    labels = ["SQLite", "PostgreSQL"] if on_postgres else ["SQLite"]
    for line in ("parse floor", "fields floor", "store floor", "sync (pulls.sync", "naive loop", "client alone"):
        assert line in out
    assert "client within 1.3x the fields floor" in out
    for label in labels:
        for goal in (
            "full sync within 1.5x the store floor",
            "the same at 2x the data",
            "10x faster than the naive loop",
            "invoice re-sync within 1.1x the invoice parse floor",
            "entity re-sync at 10x the entities",
            "peak RSS under 200 MB",
            "memory flat when the data doubles",
        ):
            assert f"{label}: {goal}" in out, goal
        assert re.search(rf"{label}: \(and \d+ changes at 10x the entities within 2.0x the time", out)
        # The one verdict that is about correctness, not speed: it must pass even tiny.
        assert f"PASS  {label}: every run counted exactly" in out
