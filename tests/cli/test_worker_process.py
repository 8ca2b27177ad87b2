"""The worker child process: streaming, result, cancel, faults (no QGIS, no TensorFlow here)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from landcover_cnn_plugin.core.atomic import partial_files
from landcover_cnn_plugin.core.worker_process import WorkerCanceled, WorkerError, WorkerProcess

VENV_PYTHON = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "python")


class Recorder:
    def __init__(self, cancel_after_s: float | None = None) -> None:
        self.progress: list[float] = []
        self.logs: list[tuple[str, str]] = []
        self.cancel_after_s = cancel_after_s
        self.started = time.monotonic()

    def is_canceled(self) -> bool:
        return self.cancel_after_s is not None and time.monotonic() - self.started > self.cancel_after_s

    def callbacks(self):
        return (self.progress.append, lambda message, level: self.logs.append((level, message)),
                self.is_canceled)


def test_job_streams_progress_and_returns_result(tmp_path):
    output = tmp_path / "out.txt"
    recorder = Recorder()
    worker = WorkerProcess("selftest", ["--seconds", "0.5", "--output", str(output)], VENV_PYTHON,
                           outputs=[str(output)])
    result = worker.run(*recorder.callbacks())
    assert result == {"steps": 10, "output": str(output)}
    assert recorder.progress == sorted(recorder.progress)
    assert recorder.progress[-1] == 100.0
    assert len(recorder.progress) >= 10
    assert output.read_text().splitlines()[-1] == "9"
    assert any("wrote 10 lines" in message for _, message in recorder.logs)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_cancel_kills_the_worker_and_leaves_no_output(tmp_path):
    output = tmp_path / "out.txt"
    recorder = Recorder(cancel_after_s=2.0)
    worker = WorkerProcess("selftest", ["--seconds", "60", "--output", str(output)], VENV_PYTHON,
                           outputs=[str(output)])
    started = time.monotonic()
    with pytest.raises(WorkerCanceled):
        worker.run(*recorder.callbacks())
    assert time.monotonic() - started < 10
    assert recorder.progress, "the job reported progress before it was canceled"
    assert not output.exists()
    assert partial_files(output) == []
    assert worker.pid is not None and not _process_exists(worker.pid)


def test_worker_killed_from_outside_is_reported(tmp_path):
    output = tmp_path / "out.txt"
    # A wrapper interpreter that kills itself with SIGKILL once the job has started.
    wrapper = tmp_path / "python"
    wrapper.write_text(f"#!/bin/sh\n( sleep 1.5; kill -9 $$ ) &\nexec {VENV_PYTHON} \"$@\"\n")
    wrapper.chmod(0o755)
    worker = WorkerProcess("selftest", ["--seconds", "30", "--output", str(output)], str(wrapper),
                           outputs=[str(output)])
    with pytest.raises(WorkerError, match="killed by signal 9"):
        worker.run(*Recorder().callbacks())
    assert not output.exists()
    assert partial_files(output) == []


def test_missing_interpreter_names_it_and_the_setting(tmp_path):
    worker = WorkerProcess("check", [], str(tmp_path / "no-such-python"), python_source="a test")
    with pytest.raises(WorkerError) as info:
        worker.run(*Recorder().callbacks())
    assert "no-such-python" in info.value.message
    assert "does not exist" in info.value.message
    assert "Python interpreter with TensorFlow" in info.value.message


def test_interpreter_without_tensorflow_gives_clear_message():
    bare_python = "/usr/bin/python3"  # Debian's Python: numpy from apt, no TensorFlow
    probe = subprocess.run([bare_python, "-c", "import tensorflow"], capture_output=True)
    assert probe.returncode != 0, "precondition: /usr/bin/python3 must lack TensorFlow"
    worker = WorkerProcess("check", [], bare_python, python_source="python3 on PATH (no provider setting)")
    with pytest.raises(WorkerError) as info:
        worker.run(*Recorder().callbacks())
    message = info.value.message
    assert info.value.parameter == "PYTHON"
    assert bare_python in message or os.path.realpath(bare_python) in message
    assert "tensorflow" in message
    assert "Python interpreter with TensorFlow" in message and "LANDCOVER_CNN_PYTHON" in message
    # the one line QGIS repeats: what, which, why, what to do
    assert info.value.summary == (
        f"{bare_python} has neither tensorflow nor onnxruntime (chosen from python3 on PATH (no provider "
        "setting)): "
        "run 'Install TensorFlow environment' (Processing Toolbox > Land cover CNN > Training).")


def test_no_interpreter_anywhere_says_where_it_looked(monkeypatch, tmp_path):
    from landcover_cnn_plugin.core import worker_process

    monkeypatch.delenv(worker_process.PYTHON_ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no python3 on it
    monkeypatch.setattr(worker_process, "find_project_venv_python", lambda: None)  # a user's plugin folder
    python, source = worker_process.resolve_python("", tmp_path / "venv")
    worker = WorkerProcess("check", [], python, python_source=source)
    with pytest.raises(WorkerError) as info:
        worker.run(*Recorder().callbacks())
    assert info.value.parameter == "PYTHON"
    assert info.value.summary == (
        "no Python was found (no provider setting, no LANDCOVER_CNN_PYTHON; no environment made by "
        f"'Install TensorFlow environment' in {tmp_path / 'venv'}; no python3 on PATH): run 'Install "
        "TensorFlow environment' (Processing Toolbox > Land cover CNN > Training).")


def test_worker_command_line_help_lists_jobs():
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "build" / "plugins"),
               PYTHONSAFEPATH="1")
    proc = subprocess.run([sys.executable, "-m", "landcover_cnn_plugin.worker", "--help"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0
    for job in ("check", "selftest", "train", "evaluate", "compare", "classify", "assess"):
        assert job in proc.stdout
