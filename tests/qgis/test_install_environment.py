"""Install TensorFlow environment inside QGIS (pytest-qgis): what goes wrong goes wrong cleanly.

The environment lands in this QGIS profile (build/pytest-qgis/...): a cancel during pip must leave
none behind, and a wheel folder without TensorFlow must be refused before anything is built. A
whole installation is tested through qgis_process (tests/cli/test_install_environment.py) and
QGIS Desktop (tests/cli/test_desktop.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from qgis.core import QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback

from lcnn_testing import ROOT

ALGORITHM = "landcovercnn:installenvironment"
WHEELHOUSE = ROOT / "build" / "wheelhouse"  # filled by make setup (pip download)


@pytest.fixture()
def isolated_pip(monkeypatch):
    """pip sees the wheel folder only: no configuration file, no extra find-links of this machine."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)


@pytest.fixture()
def environment_dir(landcover_provider) -> Path:
    from landcover_cnn_plugin.processing.provider_settings import private_environment_dir

    return private_environment_dir()


class CancelWhenPipInstalls(QgsProcessingFeedback):
    """Cancels once pip has started on the wheels (its first 'Processing <wheel>' line)."""

    def __init__(self) -> None:
        super().__init__()
        self.console: list[str] = []
        self.errors: list[str] = []

    def pushConsoleInfo(self, info: str) -> None:  # noqa: N802
        self.console.append(info)
        if info.startswith("Processing ") and info.rstrip().endswith(".whl"):
            self.cancel()

    def reportError(self, error: str, fatalError: bool = False) -> None:  # noqa: N802, N803
        self.errors.append(error)


def _pip_processes_in(folder: Path) -> list[int]:
    """Processes whose command line names ``folder`` (pip left running would be one)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(folder).encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_reinstall_canceled_during_pip_leaves_no_environment(landcover_provider, environment_dir,
                                                             isolated_pip):
    """REINSTALL removes the old environment first; a cancel while pip installs stops pip and
    removes the half-built one: nothing of either is left."""
    import processing

    from landcover_cnn_plugin.core.environment import MARKER_FILE, environment_python

    python = environment_python(environment_dir)  # a complete environment, as far as it tells
    python.parent.mkdir(parents=True, exist_ok=True)
    python.symlink_to("/usr/bin/python3")
    (environment_dir / MARKER_FILE).write_text("{}")
    feedback = CancelWhenPipInstalls()
    results = processing.run(ALGORITHM, {"WHEELS": str(WHEELHOUSE), "REINSTALL": True},
                             context=QgsProcessingContext(), feedback=feedback)
    assert results == {}
    assert any(line.startswith("Processing ") for line in feedback.console), feedback.console
    assert "Successfully installed" not in "\n".join(feedback.console)
    assert not environment_dir.exists()
    assert any("Canceled" in error and "removed" in error for error in feedback.errors), feedback.errors
    assert _pip_processes_in(environment_dir) == []


def test_wheel_folder_without_tensorflow_is_refused_naming_the_parameter(landcover_provider, environment_dir,
                                                                         isolated_pip, tmp_path):
    import processing

    for wheel in WHEELHOUSE.glob("*.whl"):
        if not wheel.name.startswith("tensorflow"):
            os.link(wheel, tmp_path / wheel.name)
    with pytest.raises(QgsProcessingException) as info:
        processing.run(ALGORITHM, {"WHEELS": str(tmp_path)}, context=QgsProcessingContext(),
                       feedback=QgsProcessingFeedback())
    from landcover_cnn_plugin.core.environment import read_pins, requirements_path

    tensorflow = next(pin for pin in read_pins(requirements_path()) if pin.name.startswith("tensorflow"))
    message = str(info.value)
    assert message.startswith("WHEELS: ")
    assert str(tensorflow) in message and str(tmp_path) in message
    assert "pip download" in message
    assert not environment_dir.exists()


def test_index_url_that_is_no_url_is_refused_before_running(landcover_provider):
    from qgis.core import QgsApplication

    algorithm = QgsApplication.processingRegistry().createAlgorithmById(ALGORITHM)
    ok, message = algorithm.checkParameterValues({"INDEX_URL": "pypi mirror"}, QgsProcessingContext())
    assert not ok
    assert message.startswith("INDEX_URL: ") and "https://" in message
