"""Training data as users have it (issue 18), on real data: the Berlin class-wise multi-part layer,
class names as labels, CSVs saved the European way or with a byte-order mark, and classes named by
code and name wherever a message or a report speaks of them."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from osgeo import gdal, ogr

from landcover_cnn_plugin import worker
from landcover_cnn_plugin.core.csv_format import detect_csv_format
from landcover_cnn_plugin.core.errors import UserInputError
from landcover_cnn_plugin.core.io.outputs import read_map_legend
from landcover_cnn_plugin.core.io.rasterize import LabelPolygons, PolygonRasterizer
from landcover_cnn_plugin.core.io.rasters import raster_grid
from landcover_cnn_plugin.core.legend import ClassLegend
from landcover_cnn_plugin.core.model_file import read_model_metadata
from landcover_cnn_plugin.core.samples import read_samples
from landcover_cnn_plugin.core.sampling import extract_samples_to_csv
from landcover_cnn_plugin.core.settings import TrainingSettings
from landcover_cnn_plugin.core.splits import check_split, split_samples
from landcover_cnn_plugin.core.styles import qml_path_for
from landcover_cnn_plugin.core.training import LandcoverTrainer
from lcnn_testing import (
    BERLIN_CLASSES,
    STUDY_BANDS,
    RecordingReporter,
    berlin_dir,
    reference_samples_frame,
    reference_stack,
)

gdal.UseExceptions()
OSM_NAMES = {7201: "forest", 7203: "residential", 7205: "farm", 7208: "meadow", 7217: "scrub",
             7218: "grass", 8200: "water", 8221: "wetland"}


# --- The Berlin class-wise layer: one MultiPolygon feature per class ----------------------------
@pytest.fixture(scope="module")
def berlin_samples(tmp_path_factory):
    """extractsamples' core on the class-wise layer (FIELD Level_2_ID, names Level_2)."""
    source = ogr.Open(str(berlin_dir() / "landcover_berlin_classwise.gpkg"))
    fids, codes, wkbs, names = [], [], [], []
    for feature in source.GetLayer(0):
        fids.append(feature.GetFID())
        codes.append(feature.GetField("Level_2_ID"))
        wkbs.append(bytes(feature.GetGeometryRef().ExportToWkb()))
        names.append(feature.GetField("Level_2"))
    raster = str(berlin_dir() / "hymap_berlin_3.6m_4band.tif")
    rasterizer = PolygonRasterizer(LabelPolygons(np.array(fids), np.array(codes), wkbs, names),
                                   raster_grid(raster, "RASTER"))
    path = tmp_path_factory.mktemp("berlin") / "samples.csv"
    counts = extract_samples_to_csv(rasterizer, raster, str(path), "Level_2_ID", "Level_2")
    return path, counts


def _reference_parts(folder) -> dict[int, np.ndarray]:
    """Per feature, its parts burnt on the HyMap grid by plain GDAL/OGR (part + 1, 0 = none): the
    parts written largest first, so that where parts overlap the smallest is burnt last and wins."""
    source = ogr.Open(str(berlin_dir() / "landcover_berlin_classwise.gpkg"))
    layer = source.GetLayer(0)
    path = str(folder / "parts.gpkg")
    out_source = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    out = out_source.CreateLayer("parts", layer.GetSpatialRef(), ogr.wkbPolygon)
    out.CreateField(ogr.FieldDefn("feature", ogr.OFTInteger))
    out.CreateField(ogr.FieldDefn("burn", ogr.OFTInteger))
    parts = []
    for feature in layer:
        geometry = feature.GetGeometryRef()
        parts += [(feature.GetFID(), i, geometry.GetGeometryRef(i).Clone())
                  for i in range(geometry.GetGeometryCount())]
    for fid, part, polygon in sorted(parts, key=lambda item: -item[2].GetArea()):
        written = ogr.Feature(out.GetLayerDefn())
        written.SetField("feature", fid)
        written.SetField("burn", part + 1)
        written.SetGeometry(polygon)
        out.CreateFeature(written)
    out_source = None
    grid = gdal.Open(str(berlin_dir() / "hymap_berlin_3.6m_4band.tif"))
    gt = grid.GetGeoTransform()
    bounds = (gt[0], gt[3] + gt[5] * grid.RasterYSize, gt[0] + gt[1] * grid.RasterXSize, gt[3])
    burnt = {}
    for fid in sorted({fid for fid, _, _ in parts}):
        target = gdal.Rasterize(str(folder / f"parts_{fid}.tif"), path, format="GTiff",
                                outputType=gdal.GDT_Int32, outputBounds=bounds, width=grid.RasterXSize,
                                height=grid.RasterYSize, initValues=0, attribute="burn",
                                where=f"feature = {fid}")
        burnt[fid] = target.ReadAsArray()
    return burnt


