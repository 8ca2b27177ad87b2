"""The private environment's rules without building one (core/environment.py, core/installer.py's
progress): the shipped pins, wheel folders, QGIS's Python per platform, asking an interpreter,
and the worker's interpreter order. Building one is tested through QGIS (tests/cli, tests/qgis)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from landcover_cnn_plugin.core.environment import (
    MARKER_FILE,
    Pin,
    base_python_candidates,
    built_for,
    environment_python,
    find_base_python,
    inspect_environment,
    missing_from_folder,
    read_pins,
    requirements_path,
    write_marker,
)
from landcover_cnn_plugin.core.errors import UserInputError
from landcover_cnn_plugin.core.installer import RESOLVED, VENV_DONE, PipProgress
from landcover_cnn_plugin.core.worker_process import (
    PYTHON_ENVIRONMENT_VARIABLE,
    find_project_venv_python,
    resolve_python,
)
from lcnn_testing import ROOT

WHEELHOUSE = ROOT / "build" / "wheelhouse"  # filled by make setup (pip download)
VENV_PYTHON = str(ROOT / ".venv" / "bin" / "python")


def test_the_packaged_plugin_ships_the_worker_requirements_of_the_checkout():
    shipped = requirements_path()
    assert shipped.parent.name == "landcover_cnn_plugin"  # inside the plugin folder (the zip)
    assert shipped.read_text() == (ROOT / "requirements-worker.txt").read_text()


def test_worker_pins_are_exact_and_per_platform_and_requirements_txt_includes_them():
    linux = {pin.name: pin.version for pin in read_pins(requirements_path(), "linux")}
    mac = {pin.name: pin.version for pin in read_pins(requirements_path(), "darwin")}
    windows = {pin.name: pin.version for pin in read_pins(requirements_path(), "win32")}
    assert "tensorflow-cpu" in linux and "tensorflow" not in linux
    assert mac["tensorflow"] == linux["tensorflow-cpu"] and "tensorflow-cpu" not in mac
    assert windows == linux
    assert {"keras", "scikit-learn", "numpy", "pandas"} <= linux.keys()
    assert not {"pytest", "pytest-qgis", "ruff"} & linux.keys()  # no test tools in the worker's list
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert "-r requirements-worker.txt" in lines
    assert not [line for line in lines if line.split("==")[0].split(";")[0] in linux]  # versions live once


def test_a_requirement_that_is_not_an_exact_pin_is_refused(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy==1.26.4\nkeras>=3\n")
    with pytest.raises(ValueError, match="line 2"):
        read_pins(requirements)
    requirements.write_text('numpy==1.26.4; python_version < "3.12"\n')
    with pytest.raises(ValueError, match="sys_platform"):
        read_pins(requirements)


def test_wheel_folder_from_pip_download_holds_every_pin_and_one_without_tensorflow_misses_it(tmp_path):
    pins = read_pins(requirements_path())
    assert missing_from_folder(pins, WHEELHOUSE) == []
    for wheel in WHEELHOUSE.glob("*.whl"):
        if not wheel.name.startswith("tensorflow"):
            os.link(wheel, tmp_path / wheel.name)
    tensorflow = next(pin for pin in pins if pin.name.startswith("tensorflow"))
    assert missing_from_folder(pins, tmp_path) == [tensorflow]


def test_wheel_names_compare_as_package_indexes_compare_them(tmp_path):
    for name in ("scikit_learn-1.9.1-cp311-cp311-manylinux_2_28_x86_64.whl",
                 "Imbalanced.Learn-0.14.2.tar.gz"):
        (tmp_path / name).touch()
    pins = [Pin("scikit-learn", "1.9.1"), Pin("imbalanced-learn", "0.14.2"), Pin("keras", "3.15.1")]
    assert missing_from_folder(pins, tmp_path) == [Pin("keras", "3.15.1")]


def test_qgis_python_candidates_on_windows_osgeo4w():
    candidates = base_python_candidates(r"C:\OSGeo4W\bin\qgis-bin.exe", r"C:\OSGeo4W\apps\Python312",
                                        (3, 12), "win32")
    assert Path(candidates[0]) == Path(r"C:\OSGeo4W\apps\Python312") / "python.exe"
    assert all(candidate.endswith(".exe") for candidate in candidates)


def test_qgis_python_candidates_in_the_macos_bundle():
    app = "/Applications/QGIS-LTR.app/Contents"
    framework = f"{app}/Frameworks/Python.framework/Versions/3.12"
    candidates = base_python_candidates(f"{app}/MacOS/QGIS", framework, (3, 12), "darwin")
    assert candidates[0] == f"{framework}/bin/python3.12"
    assert f"{app}/MacOS/bin/python3" in candidates


def test_qgis_python_candidates_on_linux_follow_the_loaded_libpython_before_path():
    """A pyenv python3 first on PATH becomes QGIS's sys.executable and sys.base_exec_prefix; the
    Python library QGIS loaded names its real installation."""
    candidates = base_python_candidates("/root/.pyenv/shims/python3", "/root/.pyenv/versions/3.11.7",
                                        (3, 11), "linux", "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0")
    assert candidates[:3] == ["/usr/bin/python3.11", "/root/.pyenv/shims/python3",
                              "/root/.pyenv/versions/3.11.7/bin/python3.11"]
    conda = base_python_candidates("/opt/qgis/bin/qgis", "/opt/qgis", (3, 12), "linux",
                                   "/opt/qgis/lib/libpython3.12.so.1.0")
    assert conda[0] == "/opt/qgis/bin/python3.12"
    assert "/opt/qgis/bin/qgis" not in conda  # the QGIS binary is no Python


def test_find_base_python_finds_an_interpreter_of_this_python_version():
    python = find_base_python()
    assert Path(python).is_file()
    version = inspect_environment(python, requirements_path()).python_version
    assert version == f"{sys.version_info[0]}.{sys.version_info[1]}"


def test_find_base_python_refuses_a_chosen_interpreter_of_another_version(tmp_path):
    with pytest.raises(UserInputError) as info:
        find_base_python(str(tmp_path / "python3"))
    assert info.value.parameter == "BASE_PYTHON"
    assert "no such file" in info.value.message


def test_inspect_environment_reports_the_pins_an_interpreter_lacks():
    """The project's .venv holds the pins; Debian's python3 lacks TensorFlow. Both see QGIS's GDAL."""
    venv = inspect_environment(VENV_PYTHON, requirements_path())
    assert venv.mismatches == [] and venv.gdal_version.startswith("3.")
    assert venv.tensorflow_version() == next(p.version for p in read_pins(requirements_path())
                                             if p.name == "tensorflow-cpu")
    debian = inspect_environment("/usr/bin/python3", requirements_path())
    assert ("tensorflow-cpu", venv.tensorflow_version(), None) in debian.mismatches
    assert any("tensorflow-cpu" in problem for problem in debian.problems(debian.python_version))
    missing = inspect_environment("/opt/no-such-python", requirements_path())
    assert missing.problems("3.11") == [missing.error] and "does not run" in missing.error


