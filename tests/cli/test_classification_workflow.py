"""Train -> classify -> assess through the real qgis_process.bin on the sample scene."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr, osr

from landcover_cnn_plugin.core.atomic import partial_files
from landcover_cnn_plugin.core.model_file import read_model_metadata
from landcover_cnn_plugin.core.worker_process import WorkerCanceled, WorkerProcess
from lcnn_testing import (
    ROOT,
    SAMPLE_DIR,
    STUDY_BANDS,
    reference_labels,
    reference_samples_csv,
    reference_stack,
)

gdal.UseExceptions()
VENV_PYTHON = str(ROOT / ".venv" / "bin" / "python")
FAST = {"EPOCHS": 4, "PATIENCE": 2, "BATCH_SIZE": 256, "MODEL_TYPE": 1}  # 1 = study_mlp


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("workflow")


@pytest.fixture(scope="module")
def trained(qgis_process, workdir):
    model, report = workdir / "model.lcnn", workdir / "report.html"
    result = qgis_process.run("landcovercnn:trainmodel", {
        "INPUT": reference_samples_csv(), **FAST, "OUTPUT_MODEL": model, "OUTPUT_REPORT": report})
    assert result.returncode == 0, result.text
    return result.results, model, report


@pytest.fixture(scope="module")
def classified(qgis_process, trained, workdir):
    _, model, _ = trained
    out, conf = workdir / "map.tif", workdir / "confidence.tif"
    result = qgis_process.run("landcovercnn:classifyimage", {
        "INPUT": reference_stack(), "MODEL": model, "OUTPUT": out, "OUTPUT_CONFIDENCE": conf,
        "MEMORY_MB": 16})
    assert result.returncode == 0, result.text
    return result.results, out, conf


def test_train_outputs_model_report_and_figures(trained):
    results, model, report = trained
    metadata = read_model_metadata(model)
    test_counts = metadata["split"]["counts"]["test"]
    majority = max(test_counts.values()) / sum(test_counts.values())
    assert results["OVERALL_ACCURACY"] > majority + 0.1  # clearly better than always the largest class
    assert -1 <= results["KAPPA"] <= 1 and 0 < results["MACRO_F1"] <= 1
    assert metadata["split"]["protocol"] == "group"
    assert results["OVERALL_ACCURACY"] == pytest.approx(metadata["metrics"]["overall_accuracy"])
    text = report.read_text(encoding="utf-8")
    assert "by polygon" in text and "data:image/png;base64" in text


def test_class_map_holds_legend_codes_and_confidence_in_unit_interval(trained, classified):
    _, model, _ = trained
    results, out, conf = classified
    assert results["OUTPUT"] == str(out)
    codes = read_model_metadata(model)["legend"]["codes"]
    mapped = gdal.Open(str(out)).ReadAsArray()
    assert set(np.unique(mapped).tolist()) <= set(codes) | {0}
    assert (mapped > 0).all()  # the stack has no nodata
    confidence = gdal.Open(str(conf)).ReadAsArray()
    assert confidence.min() >= 0 and confidence.max() <= 1
    qml = out.with_suffix(".qml").read_text(encoding="utf-8")
    assert all(f'value="{code}"' in qml for code in codes)
    assert not partial_files(out) and not partial_files(conf)


def test_map_equals_in_memory_prediction_on_a_window(trained, classified):
    from landcover_cnn_plugin.core.model_file import load_model_file

    _, model_path, _ = trained
    _, out, _ = classified
    model = load_model_file(model_path)
    window = (500, 300, 70, 50)  # x, y, width, height: crosses a 256-row block seam
    values = gdal.Open(str(reference_stack())).ReadAsArray(*window).astype(np.float32)
    expected = np.asarray(model.legend.codes)[
        model.predict_proba(values.reshape(len(STUDY_BANDS), -1).T).argmax(axis=1)]
    mapped = gdal.Open(str(out)).ReadAsArray(*window)
    np.testing.assert_array_equal(mapped.reshape(-1), expected)


def test_assess_with_polygons_matches_independent_count(qgis_process, classified, workdir):
    _, out, _ = classified
    result = qgis_process.run("landcovercnn:assessaccuracy", {
        "INPUT": out, "REFERENCE": SAMPLE_DIR / "osm_landuse_water.gpkg", "FIELD": "code",
        "OUTPUT_MATRIX": workdir / "matrix.csv", "OUTPUT_REPORT": workdir / "accuracy.html"})
    assert result.returncode == 0, result.text
    reference = gdal.Open(str(reference_labels())).ReadAsArray()
    mapped = gdal.Open(str(out)).ReadAsArray()
    labelled = reference > 0
    assert result.results["OVERALL_ACCURACY"] == pytest.approx(
        float((reference[labelled] == mapped[labelled]).mean()))
    with open(workdir / "matrix.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sum(int(r["total"]) for r in rows) == int(labelled.sum())
    assert "Producer's accuracy" in (workdir / "accuracy.html").read_text(encoding="utf-8")


def test_assess_with_points(qgis_process, classified, workdir):
    _, out, _ = classified
    rng = np.random.default_rng(3)
    with open(reference_samples_csv(), newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    chosen = [rows[i] for i in rng.choice(len(rows), 3000, replace=False)]
    points = workdir / "points.gpkg"
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(points))
    layer = ds.CreateLayer("points", srs, ogr.wkbPoint)
    layer.CreateField(ogr.FieldDefn("truth", ogr.OFTInteger))
    for row in chosen:
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("truth", int(row["code"]))
        feature.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT ({row['X']} {row['Y']})"))
        layer.CreateFeature(feature)
    ds = None
    result = qgis_process.run("landcovercnn:assessaccuracy", {
        "INPUT": out, "REFERENCE": points, "FIELD": "truth", "OUTPUT_MATRIX": workdir / "pm.csv"})
    assert result.returncode == 0, result.text
    dataset = gdal.Open(str(out))
    x0, dx, _, y0, _, dy = dataset.GetGeoTransform()
    mapped = dataset.ReadAsArray()
    hits = [mapped[int((float(r["Y"]) - y0) // dy), int((float(r["X"]) - x0) // dx)] == int(r["code"])
            for r in chosen]
    assert result.results["OVERALL_ACCURACY"] == pytest.approx(float(np.mean(hits)))


def test_band_name_mismatch_is_refused_with_both_lists(qgis_process, trained, workdir):
    _, model, _ = trained
    renamed = workdir / "renamed.vrt"
    gdal.Translate(str(renamed), str(reference_stack()), format="VRT")
    ds = gdal.Open(str(renamed), gdal.GA_Update)
    ds.GetRasterBand(4).SetDescription("rededge2")
    ds = None
    out = workdir / "never.tif"
    result = qgis_process.run("landcovercnn:classifyimage",
                              {"INPUT": renamed, "MODEL": model, "OUTPUT": out})
    assert result.returncode != 0
    assert "rededge2" in result.text and "B06" in result.text and "INPUT" in result.text
    assert "Traceback" not in result.text
    assert not out.exists() and not partial_files(out)


def test_cancel_during_classification_leaves_no_file(trained, workdir):
    _, model, _ = trained
    big = workdir / "tiled.vrt"  # the stack upsampled 4 x 4: 4.7 Mpx, many blocks at 8 MB
    stack = gdal.Open(str(reference_stack()))
    gdal.Translate(str(big), stack, format="VRT", width=stack.RasterXSize * 4,
                   height=stack.RasterYSize * 4, resampleAlg="near")
    out, conf = workdir / "canceled.tif", workdir / "canceled_conf.tif"
    progress: list[float] = []
    started = time.monotonic()

    def is_canceled() -> bool:
        return any(p > 20 for p in progress) or time.monotonic() - started > 120

    worker = WorkerProcess("classify", ["--raster", str(big), "--model", str(model), "--output", str(out),
                                        "--confidence", str(conf), "--memory-mb", "8"], VENV_PYTHON,
                           outputs=[str(out), str(conf)])
    with pytest.raises(WorkerCanceled):
        worker.run(progress.append, lambda message, level: None, is_canceled)
    assert 20 < max(progress) < 100
    assert not out.exists() and not conf.exists()
    assert not partial_files(out) and not partial_files(conf)
    assert not out.with_suffix(".qml").exists()


def test_compare_feature_sets_table_and_report(qgis_process, workdir):
    subset = workdir / "subset.csv"  # rows are ordered by polygon: the first 20,000 hold whole polygons
    with open(reference_samples_csv(), encoding="utf-8") as source:
        subset.write_text("".join(line for _, line in zip(range(20001), source, strict=False)),
                          encoding="utf-8")
    table, report = workdir / "compare.csv", workdir / "compare.html"
    result = qgis_process.run("landcovercnn:comparefeaturesets", {
        "INPUT": subset, **FAST, "EPOCHS": 2, "FEATURE_SETS": "B03,B04,B08;" + ",".join(STUDY_BANDS),
        "SET_NAMES": "RGN;S2", "OUTPUT_TABLE": table, "OUTPUT_REPORT": report})
    assert result.returncode == 0, result.text
    with open(table, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["set_name"] for r in rows] == ["RGN", "S2"]
    assert [r["features"] for r in rows] == ["B03,B04,B08", ",".join(STUDY_BANDS)]
    assert all(0 < float(r["overall_accuracy"]) <= 1 for r in rows)
    assert rows[0]["n_test"] == rows[1]["n_test"]  # the same split for every set
    assert "RGN" in report.read_text(encoding="utf-8")
