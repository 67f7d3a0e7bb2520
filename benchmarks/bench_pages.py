"""Support pages at scale: median server time per page on a big database and on one 100 times smaller.

`python benchmarks/run.py pages` seeds (once; later runs reuse them) two SQLite databases
under var/bench/: a large one with 10,000 companies, 200,000 pull operations and 1,000,000
records, and a small one with 1% of each, shaped alike (one connection per company, ~20
pulls and ~100 records each). `python benchmarks/run.py pages --postgres` (or with
DATABASE_URL=postgres://…) does the same on PostgreSQL, in two databases named after the
configured one (`<name>_pages_large`, `<name>_pages_small`) that it creates when missing.
It then requests every support page through the Django test Client as an admin and
prints the median time per page on both, and their ratio. Goals: at most 50 ms median on the large database, and at most
1.5 times the small one.

Each database is created by running the migrations and seeded by `pages_seed`. When the
files are reused, every timestamp is shifted forward by the time elapsed since seeding,
so "stale" and "last 24 hours" mean the same on every run.
"""

import json
import os
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from django.core.management import call_command
from django.db import connections
from django.test import Client
from django.urls import reverse

from benchmarks import pages_seed
from connections.models import Company, Connection, PullOperation, Record

HERE = Path(__file__).resolve().parent
BENCH_DIR = HERE.parent / "var" / "bench"
SEED_VERSION = "pages-4"
LARGE = {"companies": 10_000, "pulls": 200_000, "records": 1_000_000}
SMALL_FACTOR = 100
WARMUP, RUNS = 3, 25
GOAL_MS, GOAL_RATIO = 50.0, 1.5


def on_postgresql() -> bool:
    return connections["default"].vendor == "postgresql"


def use_database(path: Path):
    """Point the default connection at another database: a SQLite file, or (PostgreSQL) the
    database named after the configured one and the file's stem."""
    connections["default"].close()
    connections["default"].settings_dict["NAME"] = _postgres_name(path) if on_postgresql() else str(path)


_configured = {}


def _postgres_name(path: Path) -> str:
    base = _configured.setdefault("name", connections["default"].settings_dict["NAME"])
    return f"{base}_{path.stem.replace('-', '_')}"


def _recreate_postgres(path: Path):
    import psycopg

    db = connections["default"].settings_dict
    connections["default"].close()
    admin = {"dbname": "postgres", "user": db["USER"], "host": db["HOST"] or "127.0.0.1", "port": db["PORT"] or 5432}
    with psycopg.connect(
        **{k: v for k, v in admin.items() if v}, password=db["PASSWORD"] or None, autocommit=True
    ) as conn:
        name = _postgres_name(path)
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def prepare(path: Path, scale: dict) -> float:
    """Migrate, and seed unless this database was already seeded at this version; returns seconds spent seeding."""
    marker = path.with_suffix(".postgresql.seeded.json" if on_postgresql() else ".seeded.json")
    exists = True if on_postgresql() else path.exists()
    info = json.loads(marker.read_text()) if marker.exists() and exists else None
    if info is None or info.get("version") != SEED_VERSION or info.get("scale") != scale:
        if on_postgresql():
            _recreate_postgres(path)
        else:
            for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                stale.unlink(missing_ok=True)
        marker.unlink(missing_ok=True)
        info = None
    use_database(path)
    if info is not None and on_postgresql() and not _seeded_postgres():
        info = None  # the marker outlived its database: seed again
        _recreate_postgres(path)
        use_database(path)
    call_command("migrate", verbosity=0)
    _analyze_new_indexes()
    now = datetime.now(UTC)
    if info is None:
        started = time.perf_counter()
        pages_seed.seed(scale, now)
        marker.write_text(json.dumps({"version": SEED_VERSION, "scale": scale, "seeded_at": now.timestamp()}))
        return time.perf_counter() - started
    elapsed = int(now.timestamp() - info["seeded_at"])
    if elapsed > 60:
        pages_seed.shift_timestamps(elapsed)
        marker.write_text(json.dumps({**info, "seeded_at": now.timestamp()}))
        if on_postgresql():
            pages_seed.vacuum_analyze()  # the shift rewrote every row: as autovacuum would, before measuring
    return 0.0


def _seeded_postgres() -> bool:
    from django.db.utils import OperationalError, ProgrammingError

    try:
        return Company.objects.exists()
    except (OperationalError, ProgrammingError):
        connections["default"].close()
        return False


def _analyze_new_indexes():
    """A reused database migrated since its seeding has indexes without statistics: gather them,
    as seeding does, so the planner sees them as a fresh seed would."""
    if on_postgresql():
        pages_seed.vacuum_analyze()  # autovacuum may not have run since: its statistics and visibility map
        return
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'")
        if not cursor.fetchone():
            return  # not seeded yet
        cursor.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name IN (SELECT tbl FROM sqlite_stat1) "
            "AND name NOT IN (SELECT idx FROM sqlite_stat1 WHERE idx IS NOT NULL)"
        )
        if cursor.fetchone()[0]:
            cursor.execute("ANALYZE")


