"""Faults: cancel, a worker killed from outside, two runs at once, a full disk, crafted model files.

Everything runs in child processes (the worker through WorkerProcess, qgis_process.bin); this
process imports neither qgis nor TensorFlow.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from reliability import (
    VENV_PYTHON,
    files_under,
    process_alive,
    small_model,
    small_samples_csv,
    tiled_stack_vrt,
    wait_until,
    worker_environment,
    worker_pids,
)

from landcover_cnn_plugin.core.atomic import partial_files
from landcover_cnn_plugin.core.worker_process import WorkerCanceled, WorkerProcess
from lcnn_testing import ROOT, QgisProcessRunner, reference_stack

gdal.UseExceptions()
QGIS_PROCESS = ROOT / "scripts" / "qgis_process.sh"
CANCEL_LIMIT_S = 6.0  # SIGTERM, then SIGKILL after 3 s: a stopped worker well within this


@pytest.fixture(scope="module")
def big_stack(tmp_path_factory) -> Path:
    """The real 20 m stack repeated 4 x 4 (3072 x 1536 px): classifying it takes long enough."""
    return tiled_stack_vrt(tmp_path_factory.mktemp("big") / "big_stack.vrt", reference_stack(), 4, 4)


# --- cancel through WorkerProcess -----------------------------------------------------------------
@dataclass
class CancelWhen:
    """``is_canceled`` that turns true once the job is under way (progress past a threshold)."""

    threshold: float
    log_trigger: str = ""  # or once a log line holds this (e.g. "epoch 2/": training under way)
    max_wait_s: float = 240.0
    canceled_at: float | None = None
    last_progress: float = 0.0
    triggered: bool = False

    def __post_init__(self) -> None:
        self.started = time.monotonic()

    def on_progress(self, value: float) -> None:
        self.last_progress = value

    def on_log(self, message: str, level: str) -> None:
        if self.log_trigger and self.log_trigger in message:
            self.triggered = True

    def is_canceled(self) -> bool:
        if self.canceled_at is None and (self.last_progress >= self.threshold or self.triggered
                                          or time.monotonic() - self.started > self.max_wait_s):
            self.canceled_at = time.monotonic()
        return self.canceled_at is not None


def _train_args(out: Path) -> tuple[list[str], list[Path]]:
    model = out / "model.lcnn"
    return (["--samples", str(small_samples_csv()), "--model", str(model), "--report",
             str(out / "report.html"), "--epochs", "500", "--patience", "500", "--batch-size", "32"],
            [model, out / "report.html"])


def _classify_args(out: Path, stack: Path) -> tuple[list[str], list[Path]]:
    output = out / "map.tif"
    return (["--raster", str(stack), "--model", str(small_model()), "--output", str(output),
             "--confidence", str(out / "confidence.tif"), "--memory-mb", "16"],
            [output, out / "confidence.tif", out / "map.qml"])


@pytest.mark.slow
@pytest.mark.parametrize("job", ["train", "classify"])
def test_cancel_stops_worker_within_seconds_and_leaves_nothing(job, big_stack, tmp_path, record_property):
    out = tmp_path / "out"
    out.mkdir()
    args, outputs = _train_args(out) if job == "train" else _classify_args(out, big_stack)
    # train: canceled in its second epoch; classify: 5 % is the model loaded, blocks follow
    canceller = (CancelWhen(threshold=101.0, log_trigger="epoch 2/") if job == "train"
                 else CancelWhen(threshold=8.0))
    worker = WorkerProcess(job, args, VENV_PYTHON, outputs=[str(p) for p in outputs])
    with pytest.raises(WorkerCanceled):
        worker.run(canceller.on_progress, canceller.on_log, canceller.is_canceled)
    stopped = time.monotonic()
    assert canceller.canceled_at is not None
    cancel_to_stop = stopped - canceller.canceled_at
    record_property(f"cancel_to_stop_s_{job}", round(cancel_to_stop, 2))
    print(f"\n{job}: canceled at {canceller.last_progress:.1f} %, stopped {cancel_to_stop:.2f} s later")
    assert canceller.last_progress >= canceller.threshold or canceller.triggered, "canceled mid-job"
    assert cancel_to_stop < CANCEL_LIMIT_S
    assert worker.pid is not None and not process_alive(worker.pid)
    assert files_under(out) == []
    for path in outputs:
        assert not path.exists() and partial_files(path) == []


# --- the worker killed from outside, mid-classification, through qgis_process -------------------
def _qgis_process_popen(algorithm: str, params: dict, env: dict[str, str] | None = None,
                        json_output: bool = True) -> subprocess.Popen:
    command = [str(QGIS_PROCESS), *(["--json"] if json_output else []), "run", algorithm,
               *QgisProcessRunner.parameters(params)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, **(env or {})))


def _worker_writing(output: Path) -> int | None:
    """Pid of the worker whose command line names ``output``, once its partial file exists."""
    return _worker_for(output) if partial_files(output) else None


def _worker_for(path: Path) -> int | None:
    """Pid of the running worker whose command line names ``path``."""
    for pid in worker_pids():
        try:
            if str(path) in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                return pid
        except OSError:
            continue
    return None


def _wait_for_pid(find: Callable[[], int | None], timeout: float) -> int:
    """Poll ``find`` until it returns a pid; that pid, or 0 when ``timeout`` seconds pass first."""
    pid = 0

    def found() -> bool:
        nonlocal pid
        pid = find() or 0
        return pid > 0

    wait_until(found, timeout=timeout)
    return pid


def _start_classification(big_stack: Path, output: Path) -> tuple[subprocess.Popen, int]:
    """qgis_process classifying ``big_stack`` into ``output``, and the pid of its worker once
    that writes its partial map (0 if it never does within 240 s)."""
    qgis = _qgis_process_popen("landcovercnn:classifyimage", {
        "INPUT": big_stack, "MODEL": small_model(), "OUTPUT": output, "MEMORY_MB": 16})
    return qgis, _wait_for_pid(lambda: _worker_writing(output), timeout=240)


@pytest.mark.slow
def test_worker_killed_mid_classification_is_reported_and_no_map_remains(big_stack, tmp_path):
    output = tmp_path / "map.tif"
    qgis, worker = _start_classification(big_stack, output)
    assert worker > 0, "the worker never started writing"
    os.kill(worker, signal.SIGKILL)
    stdout, stderr = qgis.communicate(timeout=120)
    assert qgis.returncode != 0
    assert "killed by signal 9" in stderr, stderr
    assert "Traceback" not in stdout + stderr
    assert not output.exists() and partial_files(output) == []
    assert not output.with_suffix(".qml").exists()
    assert files_under(tmp_path) == []


@pytest.mark.slow
def test_qgis_killed_mid_classification_worker_stops_and_no_map_remains(big_stack, tmp_path):
    """QGIS crashes (SIGKILL): the orphaned worker notices, stops and removes its partial files."""
    output = tmp_path / "map.tif"
    qgis, worker = _start_classification(big_stack, output)
    try:
        assert worker > 0, "the worker never started writing"
        qgis.kill()
        qgis.communicate(timeout=30)
        killed = time.monotonic()
        assert wait_until(lambda: not process_alive(worker), timeout=30), "the worker ran on as an orphan"
        print(f"\nworker stopped {time.monotonic() - killed:.2f} s after QGIS was killed")
    finally:
        if worker and process_alive(worker):
            os.kill(worker, signal.SIGKILL)
    assert files_under(tmp_path) == []


# --- Ctrl+C on qgis_process: QGIS cancels the algorithm, the algorithm stops the worker ----------
@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["landcovercnn:classifyimage", "landcovercnn:trainmodel"])
def test_ctrl_c_on_qgis_process_stops_worker_and_writes_nothing(algorithm, big_stack, tmp_path,
                                                                record_property):
    output = tmp_path / ("map.tif" if algorithm.endswith("classifyimage") else "model.lcnn")
    params = ({"INPUT": big_stack, "MODEL": small_model(), "OUTPUT": output, "MEMORY_MB": 16}
              if algorithm.endswith("classifyimage") else
              {"INPUT": small_samples_csv(), "EPOCHS": 500, "PATIENCE": 500, "BATCH_SIZE": 32,
               "MODEL_TYPE": 1, "OUTPUT_MODEL": output})
    # Plain output: qgis_process 3.22 with --json does not act on Ctrl+C (still running after 40 s).
    qgis = _qgis_process_popen(algorithm, params, json_output=False)
    worker = 0
    try:
        worker = _wait_for_pid(lambda: _worker_for(output), timeout=120)
        assert worker > 0
        # under way: the map's partial file exists / the network has trained for a while
        if algorithm.endswith("classifyimage"):
            assert wait_until(lambda: bool(partial_files(output)), timeout=240)
        else:
            time.sleep(20)
        qgis.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        stdout, stderr = qgis.communicate(timeout=60)
        stopped = time.monotonic() - interrupted
    finally:  # a failed test leaves no qgis_process or worker behind
        if qgis.poll() is None:
            qgis.kill()
            qgis.communicate()
        if worker and process_alive(worker):
            os.kill(worker, signal.SIGKILL)
    record_property(f"ctrl_c_to_exit_s_{algorithm}", round(stopped, 2))
    print(f"\n{algorithm}: Ctrl+C to qgis_process exit {stopped:.2f} s")
    assert "Canceled: the worker was stopped and no output was written." in stderr, stderr
    assert "Traceback" not in stdout + stderr
    assert stopped < CANCEL_LIMIT_S + 4  # QGIS polls its feedback, then the worker's grace period
    assert not process_alive(worker)
    assert files_under(tmp_path) == []


# --- two qgis_process at once -------------------------------------------------------------------
@pytest.mark.slow
def test_two_qgis_process_runs_at_once_do_not_interfere(tmp_path):
    outputs = [tmp_path / "a" / "map.tif", tmp_path / "b" / "map.tif"]
    for output in outputs:
        output.parent.mkdir()
    samples = tmp_path / "samples.csv"
    runs = [_qgis_process_popen("landcovercnn:classifyimage", {
        "INPUT": reference_stack(), "MODEL": small_model(), "OUTPUT": output, "MEMORY_MB": 16})
        for output in outputs]
    runs.append(_qgis_process_popen("landcovercnn:extractsamples", {
        "RASTER": reference_stack(), "POLYGONS": ROOT / "sample_data" / "s2_brandenburg" /
        "reference_polygons.gpkg", "FIELD": "cid", "OUTPUT": samples}))
    results = [run.communicate(timeout=600) for run in runs]
    for run, (stdout, stderr) in zip(runs, results, strict=True):
        assert run.returncode == 0, stderr
        assert "Traceback" not in stdout + stderr
    maps = [gdal.Open(str(output)).ReadAsArray() for output in outputs]
    assert np.array_equal(maps[0], maps[1]), "the same model on the same stack gave different maps"
    assert (maps[0] > 0).all()
    for output in outputs:  # the map, its style and GDAL's side-car of the map; no partial file
        assert {"map.qml", "map.tif"} <= set(os.listdir(output.parent)) <= {"map.qml", "map.tif",
                                                                          "map.tif.aux.xml"}
    with open(samples, encoding="utf-8") as handle:
        assert sum(1 for _ in handle) > 100
    assert [name for name in os.listdir(tmp_path) if name.startswith(".")] == []


# --- disk full during classification -------------------------------------------------------------
@contextmanager
def tiny_folder(path: Path, size: str = "32k") -> Iterator[Callable[[], None]]:
    """A folder that fills up (a tiny tmpfs, as root) or, else, one made read-only mid-run.

    Yields the function the test calls once the worker writes (a no-op for the tmpfs).
    """
    path.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]
    mounted = os.geteuid() == 0 and subprocess.run(mount, capture_output=True).returncode == 0
    try:
        yield (lambda: None) if mounted else (lambda: path.chmod(0o555))
    finally:
        if mounted:
            subprocess.run(["umount", str(path)], check=True)
        else:
            path.chmod(0o755)


@pytest.mark.slow
def test_disk_full_during_classification_is_reported_and_partials_removed(tmp_path):
    folder = tmp_path / "tiny"
    with tiny_folder(folder) as fill_up:
        # float32 confidence and 8 probability bands of the real stack: some 10 MB for 32 KiB
        output, confidence = folder / "map.tif", folder / "confidence.tif"
        qgis = _qgis_process_popen("landcovercnn:classifyimage", {
            "INPUT": reference_stack(), "MODEL": small_model(), "OUTPUT": output,
            "OUTPUT_CONFIDENCE": confidence, "OUTPUT_PROBABILITIES": folder / "probabilities.tif",
            "MEMORY_MB": 16})
        assert wait_until(lambda: bool(partial_files(output)) or qgis.poll() is not None, timeout=240)
        fill_up()
        stdout, stderr = qgis.communicate(timeout=600)
        leftovers = files_under(folder)
    assert leftovers == []
    assert qgis.returncode != 0, stdout
    assert "Traceback" not in stdout + stderr
    assert "could not write" in stderr and str(folder) in stderr, stderr
    assert "No space left on device" in stderr or "Permission denied" in stderr, stderr
    assert "free some disk space or choose an output folder" in stderr


# --- a model file is data, never code -------------------------------------------------------------
BUILD_LAMBDA_MODEL = """
import sys
import keras
marker, target = sys.argv[1], sys.argv[2]
inputs = keras.Input((9,))
hidden = keras.layers.Lambda(
    lambda x, path=marker: (__import__("pathlib").Path(path).write_text("code ran"), x)[1])(inputs)
