"""Install TensorFlow environment through qgis_process, as a new user scripts it from a fresh HOME.

The plugin zip is unpacked into the HOME's default QGIS profile (what *Install from ZIP* does) and
enabled; nothing of the test run's settings reaches QGIS (no QGIS_CUSTOM_CONFIG_PATH, no
QGIS_PLUGINPATH, no interpreter setting, no LANDCOVER_CNN_PYTHON), and pip sees only the wheel
folder that ``make setup`` fills (no configuration, no index). The HOME's path has spaces and
letters outside ASCII. One module fixture runs, in order: every algorithm that needs the worker
before the installation (real inputs: each must stop with one explanation, no traceback, no output),
the installation, a second installation, Check TensorFlow environment again.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import zipfile
from pathlib import Path

import pytest
from reliability import small_model, small_samples_csv

from lcnn_testing import ROOT, SAMPLE_DIR, QgisProcessRunner, reference_labels, reference_stack

PLUGIN_ZIP = ROOT / "dist" / "landcover_cnn_plugin.zip"
WHEELHOUSE = ROOT / "build" / "wheelhouse"  # filled by make setup (pip download)
INSTALL = "landcovercnn:installenvironment"
CHECK = "landcovercnn:checkenvironment"
HOME_NAME = "home of Zoë Łódź"
BANDS = "B03,B04,B05,B06,B07,B08,B8A,B11,B12"
TRAIN_FAST = {"EPOCHS": 1, "PATIENCE": 1, "BATCH_SIZE": 256}
WORKER_ALGORITHMS = (CHECK, "landcovercnn:trainmodel", "landcovercnn:comparefeaturesets",
                     "landcovercnn:classifyimage", "landcovercnn:assessaccuracy",
                     "landcovercnn:suggestpoints", "landcovercnn:exportmodel")


def _worker_algorithms(out: Path) -> dict[str, dict]:
    """Every algorithm that needs the worker, with real inputs that pass QGIS's own checks."""
    samples = str(small_samples_csv())
    return {
        CHECK: {},
        "landcovercnn:trainmodel": {"INPUT": samples, **TRAIN_FAST, "OUTPUT_MODEL": str(out / "model.lcnn"),
                                    "OUTPUT_REPORT": str(out / "report.html")},
        "landcovercnn:comparefeaturesets": {"INPUT": samples, **TRAIN_FAST,
                                            "FEATURE_SETS": f"{BANDS};B04,B08,B11",
                                            "OUTPUT_TABLE": str(out / "compare.csv")},
        "landcovercnn:classifyimage": {"INPUT": str(reference_stack()), "MODEL": str(small_model()),
                                       "OUTPUT": str(out / "map.tif")},
        "landcovercnn:assessaccuracy": {"INPUT": str(reference_labels()),
                                        "REFERENCE": str(SAMPLE_DIR / "osm_landuse_water.gpkg"),
                                        "FIELD": "code", "OUTPUT_MATRIX": str(out / "matrix.csv")},
        "landcovercnn:suggestpoints": {"MODEL": str(small_model()), "INPUT": str(reference_stack()),
                                       "OUTPUT": str(out / "suggested.gpkg")},
        "landcovercnn:exportmodel": {"MODEL": str(small_model()), "OUTPUT": str(out / "model.onnx")},
    }


