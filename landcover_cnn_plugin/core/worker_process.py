"""Run a worker job in a child Python process and follow its JSON-lines stream.

TensorFlow must never be imported inside QGIS (QGIS links the system libprotobuf and
the second copy aborts the program), so the plugin starts
``python -m landcover_cnn_plugin.worker JOB ... --progress jsonl`` in a child process
and turns its messages into progress, log lines and a result. This module is pure
Python so that it can be tested without QGIS.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .atomic import remove_partial_files
from .environment import ready_python

#: Environment variable naming the worker's interpreter (outside QGIS; the provider setting wins).
PYTHON_ENVIRONMENT_VARIABLE = "LANDCOVER_CNN_PYTHON"
PACKAGE_NAME = "landcover_cnn_plugin"
# Seconds between SIGTERM and SIGKILL when a canceled worker lingers.
TERMINATE_GRACE_S = 3.0


class WorkerError(RuntimeError):
    """The worker failed; ``message`` is meant for the user. ``summary``: one short line for a long
    message (the plugin logs the message once and reports the summary, which QGIS repeats)."""

    def __init__(self, message: str, parameter: str | None = None, summary: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.parameter = parameter
        self.summary = summary


def _what_is_missing(python: str, message: str) -> str:
    """'<python> has no module 'x'' from the worker's message, else that it lacks the packages."""
    module = re.search(r"has no module '([^']+)'", message)
    if module:
        return f"{python} has no module '{module[1]}'"
    engines = re.search(r"has neither (\w+) .*?nor (\w+)", message)  # the check job: no engine at all
    if engines:
        return f"{python} has neither {engines[1]} nor {engines[2]}"
    return f"{python} lacks the worker's packages"


class WorkerCanceled(RuntimeError):
    """The user canceled; the worker was stopped and partial outputs deleted."""


def plugin_parent_dir() -> Path:
    """Folder that holds the ``landcover_cnn_plugin`` package (goes on the child's PYTHONPATH)."""
    return Path(__file__).resolve().parents[2]


def find_project_venv_python() -> str | None:
    """The ``.venv`` made by ``make setup`` in a folder above the plugin, if there is one."""
    for folder in Path(__file__).resolve().parents:
        candidate = folder / ".venv" / "bin" / "python"
        if candidate.exists():
            return str(candidate)
    return None


def resolve_python(setting_value: str | None = None,
                   private_environment: str | os.PathLike | None = None) -> tuple[str, str]:
    """Choose the worker's interpreter.

    Order: the provider setting, the ``LANDCOVER_CNN_PYTHON`` environment variable, the private
    environment that *Install TensorFlow environment* builds in ``private_environment`` (once
    complete), the project's ``.venv``, ``python3`` on PATH.

    Returns
    -------
    (path, source) : tuple of str
        The interpreter ('' when there is none) and where the choice came from, with the
        places passed over on the way (for messages).
    """
    if setting_value and setting_value.strip():
        return setting_value.strip(), "the provider setting 'Python interpreter with TensorFlow'"
    env_value = os.environ.get(PYTHON_ENVIRONMENT_VARIABLE, "").strip()
    if env_value:
        return env_value, f"the environment variable {PYTHON_ENVIRONMENT_VARIABLE}"
    passed_over = [f"no provider setting, no {PYTHON_ENVIRONMENT_VARIABLE}"]
    private_python = ready_python(private_environment)
    installed_by = f"the environment made by 'Install TensorFlow environment' in {private_environment}"
    if private_python:
        return private_python, installed_by
    if private_environment:
        passed_over.append(f"no {installed_by.removeprefix('the ')}")
    venv_python = find_project_venv_python()
    if venv_python:
        return venv_python, "the project's .venv"
    python3 = shutil.which("python3")
    if python3:
        return python3, f"python3 on PATH ({'; '.join(passed_over)})"
    return "", f"nowhere ({'; '.join(passed_over)}; no python3 on PATH)"


HOW_TO_CHOOSE = (
    "Run 'Install TensorFlow environment' (Processing Toolbox > Land cover CNN > Training): it installs "
    "TensorFlow and the worker's other packages into an environment of its own in your QGIS profile. "
    "Or set 'Python interpreter with TensorFlow' under Processing > Options > Providers > Land cover CNN, "
    f"or the environment variable {PYTHON_ENVIRONMENT_VARIABLE}, to a Python that has the packages of "
    "requirements-worker.txt."
)


