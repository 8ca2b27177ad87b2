"""``python -m benchmarks [NAME ...] [--OPTION ...]``: run every ``benchmarks/bench_*.py`` or the named ones.

Each module offers ``main(argv=None) -> int`` and prints its own table. Everything from the first
argument that starts with ``-`` on goes to the named module(s), e.g.
``python -m benchmarks classify --skip-large``. Not part of ``make test``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def discover() -> list[str]:
    """Names of the benchmark modules (``bench_*.py`` beside this file), sorted."""
    return sorted(p.stem for p in Path(__file__).resolve().parent.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    first_option = next((i for i, a in enumerate(argv) if a.startswith("-")), len(argv))
    requested, options = argv[:first_option], argv[first_option:]
    names = discover()
    chosen = [n if n.startswith("bench_") else f"bench_{n}" for n in requested] or names
    unknown = [n for n in chosen if n not in names]
    if unknown:
        print(f"unknown benchmarks {unknown}; available: {names}", file=sys.stderr)
        return 2
    status = 0
    for name in chosen:
        print(f"=== {name} ===", flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        status = max(status, int(module.main(options) or 0))
    return status


if __name__ == "__main__":
    sys.exit(main())
