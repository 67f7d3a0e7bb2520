"""Benchmark settings: the test settings on a throwaway SQLite file under var/bench/."""

import os
from pathlib import Path

_bench = Path(__file__).resolve().parent.parent / "var" / "bench"
_bench.mkdir(parents=True, exist_ok=True)
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_bench / 'bench.sqlite3'}")

from tests.settings import *  # noqa: E402,F403
