"""The real QGIS Desktop: the plugin zip installed into a fresh profile, started under Xvfb.

scripts/desktop_screenshot.py does what a user does (Install from ZIP, enable, start QGIS) and
runs scripts/desktop_probe.py inside QGIS; this test checks what the probe saw in that run:
the plugin active from the profile folder, the provider and its algorithms in the Processing
registry, the Check TensorFlow environment run through the provider setting, classifyimage run
and its map loaded with the paletted class style, a dialog opened, screenshots, a clean unload
and a clean exit.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from reliability import VENV_PYTHON, small_model

from landcover_cnn_plugin.core.model_file import read_model_metadata
from lcnn_testing import ROOT, reference_stack

gdal.UseExceptions()
PLUGIN_ZIP = ROOT / "dist" / "landcover_cnn_plugin.zip"
EXPECTED_ALGORITHMS = {
    "checkenvironment", "stackrasters", "rasterizepolygons", "regularpoints", "samplepoints",
    "extractsamples", "trainmodel", "comparefeaturesets", "exportmodel", "classifyimage", "assessaccuracy",
    "stratifiedpoints", "suggestpoints"}


@pytest.fixture(scope="module")
def desktop_run(tmp_path_factory) -> dict:
    workdir = tmp_path_factory.mktemp("desktop")
    model = small_model()
    command = [sys.executable, str(ROOT / "scripts" / "desktop_screenshot.py"), "--workdir", str(workdir),
               "--screenshot", "", "--python", VENV_PYTHON,
               "--run-algorithm", "landcovercnn:checkenvironment",
               "--classify-raster", str(reference_stack()), "--classify-model", str(model),
               "--timeout", "400"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=460)
    summary = json.loads((workdir / "run.json").read_text())
    findings_path = Path(summary["findings"])
    findings = json.loads(findings_path.read_text()) if findings_path.exists() else {}
    qgis_output = Path(summary["output"]).read_text(encoding="utf-8", errors="replace")
    return {"proc": proc, "summary": summary, "findings": findings, "qgis_output": qgis_output,
            "model": model, "workdir": workdir}


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
    assert run["findings"]["message_bar_at_start"] == []
    assert run["findings"]["message_bar_at_end"] == []


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
def test_worker_runs_from_desktop_with_the_provider_setting(desktop_run):
    result = desktop_run["findings"]["run_result"]
    assert result["PYTHON_EXECUTABLE"] == VENV_PYTHON
    assert result["TENSORFLOW_VERSION"].startswith("2.")
    assert "CPU" in result["DEVICES"]


@pytest.mark.slow
def test_classified_map_loads_with_paletted_class_style(desktop_run):
    findings = desktop_run["findings"]
    layer = findings.get("loaded_layer")
    assert layer is not None, _context(desktop_run)
    assert layer["valid"] is True
    assert layer["renderer_type"] == "paletted"
    legend = read_model_metadata(desktop_run["model"])["legend"]
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
    for key in ("main_window_png", "dialog_png", "screen_png"):
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
