"""pytest fixtures: a real django-q2 worker (`manage.py qcluster`) on the test database.

Use with `transactional_db` (`@pytest.mark.django_db(transaction=True)`): the worker is
another process, so it sees only committed rows. It reads the same test settings, the
same credential keys and the sandbox's WSDL URL as the test process. It runs in its own
process group so stopping it (or killing it, to test recovery) takes its children too.
"""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The test database (created by pytest-django) as a DATABASE_URL for another process."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    if db["ENGINE"] == "django.db.backends.postgresql":
        auth = db["USER"] or ""
        if db.get("PASSWORD"):
            auth += f":{db['PASSWORD']}"
        host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        return f"postgres://{auth}@{host}/{db['NAME']}"
    raise RuntimeError(f"no worker support for {db['ENGINE']}")


def wait_for(condition, *, timeout=30.0, interval=0.2, message="condition", worker=None):
    """Poll `condition()` until it returns something truthy; return that, or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = f"\n--- worker log (tail) ---\n{worker.log_tail()}" if worker is not None else ""
            pytest.fail(f"Timed out after {timeout:.0f}s waiting for {message}{tail}")
        time.sleep(interval)


class Worker:
    """One `qcluster` process; `start()`, `stop()` (graceful, bounded) and `kill()` (SIGKILL)."""

    def __init__(self, env: dict):
        self.env = env
        self.process = None
        self._log = tempfile.NamedTemporaryFile(prefix="qcluster-", suffix=".log", delete=False)  # noqa: SIM115

    def start(self):
        assert self.process is None or self.process.poll() is not None, "worker already running"
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the cluster forks workers
        )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _signal_group(self, sig):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def kill(self):
        """SIGKILL the whole cluster at once, as a crash or the OOM killer would."""
        if self.process is None:
            return
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout=15):
        """Stop gracefully; SIGKILL what is left after `timeout` seconds."""
        if self.process is None:
            return
        if self.process.poll() is None:
            # SIGTERM to the cluster's main process only: it stops its sentinel and workers
            # in order (a signal to the whole group makes them wait on each other).
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        # The sentinel's children can outlive the parent: clear the group either way.
        self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)

    def log_tail(self, lines=60) -> str:
        self._log.flush()
        text = Path(self._log.name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def close(self):
        self.stop()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)


def worker_env(**extra) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "CREDENTIAL_KEYS": ",".join(settings.CREDENTIAL_KEYS),
        "CLEARBOOKS_WSDL_URL": settings.CLEARBOOKS_WSDL_URL,
        "Q_WORKERS": "2",
        # A live pull beats every second, so tests can use a short stale threshold.
        "SYNC_HEARTBEAT_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("TEST_SQLITE_NAME", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture
def start_worker(transactional_db):
    """A factory: `start_worker(**env)` starts a qcluster (env overrides); all are stopped after the test."""
    workers = []

    def start(**extra):
        worker = Worker(worker_env(**extra)).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.close()


@pytest.fixture
def worker(start_worker):
    """One running qcluster on the test database."""
    return start_worker()
