"""`make bench`: run every benchmark module and print its figures side by side.

Each module under benchmarks/ named bench_*.py exposes `main(args) -> None` and prints
its own table (times, ratios, peak memory). Run one with `python benchmarks/run.py client`,
and give it options after its name: `python benchmarks/run.py sync --postgres`
(`make bench BENCH_ARGS="sync --postgres"`).
"""

import importlib
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")


def main(argv):
    import django

    django.setup()
    every = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    # NAME [options…]: one benchmark with its options; no name: every benchmark with its defaults.
    runs = [(argv[0], argv[1:])] if argv and argv[0] in every else [(name, []) for name in argv or every]
    for name, args in runs:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        print(f"\n=== {name} ===", flush=True)
        module.main(args)


if __name__ == "__main__":
    main(sys.argv[1:])
