"""End to end through Debian's real qgis_process.bin (the binary a user scripts)."""

from __future__ import annotations

import re

EXPECTED_GROUPS = {"Data preparation", "Training", "Classification", "Accuracy"}


def test_list_shows_provider_and_algorithms(qgis_process):
    proc = qgis_process("list")
    assert proc.returncode == 0, proc.stderr
    assert "Land cover CNN" in proc.stdout
    # the shipped Modeler workflow keeps its model name as its id, as models do ...
    workflow = "landcovercnn:Land cover workflow"
    assert workflow in proc.stdout
    # ... and every algorithm id is lower case
    ids = re.findall(r"landcovercnn:(\w+)", proc.stdout.replace(workflow, ""))
    assert "checkenvironment" in ids
    assert all(name == name.lower() for name in ids)


def test_checkenvironment_reports_tensorflow(qgis_process):
    result = qgis_process.run("landcovercnn:checkenvironment", {})
    assert result.returncode == 0, result.text
    outputs = result.results
    assert re.fullmatch(r"2\.\d+\.\d+", outputs["TENSORFLOW_VERSION"])
    assert re.fullmatch(r"3\.\d+\.\d+", outputs["KERAS_VERSION"])
    assert outputs["PYTHON_EXECUTABLE"].endswith("python")
    assert "CPU" in outputs["DEVICES"]


def test_checkenvironment_without_tensorflow_names_interpreter(qgis_process):
    result = qgis_process.run("landcovercnn:checkenvironment", {},
                              env={"LANDCOVER_CNN_PYTHON": "/usr/bin/python3"})
    assert result.returncode != 0
    assert "/usr/bin/python3" in result.text
    assert "tensorflow" in result.text
    assert "Traceback" not in result.text


def test_help_lists_parameters_as_json(qgis_process):
    proc = qgis_process("help", "landcovercnn:checkenvironment", "--json")
    assert proc.returncode == 0, proc.stderr
    assert '"TENSORFLOW_VERSION"' in proc.stdout
