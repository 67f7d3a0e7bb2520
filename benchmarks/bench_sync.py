"""Sync engine: a full sync of 20,000 invoices and 5,000 entities from the sandbox, on SQLite
and on PostgreSQL, against three floors on the same data and a naive loop, then re-syncs
after 1% of the records changed.

    python benchmarks/run.py sync                       # or: make bench (SQLite; PostgreSQL too
                                                        # when DATABASE_URL names a PostgreSQL)
    python benchmarks/run.py sync --postgres            # and the local server (portal_bench)
    python benchmarks/bench_sync.py --postgres postgres://postgres@127.0.0.1:5432/mine --repeat 3

- **floors** (benchmarks/floors.py): the very same HTTP requests with a keep-alive
  session and an lxml parse (parse floor); plus every value of every record read into a
  dict (fields floor); plus a JSON encoding and a SHA-256 per record and one multi-row
  upsert per page in its own transaction into a table with the record table's unique key
  and browsing indexes, in the database the sync uses (store floor, one per database).
- **sync**: `connections.sync.pulls.sync()` for invoices, customers and suppliers (the real
  engine: client, mapping, content hashes, bulk upserts per page, progress, heartbeat).
- **client**: the Clear Books client alone (`read_pages`, as `clearbooks_fetch` reads),
  storing nothing: against the fields floor.
- **naive**: plain zeep calls (zeep's own deserialisation) and `update_or_create` per
  record. It is slow, so it runs on the first pages only (--naive-invoices and
  --naive-entities records) and its rate is extrapolated to the whole data set.
- **entities**: the incremental re-sync of 1% of the entities, at 5,000 and at 50,000; and
  at 50,000 of as many changes as 1% of 5,000 (50), which shows whether the cost follows
  the book's size or only its changes. Each in a book of its own, built by the sandbox
  during the untimed full sync: an incremental read asks for everything changed since the
  day before the last one, so in a book an earlier round touched it would read those
  changes again.

The sandbox runs as a separate process (`manage.py clearbooks_sandbox`), so its books
and its CPU are not the measured process's. Every measured side runs in a fresh child
process, so each peak RSS (the process's VmHWM) is its own; the floors and the syncs on
each database alternate round by round, and medians are compared. The SQLite databases
are throwaway files under var/bench/; the PostgreSQL one is dropped and made again.
"""

import argparse
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "var" / "bench"
SQLITE_URL = f"sqlite:///{BENCH_DIR / 'sync.sqlite3'}"
FLOOR_SQLITE = BENCH_DIR / "floor.sqlite3"  # the store floor's table, beside the sync's database
LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/portal_bench"
INVOICES, BILLS, CUSTOMERS, SUPPLIERS = 20_000, 2_000, 3_000, 2_000
DATA_TYPES = ("invoices", "customers", "suppliers")
ENTITIES = ("customers", "suppliers")
CHANGED = 0.01  # share of records changed before the re-syncs
ENTITY_SCALE = 10  # the entity re-sync is measured at 1x and at this many times the entities
# Goals (issue #17): ratios to the floors, and to the naive loop.
GOALS = {"store": 1.5, "naive": 10, "client": 1.3, "resync": 1.1, "entities": 2.0, "rss_mb": 200, "rss_growth": 1.15}


def book_spec(scale):
    return {
        "seed": f"bench-sync-{scale}",
        "invoices": INVOICES * scale,
        "bills": BILLS * scale,  # in the books (the sandbox filters them out), not synced
        "customers": CUSTOMERS * scale,
        "suppliers": SUPPLIERS * scale,
        "both": 0,
        "projects": 2,
        # Every entity date is well in the past: an incremental read sees only what changed.
        "anchor": "2025-06-01",
    }


def entity_spec(scale, book=""):
    spec = book_spec(1)
    return {
        **spec,
        "seed": f"bench-entities-{scale}-{book}",
        "invoices": 0,
        "bills": 0,
        "customers": CUSTOMERS * scale,
        "suppliers": SUPPLIERS * scale,
    }


