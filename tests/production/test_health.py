"""`/healthz`: 200 when the database, the broker and a worker are all well, else 503 naming what is wrong."""

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_q.models import Task

from connections.models import PullOperation
from portal import health
from tests import factory
from tests.production.conftest import REDIS_URL, closed_port, redis_answers, use_broker

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_broker():
    health.broker.cache_clear()
    yield
    health.broker.cache_clear()


def finished_task(age_seconds=5, success=True):
    stopped = timezone.now() - timedelta(seconds=age_seconds)
    return Task.objects.create(
        id=uuid.uuid4().hex,
        name=f"task-{uuid.uuid4().hex[:6]}",
        func="connections.sync.tasks.watchdog",
        started=stopped - timedelta(seconds=1),
        stopped=stopped,
        success=success,
    )


def get_health(client):
    response = client.get(reverse("healthz"))
    assert response["Content-Type"] == "application/json"
    return response.status_code, json.loads(response.content)


def test_it_answers_200_without_a_login_when_everything_is_well(client):
    finished_task(age_seconds=20)

    status, body = get_health(client)

    assert status == 200, body
    assert body["status"] == "ok" and body["failing"] == [] and body["problems"] == []
    assert set(body["checks"]) == {"database", "broker", "worker"}
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["kind"] == "orm"
    worker = body["checks"]["worker"]
    assert worker["ok"] and 19 <= worker["age_seconds"] <= 30 and worker["max_age_seconds"] == 180


def test_a_failed_task_is_a_sign_of_life_too(client):
    finished_task(age_seconds=3, success=False)

    assert get_health(client)[0] == 200


def test_no_task_ever_finished_means_no_worker(client):
    status, body = get_health(client)

    assert status == 503 and body["status"] == "fail"
    assert body["failing"] == ["worker"]
    assert "No worker has finished a task yet" in body["problems"][0]
    assert body["checks"]["worker"]["last_task_finished_at"] is None


def test_a_heartbeat_older_than_the_limit_means_no_worker(client, settings):
    settings.HEALTH_WORKER_MAX_AGE = 60
    finished_task(age_seconds=61)

    status, body = get_health(client)

    assert status == 503 and body["failing"] == ["worker"]
    assert "No worker has shown a sign of life for 61 seconds (limit 60)" in body["problems"][0]
    finished_task(age_seconds=30)
    assert get_health(client)[0] == 200


def test_a_broker_that_does_not_answer_fails_the_check(client, monkeypatch):
    finished_task()
    use_broker(monkeypatch, redis_url=f"redis://127.0.0.1:{closed_port()}/0")

    status, body = get_health(client)

    assert status == 503 and body["failing"] == ["broker"]
    broker = body["checks"]["broker"]
    assert broker["error"] == "ConnectionError" and broker["message"] == "The broker check failed: ConnectionError."
    assert body["checks"]["worker"]["ok"] and body["checks"]["database"]["ok"]


def test_a_broker_that_accepts_but_never_answers_fails_within_the_timeout(client, monkeypatch, settings):
    settings.HEALTH_TIMEOUT = 0.5
    finished_task()
    with socket.socket() as silent:  # listens (the connection is accepted by the kernel), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        use_broker(monkeypatch, redis_url=f"redis://127.0.0.1:{silent.getsockname()[1]}/0")
        started = time.monotonic()
        status, body = get_health(client)
        elapsed = time.monotonic() - started

    assert status == 503 and body["failing"] == ["broker"]
    assert body["checks"]["broker"]["error"] == "TimeoutError"
    assert elapsed < 3


def test_a_redis_broker_that_answers_passes(client, monkeypatch):
    if not redis_answers():
        pytest.skip(f"needs Redis at {REDIS_URL}")
    finished_task()
    use_broker(monkeypatch, redis_url=REDIS_URL)

    status, body = get_health(client)

    assert status == 200, body
    assert body["checks"]["broker"]["ok"] and body["checks"]["broker"]["kind"] == "redis"


