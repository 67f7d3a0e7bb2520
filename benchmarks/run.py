"""`make bench`: run every benchmark module and print its figures side by side.

Each module under benchmarks/ named bench_*.py exposes `main(args) -> None` and prints
its own table (times, ratios, peak memory). Run one with `python benchmarks/run.py client`;
options after the names go to each module: `python benchmarks/run.py load --users 10`.
`--postgres` runs on PostgreSQL: DATABASE_URL when it names one, else BENCH_POSTGRES_URL
(default postgres://postgres@127.0.0.1:5432/portal_bench).
"""

import importlib
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")


POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/portal_bench"


def main(argv):
    first_option = next((i for i, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    names, options = argv[:first_option], argv[first_option:]
    if "--postgres" in options and not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        os.environ["DATABASE_URL"] = os.environ.get("BENCH_POSTGRES_URL", POSTGRES_URL)
    import django

    django.setup()
    names = names or sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        print(f"\n=== {name} ===", flush=True)
        module.main(options)


if __name__ == "__main__":
    main(sys.argv[1:])
