"""Fixtures for the production path: PostgreSQL, django-q2's Redis broker, several clusters.

`redis_queue` gives a test its own django-q2 queue on Redis (TEST_REDIS_URL, default
redis://127.0.0.1:6379/5) under a cluster name of its own, so it never takes another
run's tasks nor leaves any behind. It switches this test process's django-q2 to that
broker (what the web process does with REDIS_URL) and hands the environment for
`start_worker(**queue.env)`. `production_stack` also needs the test database to be
PostgreSQL (`make test-postgres`, or DATABASE_URL=postgres://…): without both it skips,
saying what is missing.
"""

import contextlib
import os
import socket
import uuid
from dataclasses import dataclass, field

import pytest
from django.db import connection

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/5")


def redis_answers(url=REDIS_URL) -> bool:
    import redis

    try:
        return bool(redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RedisQueue:
    url: str
    name: str
    env: dict = field(default_factory=dict)

    def client(self):
        import redis

        return redis.from_url(self.url)

    def queue_size(self) -> int:
        return self.client().llen(f"django_q:{self.name}:q")

    def clear(self):
        client = self.client()
        keys = list(client.scan_iter(match=f"django_q:{self.name}:*", count=1000))
        if keys:
            client.delete(*keys)


def use_broker(monkeypatch, *, redis_url=None, name=None):
    """Point this process's django-q2 at another broker and cluster name (its Conf is read once, at import)."""
    from django_q.conf import Conf

    from portal import health

    if redis_url is not None:
        monkeypatch.setattr(Conf, "ORM", None)
        monkeypatch.setattr(Conf, "REDIS", redis_url)
    if name is not None:
        for attribute in ("PREFIX", "CLUSTER_NAME"):
            monkeypatch.setattr(Conf, attribute, name)
        monkeypatch.setattr(Conf, "Q_STAT", f"django_q:{name}:cluster")
    health.broker.cache_clear()


@pytest.fixture
def redis_queue(monkeypatch):
    if not redis_answers():
        pytest.skip(f"needs Redis at {REDIS_URL} (set TEST_REDIS_URL)")
    from portal import health

    name = f"portal-test-{uuid.uuid4().hex[:12]}"
    queue = RedisQueue(REDIS_URL, name, env={"REDIS_URL": REDIS_URL, "Q_CLUSTER_NAME": name})
    use_broker(monkeypatch, redis_url=REDIS_URL, name=name)
    yield queue
    with contextlib.suppress(Exception):
        queue.clear()
    health.broker.cache_clear()


@pytest.fixture
def production_stack(transactional_db, redis_queue):
    """PostgreSQL (the test database) and a Redis queue of the test's own."""
    if connection.vendor != "postgresql":
        pytest.skip("needs the test database on PostgreSQL (make test-postgres, or DATABASE_URL=postgres://…)")
    return redis_queue


def processes_with_env(name: str, value: str) -> list[int]:
    """Pids of this machine's processes whose environment has name=value (a test's own marker)."""
    wanted = f"{name}={value}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError), open(f"/proc/{entry.name}/environ", "rb") as environ:
            if wanted in environ.read().split(b"\0"):
                found.append(int(entry.name))
    return found


def kill_processes_with_env(name: str, value: str):
    """SIGKILL what a failed test left running (its processes carry its unique cluster name)."""
    import signal

    for pid in processes_with_env(name, value):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
