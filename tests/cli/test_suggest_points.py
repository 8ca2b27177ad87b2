"""suggestpoints through qgis_process.bin, and its labelled points back into training (issue 14).

The OSM polygons of the sample scene play both parts: those with an even feature id are the
existing training polygons (no point may fall inside them), and every polygon is the labeller
(a suggested point takes the code of the polygon it falls in; points outside polygons stay
unlabelled). The labelled points go through samplepoints into a samples CSV and trainmodel.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr

from lcnn_testing import (
    SAMPLE_DIR,
    reference_labels,
    reference_samples_subset_csv,
    reference_stack,
    small_model_file,
)

gdal.UseExceptions()
X0, Y0, PIXEL = 330000.0, 5822040.0, 20.0


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("suggest")


@pytest.fixture(scope="module")
def suggested(qgis_process, workdir):
    training = workdir / "training_even.gpkg"
    gdal.VectorTranslate(str(training), str(SAMPLE_DIR / "osm_landuse_water.gpkg"), where="fid % 2 = 0")
    output = workdir / "to_label.gpkg"
    result = qgis_process.run("landcovercnn:suggestpoints", {
        "MODEL": small_model_file(), "INPUT": reference_stack(), "TRAINING": training, "NUMBER": 60,
        "MEASURE": 0, "MIN_DISTANCE": 200, "SEED": 3, "OUTPUT": output})  # 0: margin
    assert result.returncode == 0, result.text
    return result, training, output


def features(path: Path) -> list[dict]:
    source = ogr.Open(str(path))  # keeps the layer's data source open while reading
    return [{**f.items(), "x": f.GetGeometryRef().GetX(), "y": f.GetGeometryRef().GetY()}
            for f in source.GetLayer(0)]


def cell(point: dict) -> tuple[int, int]:
    return int((Y0 - point["y"]) // PIXEL), int((point["x"] - X0) // PIXEL)


def test_points_are_least_sure_first_spread_balanced_and_outside_training(suggested, workdir):
    result, training, output = suggested
    points = features(output)
    assert len(points) == result.results["POINTS"] == 60
    inside = gdal.Rasterize(str(workdir / "training.tif"), str(training), outputBounds=(
        X0, Y0 - 384 * PIXEL, X0 + 768 * PIXEL, Y0), xRes=PIXEL, yRes=PIXEL, burnValues=[1],
        initValues=0, outputType=gdal.GDT_Byte).ReadAsArray()
    assert not any(inside[cell(p)] for p in points)
    xy = np.array([(p["x"], p["y"]) for p in points])
    distances = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1)) + np.eye(len(xy)) * 1e9
    assert distances.min() >= 200
    assert [p["rank"] for p in points] == list(range(1, 61))
    assert np.all(np.diff([p["margin"] for p in points]) >= -1e-6)  # least sure (smallest margin) first
    counts = np.unique([p["predicted"] for p in points], return_counts=True)[1]
    assert len(counts) >= 5 and counts.max() - counts.min() <= 1
    assert all(p["code"] is None and p["polygon_id"] < 0 and p["runner_up"] != p["predicted"] for p in points)
    assert all(p["predicted_name"] and p["runner_up_name"] and 0 <= p["margin"] <= 1 for p in points)


def test_labelled_points_go_back_through_samplepoints_into_training(qgis_process, suggested, workdir):
    _, _, output = suggested
    labelled = workdir / "labelled.gpkg"
    gdal.VectorTranslate(str(labelled), str(output))
    truth = gdal.Open(str(reference_labels())).ReadAsArray()
    source = ogr.Open(str(labelled), 1)
    layer = source.GetLayer(0)
    n_labelled = 0
    for feature in layer:
        point = {"x": feature.GetGeometryRef().GetX(), "y": feature.GetGeometryRef().GetY()}
        code = int(truth[cell(point)])
        if code:
            feature.SetField("code", code)
            layer.SetFeature(feature)
            n_labelled += 1
    source = None
    assert n_labelled >= 5
    samples = workdir / "suggested_samples.csv"
    result = qgis_process.run("landcovercnn:samplepoints", {
        "POINTS": labelled, "RASTER": reference_stack(), "LABEL": "code", "OUTPUT": samples})
    assert result.returncode == 0, result.text
    assert result.results["SAMPLES"] == n_labelled and result.results["UNLABELLED"] == 60 - n_labelled
    with open(samples, newline="", encoding="utf-8") as handle:
        new_rows = list(csv.DictReader(handle))
    assert len({row["polygon_id"] for row in new_rows}) == n_labelled  # one group per point
    assert all(int(row["polygon_id"]) < 0 for row in new_rows)
    # the polygons' samples and the labelled points, one CSV, train
    merged = workdir / "merged.csv"
    with open(reference_samples_subset_csv(), newline="", encoding="utf-8") as handle:
        old_rows = list(csv.DictReader(handle))
    columns = list(new_rows[0])
    with open(merged, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(old_rows + new_rows)
    trained = qgis_process.run("landcovercnn:trainmodel", {
        "INPUT": merged, "EPOCHS": 2, "PATIENCE": 1, "BATCH_SIZE": 256, "MODEL_TYPE": 1,
        "OUTPUT_MODEL": workdir / "retrained.lcnn"})
    assert trained.returncode == 0, trained.text
    assert (workdir / "retrained.lcnn").exists()