def page_urls() -> dict:
    connection = (
        Connection.objects.filter(status="Linked").order_by("company__name")[Connection.objects.count() // 3 :].first()
    )
    pull = PullOperation.objects.filter(connection=connection).order_by("-requested_at").first()
    record = Record.objects.filter(connection=connection, data_type="invoices").first()
    return {
        "companies list": reverse("connections:company-list"),
        "company page": reverse("connections:company-detail", args=[connection.company_id]),
        "connection page": reverse("connections:connection-detail", args=[connection.pk]),
        "read history": reverse("connections:pull-list"),
        "record browser": reverse("connections:record-list", args=[connection.pk, "invoices"]),
        "dashboard": reverse("connections:dashboard"),
        "pull page": reverse("connections:pull-detail", args=[pull.pk]),
        "record page": reverse("connections:record-detail", args=[record.pk]),
    }


def _backend_pid():
    """The PostgreSQL backend serving this process, when its /proc entry is readable here; else None."""
    if not on_postgresql():
        return None
    with connections["default"].cursor() as cursor:  # the test Client keeps this connection between requests
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    return pid if os.access(f"/proc/{pid}/schedstat", os.R_OK) else None


def _cpu_ms(backend) -> float:
    """CPU time so far, in ms (nanosecond clocks): this process's, plus its database backend's."""
    spent = time.process_time() * 1000
    if backend is not None:
        with open(f"/proc/{backend}/schedstat") as schedstat:
            spent += int(schedstat.read().split()[0]) / 1e6
    return spent


def _median_ms(client, url, before=None):
    """(median wall ms, median CPU ms) of a page. CPU is the portal's and its database's: other
    processes on a shared machine move the wall time, hardly the CPU time."""
    for _ in range(WARMUP):
        assert client.get(url).status_code == 200, url
    backend = _backend_pid()
    times, cpu = [], []
    for _ in range(RUNS):
        if before:
            before()
        started, cpu_started = time.perf_counter(), _cpu_ms(backend)
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append(_cpu_ms(backend) - cpu_started)
        assert response.status_code == 200, url
    return statistics.median(times), statistics.median(cpu)


def measure() -> dict:
    """{page: (median wall ms, median CPU ms)}."""
    from django.contrib.auth.models import User
    from django.core.cache import cache

    client = Client(HTTP_HOST="127.0.0.1")  # an allowed host, as a browser on this machine sends
    client.force_login(User.objects.get(username="bench-admin"))
    urls = page_urls()
    results = {name: _median_ms(client, url) for name, url in urls.items()}
    # Every cache emptied before each request: the dashboard keeps nothing between requests
    # any more, and this row shows it (it used to keep its stale-data group for a minute).
    results["dashboard, cold"] = _median_ms(client, urls["dashboard"], before=cache.clear)
    return results


def sizes() -> str:
    counts = (Company.objects.count(), PullOperation.objects.count(), Record.objects.count())
    return "{:,} companies, {:,} pulls, {:,} records".format(*counts)


def database_mb() -> float:
    if on_postgresql():
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            return cursor.fetchone()[0] / 1e6
    return Path(connections["default"].settings_dict["NAME"]).stat().st_size / 1e6


def main(args):
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    small = {k: v // SMALL_FACTOR for k, v in LARGE.items()}
    runs = {}
    for label, scale in (("large", LARGE), ("small", small)):
        path = BENCH_DIR / f"pages-{label}.sqlite3"
        seconds = prepare(path, scale)
        seeded = f"seeded in {seconds:.1f} s" if seconds else "reused"
        print(f"{label} database: {sizes()} ({seeded}; {database_mb():,.0f} MB)", flush=True)
        runs[label] = measure()
    vendor = "PostgreSQL" if on_postgresql() else "SQLite"
    cpu_of = "the portal's and its PostgreSQL backend's" if on_postgresql() else "the portal's (SQLite included)"
    print(f"\nMedian server time per page over {RUNS} requests (Django test Client, {vendor}), load average")
    print(f"{os.getloadavg()[0]:.1f}; CPU ms is {cpu_of} CPU time, which other work on the machine hardly moves:")
    print(
        f"{'page':<18}{'large ms':>10}{'small ms':>10}{'ratio':>8}{'large CPU':>11}{'small CPU':>11}"
        f"  goal (≤{GOAL_MS:.0f} ms, ≤{GOAL_RATIO}×)"
    )
    for name, (large_ms, large_cpu) in runs["large"].items():
        small_ms, small_cpu = runs["small"][name]
        ratio = large_ms / small_ms
        ok = "ok" if large_ms <= GOAL_MS and ratio <= GOAL_RATIO else "MISSED"
        if ok == "MISSED" and large_cpu <= GOAL_MS and large_cpu / small_cpu <= GOAL_RATIO:
            ok = "MISSED (wall), ok in CPU: a busy machine"
        print(f"{name:<18}{large_ms:>10.1f}{small_ms:>10.1f}{ratio:>7.2f}×{large_cpu:>11.1f}{small_cpu:>11.1f}  {ok}")