def peak_rss_mb():
    """This process's own peak RSS in MB.

    VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across fork and exec, so a
    child started by a big parent (make bench runs the other benchmarks first, in one
    process) would report the parent's peak instead of its own.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


#
# Children: each measured side in a fresh process, printing one JSON line
#


def child_setup():
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return {}


def _connection(key, label):
    from connections.credentials import store_credentials
    from tests import factory

    connection = factory.make_connection(
        company=factory.make_company(label), integration=factory.get_integration("jhch", enabled=True)
    )
    store_credentials(connection, {"api_key": key}, validated_by="link")
    return connection


def _runner(connection):
    from connections.models import PullOperation
    from connections.sync.pulls import sync
    from connections.sync.queueing import queue_pull

    def run(data_type, full):
        pull, _ = queue_pull(connection, data_type, PullOperation.Trigger.MANUAL, full=full, enqueue=False)
        started = time.perf_counter()
        pull = sync(pull)
        seconds = time.perf_counter() - started
        if pull.status != PullOperation.Status.COMPLETE:
            raise SystemExit(f"{data_type}: {pull.status}: {pull.error_message} {pull.error_detail[-500:]}")
        return {
            "seconds": seconds,
            "mode": pull.mode,
            "fetched": pull.records_fetched,
            "created": pull.records_created,
            "updated": pull.records_updated,
            "unchanged": pull.records_unchanged,
        }

    return run


def child_sync(base_url, scale):
    from integrations.clearbooks.sandbox import HttpControl, make_key
    from integrations.clearbooks.service import get_service

    # Loaded before the clock starts, as in a worker after its first pull, and as the floors'
    # child loads them (zeep builds their requests): the client's modules and the WSDL.
    get_service(f"{base_url}/api/accounting/wsdl/", 60)
    key = make_key(**book_spec(scale))
    control = HttpControl(base_url)
    run = _runner(_connection(key, f"Bench sync {scale}x {time.time():.0f}"))
    out = {"full": {name: run(name, True) for name in DATA_TYPES}}
    full_rss = peak_rss_mb()
    control.touch(key, "invoices", int(INVOICES * scale * CHANGED))
    out["resync_invoices"] = run("invoices", False)
    for name, count in (("customers", CUSTOMERS), ("suppliers", SUPPLIERS)):
        control.touch(key, name, int(count * scale * CHANGED))
    out["resync_entities"] = {name: run(name, False) for name in ENTITIES}
    out["rss_full_mb"] = full_rss
    out["rss_mb"] = peak_rss_mb()
    out["scale"] = scale
    return out


def child_entities(base_url, scale, book, changes_scale=None):
    """The incremental re-sync of 1% of the entities (or of as many as 1% makes at
    `changes_scale`), after a full sync of them (untimed), in a book of its own: an
    incremental read asks for everything changed since the day before the last one, so in
    a book touched by an earlier run it would read that run's changes again."""
    from integrations.clearbooks.sandbox import HttpControl, make_key

    key = make_key(**entity_spec(scale, book))
    control = HttpControl(base_url, timeout=300)
    run = _runner(_connection(key, f"Bench entities {scale}x {time.time():.0f}"))
    for name in ENTITIES:
        run(name, True)
    changed = {}
    for name, count in (("customers", CUSTOMERS), ("suppliers", SUPPLIERS)):
        changed[name] = int(count * (changes_scale or scale) * CHANGED)
        control.touch(key, name, changed[name])
    resync = {name: run(name, False) for name in ENTITIES}
    return {
        "seconds": sum(r["seconds"] for r in resync.values()),
        "exact": all(resync[n]["updated"] == changed[n] for n in ENTITIES),
        "read": sum(r["fetched"] for r in resync.values()),
    }


def _requests(wsdl_url, key, counts):
    """The exact (SOAPAction, body) of every request a full sync of each data type sends."""
    from integrations.clearbooks.service import get_service

    service = get_service(wsdl_url, 60)

    def build(operation, **params):
        action = service.envelopes.http_headers(operation)["SOAPAction"]
        return action, service.envelopes.render(operation, key, params)

    sizes = {"invoices": 100, "customers": 1000, "suppliers": 1000}
    calls = {}
    for name in DATA_TYPES:
        if name == "invoices":
            first = [build("listCurrencies")]
            query = {"ledger": "sales", "status": "all"}
            operation = "listInvoices"
        else:
            first, query, operation = [], {"type": name[:-1]}, "listEntities"
        # The pages, then the empty one that ends the read.
        offsets = range(0, counts[name] + sizes[name], sizes[name])
        calls[name] = first + [build(operation, query={**query, "offset": offset}) for offset in offsets]
    return service.address, calls


