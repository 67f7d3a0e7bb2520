"""Sync engine: a full sync of 20,000 invoices and 5,000 entities from the sandbox, against
two references on the same data, then re-syncs after 1% of the records changed.

    python benchmarks/run.py sync          # or: make bench
    python benchmarks/bench_sync.py --naive-invoices 1000 --naive-entities 500

- **sync**: `connections.sync.pulls.sync()` for invoices, customers and suppliers (the real
  engine: client, mapping, content hashes, bulk upserts per page, progress, heartbeat).
- **floor**: the very same HTTP requests (bytes built by zeep once, as the client sends
  them) with plain requests and only an lxml parse of each body; nothing stored.
- **naive**: plain zeep calls (zeep's own deserialisation) and `update_or_create` per
  record. It is slow, so it runs on the first pages only (--naive-invoices and
  --naive-entities records) and its rate is extrapolated to the whole data set.

The sandbox runs as a separate process (`manage.py clearbooks_sandbox`), so its books
(hundreds of MB at 2x) and its CPU are not the measured process's. Every measured side
runs in a fresh child process, so each peak RSS (the process's VmHWM) is its own; the
sync is measured at 1x and 2x the data to show memory stays flat. The database is a
throwaway SQLite file, var/bench/sync.sqlite3 (or DATABASE_URL when set).
"""

import argparse
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = ROOT / "var" / "bench" / "sync.sqlite3"
INVOICES, CUSTOMERS, SUPPLIERS = 20_000, 3_000, 2_000
DATA_TYPES = ("invoices", "customers", "suppliers")
ENTITIES = ("customers", "suppliers")
CHANGED = 0.01  # share of records changed before the re-syncs


