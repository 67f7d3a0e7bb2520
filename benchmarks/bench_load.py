"""Load: 50 concurrent users on the main pages and the API while syncs of 20,000 invoices run.

    python benchmarks/run.py load                 # SQLite and the ORM broker (make bench BENCH_ARGS=load)
    python benchmarks/run.py load --postgres      # PostgreSQL and Redis, the production path
    python benchmarks/bench_load.py --users 5 --seconds 5 --invoices 500   # the suite's short form

Everything runs as in production, on loopback: gunicorn (the Procfile's web line: 2 processes
of 4 threads) serving the portal, one `qcluster` (2 workers), the Clear Books sandbox over HTTP,
and Locust (benchmarks/locustfile.py, headless, in a process of its own) for --seconds with
--users users: three in four sign in as Support and open the dashboard, the companies list, a
company, a connection, the read history and the record browser; one in four reads companies,
connections, pull history and records through the API with a key. Each user waits 0.2-1 s
between requests (--wait): a stress level, so the figures say what the machine carries.

The database is a throwaway one (created and dropped: a SQLite file under var/bench/, or a
PostgreSQL database named by --database-url), seeded like the pages benchmark's small database
(200 companies with their pulls and records) plus the connection under sync. While Locust
runs, that connection's invoices (--invoices in its books) are read in full, one pull after the
other: the first creates every record, the next ones re-read them. The API's rate limit is
raised for the bench (API_RATE_LIMIT), since every API user shares one key.

It prints requests per second, the failures and the 50th, 95th and 99th percentile latency of
each kind of request and of all together, the pulls the worker finished meanwhile, and exits
non-zero when a request failed.
"""

import argparse
import contextlib
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_scale import (  # noqa: E402
    drop_database,
    free_port,
    load_average,
    migrate,
    recreate_database,
    run_child,
)

BENCH_DIR = ROOT / "var" / "bench"
BIN = Path(sys.executable).parent
SEED = {"companies": 200, "pulls": 4_000, "records": 20_000}
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_load"
PASSWORD = "bench-password-123"  # pages_seed's bench-admin


def parse_args(args):
    parser = argparse.ArgumentParser(prog="bench_load", description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60, help="how long Locust runs (bounded)")
    parser.add_argument("--invoices", type=int, default=20_000, help="invoices in the synced connection's books")
    parser.add_argument("--wait", default="0.2-1.0", help="seconds each user waits between requests, MIN-MAX")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL and Redis instead of SQLite")
    parser.add_argument("--database-url", default="", help="a database the bench may drop and create")
    parser.add_argument("--redis-url", default=None, help="empty: the ORM broker (the default on SQLite)")
    options, _ = parser.parse_known_args(args)  # run.py hands every bench the same options
    on_postgres = options.postgres or options.database_url.startswith("postgres")
    if not options.database_url:
        options.database_url = (
            os.environ.get("BENCH_LOAD_DATABASE_URL", POSTGRES_URL)
            if on_postgres
            else f"sqlite:///{BENCH_DIR / 'load.sqlite3'}"
        )
    if options.redis_url is None:
        options.redis_url = os.environ.get("BENCH_LOAD_REDIS_URL", "redis://127.0.0.1:6379/5") if on_postgres else ""
    return options


def child_env(options, cluster_name):
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": options.database_url,
        "REDIS_URL": options.redis_url,
        "Q_CLUSTER_NAME": cluster_name,
        "Q_WORKERS": "2",
        "LOG_LEVEL": "WARNING",
        "API_RATE_LIMIT": "1000000/minute",
    }


def wait_for_port(port, process, what, seconds=60):
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{what} did not start (see var/bench/load-*.log)")
        time.sleep(0.2)


class Processes:
    """The processes the bench starts, each in its own group, stopped in reverse order."""

    def __init__(self):
        self.started = []

    def start(self, name, command, env):
        log = (BENCH_DIR / f"load-{name}.log").open("w")
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.started.append((process, log))
        return process

    def stop_all(self):
        for process, log in reversed(self.started):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=15)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
            log.close()