outputs = keras.layers.Dense(8, activation="softmax")(hidden)
keras.Model(inputs, outputs).save(target)
"""


class _Payload:
    """Unpickling this runs ``touch <marker>``: what a pickle inside a model file could do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _with_members(model: Path, target: Path, replace: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(model) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            out.writestr(item.filename, replace.pop(item.filename, source.read(item)))
        for name, data in replace.items():
            out.writestr(name, data)
    return target


def _lambda_model(folder: Path, marker: Path) -> Path:
    keras_file = folder / "lambda.keras"
    subprocess.run([VENV_PYTHON, "-c", BUILD_LAMBDA_MODEL, str(marker), str(keras_file)], check=True,
                   env=worker_environment(), capture_output=True)
    marker.unlink()  # building the model ran the lambda once; loading must not
    return _with_members(small_model(), folder / "crafted.lcnn", {"model.keras": keras_file.read_bytes()})


def _pickle_model(folder: Path, marker: Path) -> Path:
    payload = pickle.dumps(_Payload(marker))
    return _with_members(small_model(), folder / "crafted.lcnn", {"model.keras": payload})


@pytest.mark.slow
@pytest.mark.parametrize("craft", [_lambda_model, _pickle_model], ids=["keras-lambda", "pickle"])
def test_crafted_model_file_runs_no_code(craft, tmp_path):
    marker = tmp_path / "code_ran"
    crafted = craft(tmp_path, marker)
    assert not marker.exists()
    output = tmp_path / "map.tif"
    # ENGINE tensorflow: the engine that reads model.keras (ONNX Runtime runs the file's model.onnx,
    # plain data, and never opens the crafted member)
    proc = subprocess.run(
        [VENV_PYTHON, "-m", "landcover_cnn_plugin.worker", "classify", "--raster", str(reference_stack()),
         "--model", str(crafted), "--output", str(output), "--engine", "tensorflow", "--progress", "jsonl"],
        capture_output=True, text=True, timeout=300, env=worker_environment())
    messages = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    errors = [m for m in messages if m["type"] == "error"]
    assert not marker.exists(), "loading the model file ran code from it"
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert errors and errors[-1]["parameter"] == "MODEL", messages
    assert "Traceback" not in errors[-1]["message"]
    assert not output.exists() and partial_files(output) == []