def test_a_running_pull_that_beats_is_a_sign_of_life(client, settings):
    """Busy workers: the monitor saving results lags behind them, the pulls' own heartbeats do not."""
    settings.HEALTH_WORKER_MAX_AGE = 60
    finished_task(age_seconds=300)  # the newest result the monitor has saved so far
    connection = factory.make_connection()
    beating = factory.make_pull(
        connection, "invoices", status=PullOperation.Status.FETCHING, heartbeat_at=timezone.now()
    )

    status, body = get_health(client)

    assert status == 200, body
    assert body["checks"]["worker"]["last_pull_heartbeat_at"] == beating.heartbeat_at.isoformat()
    assert body["checks"]["worker"]["age_seconds"] < 5

    # A pull whose worker died beats no more: its old heartbeat is no sign of life.
    PullOperation.objects.filter(pk=beating.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=120))
    status, body = get_health(client)
    assert status == 503 and body["failing"] == ["worker"]
    # Nor is the heartbeat of a pull that ended.
    PullOperation.objects.filter(pk=beating.pk).update(
        status=PullOperation.Status.COMPLETE, heartbeat_at=timezone.now()
    )
    assert get_health(client)[0] == 503


def test_it_costs_three_queries_however_many_tasks_are_kept(client, django_assert_max_num_queries):
    Task.objects.bulk_create(
        Task(
            id=uuid.uuid4().hex,
            name=f"pull-{i}",
            func="connections.sync.tasks.run_pull",
            started=timezone.now() - timedelta(seconds=i + 1),
            stopped=timezone.now() - timedelta(seconds=i),
        )
        for i in range(1500)
    )
    with django_assert_max_num_queries(3):
        status, body = get_health(client)
    assert status == 200
    assert body["checks"]["worker"]["age_seconds"] < 5


def test_it_is_not_redirected_to_https_nor_cached(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    finished_task()

    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert client.get("/").status_code == 301  # the rest of the site still is redirected


def test_a_failure_is_logged_as_one_line_naming_it(client, caplog):
    with caplog.at_level("INFO"):
        assert get_health(client)[0] == 503

    lines = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert [line for line in lines if line[0] == "django.request"] == []
    assert [line[:2] for line in lines if "healthz" in line[2]] == [("portal.health", "WARNING")]
    assert "No worker has finished a task yet" in caplog.text


def test_it_takes_get_and_head_only(client):
    finished_task()

    assert client.head(reverse("healthz")).status_code == 200
    assert client.post(reverse("healthz")).status_code == 405


HEALTH_IN_A_FRESH_PROCESS = """
import json
import django
django.setup()
from django.test import Client
response = Client().get("/healthz", HTTP_HOST="localhost")
print(response.status_code, response.content.decode())
"""


@pytest.mark.django_db(transaction=False)
def test_a_database_that_does_not_answer_fails_the_check(tmp_path):
    """The real settings in another process, with DATABASE_URL at a port nobody listens on."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    env = {
        **keep,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "SECRET_KEY": "health-test",
        "CREDENTIAL_KEYS": Fernet.generate_key().decode(),  # required when DEBUG is off
        "HTTPS": "false",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{closed_port()}/nothing",
    }
    result = subprocess.run(
        [sys.executable, "-c", HEALTH_IN_A_FRESH_PROCESS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    status, _, payload = result.stdout.strip().splitlines()[-1].partition(" ")
    body = json.loads(payload)
    assert status == "503"
    assert body["failing"] == ["database", "broker", "worker"]  # the ORM broker's queue is that database
    assert body["checks"]["database"]["error"] == "OperationalError"
    assert body["checks"]["broker"]["kind"] == "orm"
    assert "127.0.0.1" not in payload and "postgres" not in payload  # nothing about the server leaks
    assert connection.vendor  # this process's own database is untouched