@dataclass
class WorkerProcess:
    """One worker job in a child process.

    Parameters
    ----------
    job : str
        Worker sub-command (``check``, ``train``, ``classify``...).
    args : sequence of str
        Its command-line arguments.
    python : str
        Interpreter that runs the worker.
    outputs : sequence of str
        Final output paths; their partial files are deleted on failure or cancel.
    python_source : str
        Where ``python`` was chosen from, for messages.
    """

    job: str
    args: Sequence[str]
    python: str
    outputs: Sequence[str] = ()
    python_source: str = "the configured interpreter"
    debug_lines: list[str] = field(default_factory=list)
    pid: int | None = None  # of the last child started, for diagnostics and tests

    def command(self) -> list[str]:
        return [self.python, "-m", f"{PACKAGE_NAME}.worker", self.job, *self.args,
                "--progress", "jsonl"]

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        parent = str(plugin_parent_dir())
        env["PYTHONPATH"] = parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["PYTHONUNBUFFERED"] = "1"
        # Python >= 3.11: no current folder in front of sys.path, so the worker runs the plugin
        # beside QGIS (PYTHONPATH), not a landcover_cnn_plugin folder that happens to be there.
        env["PYTHONSAFEPATH"] = "1"
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env.setdefault("KERAS_BACKEND", "tensorflow")
        # QGIS sets these for its own Python; a venv interpreter must not inherit them.
        env.pop("PYTHONHOME", None)
        return env

    def run(
        self,
        on_progress: Callable[[float], None],
        on_log: Callable[[str, str], None],
        is_canceled: Callable[[], bool],
    ) -> dict[str, Any]:
        """Start the job, stream its messages, return its result.

        Raises
        ------
        WorkerCanceled
            ``is_canceled()`` became true; the child was terminated (then killed).
        WorkerError
            The interpreter is missing, the child reported an error, or it died.
        """
        if not self.python:
            raise WorkerError(f"No Python interpreter with TensorFlow was found ({self.python_source}). "
                              + HOW_TO_CHOOSE, "PYTHON", self._no_tensorflow("no Python was found"))
        if not (os.path.isfile(self.python) or shutil.which(self.python)):
            raise WorkerError(
                f"The Python interpreter {self.python} (from {self.python_source}) does not exist. "
                + HOW_TO_CHOOSE, "PYTHON", self._no_tensorflow(f"{self.python} does not exist"))
        try:
            proc = subprocess.Popen(
                self.command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL, env=self._environment(), text=True, bufsize=1,
                start_new_session=True)
            self.pid = proc.pid
        except OSError as exc:
            raise WorkerError(
                f"Could not start the Python interpreter {self.python} (from {self.python_source}): "
                f"{exc}. " + HOW_TO_CHOOSE, "PYTHON",
                self._no_tensorflow(f"{self.python} does not start")) from exc

        lines: queue.Queue[tuple[str, str | None]] = queue.Queue()

        def pump(stream, name: str) -> None:
            for line in stream:
                lines.put((name, line.rstrip("\n")))
            lines.put((name, None))

        threads = [threading.Thread(target=pump, args=(proc.stdout, "out"), daemon=True),
                   threading.Thread(target=pump, args=(proc.stderr, "err"), daemon=True)]
        for thread in threads:
            thread.start()

        result: dict[str, Any] | None = None
        error: WorkerError | None = None
        open_streams = 2
        try:
            while open_streams:
                if is_canceled():
                    self.stop(proc)
                    raise WorkerCanceled(f"The {self.job} job was canceled.")
                try:
                    name, line = lines.get(timeout=0.1)
                except queue.Empty:
                    continue
                if line is None:
                    open_streams -= 1
                    continue
                if name == "err":
                    self.debug_lines.append(line)
                    on_log(line, "debug")
                    continue
                message = self._parse(line)
                if message is None:
                    on_log(line, "debug")
                elif message["type"] == "progress":
                    on_progress(float(message["value"]))
                elif message["type"] == "log":
                    on_log(str(message.get("message", "")), str(message.get("level", "info")))
                elif message["type"] == "result":
                    result = message.get("data") or {}
                elif message["type"] == "error":
                    error = WorkerError(str(message.get("message")), message.get("parameter"))
            returncode = proc.wait()
        except BaseException:
            self.stop(proc)
            self.cleanup()
            raise
        finally:
            self._close_pipes(proc, threads)
        if error is not None:
            self.cleanup()
            if error.parameter == "PYTHON":  # the interpreter lacks a package: which one it was, and why
                advice = "" if HOW_TO_CHOOSE in error.message else f" {HOW_TO_CHOOSE}"
                raise WorkerError(f"{error.message} It was chosen from {self.python_source}.{advice}",
                                  "PYTHON", self._no_tensorflow(_what_is_missing(self.python, error.message)))
            raise error
        if returncode != 0 or result is None:
            self.cleanup()
            tail = "\n".join(self.debug_lines[-5:])
            how = (f"was killed by signal {-returncode}" if returncode < 0
                   else f"exited with code {returncode}")
            raise WorkerError(
                f"The worker process ({self.python}) {how} before finishing the {self.job} job. "
                f"Last messages: {tail or '(none)'}")
        return result

    def _no_tensorflow(self, what: str) -> str:
        """One complete line (what, which interpreter, why, what to do): all that ``qgis_process
        --json`` shows, and what QGIS repeats after the long explanation."""
        if self.python:
            why = f"chosen from {self.python_source}"
        else:  # "nowhere (no provider setting, ...)": the places tried
            why = self.python_source.removeprefix("nowhere (").removesuffix(")")
        return (f"{what} ({why}): run 'Install TensorFlow environment' (Processing Toolbox > Land cover "
                "CNN > Training).")

    @staticmethod
    def _close_pipes(proc: subprocess.Popen, threads: list[threading.Thread]) -> None:
        """Close the child's pipes once the readers are done (else a ResourceWarning per run)."""
        for thread in threads:
            thread.join(timeout=2.0)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError, ValueError):
                    stream.close()

    @staticmethod
    def _parse(line: str) -> dict[str, Any] | None:
        if not line.startswith("{"):
            return None
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            return None
        return message if isinstance(message, dict) and "type" in message else None

    @staticmethod
    def stop(proc: subprocess.Popen) -> None:
        """Terminate the child's whole process group, then kill it if it lingers."""
        if proc.poll() is not None:
            return
        if os.name == "nt":  # no process groups (start_new_session is POSIX only): kill the child
            proc.kill()
            proc.wait()
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + TERMINATE_GRACE_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def cleanup(self) -> None:
        """Delete the partial files of every output (the finals are never touched)."""
        for output in self.outputs:
            if output:
                remove_partial_files(output)
