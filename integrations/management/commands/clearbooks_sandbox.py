"""Run the Clear Books sandbox on loopback until Ctrl-C or SIGTERM.

    python manage.py clearbooks_sandbox --port 8001 [--failure-rate 0.1] [--latency-ms 200]
        [--rate-limit-rate 0.05] [--page-size listInvoices=50 ...]
        [--key-file var/sandbox.key --invoices 500 --customers 40 ...]

Prints the WSDL URL. Keys carry their own books (see integrations.clearbooks.sandbox),
so the sizes only shape the key written to --key-file (mode 0600, for
`clearbooks_fetch --api-key-file`); the key itself is never printed.
"""

import argparse
import os
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations.clearbooks.sandbox import ControlError, SandboxServer, SandboxState, make_key
from integrations.clearbooks.sandbox.soap import DEFAULT_PAGE_SIZES

SIZES = ("customers", "suppliers", "both", "invoices", "bills", "bank_accounts", "projects", "payment_methods")


def _page_size(text):
    operation, _, size = text.partition("=")
    if operation not in DEFAULT_PAGE_SIZES or not size.isdigit() or int(size) < 1:
        raise argparse.ArgumentTypeError(f"use OPERATION=N, N from 1, OPERATION one of {', '.join(DEFAULT_PAGE_SIZES)}")
    return operation, int(size)


class Command(BaseCommand):
    help = "Serve the Clear Books sandbox (a SOAP server with made-up books) on 127.0.0.1 until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=settings.CLEARBOOKS_SANDBOX_PORT)
        parser.add_argument("--failure-rate", type=float, default=0.0, help="Share of calls answered HTTP 500 (0-1).")
        parser.add_argument("--rate-limit-rate", type=float, default=0.0, help="Share answered HTTP 429 (0-1).")
        parser.add_argument("--latency-ms", type=int, default=0, help="Added to every SOAP call.")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the injected failures.")
        parser.add_argument(
            "--page-size",
            action="append",
            default=[],
            type=_page_size,
            metavar="OPERATION=N",
            help=f"Repeat for several; operations: {', '.join(DEFAULT_PAGE_SIZES)}.",
        )
        parser.add_argument("--key-file", help="Write a sandbox API key for books of the sizes below to this file.")
        parser.add_argument("--books-seed", default="sandbox", help="Seed of the key's books.")
        for size in SIZES:
            parser.add_argument(f"--{size.replace('_', '-')}", type=int, dest=size)

    def handle(self, **options):
        try:
            state = SandboxState(
                page_sizes=dict(options["page_size"]),
                failure_rate=options["failure_rate"],
                rate_limit_rate=options["rate_limit_rate"],
                latency_ms=options["latency_ms"],
                seed=options["seed"],
            )
        except ControlError as exc:
            raise CommandError(f"Cannot start the sandbox: {exc}.") from None
        self._write_key(options)
        try:
            server = SandboxServer(port=options["port"], host="127.0.0.1", state=state)
        except OSError as exc:
            raise CommandError(
                f"Cannot listen on 127.0.0.1:{options['port']} ({exc.strerror}): is it in use?"
            ) from None
        stop = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
        server.start()
        self.stdout.write(f"Clear Books sandbox: WSDL at {server.wsdl_url}")
        self.stdout.flush()
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
            signal.signal(signal.SIGTERM, previous)
        self.stdout.write("Clear Books sandbox stopped.")

    def _write_key(self, options):
        sizes = {name: options[name] for name in SIZES if options[name] is not None}
        if not options["key_file"]:
            if sizes:
                raise CommandError("Book sizes shape the key written to --key-file; give --key-file too.")
            return
        try:
            key = make_key(seed=options["books_seed"], **sizes)
        except ValueError as exc:
            raise CommandError(f"Cannot make a key: {exc}.") from None
        fd = os.open(options["key_file"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key + "\n")
        self.stdout.write(f"Wrote a sandbox API key to {options['key_file']}.")
