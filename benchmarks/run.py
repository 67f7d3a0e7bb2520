"""`make bench`: run every benchmark module and print its figures side by side.

Each module under benchmarks/ named bench_*.py exposes `main(args) -> None` and prints
its own table (times, ratios, peak memory). Run one with `python benchmarks/run.py client`.
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
    names = argv or sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        print(f"\n=== {name} ===", flush=True)
        module.main([])


if __name__ == "__main__":
    main(sys.argv[1:])
