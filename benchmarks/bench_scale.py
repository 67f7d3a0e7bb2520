"""Scale: 1,000 linked connections synced through the production path (PostgreSQL, Redis, a real
qcluster) against the sandbox answering every SOAP call after ~100 ms, with 1, 2 and 4 worker
processes. How close do the workers come to the limit the latency sets?

    python benchmarks/run.py scale            # or: make bench BENCH_ARGS=scale
    python benchmarks/bench_scale.py --connections 200 --workers 1,2,4,8 --latency-ms 100

Each connection has small books of its own (a seed per connection) and one full pull queued,
the data types taken in turn, so the queue holds the mix a first sync has. Per worker count:
the pulls, records and requests are cleared, the 1,000 pulls queued in one transaction (their
tasks reach Redis on commit), one `qcluster` with Q_WORKERS=n started, and the run timed from
the first pull's start to the last one's end (the database's own timestamps).

A run still going after --max-seconds (180) is stopped and measured on the pulls that ended
(a deep queue either way); with the defaults only the 1-worker run is, so the whole bench
takes about ten minutes.

- **limit**: a worker waits ~latency for each request, so n workers make at most n / latency
  requests a second; divided by the requests a pull takes, that is the pulls a minute the
  latency allows. The bench prints the share of it reached.
- **CPU**: the workers' own CPU seconds per pull (from /proc), hence the share of a core one
  worker uses and how many workers two cores carry before the CPU, not the latency, is the
  limit (PostgreSQL, Redis and the sandbox are not counted: on one machine they share it).
- **memory**: each worker process's resident and proportional set size (PSS shares the pages
  forked workers have in common), and the whole cluster's.

The database is a throwaway one (created and dropped on the same PostgreSQL server,
`--database-url`); Redis is used under a cluster name of the bench's own (`--redis-url`;
empty means django-q2's ORM broker, which the suite's tiny run uses on SQLite).
"""

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "var" / "bench"
CORES = 2  # the machine the figures are for (docs/RELIABILITY.md)


def book_spec(i):
    """Small books, different for each connection: 10-40 records of each kind."""
    return {
        "seed": f"bench-scale-{i}",
        "customers": 10 + i % 7,
        "suppliers": 8 + i % 5,
        "both": 2,
        "invoices": 30 + i % 11,
        "bills": 20 + i % 9,
        "account_codes": 25,
        "bank_accounts": 2,
        "projects": 4,
        "payment_methods": 4,
        "currencies": 2,
        "anchor": "2025-06-01",
    }


def parse_args(args):
    parser = argparse.ArgumentParser(prog="bench_scale", description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--workers", default="1,2,4", help="worker processes per run, comma-separated")
    parser.add_argument("--latency-ms", type=int, default=100, help="the sandbox's delay before each answer")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_SCALE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal_bench_scale"),
        help="a database the bench may drop and create (PostgreSQL), or a SQLite file it may delete",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_SCALE_REDIS_URL", "redis://127.0.0.1:6379/5"),
        help="empty: django-q2's ORM broker",
    )
    parser.add_argument(
        "--max-seconds",
        type=int,
        default=180,
        help="a run that takes longer is stopped and measured on the pulls that ended (keeps the bench ~10 minutes)",
    )
    parser.add_argument("--keep-database", action="store_true")
    parsed, _ = parser.parse_known_args(args)  # run.py hands every bench the same options
    parsed.workers = [int(n) for n in parsed.workers.split(",")]
    return parsed


#
# /proc readings (Linux)
#


def _children(pid):
    found = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/children") as children:
                found += [int(c) for c in children.read().split()]
    return found


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        kids = _children(current)
        out += kids
        todo += kids
    return out


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def memory_mb(pid):
    """(RSS, PSS) in MB."""
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Rss:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("Pss:"):
                pss = int(line.split()[1]) / 1024
    return rss, pss