def main(args):
    options = parse_args(args)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    cluster_name = f"portal-load-{uuid.uuid4().hex[:8]}"
    env = child_env(options, cluster_name)
    loads = [load_average()]
    started = time.monotonic()
    recreate_database(options.database_url)
    migrate(env)
    processes = Processes()
    try:
        sandbox_port, web_port = free_port(), free_port()
        sandbox = processes.start(
            "sandbox", [sys.executable, "manage.py", "clearbooks_sandbox", "--port", str(sandbox_port)], env
        )
        wait_for_port(sandbox_port, sandbox, "the sandbox")
        env["CLEARBOOKS_WSDL_URL"] = f"http://127.0.0.1:{sandbox_port}/api/accounting/wsdl/"
        seeded = run_child("seed", options.invoices, env=env, script=__file__)
        web = processes.start(
            "web",
            [BIN / "gunicorn", "portal.wsgi:application", "--bind", f"127.0.0.1:{web_port}"]
            # The Procfile's web line, keeping idle connections 5 s instead of 2: longer than a
            # user's wait, as behind a load balancer whose idle timeout is shorter than gunicorn's.
            # With 2 s, gunicorn closing an idle connection races the user's next request on
            # it (a connection reset: one request in 400 on this machine).
            + ["--workers", "2", "--threads", "4", "--keep-alive", "5", "--access-logfile", "-"],
            env,
        )
        wait_for_port(web_port, web, "gunicorn")
        cluster = processes.start("qcluster", [sys.executable, "manage.py", "qcluster"], env)
        sync = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--child",
                "sync",
                seeded["connection"],
                str(options.seconds),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        figures = run_locust(options, env, web_port, seeded)
        synced = json.loads(sync.communicate(timeout=options.seconds + 120)[0].strip().splitlines()[-1])
        if cluster.poll() is not None:
            raise SystemExit("the cluster stopped during the run: see var/bench/load-qcluster.log")
    finally:
        processes.stop_all()
        with contextlib.suppress(Exception):
            drop_database(options.database_url)
        if options.redis_url:
            with contextlib.suppress(Exception):
                import redis

                client = redis.from_url(options.redis_url)
                for key in client.scan_iter(match=f"django_q:{cluster_name}:*"):
                    client.delete(key)
    loads.append(load_average())
    failures = report(options, figures, synced, loads, time.monotonic() - started)
    if failures:
        raise SystemExit(f"{failures} requests failed (var/bench/load-*.log)")


