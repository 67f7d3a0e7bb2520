"""docs/Procfile is what production runs: honcho starts it on PostgreSQL and Redis, /healthz
answers 200 once a worker has run the schedules, and SIGTERM stops every process cleanly.

Also: the systemd units in docs/systemd/ run the same commands, and systemd accepts them.
"""

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.plugins.worker import ROOT, database_url
from tests.production.conftest import closed_port, kill_processes_with_env, processes_with_env

PROCFILE = ROOT / "docs" / "Procfile"
UNITS = ROOT / "docs" / "systemd"
BIN = Path(sys.executable).parent


def honcho(*args, env_file):
    return [str(BIN / "honcho"), "-f", str(PROCFILE), "-e", str(env_file), *args]


def get(url, **headers):
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)
    except OSError:
        return None, "", {}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_the_procfile_names_the_web_and_worker_processes():
    lines = dict(
        line.split(":", 1) for line in PROCFILE.read_text().splitlines() if re.match(r"^[A-Za-z0-9_-]+:", line)
    )
    assert set(lines) == {"web", "worker"}
    assert "gunicorn portal.wsgi:application" in lines["web"] and "${PORT:-8000}" in lines["web"]
    assert "manage.py qcluster" in lines["worker"]


def test_the_systemd_units_run_what_the_procfile_runs():
    web = (UNITS / "portal-web.service").read_text()
    worker = (UNITS / "portal-worker@.service").read_text()
    release = (UNITS / "portal-release.service").read_text()
    assert "gunicorn portal.wsgi:application" in web and "KillMode=mixed" in web
    assert "manage.py qcluster" in worker and "KillMode=mixed" in worker
    for command in ("migrate --noinput", "schedule_syncs"):
        assert command in release and command in PROCFILE.read_text()
    assert "collectstatic --noinput" in web and "collectstatic --noinput" in PROCFILE.read_text()


def test_systemd_accepts_the_units(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("needs systemd-analyze")
    env_file = tmp_path / "portal.env"
    env_file.write_text("SECRET_KEY=x\n")
    for unit in UNITS.glob("*.service"):
        text = unit.read_text().replace("/srv/portal", str(ROOT)).replace("/etc/portal/portal.env", str(env_file))
        text = re.sub(r"^(User|Group)=portal$", r"\1=root", text, flags=re.M)
        (tmp_path / unit.name.replace("@.", "@1.")).write_text(text)
    names = sorted(p.name for p in tmp_path.glob("*.service"))
    assert names == ["portal-release.service", "portal-web.service", "portal-worker@1.service"]
    result = subprocess.run(
        [analyze, "verify", "--man=no", *(f"./{n}" for n in names)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "portal" not in result.stderr, result.stderr


@pytest.mark.e2e
def test_honcho_starts_the_procfile_healthz_answers_200_and_sigterm_stops_it_cleanly(production_stack, tmp_path):
    port = closed_port()
    name = production_stack.name
    env_file = tmp_path / "portal.env"
    production = {
        "DJANGO_SETTINGS_MODULE": "portal.settings",  # the real settings, as production runs them
        "DEBUG": "false",
        "HTTPS": "true",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CREDENTIAL_KEYS": ",".join(settings.CREDENTIAL_KEYS),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url(),
        "WEB_CONCURRENCY": "1",
        "Q_WORKERS": "1",
        **production_stack.env,  # REDIS_URL and a Q_CLUSTER_NAME of this test's own
    }
    env_file.write_text("".join(f"{name}={value}\n" for name, value in production.items()))
    keep = {k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "LC_ALL", "TMPDIR")}
    env = {**keep, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONUNBUFFERED": "1"}

    # The deploy steps (the Procfile's header), through honcho with the same environment.
    for step in (["migrate", "--noinput"], ["collectstatic", "--noinput", "-v0"], ["schedule_syncs"]):
        done = subprocess.run(
            honcho("run", "python", "manage.py", *step, env_file=env_file),
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    log = tmp_path / "honcho.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            honcho("start", "-p", str(port), env_file=env_file),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        seen = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status, body, headers = get(f"{base}/healthz")
            if status is not None:
                seen.append((status, json.loads(body)))
            if status == 200:
                break
            assert process.poll() is None, log.read_text()[-4000:]
            time.sleep(1)
        assert seen and seen[-1][0] == 200, (seen[-1:], log.read_text()[-4000:])
        report = seen[-1][1]
        assert report["checks"]["database"]["vendor"] == "postgresql"
        assert report["checks"]["broker"]["kind"] == "redis"
        # Before the first scheduler pass (about 30 s after the cluster starts) it said why not.
        assert {tuple(body["failing"]) for status, body in seen if status == 503} <= {("worker",)}

        # HTTPS is on: plain HTTP is redirected, except /healthz; behind a proxy saying https, pages answer.
        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as redirected:
            opener.open(f"{base}/accounts/login/", timeout=5)
        assert redirected.value.code == 301
        assert redirected.value.headers["Location"].startswith("https://")
        status, page, _ = get(f"{base}/accounts/login/", **{"X-Forwarded-Proto": "https"})
        assert status == 200 and "/static/" in page  # collectstatic's manifest serves the pages' assets
        css = re.search(r'href="(/static/[^"]+\.css)"', page).group(1)
        assert get(f"{base}{css}", **{"X-Forwarded-Proto": "https"})[0] == 200
        assert len(processes_with_env("Q_CLUSTER_NAME", name)) >= 6  # gunicorn (2), qcluster (4 or more)

        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        stopping = time.monotonic() - started
    finally:
        if process.poll() is None:  # the test failed before stopping it: stop it, then kill what is left
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        left = processes_with_env("Q_CLUSTER_NAME", name)
        kill_processes_with_env("Q_CLUSTER_NAME", name)
        output = log.read_text()

    assert "SIGKILL" not in output, output[-4000:]
    assert re.search(r"web\.1 +\| .*Shutting down: Master", output)
    assert "Q Cluster" in output and "has stopped." in output
    assert re.search(r"worker\.1 stopped \(rc=0\)", output) and re.search(r"web\.1 stopped \(rc=0\)", output)
    assert stopping < 15
    assert left == []  # no process of the Procfile's outlived honcho
    assert get(f"{base}/healthz")[0] is None