def book_spec(scale):
    return {
        "seed": f"bench-sync-{scale}",
        "invoices": INVOICES * scale,
        "customers": CUSTOMERS * scale,
        "suppliers": SUPPLIERS * scale,
        "both": 0,
        "bills": 0,
        "projects": 2,
        # Every entity date is well in the past: an incremental read sees only what changed.
        "anchor": "2025-06-01",
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


def child_sync(base_url, scale):
    from connections.models import PullOperation
    from connections.sync.pulls import sync
    from connections.sync.queueing import queue_pull
    from integrations.clearbooks.sandbox import HttpControl, make_key

    key = make_key(**book_spec(scale))
    control = HttpControl(base_url)
    connection = _connection(key, f"Bench sync {scale}x {time.time():.0f}")

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


def child_floor(base_url, scale):
    import requests
    from lxml import etree

    from integrations.clearbooks.sandbox import make_key

    spec = book_spec(scale)
    key = make_key(**spec)
    address, calls = _requests(f"{base_url}/api/accounting/wsdl/", key, spec)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    session = requests.Session()
    # Like the client's session, the floor's does not re-read proxy variables and ~/.netrc
    # from the environment on every request: the floor is the bare minimum.
    session.trust_env = False
    out = {"requests": sum(len(c) for c in calls.values())}
    for name, requests_of_type in calls.items():
        started = time.perf_counter()
        for action, body in requests_of_type:
            response = session.post(
                address, data=body, headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": action}
            )
            response.raise_for_status()
            etree.fromstring(response.content, parser)
        out[name] = time.perf_counter() - started
    out["rss_mb"] = peak_rss_mb()
    # For the record: the client alone (zeep request, streamed parse, mapping), storing nothing.
    from integrations.clearbooks.reads import read_pages

    for name in DATA_TYPES:
        started = time.perf_counter()
        for _ in read_pages(f"{base_url}/api/accounting/wsdl/", key, name):
            pass
        out[f"client_{name}"] = time.perf_counter() - started
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


CHILDREN = {"setup": child_setup, "sync": child_sync, "floor": child_floor, "naive": child_naive}


def run_child(env, kind, *args):
    command = [sys.executable, str(Path(__file__).resolve()), "--child", kind, *map(str, args)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"bench child {kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


#
# The sandbox process
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


#
# Orchestration and report
#


def verdict(met):
    return "PASS" if met else "MISS"


def main(args):
    parser = argparse.ArgumentParser(prog="bench_sync", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeat", type=int, default=5, help="floor and sync runs per scale, alternated (median; the machine is noisy)"
    )
    parser.add_argument("--naive-invoices", type=int, default=1000, help="invoices the naive loop stores (x100)")
    parser.add_argument("--naive-entities", type=int, default=500, help="customers the naive loop stores (<=1000)")
    parser.add_argument("--no-double", action="store_true", help="skip the 2x run (memory flatness)")
    options, _ = parser.parse_known_args(args)  # run.py hands every bench the same options

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "benchmarks.settings", "LOG_LEVEL": "WARNING"}
    # benchmarks/settings.py points DATABASE_URL at the shared bench file (other benches fill
    # it); this bench takes its own, fresh file unless DATABASE_URL names another database.
    shared = f"sqlite:///{BENCH_DB.parent / 'bench.sqlite3'}"
    if env.get("DATABASE_URL") in (None, "", shared):
        env["DATABASE_URL"] = f"sqlite:///{BENCH_DB}"
    if env["DATABASE_URL"] == f"sqlite:///{BENCH_DB}":
        for path in BENCH_DB.parent.glob(BENCH_DB.name + "*"):
            path.unlink()
    env.pop("CLEARBOOKS_WSDL_URL", None)
    bench_started = time.perf_counter()
    load_before = os.getloadavg()[0]
    run_child(env, "setup")
    sandbox, base_url = start_sandbox(env)
    env["CLEARBOOKS_WSDL_URL"] = f"{base_url}/api/accounting/wsdl/"
    results = {}
    try:
        from integrations.clearbooks.sandbox import HttpControl, make_key

        control = HttpControl(base_url, timeout=300)
        for scale in (1,) if options.no_double else (1, 2):
            control.counts(make_key(**book_spec(scale)))  # the sandbox builds the books (untimed)
            run_child(env, "floor", base_url, scale)  # and renders them once (untimed), as for any later read
            runs = {"floor": [], "sync": []}
            for _ in range(options.repeat):  # alternated, so both sides see the same machine load
                runs["floor"].append(run_child(env, "floor", base_url, scale))
                runs["sync"].append(run_child(env, "sync", base_url, scale))
            results[scale] = runs
        naive = run_child(env, "naive", base_url, 1, options.naive_invoices, options.naive_entities)
    finally:
        stop_sandbox(sandbox)
    loads = (load_before, os.getloadavg()[0])
    report(results, naive, options.repeat, env["DATABASE_URL"], time.perf_counter() - bench_started, loads)


def _median(values):
    return statistics.median(list(values))


def summarise(runs):
    """Medians over the alternated runs of one scale."""
    floors, syncs = runs["floor"], runs["sync"]
    return {
        "floor": {n: _median(f[n] for f in floors) for n in DATA_TYPES},
        "floor_total": _median(sum(f[n] for n in DATA_TYPES) for f in floors),
        "client_total": _median(sum(f[f"client_{n}"] for n in DATA_TYPES) for f in floors),
        "full": {n: _median(r["full"][n]["seconds"] for r in syncs) for n in DATA_TYPES},
        "full_total": _median(sum(r["full"][n]["seconds"] for n in DATA_TYPES) for r in syncs),
        "records": syncs[0]["full"],
        "resync_invoices": _median(r["resync_invoices"]["seconds"] for r in syncs),
        "resync_entities": {n: _median(r["resync_entities"][n]["seconds"] for r in syncs) for n in ENTITIES},
        "entity_share": _median(
            sum(r["resync_entities"][n]["seconds"] for n in ENTITIES) / sum(r["full"][n]["seconds"] for n in ENTITIES)
            for r in syncs
        ),
        "rss_mb": max(r["rss_mb"] for r in syncs),
        "floor_rss_mb": max(f["rss_mb"] for f in floors),
        "exact": all(
            r["resync_invoices"]["updated"] == int(INVOICES * r["scale"] * CHANGED)
            and all(r["full"][n]["created"] == r["full"][n]["fetched"] for n in DATA_TYPES)
            and all(
                r["resync_entities"][n]["updated"] == int(count * r["scale"] * CHANGED)
                for n, count in zip(ENTITIES, (CUSTOMERS, SUPPLIERS), strict=True)
            )
            for r in syncs
        ),
        "example": syncs[-1],
    }


def report(results, naive, repeat, database, total_seconds, loads):
    one = summarise(results[1])
    records = sum(one["records"][n]["fetched"] for n in DATA_TYPES)
    floor_s, sync_s = one["floor_total"], one["full_total"]
    naive_rate_inv = naive["invoices"] / naive["invoice_seconds"]
    naive_rate_ent = naive["entities"] / naive["entity_seconds"]
    naive_s = INVOICES / naive_rate_inv + (CUSTOMERS + SUPPLIERS) / naive_rate_ent
    example = one["example"]

    print(
        f"Data: {INVOICES:,} invoices + {CUSTOMERS + SUPPLIERS:,} entities = {records:,} records; "
        f"database {database.split('@')[-1]}"
    )
    print("Sandbox: a separate process (manage.py clearbooks_sandbox); every side runs in a fresh child process;")
    print(f"floor and sync alternated {repeat} times per scale, medians shown.")
    print()
    print(f"{'side':<46}{'seconds':>9}{'records/s':>11}{'peak RSS MB':>13}")
    print(
        f"{'floor (same HTTP + lxml parse, no storing)':<46}{floor_s:>9.2f}{records / floor_s:>11,.0f}"
        f"{one['floor_rss_mb']:>13.1f}"
    )
    print(
        f"{'sync (pulls.sync, full, into an empty book)':<46}{sync_s:>9.2f}{records / sync_s:>11,.0f}"
        f"{one['rss_mb']:>13.1f}"
    )
    print(f"{'  (client read alone, storing nothing)':<46}{one['client_total']:>9.2f}")
    print(
        f"{'naive (zeep + update_or_create), extrapolated':<46}{naive_s:>9.2f}{records / naive_s:>11,.0f}"
        f"{naive['rss_mb']:>13.1f}"
    )
    print(
        f"  naive measured on {naive['invoices']:,} invoices in {naive['invoice_seconds']:.2f}s and "
        f"{naive['entities']:,} customers in {naive['entity_seconds']:.2f}s, extrapolated to the whole set"
    )
    for name in DATA_TYPES:
        print(
            f"  {name:<10} sync {one['full'][name]:6.2f}s   floor {one['floor'][name]:6.2f}s   "
            f"({one['records'][name]['fetched']:,} fetched, {one['records'][name]['created']:,} created)"
        )
    print()
    print("Re-syncs after 1% changed (last run's counts):")
    row = example["resync_invoices"]
    print(
        f"  invoices   {one['resync_invoices']:7.3f}s  ({row['mode']}: {row['fetched']:,} read, "
        f"{row['updated']:,} updated, {row['unchanged']:,} unchanged); invoice floor {one['floor']['invoices']:.2f}s"
    )
    for name in ENTITIES:
        row = example["resync_entities"][name]
        print(
            f"  {name:<10} {one['resync_entities'][name]:7.3f}s  ({row['mode']}: {row['fetched']:,} read, "
            f"{row['updated']:,} updated); full sync {one['full'][name]:.3f}s"
        )
    print()

    goals = []
    ratio = sync_s / floor_s
    goals.append((f"full sync within 1.5x the floor: {ratio:.2f}x", ratio <= 1.5))
    speedup = naive_s / sync_s
    goals.append((f"at least 10x faster than the naive loop: {speedup:.1f}x", speedup >= 10))
    peaks = {scale: summarise(runs)["rss_mb"] for scale, runs in results.items()}
    goals.append((f"peak RSS under 200 MB: {max(peaks.values()):.1f} MB", max(peaks.values()) < 200))
    exact = one["exact"]
    if 2 in results:
        two = summarise(results[2])
        records_2x = sum(two["records"][n]["fetched"] for n in DATA_TYPES)
        growth = peaks[2] / peaks[1]
        goals.append(
            (
                f"memory flat when the data doubles ({records:,} -> {records_2x:,} records): "
                f"{peaks[1]:.1f} -> {peaks[2]:.1f} MB ({(growth - 1) * 100:+.1f}%; goal within +15%)",
                growth <= 1.15,
            )
        )
        ratio_2x = two["full_total"] / two["floor_total"]
        goals.append(
            (
                f"full sync within 1.5x the floor at 2x the data: {two['full_total']:.2f}s / "
                f"{two['floor_total']:.2f}s = {ratio_2x:.2f}x",
                ratio_2x <= 1.5,
            )
        )
        exact = exact and two["exact"]
    resync_ratio = one["resync_invoices"] / one["floor"]["invoices"]
    goals.append(
        (f"invoice re-sync (1% changed) within 1.1x the invoice floor: {resync_ratio:.2f}x", resync_ratio <= 1.1)
    )
    share = one["entity_share"]
    goals.append((f"entity re-sync (1% changed) within 5% of their full sync: {share * 100:.1f}%", share <= 0.05))
    goals.append(("every run counted exactly: all created on the full sync, only the changed updated after", exact))
    for text, met in goals:
        print(f"{verdict(met)}  {text}")
    # Other work on the machine slows either side at random: the medians say less when this is high.
    print(f"\n(bench took {total_seconds:.0f}s; load average {loads[0]:.2f} before, {loads[1]:.2f} after)")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        import django

        django.setup()
        kind, rest = sys.argv[2], sys.argv[3:]
        converted = [int(a) if a.isdigit() else a for a in rest]
        print(json.dumps(CHILDREN[kind](*converted)))
    else:
        import django

        django.setup()
        main(sys.argv[1:])