def run_locust(options, env, port, seeded) -> list[dict]:
    prefix = BENCH_DIR / f"load-{database_kind(options).lower()}"
    locust_env = {
        **env,
        "LOAD_PAGES": json.dumps(seeded["pages"]),
        "LOAD_API": json.dumps(seeded["api"]),
        "LOAD_USERNAME": seeded["username"],
        "LOAD_PASSWORD": PASSWORD,
        "LOAD_API_KEY": seeded["api_key"],
        "LOAD_WAIT": options.wait,
    }
    command = [BIN / "locust", "-f", ROOT / "benchmarks" / "locustfile.py", "--headless", "--only-summary"]
    command += [
        "--users",
        options.users,
        "--spawn-rate",
        max(1, options.users // 5),
        "--run-time",
        f"{options.seconds}s",
    ]
    command += ["--host", f"http://127.0.0.1:{port}", "--csv", prefix, "--stop-timeout", "5", "--loglevel", "WARNING"]
    with (BENCH_DIR / "load-locust.log").open("w") as log:
        subprocess.run(
            list(map(str, command)),
            cwd=ROOT,
            env=locust_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=options.seconds + 60,
        )
    with open(f"{prefix}_stats.csv", newline="") as stats, open(f"{prefix}_failures.csv", newline="") as failed:
        return list(csv.DictReader(stats)), list(csv.DictReader(failed))


def database_kind(options) -> str:
    return "PostgreSQL" if options.database_url.startswith("postgres") else "SQLite"


def report(options, figures, synced, loads, total_seconds) -> int:
    rows, failed = figures
    broker = "Redis" if options.redis_url else "the ORM broker"
    print(
        f"{options.users} users ({options.wait} s between requests) for {options.seconds} s on "
        f"{database_kind(options)} with {broker} (gunicorn 2x4 threads, "
        f"1 qcluster x 2 workers, loopback); load average {loads[0]:.1f} before, {loads[1]:.1f} after; "
        f"{total_seconds:.0f} s in all"
    )
    print(f"{'request':<22}{'requests':>9}{'failures':>9}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}")
    failures = 0
    for row in rows:
        name = "all together" if row["Name"] == "Aggregated" else row["Name"]
        failures += int(row["Failure Count"]) if row["Name"] == "Aggregated" else 0
        print(
            f"{name:<22}{int(row['Request Count']):>9,}{int(row['Failure Count']):>9}"
            f"{float(row['Requests/s']):>8.1f}{row['50%']:>8}{row['95%']:>8}{row['99%']:>8}"
        )
    print(
        f"Meanwhile the worker read the {options.invoices:,}-invoice books {synced['complete']} time(s) in full "
        f"({synced['records']:,} records, {synced['records_per_second']:.0f} records/s while reading; "
        f"first read {synced['first_seconds']:.1f} s; {synced['running']} still running at the end; "
        f"{synced['failed']} failed)"
    )
    print("errors: none" if failures == 0 else f"errors: {failures} FAILED requests")
    for row in failed:
        print(f"  {row['Occurrences']} x {row['Method']} {row['Name']}: {row['Error']}")
    return failures


#
# Children (in Django, on the bench's database)
#


def child_seed(invoices):
    from datetime import UTC, datetime

    from django.contrib.auth.models import Group, User
    from django.urls import reverse

    from benchmarks import pages_seed
    from connections.credentials import store_credentials
    from connections.models import Connection, PullOperation
    from integrations.clearbooks.sandbox import make_key
    from portal.api import keys
    from tests import factory

    pages_seed.seed(SEED, datetime.now(UTC))
    support = User.objects.create_user("load-support", password=PASSWORD)
    support.groups.add(Group.objects.get(name="Support"))
    integration = factory.get_integration("jhch", enabled=True)
    company = factory.make_company("Load Ltd")
    connection = factory.make_connection(company=company, integration=integration)
    books = {
        "seed": "load",
        "invoices": invoices,
        "customers": 20,
        "suppliers": 10,
        "bills": 10,
        "anchor": "2025-06-01",
    }
    store_credentials(connection, {"api_key": make_key(**books)}, validated_by="link")
    _, api_key = keys.create_key("load bench")
    other = Connection.objects.filter(status="Linked").exclude(pk=connection.pk).order_by("company__name").first()
    pull = PullOperation.objects.filter(connection=other).order_by("-requested_at").first()
    pages = {
        "dashboard": reverse("connections:dashboard"),
        "companies": reverse("connections:company-list"),
        "company": reverse("connections:company-detail", args=[other.company_id]),
        "connection": reverse("connections:connection-detail", args=[other.pk]),
        "connection (syncing)": reverse("connections:connection-detail", args=[connection.pk]),
        "read history": reverse("connections:pull-list"),
        "pull": reverse("connections:pull-detail", args=[pull.pk]),
        "records": reverse("connections:record-list", args=[other.pk, "invoices"]),
        "records (syncing)": reverse("connections:record-list", args=[connection.pk, "invoices"]),
    }
    base = f"/api/companies/{other.company_id}"
    api = {
        "api companies": "/api/companies",
        "api connections": f"{base}/connections",
        "api pull history": f"{base}/data/history",
        "api data status": f"{base}/dataStatus",
        "api records": f"{base}/connections/{other.pk}/data/invoices",
    }
    return {
        "connection": str(connection.pk),
        "username": support.username,
        "api_key": api_key,
        "pages": pages,
        "api": api,
    }


def child_sync(connection_id, seconds):
    """Read the connection's invoices in full, one pull after another, for `seconds`; then report."""
    from django.db.models import Sum

    from connections.models import ACTIVE_PULL_STATUSES, Connection, PullOperation
    from connections.sync.queueing import queue_pull

    connection = Connection.objects.select_related("integration").get(pk=connection_id)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not PullOperation.objects.filter(connection=connection, status__in=ACTIVE_PULL_STATUSES).exists():
            queue_pull(connection, "invoices", PullOperation.Trigger.MANUAL, full=True)
        time.sleep(0.5)
    pulls = PullOperation.objects.filter(connection=connection)
    complete = pulls.filter(status=PullOperation.Status.COMPLETE)
    reading = [(p.finished_at - p.started_at).total_seconds() for p in complete.order_by("pk")]
    records = complete.aggregate(n=Sum("records_fetched"))["n"] or 0
    return {
        "complete": complete.count(),
        "records": records,
        "records_per_second": records / sum(reading) if reading else 0.0,
        "first_seconds": reading[0] if reading else float("nan"),
        "running": pulls.filter(status__in=ACTIVE_PULL_STATUSES).count(),
        "failed": pulls.exclude(status__in=[*ACTIVE_PULL_STATUSES, PullOperation.Status.COMPLETE]).count(),
    }


CHILDREN = {"seed": child_seed, "sync": child_sync}

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        import django

        django.setup()
        kind, rest = sys.argv[2], sys.argv[3:]
        print(json.dumps(CHILDREN[kind](*[int(a) if a.isdigit() else a for a in rest])))
    else:
        main(sys.argv[1:])