def machine_cpu():
    """(busy, total) jiffies of all the machine's CPUs: every process's work, ours or not."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def load_average():
    with contextlib.suppress(OSError):
        return os.getloadavg()[0]
    return 0.0


#
# The parent: database, sandbox, one child process per run
#


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
        "LOG_LEVEL": "WARNING",
        "SYNC_HEARTBEAT_SECONDS": "15",
    }


def recreate_database(url):
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        path = Path(parts.path if parts.netloc == "" else parts.netloc + parts.path)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres", query=""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url):
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        return
    import psycopg

    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres", query=""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def run_child(kind, *args, env, script=__file__):
    """Run `script --child kind args…` (this bench's by default) and return the JSON of its last line."""
    script = Path(script).resolve()
    result = subprocess.run(
        [sys.executable, str(script), "--child", kind, *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"{script.stem} {kind} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def migrate(env):
    """Build the bench database's schema with the project's migrations."""
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])


def main(args):
    options = parse_args(args)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    cluster_name = f"portal-bench-{uuid.uuid4().hex[:8]}"
    env = child_env(options, cluster_name)
    loads = [load_average()]
    started = time.monotonic()

    recreate_database(options.database_url)
    migrate(env)
    port = free_port()
    sandbox_log = (BENCH_DIR / "scale-sandbox.log").open("w")
    sandbox = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "clearbooks_sandbox",
            "--port",
            str(port),
            "--latency-ms",
            str(options.latency_ms),
        ],
        cwd=ROOT,
        env=env,
        stdout=sandbox_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline or sandbox.poll() is not None:
                raise SystemExit("the sandbox did not start: see var/bench/scale-sandbox.log")
            time.sleep(0.2)
        env["CLEARBOOKS_WSDL_URL"] = f"{base_url}/api/accounting/wsdl/"
        seeded = run_child("seed", options.connections, env=env)
        runs = [
            run_child("run", workers, base_url, options.latency_ms, options.max_seconds, sandbox.pid, env=env)
            for workers in options.workers
        ]
    finally:
        sandbox.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            sandbox.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sandbox.pid, signal.SIGKILL)
        sandbox_log.close()
        if not options.keep_database:
            with contextlib.suppress(Exception):
                drop_database(options.database_url)
        if options.redis_url:  # the tasks a stopped run left queued
            with contextlib.suppress(Exception):
                import redis

                client = redis.from_url(options.redis_url)
                for key in client.scan_iter(match=f"django_q:{cluster_name}:*"):
                    client.delete(key)
    loads.append(load_average())
    report(options, seeded, runs, loads, time.monotonic() - started)


def report(options, seeded, runs, loads, total_seconds):
    broker = "Redis" if options.redis_url else "the ORM broker"
    database = "PostgreSQL" if options.database_url.startswith("postgres") else "SQLite"
    latency = options.latency_ms / 1000
    print(
        f"{options.connections:,} linked connections with small books of their own, one full pull each "
        f"(the 8 data types in turn), sandbox latency {options.latency_ms} ms per request; {database}, {broker}.\n"
    )
    header = (
        f"{'workers':>7} {'pulls':>6} {'seconds':>8} {'pulls/min':>10} {'limit':>8} {'reached':>8} "
        f"{'records/s':>10} {'req/s':>7} {'req/pull':>8} {'CPU ms/pull':>11} {'core/worker':>11} "
        f"{'RSS/worker':>10} {'PSS/worker':>10} {'cluster PSS':>11} {'machine CPU':>11}"
    )
    print(header)
    print("-" * len(header))
    for run in runs:
        workers, seconds, pulls = run["workers"], run["seconds"], run["pulls"]
        per_pull = run["requests"] / max(pulls, 1)
        limit = workers / latency / per_pull * 60 if latency else float("inf")
        rate = pulls / seconds * 60
        cpu_per_pull = run["worker_cpu"] / max(pulls, 1)
        wall_per_pull = seconds * workers / max(pulls, 1)
        run["core_share"] = cpu_per_pull / wall_per_pull
        print(
            f"{workers:>7} {pulls:>6} {seconds:>8.1f} {rate:>10.0f} {limit:>8.0f} {rate / limit:>8.0%} "
            f"{run['records'] / seconds:>10.0f} {run['requests'] / seconds:>7.1f} {per_pull:>8.2f} "
            f"{cpu_per_pull * 1000:>11.0f} {run['core_share']:>11.0%} "
            f"{run['worker_rss']:>8.0f}MB {run['worker_pss']:>8.0f}MB {run['cluster_pss']:>9.0f}MB "
            f"{run['machine_busy']:>11.0%}"
        )
        if run["stopped_early"]:
            print(f"        (stopped after --max-seconds: measured on the {pulls} of {run['queued']} pulls that ended)")
        if run["complete"] != pulls:
            print(f"        !! {pulls - run['complete']} pulls did not complete: {run['not_complete']}")
    print()
    share = max(run["core_share"] for run in runs)
    carried = int(CORES / share) if share else 0
    sandbox_ms = max(run["sandbox_cpu"] / max(run["requests"], 1) for run in runs) * 1000
    print(
        f"Each worker's own CPU is {share:.0%} of a core at most: by that alone {CORES} cores would carry about "
        f"{carried} worker processes. On one machine the database, Redis and the sandbox ({sandbox_ms:.0f} ms of CPU "
        f"per request here) share the cores; 'machine CPU' is every process's share of all cores during a run "
        f"(this bench's, and anything else running), and 'reached' falls as it fills."
    )
    print(
        f"Memory: {max(run['worker_pss'] for run in runs):.0f} MB PSS per worker process "
        f"({max(run['worker_rss'] for run in runs):.0f} MB RSS; forked workers share the rest), "
        f"plus about {min(run['cluster_pss'] - run['workers'] * run['worker_pss'] for run in runs):.0f} MB "
        "for the cluster's own processes (qcluster, sentinel, monitor, pusher)."
    )
    print(f"\n(bench took {total_seconds:.0f}s; load average {loads[0]:.2f} before, {loads[1]:.2f} after)")


