"""Data preparation through Debian's real qgis_process.bin, as a user scripts it."""

from __future__ import annotations

import re
from pathlib import Path

from lcnn_testing import read_samples_csv, reference_stack

DATA_PREPARATION = ["stackrasters", "rasterizepolygons", "regularpoints", "samplepoints", "extractsamples"]



def test_algorithms_listed_in_data_preparation(qgis_process):
    proc = qgis_process("list")
    assert proc.returncode == 0, proc.stderr
    ids = set(re.findall(r"landcovercnn:(\w+)", proc.stdout))
    assert set(DATA_PREPARATION) <= ids


def test_step_by_step_chain_equals_one_step(qgis_process, tmp_path, reference_polygons):
    """Regular points + samplepoints give the same CSV as extractsamples (reference polygons, cid)."""
    stack = str(reference_stack())
    points = qgis_process.run("landcovercnn:regularpoints", {
        "INPUT": reference_polygons, "FIELD": "cid", "REFERENCE": stack, "OUTPUT": tmp_path / "points.gpkg"})
    assert points.returncode == 0, points.text
    chain = qgis_process.run("landcovercnn:samplepoints", {
        "POINTS": tmp_path / "points.gpkg", "RASTER": stack, "LABEL": "cid", "GROUP": "polygon_id",
        "OUTPUT": tmp_path / "chain.csv"})
    one_step = qgis_process.run("landcovercnn:extractsamples", {
        "RASTER": stack, "POLYGONS": reference_polygons, "FIELD": "cid", "OUTPUT": tmp_path / "one.csv"})
    assert chain.returncode == 0 and one_step.returncode == 0, chain.text + one_step.text
    assert (tmp_path / "chain.csv").read_bytes() == (tmp_path / "one.csv").read_bytes()
    header, rows = read_samples_csv(tmp_path / "one.csv")
    assert header[-5:] == ["cid", "polygon_id", "polygon_part", "Latitude", "Longitude"]
    assert len(rows) == int(chain.results["SAMPLES"]) == int(points.results["POINTS"])
    assert int(one_step.results["POLYGONS_OUTSIDE"]) == 1  # pid 18
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chain.csv", "one.csv", "points.gpkg"]


def test_text_class_field_refused_without_traceback(qgis_process, tmp_path, osm_polygons):
    output = tmp_path / "samples.csv"
    result = qgis_process.run("landcovercnn:extractsamples", {
        "RASTER": str(reference_stack()), "POLYGONS": osm_polygons, "FIELD": "fclass", "OUTPUT": output})
    assert result.returncode != 0
    assert "FIELD" in result.text and "fclass" in result.text and "not integer" in result.text
    assert "Refactor fields" in result.text
    assert "Traceback" not in result.text
    assert list(Path(tmp_path).iterdir()) == []