def child_floors(base_url, scale, databases):
    """The three floors (the store floor once per database), then the client alone."""
    from benchmarks import floors
    from integrations.clearbooks.reads import read_pages
    from integrations.clearbooks.sandbox import make_key

    spec = book_spec(scale)
    key = make_key(**spec)
    address, calls = _requests(f"{base_url}/api/accounting/wsdl/", key, spec)
    session = floors.Session(address)
    out = {"requests": sum(len(c) for c in calls.values()), "parse": {}, "fields": {}, "store": {}}
    for name, requests_of_type in calls.items():
        out["parse"][name] = floors.timed(floors.parse_floor, session, requests_of_type)
        out["fields"][name] = floors.timed(floors.fields_floor, session, requests_of_type, name)
    connection_id = int(time.time() * 1000)  # a fresh book each run, as the sync's new connection
    for label, url in databases.items():
        table = floors.open_table(url, FLOOR_SQLITE)
        try:
            out["store"][label] = {
                name: floors.timed(floors.store_floor, session, requests_of_type, name, table, connection_id)
                for name, requests_of_type in calls.items()
            }
        finally:
            table.close()
    out["rss_mb"] = peak_rss_mb()
    # The client alone (zeep request, streamed parse, mapping), storing nothing: clearbooks_fetch's path.
    out["client"] = {}
    for name in DATA_TYPES:
        started = time.perf_counter()
        for _ in read_pages(f"{base_url}/api/accounting/wsdl/", key, name):
            pass
        out["client"][name] = time.perf_counter() - started
    return out


def child_naive(base_url, scale, invoices, entities):
    import zeep
    from lxml import etree
    from zeep.helpers import serialize_object

    from connections.models import Record
    from integrations.clearbooks.sandbox import make_key

    key = make_key(**book_spec(scale))
    connection = _connection(key, f"Bench naive {time.time():.0f}")
    zeep_client = zeep.Client(f"{base_url}/api/accounting/wsdl/")
    namespace = zeep_client.service._binding.name.namespace
    header = etree.Element(etree.QName(namespace, "authenticate"))
    etree.SubElement(header, "apiKey").text = key

    def store(data_type, remote_id, number, name, total, item):
        Record.objects.update_or_create(
            connection=connection,
            data_type=data_type,
            remote_id=str(remote_id),
            defaults={
                "number": str(number or "")[:100],
                "name": str(name or "")[:300],
                "total": total or None,
                "attributes": json.loads(json.dumps(serialize_object(item), default=str)),
                "content_hash": "",
            },
        )

    started = time.perf_counter()
    stored = 0
    for offset in range(0, invoices, 100):
        page = zeep_client.service.listInvoices(
            query={"ledger": "sales", "status": "all", "offset": offset}, _soapheaders=[header]
        )
        for item in page or []:
            store("invoices", item.invoice_id, item.invoiceNumber, item.reference, item.gross, item)
            stored += 1
    invoice_seconds = time.perf_counter() - started
    invoice_count = stored

    started = time.perf_counter()
    page = zeep_client.service.listEntities(query={"type": "customer", "offset": 0}, _soapheaders=[header])
    for item in (page or [])[:entities]:
        store("customers", item.id, "", item.company_name, None, item)
        stored += 1
    entity_seconds = time.perf_counter() - started
    return {
        "invoices": invoice_count,
        "invoice_seconds": invoice_seconds,
        "entities": stored - invoice_count,
        "entity_seconds": entity_seconds,
        "rss_mb": peak_rss_mb(),
    }


CHILDREN = {
    "setup": child_setup,
    "sync": child_sync,
    "floors": child_floors,
    "naive": child_naive,
    "entities": child_entities,
}


