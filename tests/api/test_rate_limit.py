"""The rate limit holds across processes: every process counts a key in one shared store.

Two cache clients on one store see one count; and, end to end, two gunicorn servers on
the same database (or the same Redis, when one is reachable) share a key's requests.
"""

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid

import pytest
import requests
from django.conf import settings
from django.core.cache import caches

from portal.api import keys
from portal.api.throttling import count_request, parse_rate
from tests.api.conftest import basic
from tests.plugins.worker import ROOT, worker_env

KEY = uuid.uuid4().hex  # counters of this run only
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/5")


def test_rates_read_as_drf_reads_them():
    assert parse_rate("600/minute") == (600, 60)
    assert parse_rate("5/s") == (5, 1)
    assert parse_rate("100/hour") == (100, 3600)
    assert parse_rate("1000/day") == (1000, 86400)


@pytest.mark.django_db
def test_two_cache_clients_on_the_database_share_one_count():
    first = caches.create_connection(settings.API_RATE_CACHE)  # a new client each, as in two processes
    second = caches.create_connection(settings.API_RATE_CACHE)
    assert first is not second
    now = 1_000_000_040.0  # 20 s into the minute window that starts at 1_000_000_020
    assert count_request("shared-key-" + KEY, "3/minute", now, first).count == 1
    assert count_request("shared-key-" + KEY, "3/minute", now + 1, second).count == 2
    state = count_request("shared-key-" + KEY, "3/minute", now + 2, first)
    assert (state.count, state.remaining, state.reset_at) == (3, 0, 1_000_000_080)
    assert count_request("shared-key-" + KEY, "3/minute", now + 3, second).count == 4  # over the limit
    assert count_request("shared-key-" + KEY, "3/minute", now + 40, second).count == 1  # the next window
    assert count_request("other-key-" + KEY, "3/minute", now, first).count == 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _redis_reachable(url) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@contextlib.contextmanager
def gunicorn(env):
    """One gunicorn (one worker) on a free loopback port; yields its base URL."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "portal.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(requests.RequestException):  # not listening yet, or its first answer slow
                requests.get(f"{url}/healthz", timeout=5)
                break
            assert process.poll() is None, "gunicorn exited"
            assert time.monotonic() < deadline, "gunicorn did not answer within 30 s"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("store", ["database", "redis"])
def test_two_servers_share_a_keys_count_and_the_429_says_when_to_retry(store):
    env = worker_env(API_RATE_LIMIT="3/minute", HTTPS="false")
    if store == "redis":
        if not _redis_reachable(TEST_REDIS_URL):
            pytest.skip(f"no Redis at {TEST_REDIS_URL} (TEST_REDIS_URL): the database store is tested alone")
        env["REDIS_URL"] = TEST_REDIS_URL
        env["Q_CLUSTER_NAME"] = f"rate-test-{os.getpid()}"  # its own prefix: nothing else's keys
    row, key = keys.create_key("runaway script")  # a new key: a counter no other test shares
    auth = {"Authorization": basic(key)}
    with gunicorn(env) as first, gunicorn(env) as second:
        if time.time() % 60 > 50:  # the five requests must fall in one minute window: start a fresh one
            time.sleep(60 - time.time() % 60 + 0.1)
        window = int(time.time() // 60)
        answers = [requests.get(f"{first}/api/integrations", headers=auth, timeout=10) for _ in range(2)]
        answers.append(requests.get(f"{second}/api/integrations", headers=auth, timeout=10))
        refused = requests.get(f"{second}/api/integrations", headers=auth, timeout=10)
        elsewhere = requests.get(f"{first}/api/integrations", headers=auth, timeout=10)
    assert int(time.time() // 60) == window, "the five requests took over ten seconds"
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.headers["X-Rate-Limit-Remaining"] for a in answers] == ["2", "1", "0"]
    for answer in (refused, elsewhere):
        assert answer.status_code == 429
        assert answer.json()["statusCode"] == 429 and answer.json()["service"] == "PublicApi"
        assert 1 <= int(answer.headers["Retry-After"]) <= 60
        assert answer.headers["X-Rate-Limit-Limit"] == "3" and answer.headers["X-Rate-Limit-Remaining"] == "0"
        assert int(answer.headers["X-Rate-Limit-Reset"]) == (window + 1) * 60
    assert _counter_in(store, env, row.pk, window) == 5  # where the servers counted: the store under test


def _counter_in(store, env, key_id, window):
    name = f"{key_id}:60:{window}"
    if store == "redis":
        import redis

        client = redis.Redis.from_url(TEST_REDIS_URL)
        (stored,) = client.keys(f"{env['Q_CLUSTER_NAME']}:api-rate:*:{name}")
        value = int(client.get(stored))
        client.delete(stored)
        return value
    return caches[settings.API_RATE_CACHE].get(name)