def _user_environment(home: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("QGIS_", "PIP_", "LANDCOVER_CNN_", "PYTHON"))}
    # a user's PATH: the system's python3 (no TensorFlow) first, as on a machine without pyenv
    env.update(HOME=str(home), PIP_CONFIG_FILE=os.devnull, QT_QPA_PLATFORM="offscreen",
               XDG_RUNTIME_DIR=str(home / "xdg"), PATH=os.pathsep.join(["/usr/bin", env["PATH"]]))
    (home / "xdg").mkdir(mode=0o700, parents=True)
    return env


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file of a folder: size and modification time (what a second installation must keep)."""
    found = {}
    for root, _dirs, names in os.walk(folder):
        for name in names:
            stat = os.lstat(os.path.join(root, name))
            found[os.path.relpath(os.path.join(root, name), folder)] = (stat.st_size, stat.st_mtime_ns)
    return found


@pytest.fixture(scope="module")
def fresh_home(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("new-user") / HOME_NAME
    profile = home / ".local" / "share" / "QGIS" / "QGIS3" / "profiles" / "default"
    (profile / "python" / "plugins").mkdir(parents=True)
    with zipfile.ZipFile(PLUGIN_ZIP) as archive:  # Install from ZIP: the zip's top folder is the plugin's
        archive.extractall(profile / "python" / "plugins")
    qgis_process = QgisProcessRunner("qgis_process.bin", environment=_user_environment(home))
    enabled = qgis_process("plugins", "enable", "landcover_cnn_plugin")
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr
    outputs = home / "outputs"
    outputs.mkdir()
    run = {"profile": profile, "environment": profile / "landcover_cnn" / "venv", "outputs": outputs,
           "without": {algorithm: qgis_process.run(algorithm, parameters)
                       for algorithm, parameters in _worker_algorithms(outputs).items()},
           "without_json": qgis_process("run", CHECK),
           "install": qgis_process.run(INSTALL, {"WHEELS": str(WHEELHOUSE)}, timeout=1500)}
    run["files_after_install"] = _files(run["environment"])
    run["again"] = qgis_process.run(INSTALL, {"WHEELS": str(WHEELHOUSE)})
    run["files_after_again"] = _files(run["environment"])
    run["check"] = qgis_process.run(CHECK, {})
    return run


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins() -> dict[str, str]:
    from landcover_cnn_plugin.core.environment import read_pins, requirements_path

    return {pin.name: pin.version for pin in read_pins(requirements_path())}


def test_every_algorithm_that_needs_the_worker_is_tried_without_tensorflow():
    """The algorithm modules that start the worker (the installer names its own interpreter)."""
    starting = set()
    for module in (ROOT / "landcover_cnn_plugin" / "processing").glob("*.py"):
        source = module.read_text(encoding="utf-8")
        name = re.search(r'^    NAME = "(\w+)"', source, re.MULTILINE)
        if "self.run_worker(" in source and name and name[1] != INSTALL.split(":")[1]:
            starting.add(f"landcovercnn:{name[1]}")
    assert starting == set(WORKER_ALGORITHMS)


@pytest.mark.parametrize("algorithm", WORKER_ALGORITHMS)
def test_without_tensorflow_one_line_says_what_which_why_and_what_to_do(fresh_home, algorithm):
    """What ``qgis_process --json`` shows: one line (QGIS prints an algorithm's error twice)."""
    before = fresh_home["without"][algorithm]
    assert before.returncode != 0
    assert "Traceback" not in before.text
    ours = {line for line in before.text.splitlines() if "Install TensorFlow environment" in line}
    assert len(ours) == 1, before.text
    line = ours.pop()
    assert line.startswith("PYTHON: /usr/bin/python3 has ")  # which interpreter
    assert "has no module '" in line or "has neither tensorflow nor onnxruntime" in line  # what is missing
    # why that one: the places tried before it
    assert ("(chosen from python3 on PATH (no provider setting, no LANDCOVER_CNN_PYTHON; no environment "
            f"made by 'Install TensorFlow environment' in {fresh_home['environment']}))") in line
    assert line.endswith("run 'Install TensorFlow environment' (Processing Toolbox > Land cover CNN > "
                         "Training).")  # what to do


def test_without_tensorflow_the_log_explains_once_then_repeats_only_the_line(fresh_home):
    """Without --json QGIS prints the log too: the explanation (with the other ways to choose an
    interpreter) once, as a warning; QGIS's repeats of the error are the one line."""
    text = fresh_home["without_json"].stdout + fresh_home["without_json"].stderr
    assert "Traceback" not in text
    explanations = [line for line in text.splitlines() if "It was chosen from" in line]
    assert len(explanations) == 1, text
    assert "has neither tensorflow" in explanations[0]  # the check job names both engines
    assert "LANDCOVER_CNN_PYTHON, to a Python" in explanations[0]  # the other ways
    repeats = {line.removeprefix("ERROR:").strip() for line in text.splitlines()
               if "run 'Install TensorFlow environment'" in line}
    assert len(repeats) == 1, text


def test_without_tensorflow_nothing_is_written(fresh_home):
    assert sorted(path.name for path in fresh_home["outputs"].iterdir()) == []


def test_installs_from_the_wheel_folder_into_the_profile(fresh_home):
    install = fresh_home["install"]
    assert install.returncode == 0, install.text[-6000:]
    python = Path(install.results["PYTHON"])
    assert python == fresh_home["environment"] / "bin" / "python"
    pins = _pins()
    assert install.results["TENSORFLOW_VERSION"] == pins["tensorflow-cpu"]
    # what pip itself says is installed there, and QGIS's GDAL seen from it
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format", "json"], capture_output=True,
                            text=True, check=True)
    installed = {_canonical(item["name"]): item["version"] for item in json.loads(listed.stdout)}
    assert {name: installed.get(_canonical(name)) for name in pins} == pins
    gdal = subprocess.run([str(python), "-c", "from osgeo import gdal, gdal_array; print(gdal.__version__)"],
                          capture_output=True, text=True)
    assert gdal.returncode == 0 and gdal.stdout.startswith("3."), gdal.stderr


def test_the_installer_stores_its_interpreter_and_check_runs_it(fresh_home):
    python = fresh_home["install"].results["PYTHON"]
    ini = (fresh_home["profile"] / "QGIS" / "QGIS3.ini").read_text(encoding="utf-8")
    # Qt writes letters outside ASCII as \xNN (and a hex digit right after one escaped too)
    ini = re.sub(r"\\x([0-9a-fA-F]+)", lambda match: chr(int(match[1], 16)), ini)
    assert f"Configuration\\LANDCOVER_CNN_PYTHON={python}\n" in ini
    check = fresh_home["check"]
    assert check.returncode == 0, check.text[-4000:]
    assert check.results["PYTHON_EXECUTABLE"] == python
    assert check.results["TENSORFLOW_VERSION"] == _pins()["tensorflow-cpu"]
    assert "CPU" in check.results["DEVICES"]


def test_a_second_run_on_a_complete_environment_changes_nothing(fresh_home):
    again = fresh_home["again"]
    assert again.returncode == 0, again.text[-4000:]
    assert again.results == fresh_home["install"].results
    assert "nothing to install" in again.text
    assert "pip install" not in again.text and "Installing collected packages" not in again.text
    assert fresh_home["files_after_again"] == fresh_home["files_after_install"]
