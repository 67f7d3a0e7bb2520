"""`python benchmarks/run.py scale` keeps working: a tiny run in a subprocess (SQLite, ORM broker).

It measures nothing (docs/RELIABILITY.md has the figures of the full run on PostgreSQL and
Redis); it checks the bench seeds the current schema, runs a real qcluster per worker count
and prints its table with every pull complete.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_the_scale_benchmark_runs_and_prints_its_table(tmp_path):
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    env = {**keep, "DJANGO_SETTINGS_MODULE": "benchmarks.settings", "PYTHONPATH": str(ROOT)}
    args = ["--connections", "16", "--workers", "1,2", "--latency-ms", "20", "--max-seconds", "60"]
    args += ["--database-url", f"sqlite:///{tmp_path / 'scale.sqlite3'}", "--redis-url", ""]
    result = subprocess.run(
        [sys.executable, "benchmarks/bench_scale.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "SQLite, the ORM broker" in out and "pulls/min" in out and "PSS/worker" in out
    rows = re.findall(r"^\s+(\d)\s+(\d+)\s+[\d.]+\s+\d+\s+\d+\s+\d+%", out, re.M)
    assert rows == [("1", "16"), ("2", "16")], out
    assert "did not complete" not in out and "stopped after" not in out
    assert "2 cores would carry about" in out
