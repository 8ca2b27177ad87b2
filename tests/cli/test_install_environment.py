"""Install TensorFlow environment through qgis_process, as a new user scripts it from a fresh HOME.

The plugin zip is unpacked into the HOME's default QGIS profile (what *Install from ZIP* does) and
enabled; nothing of the test run's settings reaches QGIS (no QGIS_CUSTOM_CONFIG_PATH, no
QGIS_PLUGINPATH, no interpreter setting, no LANDCOVER_CNN_PYTHON), and pip sees only the wheel
folder that ``make setup`` fills (no configuration, no index). The HOME's path has spaces and
letters outside ASCII. One module fixture runs, in order: Check TensorFlow environment before the
installation, the installation, a second installation, Check TensorFlow environment again.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from lcnn_testing import ROOT, QgisProcessRunner

PLUGIN_ZIP = ROOT / "dist" / "landcover_cnn_plugin.zip"
WHEELHOUSE = ROOT / "build" / "wheelhouse"  # filled by make setup (pip download)
INSTALL = "landcovercnn:installenvironment"
CHECK = "landcovercnn:checkenvironment"
HOME_NAME = "home of Zoë Łódź"


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
    run = {"profile": profile, "environment": profile / "landcover_cnn" / "venv",
           "before": qgis_process.run(CHECK, {}),
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


def test_without_tensorflow_one_message_says_what_where_why_and_what_to_do(fresh_home):
    before = fresh_home["before"]
    assert before.returncode != 0
    assert "Traceback" not in before.text
    # QGIS repeats an algorithm's error (log, ERROR line, result): the explanation comes once,
    # the repeated line is its one-line summary
    assert before.text.count("It was chosen from") == 1, before.text
    message = next(line for line in before.text.splitlines() if "It was chosen from" in line)
    assert "has no module 'tensorflow'" in message  # what is missing
    assert "/usr/bin/python3" in message  # which interpreter
    assert "python3 on PATH (no provider setting" in message  # and why that one
    assert str(fresh_home["environment"]) in message
    assert "Run 'Install TensorFlow environment'" in message  # what to do


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
