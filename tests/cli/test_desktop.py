"""The real QGIS Desktop, as a new user meets it: the plugin zip installed into a fresh profile
(its folder's name has spaces and letters outside ASCII), no interpreter set, started under Xvfb.

scripts/desktop_screenshot.py does what a user does (Install from ZIP, enable, start QGIS) and
runs scripts/desktop_probe.py inside QGIS; this test checks what the probe saw in that run: the
plugin active from the profile folder, the provider and its algorithms; the message bar saying
once that no Python with TensorFlow was found, its button opening *Install TensorFlow
environment*, that dialog installing the environment from the wheel folder ``make setup`` fills
(no index), in a background task; then *Check TensorFlow environment*, *Train land cover model*
and *Classify image* on the sample data, the map loaded with the paletted class style;
the plugin started again without the message; a dialog, screenshots, a clean unload and exit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from reliability import small_samples_csv

from landcover_cnn_plugin.core.environment import read_pins, requirements_path
from landcover_cnn_plugin.core.model_file import read_model_metadata
from lcnn_testing import ROOT, reference_stack

gdal.UseExceptions()
PLUGIN_ZIP = ROOT / "dist" / "landcover_cnn_plugin.zip"
WHEELHOUSE = ROOT / "build" / "wheelhouse"  # filled by make setup (pip download)
EXPECTED_ALGORITHMS = {
    "installenvironment", "checkenvironment", "stackrasters", "rasterizepolygons", "regularpoints",
    "samplepoints", "extractsamples", "trainmodel", "comparefeaturesets", "exportmodel", "classifyimage",
    "assessaccuracy",
    "stratifiedpoints", "suggestpoints"}


@pytest.fixture(scope="module")
def desktop_run(tmp_path_factory) -> dict:
    workdir = tmp_path_factory.mktemp("desktop")
    command = [sys.executable, str(ROOT / "scripts" / "desktop_screenshot.py"), "--workdir", str(workdir),
               "--screenshot", "", "--wheels", str(WHEELHOUSE), "--train-samples", str(small_samples_csv()),
               "--classify-raster", str(reference_stack()), "--dialog", "landcovercnn:checkenvironment",
               "--timeout", "1500"]
    # pip sees the wheel folder only: no configuration file, no extra find-links of this machine
    env = {name: value for name, value in os.environ.items() if not name.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    proc = subprocess.run(command, capture_output=True, text=True, timeout=1600, env=env)
    summary = json.loads((workdir / "run.json").read_text())
    findings_path = Path(summary["findings"])
    findings = json.loads(findings_path.read_text()) if findings_path.exists() else {}
    qgis_output = Path(summary["output"]).read_text(encoding="utf-8", errors="replace")
    return {"proc": proc, "summary": summary, "findings": findings, "qgis_output": qgis_output,
            "workdir": workdir}


def _context(run: dict) -> str:
    return (f"script:\n{run['proc'].stdout}\n{run['proc'].stderr}\nQGIS output:\n{run['qgis_output']}\n"
            f"findings:\n{json.dumps(run['findings'], indent=1)[:6000]}")


def _ini_section(ini: Path, section: str) -> dict[str, str]:
    """Keys of one [section] of a Qt ini file (values as written)."""
    values: dict[str, str] = {}
    current = None
    for line in ini.read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            current = line.strip("[]")
        elif current == section and "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


def _png_pixels(path: str) -> np.ndarray:
    return gdal.Open(path).ReadAsArray()


@pytest.mark.slow
def test_zip_installs_where_qgis_installer_puts_it(desktop_run):
    with zipfile.ZipFile(PLUGIN_ZIP) as archive:
        metadata = sorted(name for name in archive.namelist() if name.endswith("metadata.txt"))
    assert metadata[0] == "landcover_cnn_plugin/metadata.txt"
    plugin_dir = Path(desktop_run["summary"]["plugin_dir"])
    assert plugin_dir.parts[-5:] == ("profiles", "default", "python", "plugins", "landcover_cnn_plugin")
    profiles = Path(desktop_run["summary"]["profiles_root"]).name
    assert " " in profiles and not profiles.isascii()
    assert (plugin_dir / "metadata.txt").is_file() and (plugin_dir / "__init__.py").is_file()
    # QGIS rewrote the profile's QGIS3.ini on exit: the plugin is still enabled there.
    plugins = _ini_section(Path(desktop_run["summary"]["ini"]), "PythonPlugins")
    assert plugins["landcover_cnn_plugin"] == "true"


@pytest.mark.slow
def test_qgis_desktop_exits_cleanly_without_python_errors(desktop_run):
    run = desktop_run
    assert run["summary"]["returncode"] == 0, _context(run)
    assert run["findings"].get("finished") is True, _context(run)
    assert "exit_blocked_by" not in run["findings"], _context(run)
    assert "timed_out" not in run["findings"]
    assert run["findings"]["errors"] == [], _context(run)
    assert "Traceback" not in run["qgis_output"], _context(run)
    assert "Python error" not in run["qgis_output"]
    our_messages = [m for m in run["findings"]["log_messages"]
                    if m["tag"] == "Python error" or "landcover_cnn_plugin" in m["message"]]
    assert our_messages == [], our_messages
    # at the end only QGIS's own note that the installer's background task completed
    at_end = run["findings"]["message_bar_at_end"]
    assert [text for text in at_end if not text.startswith("Task complete")] == [], at_end


@pytest.mark.slow
def test_plugin_active_from_the_profile_and_provider_registered(desktop_run):
    findings = desktop_run["findings"]
    assert "landcover_cnn_plugin" in findings["plugins_active"], _context(desktop_run)
    assert findings["plugin_file"] == str(Path(desktop_run["summary"]["plugin_dir"]) / "__init__.py")
    assert findings["provider_found"] is True
    assert findings["provider_name"] == "Land cover CNN"
    ids = {algorithm.split(":", 1)[1] for algorithm in findings["algorithms"]}
    assert ids >= EXPECTED_ALGORITHMS
    assert findings["registry_algorithms"] == findings["algorithms"]
    rows = [row.strip() for row in findings["toolbox_rows"]]
    assert rows[0] == "Land cover CNN"
    assert {"Data preparation", "Training", "Classification", "Accuracy", "Classify image",
            "Check TensorFlow environment", "Workflow", "Land cover workflow"} <= set(rows)


@pytest.mark.slow
def test_without_tensorflow_the_message_bar_says_so_once_with_the_installer_button(desktop_run):
    findings = desktop_run["findings"]
    notices = findings["notices"]
    assert len(notices) == 1, _context(desktop_run)
    assert "no TensorFlow" in notices[0]["text"] and "/usr/bin/python3" in notices[0]["text"]
    assert "python3 on PATH" in notices[0]["text"]  # why that interpreter
    assert notices[0]["buttons"] == ["Install TensorFlow environment"]
    assert findings["installer_dialogs"] == 1  # the button opened the installer's dialog
    assert findings["install"]["notices_after"] == 0  # and took the message away
    assert findings["reloaded"] is True and findings["notices_after_restart"] == []  # TensorFlow found now


@pytest.mark.slow
def test_installer_dialog_installs_the_environment_into_the_profile(desktop_run):
    install = desktop_run["findings"]["install"]
    assert install["ok"] is True, _context(desktop_run)
    environment = (Path(desktop_run["summary"]["profiles_root"]) / "profiles" / "default" / "landcover_cnn"
                   / "venv")
    assert install["results"]["PYTHON"] == str(environment / "bin" / "python")
    pins = {pin.name: pin.version for pin in read_pins(requirements_path())}
    assert install["results"]["TENSORFLOW_VERSION"] == pins["tensorflow-cpu"]
    assert install["setting_after"] == install["results"]["PYTHON"]
    assert install["progress"] == 100
    log = install["log"]
    assert f"from the wheel folder {WHEELHOUSE}" in log and "--no-index" in log
    assert "Installed tensorflow-cpu" in log and "Traceback" not in log


@pytest.mark.slow
def test_check_and_training_run_in_desktop_with_the_installed_environment(desktop_run):
    runs = desktop_run["findings"]["runs"]
    python = desktop_run["findings"]["install"]["results"]["PYTHON"]
    assert runs["check"]["PYTHON_EXECUTABLE"] == python, _context(desktop_run)
    assert "CPU" in runs["check"]["DEVICES"]
    model = Path(runs["train"]["OUTPUT_MODEL"])
    assert model.is_file() and Path(runs["train"]["OUTPUT_REPORT"]).is_file()
    assert 0 < runs["train"]["OVERALL_ACCURACY"] <= 1
    assert read_model_metadata(model)["versions"]["tensorflow"] == runs["check"]["TENSORFLOW_VERSION"]


@pytest.mark.slow
def test_classified_map_loads_with_paletted_class_style(desktop_run):
    findings = desktop_run["findings"]
    layer = findings.get("loaded_layer")
    assert layer is not None, _context(desktop_run)
    assert layer["valid"] is True
    assert layer["renderer_type"] == "paletted"
    legend = read_model_metadata(findings["runs"]["train"]["OUTPUT_MODEL"])["legend"]
    assert [c["value"] for c in layer["classes"]] == legend["codes"]
    assert [c["label"] for c in layer["classes"]] == legend["names"]
    assert [c["color"].lower() for c in layer["classes"]] == [c.lower() for c in legend["colors"]]
    class_map = gdal.Open(findings["load_result"]["OUTPUT"]).ReadAsArray()
    assert set(np.unique(class_map).tolist()) <= set(legend["codes"])


@pytest.mark.slow
def test_dialog_opens_and_screenshots_show_pixels(desktop_run):
    findings = desktop_run["findings"]
    assert findings["dialog_created"] and findings["dialog_visible"]
    assert findings["dialog_title"] == "Check TensorFlow environment"
    for key in ("main_window_png", "map_window_png", "dialog_png", "screen_png", "installer_png",
                "canvas_png"):
        shot = findings[key]
        assert shot["saved"], key
        pixels = _png_pixels(shot["path"])
        assert pixels.shape[-2:] == (shot["height"], shot["width"])
        assert pixels.std() > 10, f"{key} is blank"
    assert (findings["screen_png"]["width"], findings["screen_png"]["height"]) == (1440, 900)


@pytest.mark.slow
def test_plugin_unloads_and_takes_its_provider_away(desktop_run):
    findings = desktop_run["findings"]
    assert findings["unloaded"] is True
    assert findings["provider_after_unload"] is False
