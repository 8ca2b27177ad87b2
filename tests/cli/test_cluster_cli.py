"""classifyimage on a Dask cluster started as README "Mapping a province" says: ``dask scheduler`` and
``dask worker`` processes on 127.0.0.1 whose environment lacks the plugin, then qgis_process with
DASK_SCHEDULER. Also: a worker with other library versions is refused, an unreachable or malformed
scheduler is named. Everything runs in child processes; this process imports no qgis, no TensorFlow.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from reliability import VENV_PYTHON, files_under, run_worker_cli, small_model, wait_until, worker_environment

from lcnn_testing import ROOT, reference_stack

gdal.UseExceptions()
pytestmark = pytest.mark.slow
DASK = str(ROOT / ".venv" / "bin" / "dask")
#: Other releases a worker reports (metadata only): TensorFlow's side, shared, the ONNX engine's.
FAKE_VERSIONS = {"keras": "2.15.0", "numpy": "1.25.2", "onnxruntime": "1.16.3"}


def _bare_environment(**extra: str) -> dict[str, str]:
    """The plugin's Python environment without the plugin: no PYTHONPATH to it, one thread each."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return dict(env, TF_CPP_MIN_LOG_LEVEL="2", TF_NUM_INTRAOP_THREADS="1", OMP_NUM_THREADS="1", **extra)


@contextlib.contextmanager
def dask_cluster(folder: Path, worker_environments: list[dict[str, str]]) -> Iterator[str]:
    """``dask scheduler`` on 127.0.0.1 and one ``dask worker`` per environment; yields the address."""
    folder.mkdir(parents=True, exist_ok=True)
    scheduler_file = folder / "scheduler.json"
    processes = [subprocess.Popen(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--scheduler-file", str(scheduler_file)], cwd=folder, env=_bare_environment(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        assert wait_until(scheduler_file.exists, timeout=60), "the scheduler did not start"
        time.sleep(0.2)  # the file is written in one go, but give it a moment
        address = json.loads(scheduler_file.read_text())["address"]
        for index, env in enumerate(worker_environments):
            processes.append(subprocess.Popen(
                [DASK, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                 "--local-directory", str(folder / f"worker{index}")], cwd=folder, env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(len(worker_environments), timeout=120)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in reversed(processes):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _worker_imports(address: str) -> dict[str, str]:
    """Where each worker imported the plugin package from."""
    from distributed import Client

    with Client(address, timeout=30) as client:
        return client.run(lambda: sys.modules["landcover_cnn_plugin"].__file__)


def test_qgis_process_classifies_on_a_cluster_started_by_hand(qgis_process, tmp_path):
    here = tmp_path / "here.tif"
    run_worker_cli("classify", "--raster", str(reference_stack()), "--model", str(small_model()),
                   "--output", str(here), "--memory-mb", "16")
    with dask_cluster(tmp_path / "cluster", [_bare_environment()]) as address:
        output = tmp_path / "out" / "map.tif"
        output.parent.mkdir()
        result = qgis_process.run("landcovercnn:classifyimage", {
            "INPUT": reference_stack(), "MODEL": small_model(), "OUTPUT": output,
            "OUTPUT_CONFIDENCE": output.with_name("confidence.tif"), "MEMORY_MB": 16,
            "DASK_SCHEDULER": address})
        imported_from = _worker_imports(address)
    assert result.returncode == 0, result.text
    assert "Traceback" not in result.text
    assert f"Dask cluster {address}: 1 workers" in result.text
    # the workers run the code the client uploaded: nothing of the plugin was installed for them
    assert [path for path in imported_from.values() if ".zip" not in path] == [], imported_from
    assert gdal.Open(str(output)).ReadAsArray().tobytes() == gdal.Open(str(here)).ReadAsArray().tobytes()
    assert np.abs(gdal.Open(str(output.with_name("confidence.tif"))).ReadAsArray()).max() <= 1
    assert sorted(files_under(output.parent)) == ["confidence.tif", "map.qml", "map.tif", "map.tif.aux.xml"]


def test_workers_with_other_library_versions_are_refused_listing_both(tmp_path):
    """A worker whose environment has other keras, numpy and onnxruntime releases (their metadata)."""
    other = tmp_path / "other_site_packages"
    for name, version in FAKE_VERSIONS.items():
        info = other / f"{name}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    output = tmp_path / "out" / "map.tif"
    output.parent.mkdir()
    with dask_cluster(tmp_path / "cluster", [_bare_environment(PYTHONPATH=str(other))]) as address:
        proc = subprocess.run(
            [VENV_PYTHON, "-m", "landcover_cnn_plugin.worker", "classify", "--raster", str(reference_stack()),
             "--model", str(small_model()), "--output", str(output), "--scheduler", address,
             "--progress", "jsonl"], capture_output=True, text=True, timeout=300, env=worker_environment())
    errors = [json.loads(line) for line in proc.stdout.splitlines()
              if line.startswith("{") and json.loads(line)["type"] == "error"]
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert errors and errors[-1]["parameter"] == "DASK_SCHEDULER"
    message = errors[-1]["message"]
    for name, version in FAKE_VERSIONS.items():
        assert f"{name}: this machine {importlib.metadata.version(name)}, worker tcp://127.0.0.1:" in message
        assert version in message
    assert files_under(output.parent) == []


def test_unreachable_scheduler_is_named_and_nothing_written(qgis_process, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    output = tmp_path / "map.tif"
    started = time.monotonic()
    result = qgis_process.run("landcovercnn:classifyimage", {
        "INPUT": reference_stack(), "MODEL": small_model(), "OUTPUT": output, "DASK_SCHEDULER": address})
    print(f"\nunreachable scheduler: qgis_process ended after {time.monotonic() - started:.1f} s")
    assert result.returncode != 0
    assert f"DASK_SCHEDULER: cannot reach the Dask scheduler {address}" in result.text
    assert "Traceback" not in result.text
    assert files_under(tmp_path) == []


def test_malformed_scheduler_is_refused_before_the_worker_starts(qgis_process, tmp_path):
    result = qgis_process.run("landcovercnn:classifyimage", {
        "INPUT": reference_stack(), "MODEL": small_model(), "OUTPUT": tmp_path / "map.tif",
        "DASK_SCHEDULER": "local:0"})
    assert result.returncode != 0
    assert "DASK_SCHEDULER" in result.text and "tcp://host:port" in result.text
    assert files_under(tmp_path) == []
