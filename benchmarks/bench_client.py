"""Clear Books client: fetch and map N pages of 100 invoices from an in-process sandbox,
against the floor: the very same HTTP requests with plain requests and only an lxml
parse of each body. Goal: the client within 1.5x the floor.

    python benchmarks/run.py client            # or: make bench
    python benchmarks/bench_client.py --pages 50 --repeat 5

Both sides share one sandbox, one machine and the same request bytes (captured from
zeep once), alternate run by run (each going first in turn), and the median of the runs
is compared, in wall time and in CPU time (which other processes on the machine barely
move). The WSDL is loaded before timing: the client parses it once per process, not per read.
Memory: the peak of Python allocations during one client read (tracemalloc, a separate
untimed run), and the process's peak RSS (resource.getrusage ru_maxrss).
"""

import argparse
import multiprocessing
import os
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

if __name__ == "__main__":  # run directly rather than through benchmarks/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
    import django

    django.setup()

import requests
from lxml import etree

from integrations.clearbooks import mapping, parsing
from integrations.clearbooks.reads import read_pages
from integrations.clearbooks.retries import RetryPolicy
from integrations.clearbooks.sandbox import SandboxServer, make_key
from integrations.clearbooks.service import clear_cache, get_service

PAGE = 100


def client_read(wsdl_url, key, policy):
    records = 0
    for page in read_pages(wsdl_url, key, "invoices", policy=policy):
        records += len(page)
    return records


def request_bytes(wsdl_url, key, pages):
    """The exact (SOAPAction, body) pairs the client sends for one read, rendered by zeep."""
    service = get_service(wsdl_url, 60)

    def build(operation, **params):
        action = service.envelopes.http_headers(operation)["SOAPAction"]
        return action, service.envelopes.render(operation, key, params)

    calls = [build("listCurrencies")]
    for offset in range(0, (pages + 1) * PAGE, PAGE):  # the pages, then the empty one that ends the read
        calls.append(build("listInvoices", query={"ledger": "sales", "status": "all", "offset": offset}))
    return service.address, calls


def post(session, address, action, body):
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": action}
    return session.post(address, data=body, headers=headers, timeout=60).content


def floor_read(session, address, calls):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    elements = 0
    for action, body in calls:
        root = etree.fromstring(post(session, address, action, body), parser)
        elements += len(root)
    return elements


def map_only(roots):
    """The mapping alone, on pages already parsed: most of what the client adds to the floor."""
    return sum(len(mapping.map_records("invoices", root, {"1": "GBP"})) for root in roots)


class _ForkedSandbox:
    """The sandbox in a forked child process: its own interpreter lock, so its request
    handling never competes with the code being measured (as it does from a thread)."""

    def __init__(self):
        ready, self._child_end = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("fork").Process(target=self._serve, args=(self._child_end,))
        self._process.start()
        self.wsdl_url = ready.recv()

    @staticmethod
    def _serve(conn):
        server = SandboxServer(port=0)
        conn.send(server.wsdl_url)
        server.serve_forever()

    def stop(self):
        self._process.terminate()
        self._process.join(timeout=10)


CPU = {}  # fn -> CPU seconds of each timed run (this process: client or floor, and the sandbox thread)


def timed(fn, *args):
    started, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    CPU.setdefault(fn, []).append(time.process_time() - cpu)
    return time.perf_counter() - started, result


def main(args):
    parser = argparse.ArgumentParser(prog="bench_client", description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20, help="pages of 100 invoices (default 20)")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each side (default 7)")
    parser.add_argument(
        "--server",
        choices=("thread", "process"),
        default="thread",
        help="run the sandbox in a thread of this process (default) or in a forked process",
    )
    options, _ = parser.parse_known_args(args)  # run.py hands every bench the same options

    server = SandboxServer(port=0).start() if options.server == "thread" else _ForkedSandbox()
    try:
        key = make_key(seed="bench", invoices=options.pages * PAGE, customers=5, suppliers=5)
        policy = RetryPolicy(attempts=1)
        clear_cache()

        wsdl_started = time.perf_counter()
        get_service(server.wsdl_url, 60)
        wsdl_seconds = time.perf_counter() - wsdl_started

        assert client_read(server.wsdl_url, key, policy) == options.pages * PAGE  # warm-up: books generated
        address, calls = request_bytes(server.wsdl_url, key, options.pages)
        session = requests.Session()
        # Like the client's session, the floor's does not re-read proxy variables and ~/.netrc
        # from the environment on every request (~0.3 ms each): the floor is the bare minimum.
        session.trust_env = False
        floor_read(session, address, calls)

        client_times, floor_times = [], []
        for run in range(options.repeat):
            # Which side goes first alternates, so neither always runs on a warmer (or busier) machine.
            for side in ("client", "floor") if run % 2 == 0 else ("floor", "client"):
                if side == "client":
                    seconds, records = timed(client_read, server.wsdl_url, key, policy)
                    assert records == options.pages * PAGE
                    client_times.append(seconds)
                else:
                    floor_times.append(timed(floor_read, session, address, calls)[0])

        roots = [parsing.parse_xml(post(session, address, action, body)) for action, body in calls[1:]]
        map_times = [timed(map_only, roots)[0] for _ in range(options.repeat)]

        tracemalloc.start()
        client_read(server.wsdl_url, key, policy)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        server.stop()

    client_s, floor_s = statistics.median(client_times), statistics.median(floor_times)
    ratio = client_s / floor_s
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(
        f"{options.pages} pages of {PAGE} invoices ({len(calls)} requests per read), median of {options.repeat} runs,"
        f" sandbox in a {options.server}"
    )
    print(f"{'client (zeep request + stream + parse + map)':<46} {client_s * 1000:9.1f} ms")
    print(f"{'floor (same requests + lxml parse only)':<46} {floor_s * 1000:9.1f} ms")
    print(f"{'ratio client / floor':<46} {ratio:9.2f}x   (goal <= 1.50x: {'met' if ratio <= 1.5 else 'MISSED'})")
    print(f"{'  of which mapping (fields + normalize)':<46} {statistics.median(map_times) * 1000:9.1f} ms")
    # CPU time barely moves when other processes load the machine, wall time does: when the two
    # ratios disagree, the machine was busy.
    client_cpu, floor_cpu = statistics.median(CPU[client_read]), statistics.median(CPU[floor_read])
    print(
        f"{'CPU time, client / floor (median)':<46} {client_cpu * 1000:9.1f} / {floor_cpu * 1000:.1f} ms"
        f" = {client_cpu / floor_cpu:.2f}x"
    )
    print(f"{'per page, client':<46} {client_s * 1000 / (options.pages + 2):9.2f} ms")
    print(f"{'WSDL load + parse (once per process)':<46} {wsdl_seconds * 1000:9.1f} ms")
    print(f"{'peak Python memory in one read (tracemalloc)':<46} {traced_peak / 1024 / 1024:9.1f} MB")
    print(f"{'peak process RSS (getrusage ru_maxrss)':<46} {rss_mb:9.1f} MB")
    return ratio


if __name__ == "__main__":
    main(sys.argv[1:])