def test_marker_says_for_which_requirements_the_environment_was_built(tmp_path):
    """What the Desktop notice reads (no process): a plugin update with a new list needs a rebuild."""
    requirements = tmp_path / "requirements-worker.txt"
    shutil.copyfile(requirements_path(), requirements)
    environment = tmp_path / "venv"
    environment.mkdir()
    assert not built_for(environment, requirements)  # not complete
    write_marker(environment, requirements, {"python_version": "3.11"})
    assert built_for(environment, requirements)
    requirements.write_text(requirements.read_text() + "onnxruntime==1.31.1\n")
    assert not built_for(environment, requirements)


def test_worker_interpreter_order(tmp_path, monkeypatch):
    """Setting, LANDCOVER_CNN_PYTHON, the installer's environment (once complete), the .venv."""
    environment = tmp_path / "profile" / "landcover_cnn" / "venv"
    python = environment_python(environment)
    python.parent.mkdir(parents=True)
    shutil.copyfile(sys.executable, python)
    monkeypatch.delenv(PYTHON_ENVIRONMENT_VARIABLE, raising=False)
    assert resolve_python("", environment)[0] == find_project_venv_python()  # incomplete: passed over
    (environment / MARKER_FILE).write_text("{}")  # the installer's last step: complete
    assert resolve_python("", environment) == (str(python), "the environment made by 'Install TensorFlow "
                                                            f"environment' in {environment}")
    monkeypatch.setenv(PYTHON_ENVIRONMENT_VARIABLE, "/opt/env/python")
    assert resolve_python("", environment)[0] == "/opt/env/python"
    assert resolve_python("/opt/setting/python", environment)[0] == "/opt/setting/python"


def test_pip_progress_counts_resolving_then_installing_by_wheel_size(tmp_path):
    """pip's own lines (pip 23), and the .dist-info folders pip writes as it installs."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name, size in (("numpy-1.26.4-cp311-cp311-linux_x86_64.whl", 3_000),
                       ("tensorflow_cpu-2.21.0-cp311-cp311-linux_x86_64.whl", 9_000)):
        (wheels / name).write_bytes(b"w" * size)
    site = tmp_path / "site-packages"
    site.mkdir()
    progress = PipProgress(site)
    seen = [progress.percent()]
    for line in (f"Looking in links: {wheels}",
                 f"Processing {wheels}/numpy-1.26.4-cp311-cp311-linux_x86_64.whl",
                 f"Processing {wheels}/tensorflow_cpu-2.21.0-cp311-cp311-linux_x86_64.whl",
                 "Collecting six>=1.12", "  Downloading six-1.17.0-py2.py3-none-any.whl (11 kB)"):
        progress.line(line)
        seen.append(progress.percent())
    share = (RESOLVED - VENV_DONE) / (95 - VENV_DONE) * 100
    assert seen == sorted(seen) and 0 < seen[-1] < share
    progress.line("Installing collected packages: six, numpy, tensorflow-cpu")
    assert progress.percent() == pytest.approx(share)
    (site / "six-1.17.0.dist-info").mkdir()
    (site / "numpy-1.26.4.dist-info").mkdir()
    assert progress.newly_installed() == ["six", "numpy"]
    # by size: numpy's 3,000 bytes and six's 11 kB against tensorflow's 9,000 bytes
    done = (3_000 + 11_000) / (3_000 + 11_000 + 9_000)
    assert progress.percent() == pytest.approx(share + (100 - share) * done)
    (site / "tensorflow_cpu-2.21.0.dist-info").mkdir()
    assert progress.newly_installed() == ["tensorflow-cpu"]
    assert progress.newly_installed() == []
    assert progress.percent() == pytest.approx(100)
