"""Worker: runs core jobs (check, selftest, train, evaluate, compare, classify, assess, export) outside QGIS.

Usage::

    python -m landcover_cnn_plugin.worker --help
    python -m landcover_cnn_plugin.worker check
    python -m landcover_cnn_plugin.worker train --samples samples.csv --model model.lcnn ...

The plugin starts this module in a child process with ``--progress jsonl`` and reads
one JSON object per line from standard output (see ``core.progress``). A person
calling it gets readable progress on standard error and the result as JSON on
standard output. Exit codes: 0 done, 2 bad input, 3 missing dependency, 1 other error.

Only the standard library is imported at module level: a job module imports NumPy,
TensorFlow and the like when it runs, so that a missing package becomes a clear
message instead of a traceback.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from types import ModuleType

from .core.errors import JobCanceled, MissingDependencyError, UserInputError
from .core.progress import JsonLinesReporter, TextReporter


def job_modules() -> tuple[ModuleType, ...]:
    """The jobs, in --help order (a new job: its module in core/jobs/, listed here). Each module
    defines NAME, HELP, add_arguments(parser) and run(args, reporter) -> dict, and imports
    TensorFlow and the like inside run()."""
    from .core.jobs import assess, check, classify, compare, evaluate, export, selftest, suggest, train

    return check, selftest, train, evaluate, compare, classify, assess, export, suggest


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(
        prog="python -m landcover_cnn_plugin.worker",
        description="Train, evaluate and apply landcover-cnn models outside QGIS.")
    subparsers = parser.add_subparsers(dest="job", metavar="JOB", required=True)
    jobs = {}
    for module in job_modules():
        sub = subparsers.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.add_argument("--progress", choices=("text", "jsonl"), default="text",
                         help="text: readable progress on stderr (default); "
                              "jsonl: JSON lines on stdout, for the QGIS plugin")
        jobs[module.NAME] = module
    return parser, jobs


def _missing_module_message(exc: ModuleNotFoundError, for_a_person: bool) -> str:
    package = "tensorflow-cpu" if exc.name == "tensorflow" else exc.name
    message = (f"The Python interpreter {sys.executable} has no module '{exc.name}': it lacks the package "
               f"{package} of requirements-worker.txt.")
    if for_a_person:  # the plugin adds how to choose or install an interpreter
        message += f" Install the packages: {sys.executable} -m pip install -r requirements-worker.txt"
    return message


def main(argv: Sequence[str] | None = None) -> int:
    parser, jobs = build_parser()
    args = parser.parse_args(argv)
    reporter = JsonLinesReporter() if args.progress == "jsonl" else TextReporter()
    # SIGTERM from the plugin's cancel becomes JobCanceled, so atomic writers clean up.
    signal.signal(signal.SIGTERM, _raise_canceled)
    if args.progress == "jsonl":  # started by the plugin: stop if QGIS dies (no orphan writing on)
        threading.Thread(target=_stop_when_orphaned, args=(os.getppid(),), daemon=True).start()
    try:
        result = jobs[args.job].run(args, reporter)
    except UserInputError as exc:
        reporter.error(exc.message, exc.parameter)
        return 2
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] == __package__:  # a module of the plugin: a bug, not a setup
            reporter.log(traceback.format_exc(), "debug")
        reporter.error(_missing_module_message(exc, args.progress == "text"), "PYTHON")
        return 3
    except MissingDependencyError as exc:
        reporter.error(str(exc), "PYTHON")
        return 3
    except (JobCanceled, KeyboardInterrupt):
        reporter.error("Canceled.")
        return 130
    except OSError as exc:
        if exc.errno not in WRITE_ERRNOS:
            reporter.log(traceback.format_exc(), "debug")
            reporter.error(f"The {args.job} job failed: {type(exc).__name__}: {exc}")
            return 1
        reporter.log(traceback.format_exc(), "debug")
        reporter.error(_write_error_message(args, exc))
        return 1
    except Exception as exc:  # last resort: the user gets a message, the log the traceback
        reporter.log(traceback.format_exc(), "debug")
        reporter.error(f"The {args.job} job failed: {type(exc).__name__}: {exc}")
        return 1
    reporter.progress(100.0)
    reporter.result(result)
    return 0


#: errno values of a failed write: disk full, quota, read-only file system, permission.
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}
#: Options that name files a job writes.
OUTPUT_OPTIONS = ("output", "model", "confidence", "probabilities", "report", "metrics", "table")


def _write_error_message(args: argparse.Namespace, exc: OSError) -> str:
    """Which outputs could not be written, why, and what to do (the partial files are removed)."""
    outputs = [str(getattr(args, name)) for name in OUTPUT_OPTIONS if getattr(args, name, None)]
    target = exc.filename or ", ".join(outputs) or "its output"
    return (f"The {args.job} job could not write {target}: {exc.strerror or exc}. Nothing was left "
            "behind; free some disk space or choose an output folder on a disk with room that you "
            "can write to, and run it again.")


def _stop_when_orphaned(parent_pid: int, interval_s: float = 1.0) -> None:
    """Cancel the job (SIGTERM to itself) once the parent process is gone (QGIS crashed or killed)."""
    while os.getppid() == parent_pid:
        time.sleep(interval_s)
    os.kill(os.getpid(), signal.SIGTERM)


def _raise_canceled(signum, frame) -> None:
    raise JobCanceled("terminated")


if __name__ == "__main__":
    sys.exit(main())
