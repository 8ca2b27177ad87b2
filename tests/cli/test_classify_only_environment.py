"""The worker without TensorFlow: a classify-only environment (NumPy, GDAL, onnxruntime).

The worker runs with a PYTHONPATH folder whose ``sitecustomize`` puts a finder first on
``sys.meta_path`` that makes every import of tensorflow, keras and tf2onnx fail, as if they were
not installed, and writes at exit which of them the process holds anyway (none, or the test
fails): ``check`` reports ONNX Runtime alone, ``classify`` with ENGINE onnxruntime and auto writes
the same map as the TensorFlow engine, and ``export`` writes a plain ONNX file, all without
TensorFlow. An older model file (no ONNX graph) gets a message naming ENGINE.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from reliability import VENV_PYTHON, run_worker_cli, small_model, worker_environment

from lcnn_testing import reference_stack, rewrite_model_file

gdal.UseExceptions()

BLOCKER = '''
import atexit
import importlib.abc
import os
import sys

BLOCKED = ("tensorflow", "keras", "tf2onnx", "tensorboard")


class RefuseTensorFlow(importlib.abc.MetaPathFinder):
    """Every import of TensorFlow and friends fails, as if they were not installed."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"{name} is blocked in this test (classify-only environment)",
                                      name=name)
        return None


@atexit.register
def write_loaded():
    loaded = sorted(name for name in sys.modules if name.split(".")[0] in BLOCKED)
    with open(os.environ["LCNN_LOADED_AT_EXIT"], "w", encoding="utf-8") as log:
        log.write("\\n".join(loaded))


sys.meta_path.insert(0, RefuseTensorFlow())
'''


@pytest.fixture(scope="module")
def no_tensorflow(tmp_path_factory) -> tuple[dict[str, str], Path]:
    """The worker's environment with TensorFlow made unimportable, and where it writes at exit
    which blocked modules it holds."""
    folder = tmp_path_factory.mktemp("no_tensorflow")
    (folder / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    loaded = folder / "loaded_at_exit.txt"
    env = worker_environment()
    env["PYTHONPATH"] = f"{folder}:{env['PYTHONPATH']}"
    env["LCNN_LOADED_AT_EXIT"] = str(loaded)
    return env, loaded


def _worker(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([VENV_PYTHON, "-m", "landcover_cnn_plugin.worker", *args, "--progress", "jsonl"],
                          capture_output=True, text=True, timeout=600, env=env)


def _messages(proc: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def _result(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return next(m["data"] for m in _messages(proc) if m["type"] == "result")


def test_the_blocker_blocks(no_tensorflow):
    env, loaded = no_tensorflow
    probe = subprocess.run([VENV_PYTHON, "-c", "import keras"], capture_output=True, text=True, env=env)
    assert probe.returncode != 0 and "blocked in this test" in probe.stderr
    probe = subprocess.run([VENV_PYTHON, "-c", "import sys; sys.modules['keras'] = sys"], env=env)
    assert probe.returncode == 0 and loaded.read_text() == "keras"  # what a leak would look like


def test_check_reports_onnxruntime_alone(no_tensorflow):
    env, loaded = no_tensorflow
    result = _result(_worker(env, "check"))
    assert result["engines"] == "onnxruntime" and result["auto_engine"] == "onnxruntime"
    assert result["tensorflow_version"] == "" and result["onnxruntime_version"]
    assert loaded.read_text() == ""


def test_check_reports_both_engines_where_both_are_installed():
    result = _result(_worker(worker_environment(), "check"))
    assert result["engines"] == "tensorflow, onnxruntime" and result["auto_engine"] == "onnxruntime"
    assert result["tensorflow_version"] and result["onnxruntime_version"]
    assert "onnxruntime:CPUExecutionProvider" in result["devices"]


def _classify(env: dict[str, str], folder: Path, engine: str, raster: str | None = None
              ) -> tuple[dict, np.ndarray, np.ndarray]:
    """The classify job on the sample stack: its result, class map and probabilities."""
    folder.mkdir()
    out, probabilities = folder / "map.tif", folder / "probabilities.tif"
    result = _result(_worker(env, "classify", "--raster", raster or str(reference_stack()), "--model",
                             str(small_model()), "--output", str(out), "--probabilities", str(probabilities),
                             "--engine", engine))
    return result, gdal.Open(str(out)).ReadAsArray(), gdal.Open(str(probabilities)).ReadAsArray()


@pytest.fixture(scope="module")
def tensorflow_map(tmp_path_factory) -> tuple[dict, np.ndarray, np.ndarray]:
    return _classify(worker_environment(), tmp_path_factory.mktemp("tensorflow") / "out", "tensorflow")


@pytest.mark.parametrize("engine", ["onnxruntime", "auto"])
def test_classify_never_imports_tensorflow_and_maps_as_tensorflow_does(no_tensorflow, tensorflow_map,
                                                                        tmp_path, engine):
    env, loaded = no_tensorflow
    result, class_map, probabilities = _classify(env, tmp_path / "out", engine)
    assert loaded.read_text() == ""
    tf_result, tf_map, tf_probabilities = tensorflow_map
    assert result["engine"] == "onnxruntime" and tf_result["engine"] == "tensorflow"
    np.testing.assert_allclose(probabilities, tf_probabilities, atol=1e-5, rtol=0)
    top2 = np.sort(tf_probabilities, axis=0)[-2:]
    decided = top2[1] - top2[0] > 2e-5
    assert decided.mean() > 0.99
    np.testing.assert_array_equal(class_map[decided], tf_map[decided])
    assert (tmp_path / "out" / "map.qml").read_text() == Path(tf_result["style"]).read_text()


def test_export_of_a_format_3_file_needs_no_tensorflow(no_tensorflow, tmp_path):
    env, loaded = no_tensorflow
    out = tmp_path / "model.onnx"
    result = _result(_worker(env, "export", "--model", str(small_model()), "--output", str(out)))
    assert out.is_file() and result["format"] == "onnx" and "band_names" in result["properties"]
    assert loaded.read_text() == ""


def test_an_older_model_file_names_engine(no_tensorflow, tmp_path):
    env, _ = no_tensorflow
    old = rewrite_model_file(small_model(), tmp_path / "format2.lcnn", without_graph=True)
    for engine in ("onnxruntime", "auto"):  # auto: only ONNX Runtime is installed
        proc = _worker(env, "classify", "--raster", str(reference_stack()), "--model", str(old),
                       "--output", str(tmp_path / "map.tif"), "--engine", engine)
        errors = [m for m in _messages(proc) if m["type"] == "error"]
        assert proc.returncode == 2 and errors, proc.stdout + proc.stderr
        assert errors[0]["parameter"] == "ENGINE" and "format version 2" in errors[0]["message"]
        assert "ENGINE tensorflow" in errors[0]["message"] and "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "map.tif").exists()
    # with TensorFlow, auto falls back to it
    window = str(tmp_path / "window.vrt")
    gdal.Translate(window, str(reference_stack()), format="VRT", srcWin=[0, 0, 64, 64])
    result = run_worker_cli("classify", "--raster", window, "--model", str(old), "--output",
                            str(tmp_path / "map.tif"))
    assert result["engine"] == "tensorflow"