def test_parts_of_the_classwise_layer_are_the_groups(berlin_samples, tmp_path):
    path, counts = berlin_samples
    frame = pd.read_csv(path)
    grid = gdal.Open(str(berlin_dir() / "hymap_berlin_3.6m_4band.tif")).GetGeoTransform()
    rows = ((frame["Y"] - grid[3]) / grid[5]).astype(int).to_numpy()
    cols = ((frame["X"] - grid[0]) / grid[1]).astype(int).to_numpy()
    reference = _reference_parts(tmp_path)
    for fid, burnt in reference.items():
        mine = (frame["polygon_id"] == fid).to_numpy()
        np.testing.assert_array_equal(frame.loc[mine, "polygon_part"].to_numpy() + 1,
                                      burnt[rows[mine], cols[mine]])
    groups = frame.groupby("Level_2_ID").apply(lambda f: len(f.groupby(["polygon_id", "polygon_part"])))
    assert groups.to_dict() == {int(code): n for code, n in counts.groups_per_code.items()}
    assert groups.min() >= 6 and groups.sum() > 1000  # 6 features, but many polygons in each class
    assert "6 (Other): 646 samples in 6 polygons" in counts.class_summary()


def test_the_classwise_layer_splits_by_part_and_every_class_is_trained(berlin_samples):
    path, _ = berlin_samples
    table = read_samples(str(path), "Level_2_ID")
    assert table.class_names == BERLIN_CLASSES  # the names column right after the label, found
    assert table.group_column == "polygon_id + polygon_part"
    legend = ClassLegend(sorted(BERLIN_CLASSES), BERLIN_CLASSES)
    ids = legend.ids_from_codes(table.codes)
    split = split_samples(ids, table.groups, "group", 0.2, 0.2, 42, table.group_column)
    check_split(split, ids, legend)
    assert set(ids[split.train].tolist()) == set(range(6))
    assert not set(table.groups[split.train].tolist()) & set(table.groups[split.test].tolist())
    assert split.to_dict(table.codes)["groups"]["train"]["6"] >= 1
    # a class the test part lacks is learnt but not measured: a warning by code and name
    other = legend.ids_from_codes([6])[0]
    untested = replace(split, test=split.test[ids[split.test] != other], warnings=[])
    check_split(untested, ids, legend)
    assert untested.warnings == ["class 6 (Other) has no samples in the test part (the accuracy figures "
                                 "do not cover it): draw more polygons of it or merge it with a similar "
                                 "class."]


def test_a_split_leaving_a_class_untrained_is_refused_before_training(berlin_samples):
    """The class-wise layer read without its parts: 6 groups, one per class. Refused, by code and
    name, with what to do; no epoch runs."""
    path, _ = berlin_samples
    frame = pd.read_csv(path).drop(columns="polygon_part")
    trainer = LandcoverTrainer(TrainingSettings(label="Level_2_ID", epochs=1))
    with pytest.raises(UserInputError) as info:
        trainer.fit(frame)
    message = info.value.message
    assert info.value.parameter == "SPLIT" and "no training samples" in message
    assert any(f"{code} ({name}) has 1 polygon" in message for code, name in BERLIN_CLASSES.items())
    for remedy in ("more polygons", "merge", "CV_FOLDS", "random split"):
        assert remedy in message
    assert "class 0" not in message and not hasattr(trainer, "model_")


# --- CSV dialects ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reflectance_frame():
    """Every 12th labelled pixel of the sample scene, bands as reflectance (floats: the decimal mark
    matters), class names with a comma and a semicolon (quoting matters)."""
    frame = reference_samples_frame().iloc[::12].copy()
    frame[STUDY_BANDS] = (frame[STUDY_BANDS] / 10000.0).round(4)
    frame["fclass"] = frame["fclass"].str.replace("forest", "forest, mixed; old")
    return frame


@pytest.mark.parametrize(("options", "described"), [
    ({}, "delimiter ',', decimal point, UTF-8,"),
    ({"sep": ";", "decimal": ","}, "delimiter ';', decimal comma, UTF-8,"),
    ({"sep": ";", "decimal": ",", "encoding": "utf-8-sig"}, "delimiter ';', decimal comma, UTF-8 with BOM"),
    ({"encoding": "utf-8-sig"}, "delimiter ',', decimal point, UTF-8 with BOM"),
    ({"sep": "\t"}, "delimiter tab, decimal point, UTF-8,"),
])
def test_csv_dialects_are_read_as_written(tmp_path, reflectance_frame, options, described):
    path = tmp_path / "samples.csv"
    reflectance_frame.to_csv(path, index=False, **options)
    reporter = RecordingReporter()
    table = read_samples(str(path), "code", reporter=reporter)
    assert any(described in line for line in reporter.logs), reporter.logs
    assert table.feature_names == STUDY_BANDS and table.n_dropped == 0
    np.testing.assert_array_equal(table.features, reflectance_frame[STUDY_BANDS].to_numpy(np.float32))
    np.testing.assert_array_equal(table.codes, reflectance_frame["code"].to_numpy())
    np.testing.assert_array_equal(table.groups, reflectance_frame["polygon_id"].to_numpy())
    assert table.class_names[7201] == "forest, mixed; old"
    assert detect_csv_format(path).columns == list(reflectance_frame.columns)  # the QGIS side's header


