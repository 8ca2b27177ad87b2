"""``selftest``: exercise the worker protocol without TensorFlow.

Counts for the given time, reporting progress, then writes a small text file
through the same temporary-name-and-rename path that real outputs use. The plugin's
tests use it to check streaming, cancel and cleanup; a user can run it to see that
the worker starts at all.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from ..atomic import atomic_output, check_output_folder

NAME = "selftest"
HELP = "Check the worker protocol: report progress for SECONDS, then write OUTPUT."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=1.0, help="how long to run (s)")
    parser.add_argument("--output", required=True, help="text file written at the end")


def run(args: argparse.Namespace, reporter) -> dict[str, Any]:
    check_output_folder(args.output, "OUTPUT")
    steps = max(1, int(args.seconds * 20))
    with atomic_output(args.output) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        for step in range(steps):
            handle.write(f"{step}\n")
            handle.flush()
            time.sleep(args.seconds / steps)
            reporter.progress(100.0 * (step + 1) / steps)
    reporter.log(f"wrote {steps} lines to {args.output}")
    return {"steps": steps, "output": args.output}