#
# Children: Django set up on the bench database, one JSON line out
#


def child_seed(count):
    from django.db import transaction

    from connections.credentials import store_credentials
    from integrations.clearbooks.sandbox import make_key
    from tests import factory

    integration = factory.get_integration("jhch", enabled=True)
    with transaction.atomic():
        for i in range(count):
            connection = factory.make_connection(company=factory.make_company(f"Scale {i:04}"), integration=integration)
            store_credentials(connection, {"api_key": make_key(**book_spec(i))}, validated_by="link")
    return {"connections": count}


def child_run(workers, base_url, latency_ms, max_seconds, sandbox_pid):
    from django.db import connection as db
    from django.db import transaction
    from django.db.models import Max, Min, Sum
    from django_q.models import OrmQ, Task

    from connections.models import ACTIVE_PULL_STATUSES, Connection, ConnectionEvent, DataStatus, PullOperation, Record
    from connections.sync.queueing import queue_pull
    from integrations.clearbooks.sandbox import HttpControl

    control = HttpControl(base_url)
    control.configure(latency_ms=latency_ms)
    for model in (ConnectionEvent, Record, DataStatus, PullOperation, Task, OrmQ):
        with db.cursor() as cursor:
            cursor.execute(f"DELETE FROM {model._meta.db_table}")
    connections = list(Connection.objects.select_related("integration").order_by("pk"))
    calls_before = control.calls()
    with transaction.atomic():  # the tasks reach the broker when this commits
        for i, connection in enumerate(connections):
            data_types = [dt.name for dt in connection.integration.provider.data_types]
            queue_pull(connection, data_types[i % len(data_types)], PullOperation.Trigger.FIRST_LINK, full=True)
    total = len(connections)

    sandbox_cpu = cpu_seconds(sandbox_pid)
    machine_before = machine_cpu()
    log = (BENCH_DIR / f"scale-qcluster-{workers}.log").open("w")
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env={**os.environ, "Q_WORKERS": str(workers)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + max_seconds
        stopped_early = False
        while PullOperation.objects.filter(status__in=ACTIVE_PULL_STATUSES).exists():
            if cluster.poll() is not None:
                raise SystemExit(f"the cluster stopped: see {log.name}")
            if time.monotonic() > deadline:
                stopped_early = True
                break
            time.sleep(0.5)
        machine_after = machine_cpu()
        sandbox_cpu = cpu_seconds(sandbox_pid) - sandbox_cpu
        # The cluster's processes, read before it stops: the workers are the busiest of them.
        processes = [pid for pid in descendants(cluster.pid) if Path(f"/proc/{pid}").exists()]
        cpu = {pid: cpu_seconds(pid) for pid in processes}
        memory = {pid: memory_mb(pid) for pid in processes + [cluster.pid]}
    finally:
        cluster.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            cluster.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(cluster.pid, signal.SIGKILL)
        log.close()
    requests = control.calls() - calls_before  # after the stop: the pulls it let finish are counted below too
    worker_pids = sorted(cpu, key=cpu.get, reverse=True)[:workers]
    first = PullOperation.objects.aggregate(first=Min("started_at"))["first"]
    ended = PullOperation.objects.filter(finished_at__isnull=False).exclude(status__in=ACTIVE_PULL_STATUSES)
    window = ended.aggregate(last=Max("finished_at"), records=Sum("records_fetched"))
    complete = ended.filter(status=PullOperation.Status.COMPLETE).count()
    not_complete = list(ended.exclude(status=PullOperation.Status.COMPLETE).values_list("status", "error_message")[:3])
    return {
        "workers": workers,
        "queued": total,
        "pulls": ended.count(),
        "stopped_early": stopped_early,
        "complete": complete,
        "not_complete": not_complete,
        "seconds": (window["last"] - first).total_seconds(),
        "records": window["records"] or 0,
        "requests": requests,
        "sandbox_cpu": sandbox_cpu,
        "machine_busy": (machine_after[0] - machine_before[0]) / max(machine_after[1] - machine_before[1], 1),
        "worker_cpu": sum(cpu[pid] for pid in worker_pids),
        "worker_rss": max(memory[pid][0] for pid in worker_pids),
        "worker_pss": max(memory[pid][1] for pid in worker_pids),
        "cluster_pss": sum(pss for _, pss in memory.values()),
    }


CHILDREN = {"seed": child_seed, "run": child_run}

if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
    import django

    django.setup()
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        kind, rest = sys.argv[2], sys.argv[3:]
        print(json.dumps(CHILDREN[kind](*[int(a) if a.isdigit() else a for a in rest])))
    else:
        main(sys.argv[1:])
