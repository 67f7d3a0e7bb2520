"""`manage.py runportal`: the whole portal in one foreground command (what `make run` starts).

Order: the Clear Books sandbox (when that command exists) and a wait for its port, the
demo seed, the sync schedules (when that command exists), then gunicorn and the django-q2
worker. Ctrl-C or SIGTERM stops every child and exits 0; a child that dies stops the
rest and exits non-zero, naming it.
"""

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
        with_sandbox = "clearbooks_sandbox" in commands
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
            sandbox = supervisor.start("sandbox", manage + ["clearbooks_sandbox", "--port", str(sandbox_port)])
            supervisor.wait_for_port("sandbox", sandbox, "127.0.0.1", sandbox_port)
            env = self._point_at_sandbox(supervisor, sandbox_port)
        else:
            supervisor.say("no clearbooks_sandbox command yet: starting without the Clear Books sandbox")
        seed_out = PrefixedWriter(supervisor, "seed")
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