def test_unreadable_files_say_what_was_seen(tmp_path):
    binary = reference_stack()
    with pytest.raises(UserInputError, match="not text in UTF-8|first line is"):
        read_samples(str(binary))
    one_column = tmp_path / "one.csv"
    one_column.write_text("X Y B03 code\n1 2 3 4\n", encoding="utf-8")
    with pytest.raises(UserInputError) as info:
        read_samples(str(one_column))
    assert "'X Y B03 code'" in info.value.message and "delimiter" in info.value.message
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"\xef\xbb\xbf\n")
    with pytest.raises(UserInputError, match="is empty"):
        read_samples(str(empty))


# --- Class names as labels ------------------------------------------------------------------------
def test_text_labels_become_a_legend_in_alphabetical_order(tmp_path, reflectance_frame):
    frame = reflectance_frame.drop(columns="code").rename(columns={"fclass": "class"})
    reporter = RecordingReporter()
    table = read_samples(frame, "class", reporter=reporter)
    names = sorted(set(frame["class"]), key=str.casefold)
    assert table.class_names == dict(enumerate(names, start=1))
    np.testing.assert_array_equal(table.codes, [names.index(n) + 1 for n in frame["class"]])
    assert any("codes 1.. in alphabetical order: farm = 1" in line for line in reporter.logs)
    shuffled = read_samples(frame.sample(frac=1, random_state=3), "class")  # order of rows: same codes
    assert shuffled.class_names == table.class_names

    legend = tmp_path / "legend.csv"  # the user's codes for the names, saved the European way
    with open(legend, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["code", "name", "color"])
        for code, name in OSM_NAMES.items():
            writer.writerow([code, "forest, mixed; old" if name == "forest" else name, ""])
    coded = read_samples(frame, "class", legend=str(legend))
    np.testing.assert_array_equal(coded.codes, reflectance_frame["code"].to_numpy())
    damaged = reflectance_frame.assign(code=reflectance_frame["code"].astype(str))
    damaged.iloc[[3, 30], damaged.columns.get_loc("code")] = "unknown"
    with pytest.raises(UserInputError, match="holds class codes and 2 texts") as info:
        read_samples(damaged, "code")
    wrong = frame.assign(**{"class": frame["class"].replace("water", "lake")})
    with pytest.raises(UserInputError, match=r"\['lake'\] are not in the legend") as info:
        read_samples(wrong, "class", legend=str(legend))
    assert info.value.parameter == "LABEL"


def run_job(capsys, *args):
    code = worker.main([*args, "--progress", "jsonl"])
    messages = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return code, messages


def test_text_labels_train_and_name_the_report_and_the_map(tmp_path, capsys):
    """A European CSV (';', decimal comma, BOM) whose labels are class names: trained, the names in
    the model file, the report and the class map's legend (GeoTIFF and .qml)."""
    frame = reference_samples_frame().iloc[::12].drop(columns="code").rename(columns={"fclass": "class"})
    samples = tmp_path / "samples.csv"
    frame.to_csv(samples, index=False, sep=";", decimal=",", encoding="utf-8-sig")
    model, report = tmp_path / "model.lcnn", tmp_path / "report.html"
    code, messages = run_job(capsys, "train", "--samples", str(samples), "--model", str(model), "--report",
                             str(report), "--label", "class", "--model-type", "study_mlp", "--epochs", "3",
                             "--batch-size", "256", "--patience", "2")
    assert code == 0, messages[-1]
    logs = " ".join(m.get("message", "") for m in messages)
    assert "delimiter ';', decimal comma, UTF-8 with BOM" in logs and "1 (farm)" in logs
    names = sorted(OSM_NAMES.values())
    legend = read_model_metadata(model)["legend"]
    assert legend["names"] == names and legend["codes"] == list(range(1, 9))
    html = report.read_text(encoding="utf-8")
    assert all(f">{name}<" in html for name in names) and "pol.)" in html

    class_map = tmp_path / "map.tif"
    code, messages = run_job(capsys, "classify", "--raster", str(reference_stack()), "--model", str(model),
                             "--output", str(class_map))
    assert code == 0, messages[-1]
    assert read_map_legend(str(class_map))["names"] == names
    with open(qml_path_for(str(class_map)), encoding="utf-8") as handle:
        qml = handle.read()
    assert all(f'label="{name}"' in qml for name in names)
