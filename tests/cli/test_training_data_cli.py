"""Issue 18 through Debian's real qgis_process.bin: the Berlin class-wise layer (one MultiPolygon
feature per class, as drawn in a GIS) from polygons to a trained model, the refusal of a split
that would leave a class untrained (read from a CSV saved the European way), and points with a
class name field as training data."""

from __future__ import annotations

import csv
import shutil

from osgeo import ogr

from landcover_cnn_plugin.core.model_file import read_model_metadata
from lcnn_testing import BERLIN_CLASSES, berlin_dir, reference_stack


def test_berlin_classwise_layer_trains_every_class(qgis_process, tmp_path):
    raster = shutil.copy(berlin_dir() / "hymap_berlin_3.6m_4band.tif", tmp_path)  # QGIS may add .aux.xml
    polygons = shutil.copy(berlin_dir() / "landcover_berlin_classwise.gpkg", tmp_path)
    samples = tmp_path / "samples.csv"
    extract = qgis_process.run("landcovercnn:extractsamples", {
        "RASTER": raster, "POLYGONS": polygons, "FIELD": "Level_2_ID", "NAMES_FIELD": "Level_2",
        "OUTPUT": samples})
    assert extract.returncode == 0, extract.text
    assert "6 (Other): 646 samples in 6 polygons" in extract.text  # the parts, counted per class

    model, report = tmp_path / "model.lcnn", tmp_path / "report.html"
    train = qgis_process.run("landcovercnn:trainmodel", {
        "INPUT": samples, "LABEL": "Level_2_ID", "MODEL_TYPE": 1, "EPOCHS": 8, "BATCH_SIZE": 256,
        "OUTPUT_MODEL": model, "OUTPUT_REPORT": report})
    assert train.returncode == 0, train.text
    metadata = read_model_metadata(model)
    assert dict(zip(metadata["legend"]["codes"], metadata["legend"]["names"], strict=True)) == BERLIN_CLASSES
    split = metadata["split"]
    assert split["group_column"] == "polygon_id + polygon_part"
    assert set(split["counts"]["train"]) == {str(code) for code in BERLIN_CLASSES}  # all six learnt
    assert min(split["groups"]["train"].values()) >= 1 and sum(split["groups"]["test"].values()) > 100
    assert float(train.results["OVERALL_ACCURACY"]) > 0.45 and float(train.results["KAPPA"]) > 0.25
    html = report.read_text(encoding="utf-8")
    assert all(f">{name}<" in html for name in BERLIN_CLASSES.values()) and "pol.)" in html

    # The same samples without their parts, saved by a spreadsheet in a German locale: six groups,
    # one per class. Refused before training, classes named by code and name; no model file.
    european = tmp_path / "samples_de.csv"
    with open(samples, newline="", encoding="utf-8") as source, \
            open(european, "w", newline="", encoding="utf-8-sig") as target:
        rows = csv.reader(source)
        header = next(rows)
        drop = header.index("polygon_part")
        writer = csv.writer(target, delimiter=";")
        writer.writerow(header[:drop] + header[drop + 1:])
        for row in rows:
            writer.writerow([value.replace(".", ",") for value in row[:drop] + row[drop + 1:]])
    refused_model = tmp_path / "refused.lcnn"
    refused = qgis_process.run("landcovercnn:trainmodel", {
        "INPUT": european, "LABEL": "Level_2_ID", "MODEL_TYPE": 1, "EPOCHS": 8,
        "OUTPUT_MODEL": refused_model})
    assert refused.returncode != 0  # the label column found in the ';' file, its rows read: then refused
    assert "no training samples" in refused.text and "has 1 polygon" in refused.text
    assert any(f"{code} ({name})" in refused.text for code, name in BERLIN_CLASSES.items())
    assert "CV_FOLDS" in refused.text and "random split" in refused.text
    assert "Traceback" not in refused.text and not refused_model.exists()


def test_points_with_a_class_name_field_are_training_data(qgis_process, tmp_path, osm_polygons):
    """One point inside each OSM polygon, labelled by the text field fclass: samplepoints, then
    trainmodel; every point is its own group, the names are the legend."""
    points = tmp_path / "points.gpkg"
    source = ogr.Open(str(osm_polygons))
    layer = source.GetLayer(0)
    target = ogr.GetDriverByName("GPKG").CreateDataSource(str(points))
    out = target.CreateLayer("points", layer.GetSpatialRef(), ogr.wkbPoint)
    out.CreateField(ogr.FieldDefn("landuse", ogr.OFTString))
    names = {}
    for feature in layer:
        point = ogr.Feature(out.GetLayerDefn())
        point.SetField("landuse", feature.GetField("fclass"))
        point.SetGeometry(feature.GetGeometryRef().PointOnSurface())
        out.CreateFeature(point)
        names[feature.GetField("fclass")] = names.get(feature.GetField("fclass"), 0) + 1
    target = None
    samples = tmp_path / "samples.csv"
    sampled = qgis_process.run("landcovercnn:samplepoints", {
        "POINTS": points, "RASTER": str(reference_stack()), "LABEL": "landuse", "OUTPUT": samples})
    assert sampled.returncode == 0, sampled.text
    assert "forest:" in sampled.text and "wetland:" in sampled.text  # samples per class, by name
    model = tmp_path / "model.lcnn"
    train = qgis_process.run("landcovercnn:trainmodel", {
        "INPUT": samples, "LABEL": "landuse", "MODEL_TYPE": 1, "EPOCHS": 3, "OUTPUT_MODEL": model})
    assert train.returncode == 0, train.text
    metadata = read_model_metadata(model)
    assert metadata["legend"]["names"] == sorted(names)  # the names, coded 1.. alphabetically
    split = metadata["split"]
    for part in ("train", "validation", "test"):  # each point a group of its own
        assert split["groups"][part] == split["counts"][part]
    assert sum(sum(counts.values()) for counts in split["counts"].values()) == int(sampled.results["SAMPLES"])