def run_child(env, kind, **kwargs):
    command = [sys.executable, str(Path(__file__).resolve()), "--child", kind, json.dumps(kwargs)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"bench child {kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


#
# The sandbox process and the databases
#


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sandbox(env):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "clearbooks_sandbox", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{base_url}/api/accounting/wsdl/", timeout=2).read()
            return process, base_url
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise SystemExit("the sandbox did not start within 30 s") from None
            time.sleep(0.2)


def stop_sandbox(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def databases(options) -> dict:
    """{label: DATABASE_URL} of the databases to sync into: SQLite always, PostgreSQL when asked.

    A PostgreSQL named by DATABASE_URL is never used itself (the bench drops its database):
    the bench takes `<its name>_bench` on the same server.
    """
    out = {"SQLite": SQLITE_URL}
    if options.postgres:
        out["PostgreSQL"] = options.postgres
    elif os.environ.get("DATABASE_URL", "").startswith("postgres"):
        parts = urlsplit(os.environ["DATABASE_URL"])
        out["PostgreSQL"] = urlunsplit(parts._replace(path=parts.path.rstrip("/") + "_bench"))
    return out


def fresh_database(url):
    """Start from nothing: delete the SQLite files, or drop and create the PostgreSQL database."""
    if url.startswith("sqlite"):
        for path in BENCH_DIR.glob("*.sqlite3*"):
            if path.name.startswith(("sync.", "floor.")):
                path.unlink()
        return
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"the bench drops and makes its PostgreSQL database again: {name!r} is not named *bench*")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')


#
# Orchestration
#


def main(args):
    parser = argparse.ArgumentParser(prog="bench_sync", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeat", type=int, default=5, help="rounds per scale of floors and syncs, alternated (median)"
    )
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=LOCAL_POSTGRES,
        default="",
        help=f"also sync into PostgreSQL: this URL or {LOCAL_POSTGRES} (named *bench*: dropped, made again)",
    )
    parser.add_argument("--naive-invoices", type=int, default=1000, help="invoices the naive loop stores (x100)")
    parser.add_argument("--naive-entities", type=int, default=500, help="customers the naive loop stores (<=1000)")
    parser.add_argument("--no-double", action="store_true", help="skip the 2x run (memory flatness)")
    parser.add_argument("--scale", type=float, default=1, help="shrink everything (CI runs a tiny version)")
    options, _ = parser.parse_known_args(args)  # run.py hands every bench named the same options
    if options.scale != 1:
        shrink(options.scale)

    base_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "benchmarks.settings", "LOG_LEVEL": "WARNING"}
    base_env.pop("CLEARBOOKS_WSDL_URL", None)
    dbs = databases(options)
    envs = {label: {**base_env, "DATABASE_URL": url} for label, url in dbs.items()}
    bench_started = time.perf_counter()
    load_before = os.getloadavg()[0]
    for label, url in dbs.items():
        fresh_database(url)
        run_child(envs[label], "setup")
    sandbox, base_url = start_sandbox(envs["SQLite"])
    for env in envs.values():
        env["CLEARBOOKS_WSDL_URL"] = f"{base_url}/api/accounting/wsdl/"
    results = {}
    naive = {label: [] for label in dbs}
    sample = {"invoices": options.naive_invoices, "entities": options.naive_entities}
    try:
        from integrations.clearbooks.sandbox import HttpControl, make_key

        control = HttpControl(base_url, timeout=300)
        for scale in (1,) if options.no_double else (1, 2):
            control.counts(make_key(**book_spec(scale)))  # the sandbox builds the books (untimed)
            run_child(envs["SQLite"], "floors", base_url=base_url, scale=scale, databases={})  # and renders them
            runs = {"floors": [], **{label: [] for label in dbs}}
            for _ in range(options.repeat):  # alternated, so every side sees the same machine load
                runs["floors"].append(
                    run_child(envs["SQLite"], "floors", base_url=base_url, scale=scale, databases=dbs)
                )
                for label in dbs:
                    runs[label].append(run_child(envs[label], "sync", base_url=base_url, scale=scale))
                    if scale == 1:  # the naive loop in the same rounds, under the same load
                        naive[label].append(run_child(envs[label], "naive", base_url=base_url, scale=1, **sample))
            results[scale] = runs
        entities = {label: {1: [], ENTITY_SCALE: []} for label in dbs}
        # And at 10x the entities with as many changes as at 1x: does the cost follow the size?
        same_changes = {label: [] for label in dbs}
        for round_number in range(options.repeat):
            for label in dbs:
                for scale in (1, ENTITY_SCALE):
                    book = f"{label}-{round_number}"  # a new book each time (see child_entities)
                    entities[label][scale].append(
                        run_child(envs[label], "entities", base_url=base_url, scale=scale, book=book)
                    )
                same_changes[label].append(
                    run_child(
                        envs[label],
                        "entities",
                        base_url=base_url,
                        scale=ENTITY_SCALE,
                        book=f"{label}-{round_number}-same",
                        changes_scale=1,
                    )
                )
    finally:
        stop_sandbox(sandbox)
    loads = (load_before, os.getloadavg()[0])
    from benchmarks.sync_report import report

    sizes = {"invoices": INVOICES, "bills": BILLS, "customers": CUSTOMERS, "suppliers": SUPPLIERS, "changed": CHANGED}
    seconds = time.perf_counter() - bench_started
    report(results, entities, same_changes, naive, options.repeat, dbs, seconds, loads, sizes, GOALS)


def shrink(factor):
    """Scale the data down (tests/test_benchmarks.py runs the whole benchmark in seconds)."""
    global INVOICES, BILLS, CUSTOMERS, SUPPLIERS
    INVOICES, BILLS = int(INVOICES * factor), int(BILLS * factor)
    CUSTOMERS, SUPPLIERS = int(CUSTOMERS * factor), int(SUPPLIERS * factor)
    os.environ["BENCH_SYNC_SCALE"] = str(factor)  # the children scale the same way


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
    import django

    django.setup()
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        if os.environ.get("BENCH_SYNC_SCALE"):
            shrink(float(os.environ["BENCH_SYNC_SCALE"]))
        print(json.dumps(CHILDREN[sys.argv[2]](**json.loads(sys.argv[3]))))
    else:
        main(sys.argv[1:])
