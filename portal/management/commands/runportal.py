"""`manage.py runportal`: the whole portal in one foreground command (what `make run` starts).

Order: the Clear Books sandbox (only when the portal points at it) and a wait for its
port, the demo seed, the sync schedules, then gunicorn and the django-q2 worker. Ctrl-C or
SIGTERM stops every child and exits 0. The web server or the worker dying stops the rest
and exits non-zero, naming it; the sandbox is optional equipment: if it stops, runportal
says so and starts it again while the portal keeps running.
"""

import contextlib
import logging
import os
import signal
import sys
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from portal import demo
from portal.management.processes import ChildFailed, PrefixedWriter, Supervisor, port_open

SANDBOX_WSDL_PATH = "/api/accounting/wsdl/"


@contextlib.contextmanager
def _logs_to(writer, logger_name):
    """Send a library logger's lines through `writer` for a while, so they carry a prefix too."""
    logger = logging.getLogger(logger_name)
    saved = logger.handlers[:], logger.propagate
    handler = logging.StreamHandler(writer)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger.handlers, logger.propagate = [handler], False
    try:
        yield
    finally:
        logger.handlers, logger.propagate = saved


class Stop(Exception):
    """SIGTERM, turned into an exception so it unwinds like Ctrl-C."""


def _raise_stop(signum, frame):
    raise Stop


class Command(BaseCommand):
    help = "Start the sandbox, seed the demo, and run gunicorn and the task worker until Ctrl-C."

    def add_arguments(self, parser):
        base = urlsplit(settings.PORTAL_BASE_URL)
        parser.add_argument("--host", default=base.hostname or "127.0.0.1")
        parser.add_argument("--port", type=int, default=base.port or 8000, help="Default: PORTAL_BASE_URL's port.")
        parser.add_argument("--sandbox-port", type=int, default=settings.CLEARBOOKS_SANDBOX_PORT)
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--web-threads", type=int, default=4)

    def handle(self, **options):
        supervisor = Supervisor(self.stdout)
        previous = signal.signal(signal.SIGTERM, _raise_stop)
        try:
            self._run(supervisor, options)
        except (KeyboardInterrupt, Stop):
            supervisor.say("stopping: asked to stop")
        except ChildFailed as failure:
            raise CommandError(f"{failure} Stopped the portal.") from failure
        finally:
            # A second Ctrl-C must not cut the shutdown short and leave children behind.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            supervisor.stop_all()
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, signal.default_int_handler)
        supervisor.say("stopped cleanly")

    def _run(self, supervisor, options):
        host, port, sandbox_port = options["host"], options["port"], options["sandbox_port"]
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        wanted = [(host, port, "the web server")]
        commands = get_commands()
        with_sandbox = "clearbooks_sandbox" in commands and self._wants_sandbox(supervisor, sandbox_port)
        if with_sandbox:
            wanted.append(("127.0.0.1", sandbox_port, "the Clear Books sandbox"))
        for check_host, check_port, what in wanted:
            if port_open(check_host, check_port):
                raise CommandError(
                    f"Port {check_port} on {check_host} (for {what}) is already in use: is another portal running? "
                    "Stop it, or choose other ports (PORTAL_BASE_URL, CLEARBOOKS_SANDBOX_PORT)."
                )
        env = {}
        if with_sandbox:
            argv = manage + ["clearbooks_sandbox", "--port", str(sandbox_port)]
            sandbox = supervisor.start("sandbox", argv, optional=True)
            supervisor.wait_for_port("sandbox", sandbox, "127.0.0.1", sandbox_port)
            env = self._point_at_sandbox(supervisor, sandbox_port)
        seed_out = PrefixedWriter(supervisor, "seed")
        with _logs_to(seed_out, "django-q"):  # the seed queues the demo's first pulls: django-q logs each
            lines = demo.seed(seed_out)
            if "schedule_syncs" in commands:
                call_command("schedule_syncs", stdout=seed_out)
        seed_out.flush()
        connections.close_all()  # children open their own; none inherits this process's
        web = supervisor.start("web", self._gunicorn(host, port, options), cwd=settings.BASE_DIR, env=env)
        supervisor.start("worker", manage + ["qcluster"], cwd=settings.BASE_DIR, env=env)
        supervisor.wait_for_port("web", web, host, port)
        self._banner(supervisor, f"http://{host}:{port}/", lines)
        supervisor.watch()

    def _gunicorn(self, host, port, options):
        return [
            sys.executable, "-m", "gunicorn", "portal.wsgi:application",
            "--bind", f"{host}:{port}",
            "--workers", str(options["web_workers"]),
            "--threads", str(options["web_threads"]),
            "--graceful-timeout", "5",
            "--access-logfile", "-",
        ]  # fmt: skip

    def _wants_sandbox(self, supervisor, sandbox_port) -> bool:
        """The sandbox is started when the portal would talk to it: no WSDL URL set, or one on its port."""
        wsdl_url = settings.CLEARBOOKS_WSDL_URL
        if not wsdl_url:
            return True
        parts = urlsplit(wsdl_url)
        if parts.hostname in ("127.0.0.1", "localhost", "::1") and parts.port == sandbox_port:
            return True
        supervisor.say(f"CLEARBOOKS_WSDL_URL points at {parts.hostname}: not starting the Clear Books sandbox")
        return False

    def _point_at_sandbox(self, supervisor, sandbox_port):
        """Without CLEARBOOKS_WSDL_URL, the demo would reach for the real Clear Books: use the sandbox."""
        if settings.CLEARBOOKS_WSDL_URL:
            return {}
        url = f"http://127.0.0.1:{sandbox_port}{SANDBOX_WSDL_PATH}"
        settings.CLEARBOOKS_WSDL_URL = url
        os.environ["CLEARBOOKS_WSDL_URL"] = url
        supervisor.say(f"CLEARBOOKS_WSDL_URL was not set: using the sandbox at {url}")
        return {"CLEARBOOKS_WSDL_URL": url}

    def _banner(self, supervisor, url, lines):
        rule = "=" * 72
        for line in [rule, f"The Integration Portal is running at {url}", *lines, "Press Ctrl-C to stop.", rule]:
            supervisor.say(line)
