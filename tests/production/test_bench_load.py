"""`python benchmarks/run.py load` keeps working: its short form in a subprocess (SQLite, ORM broker).

A few Locust users for a few seconds against gunicorn while a worker syncs a small book: no
request failed, and the figures (requests per second, p50/p95/p99) were produced. It asserts no
speed: docs/RELIABILITY.md has the full run's figures (50 users, 20,000 invoices).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_the_load_benchmark_runs_without_errors_and_prints_its_figures(tmp_path):
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    env = {**keep, "DJANGO_SETTINGS_MODULE": "benchmarks.settings", "PYTHONPATH": str(ROOT)}
    args = ["--users", "4", "--seconds", "6", "--invoices", "300"]
    args += ["--database-url", f"sqlite:///{tmp_path / 'load.sqlite3'}", "--redis-url", ""]
    result = subprocess.run(
        [sys.executable, "benchmarks/bench_load.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    assert "4 users (0.2-1.0 s between requests) for 6 s on SQLite with the ORM broker" in out
    total = re.search(r"^all together\s+(\d+)\s+(\d+)\s+([\d.]+)\s+(\d+)\s+(\d+)\s+(\d+)$", out, re.M)
    assert total, out
    requests, failures, per_second, p50, p95, p99 = total.groups()
    assert int(requests) > 0 and int(failures) == 0 and float(per_second) > 0
    assert 0 < int(p50) <= int(p95) <= int(p99)
    assert "errors: none" in out
    synced = re.search(r"read the 300-invoice books (\d+) time\(s\) in full .*; (\d+) failed\)", out)
    assert synced and int(synced.group(1)) >= 1 and synced.group(2) == "0", out
