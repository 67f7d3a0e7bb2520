"""`manage.py runportal` (what `make run` starts), run for real: sandbox, seed, gunicorn, qcluster.

Each test starts the whole portal on free ports with its own SQLite file, so it runs
beside anyone's `make run` and other test runs.
"""

import contextlib
import os
import queue
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

BASE_DIR = Path(__file__).resolve().parent.parent
READY = "Press Ctrl-C to stop."

pytestmark = pytest.mark.e2e


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def alive(pid):
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return "\nState:\tZ" not in state  # a zombie has exited; only its parent's bookkeeping is left


class Portal:
    """One `runportal` process, its output collected line by line."""

    def __init__(self, tmp_path):
        self.port, sandbox_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        keep = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "TEST_SQLITE_NAME")}
        self.env = keep | {
            # tests.settings: plain static storage, so no collectstatic into the shared tree.
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "CREDENTIAL_KEYS": Fernet.generate_key().decode(),
            "DEBUG": "false",
            "HTTPS": "false",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
            "PORTAL_BASE_URL": self.url,
            "CLEARBOOKS_SANDBOX_PORT": str(sandbox_port),
            "CLEARBOOKS_WSDL_URL": f"http://127.0.0.1:{sandbox_port}/api/accounting/wsdl/",
            "Q_WORKERS": "1",
        }
        self.lines = queue.Queue()
        self.output = []

    def manage(self, *args):
        argv = [sys.executable, "manage.py", *args]
        return subprocess.run(argv, cwd=BASE_DIR, env=self.env, capture_output=True, text=True, timeout=180)

    def start(self):
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runportal"],
            cwd=BASE_DIR,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.output.append(line)
            if text in line:
                return line
        pytest.fail(f"runportal never printed {text!r}; output:\n" + "\n".join(self.output[-60:]))

    def finish(self, timeout=60):
        code = self.process.wait(timeout=timeout)
        while True:
            try:
                self.output.append(self.lines.get(timeout=1))
            except queue.Empty:
                return code

    def child_pids(self):
        return {name: int(pid) for name, pid in re.findall(r"started (\w+) \(pid (\d+)\)", "\n".join(self.output))}

    def all_pids(self):
        """The children and every process in their groups (gunicorn and qcluster workers)."""
        groups = set(self.child_pids().values())
        pids = set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[2]) in groups:  # field 5 of stat: the process group
                    pids.add(int(entry.name))
        return pids

    def kill(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        for pid in self.child_pids().values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def portal(tmp_path):
    portal = Portal(tmp_path)
    migrated = portal.manage("migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    yield portal
    portal.kill()  # whatever a failed test left running


def gone_within(pids, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.2)
    return [p for p in pids if alive(p)]


def test_it_starts_everything_prints_the_logins_and_stops_cleanly_on_sigterm(portal):
    portal.start().wait_for(READY)
    text = "\n".join(portal.output)
    assert f"The Integration Portal is running at {portal.url}/" in text
    assert "Log in as 'admin' (Admin), password 'admin-demo-password'" in text
    assert "Log in as 'support' (Support), password 'support-demo-password'" in text
    assert set(portal.child_pids()) >= {"web", "worker"}
    unprefixed = [line for line in portal.output if not re.match(r"^\w+ +\| ", line)]
    assert unprefixed == []  # every line says which process it came from (the seed's django-q lines too)
    with urllib.request.urlopen(f"{portal.url}/accounts/login/", timeout=10) as response:
        assert response.status == 200
        assert b"Log in" in response.read()
    pids = portal.all_pids()
    assert len(pids) >= 4  # gunicorn master + 2 workers, qcluster and its processes

    portal.process.send_signal(signal.SIGTERM)
    assert portal.finish() == 0
    assert "stopped cleanly" in "\n".join(portal.output)
    assert gone_within(pids) == []


def test_it_stops_everything_and_fails_when_a_child_dies(portal):
    portal.start().wait_for(READY)
    pids = portal.all_pids()
    os.kill(portal.child_pids()["web"], signal.SIGKILL)
    assert portal.finish() != 0
    assert "The web process exited with code -9. Stopped the portal." in "\n".join(portal.output)
    assert gone_within(pids) == []


def test_it_refuses_to_start_on_a_port_in_use(db):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(CommandError, match=f"Port {port} on 127.0.0.1 .* is already in use"):
            call_command("runportal", "--port", str(port), "--sandbox-port", str(free_port()))


def test_the_sandbox_is_optional_equipment_it_restarts_while_the_portal_keeps_running(portal):
    portal.start().wait_for(READY)
    first = portal.child_pids()["sandbox"]
    web = portal.child_pids()["web"]
    os.killpg(first, signal.SIGKILL)
    portal.wait_for("sandbox stopped (exit code -9); the rest keeps running. Starting it again.")
    restarted = portal.wait_for("started sandbox (pid")
    assert int(re.search(r"pid (\d+)", restarted).group(1)) != first
    assert portal.process.poll() is None
    assert alive(web)
    with urllib.request.urlopen(f"{portal.url}/accounts/login/", timeout=10) as response:
        assert response.status == 200


def test_it_starts_no_sandbox_when_the_portal_points_at_another_server(portal):
    elsewhere = free_port()
    portal.env["CLEARBOOKS_WSDL_URL"] = f"http://localhost:{elsewhere}/api/accounting/wsdl/"
    portal.start().wait_for(READY)
    text = "\n".join(portal.output)
    assert "CLEARBOOKS_WSDL_URL points at localhost: not starting the Clear Books sandbox" in text
    assert "sandbox" not in portal.child_pids()
    assert set(portal.child_pids()) == {"web", "worker"}
