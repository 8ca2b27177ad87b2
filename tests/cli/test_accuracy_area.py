"""Accuracy and area estimates (issue 14) through the real qgis_process.bin.

The worked example of Olofsson, Foody, Herold, Stehman, Woodcock and Wulder (2014), "Good practices
for estimating area and assessing accuracy of land change", Remote Sensing of Environment 148,
42-57, section 5, is rebuilt as a real map (GeoTIFF of 10,000,000 pixels of 30 m, the four classes'
mapped areas of Table 8) and a real point layer (the 640 sample points of Table 8, each with its
reference class), and 'Assess map accuracy' must give the paper's estimates to the paper's rounding.

Published figures (transcribed from the paper; the same figures, with page and table, are in the
test suites of NewGraphEnvironment/drift tests/testthat/helper-accuracy.R and of
agcopenhaver/PyMapAccuracy tests/test_olofsson.py, and in the example of the R package mapaccuracy,
hagc/mapaccuracy man/olofsson.Rd):

* Table 8 (p. 55): sample counts, rows map class, columns reference class; mapped pixels.
* Section 5.2.1 (p. 54): user's accuracy 0.88 +- 0.07, 0.73 +- 0.10, 0.93 +- 0.04, 0.96 +- 0.02;
  producer's accuracy 0.75 +- 0.21, 0.85 +- 0.23, 0.93 +- 0.03, 0.96 +- 0.01; overall accuracy
  0.95 +- 0.02. Two producer's half-widths are misprinted: eq. 7 of the paper gives 0.254 for
  forest gain and 0.018 for stable non-forest (so do mapaccuracy and PyMapAccuracy, and the
  paper's 2013 companion example, which PyMapAccuracy reproduces with the same formula); the
  test asserts the equation's 0.25 and 0.02 and records the printed values.
* Section 5.2.2 (p. 54): estimated area 21,158 +- 6,158 ha, 11,686 +- 3,756 ha, 285,770 +-
  15,510 ha, 581,386 +- 16,282 ha. These half-widths are 1.96 standard errors: an interval of
  1.96 * alpha / 2 standard errors (EnMAP-Box's helper) would give about 154 ha for deforestation.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr, osr

gdal.UseExceptions()
ogr.UseExceptions()

CLASSES = [(1, "Deforestation"), (2, "Forest gain"), (3, "Stable forest"), (4, "Stable non-forest")]
# Table 8 (p. 55): rows = map class (stratum), columns = reference class.
SAMPLE_COUNTS = [[66, 0, 5, 4], [0, 55, 8, 12], [1, 0, 153, 11], [2, 1, 9, 313]]
MAPPED_PIXELS = [200_000, 150_000, 3_200_000, 6_450_000]  # Table 8; 30 m pixels (0.09 ha)
WIDTH = 5000  # the map: 2000 rows of 5000 pixels, each class a band of whole rows
PAPER = {  # section 5.2 (p. 54), to the paper's rounding
    "estimated_area_ha": [21158, 11686, 285770, 581386],
    "area_ci95_ha": [6158, 3756, 15510, 16282],
    "users_accuracy": [0.88, 0.73, 0.93, 0.96],
    "users_ci95": [0.07, 0.10, 0.04, 0.02],
    "producers_accuracy": [0.75, 0.85, 0.93, 0.96],
    "producers_ci95": [0.21, 0.25, 0.03, 0.02],  # printed 0.23 and 0.01 for classes 2 and 4 (eq. 7: above)
}
PAPER_OVERALL = (0.95, 0.02)
ESTIMATE_COLUMNS = ["code", "name", "mapped_area_ha", "estimated_area_ha", "area_ci95_ha", "users_accuracy",
                    "users_ci95", "producers_accuracy", "producers_ci95"]


def _utm() -> osr.SpatialReference:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    return srs


def write_map(path: Path, nodata: float | None = 0, epsg: int = 32633, pixel: float = 30.0) -> Path:
    """The worked example's map: classes 1-4 in bands of rows, with the paper's pixel counts."""
    rows = [n // WIDTH for n in MAPPED_PIXELS]
    values = np.repeat(np.arange(1, 5, dtype=np.uint8), rows)[:, None] * np.ones((1, WIDTH), np.uint8)
    dataset = gdal.GetDriverByName("GTiff").Create(str(path), WIDTH, sum(rows), 1, gdal.GDT_Byte,
                                                   ["TILED=YES", "COMPRESS=DEFLATE"])
    dataset.SetGeoTransform((500000.0, pixel, 0.0, 5800000.0, 0.0, -pixel))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    dataset.SetProjection(srs.ExportToWkt())
    band = dataset.GetRasterBand(1)
    if nodata is not None:
        band.SetNoDataValue(nodata)
    band.WriteArray(values)
    dataset.SetMetadataItem("LANDCOVER_LEGEND", json.dumps(
        {"codes": [c for c, _ in CLASSES], "names": [n for _, n in CLASSES],
         "colors": ["#d32f2f", "#7cb342", "#1b5e20", "#fbc02d"]}))
    dataset = None
    return path


def sample_points(counts=SAMPLE_COUNTS) -> list[dict]:
    """One point per sample unit of Table 8, on distinct pixels of its map class (stratum)."""
    rng = np.random.default_rng(14)
    first_row = np.concatenate([[0], np.cumsum([n // WIDTH for n in MAPPED_PIXELS])])
    points = []
    for stratum, row_counts in enumerate(counts):
        n = sum(row_counts)
        pixels = rng.choice(MAPPED_PIXELS[stratum], size=n, replace=False)
        references = np.repeat(np.arange(1, 5), row_counts)
        for pixel, reference in zip(pixels.tolist(), references.tolist(), strict=True):
            row, col = first_row[stratum] + pixel // WIDTH, pixel % WIDTH
            points.append({"x": 500000.0 + (col + 0.5) * 30.0, "y": 5800000.0 - (row + 0.5) * 30.0,
                           "map_code": stratum + 1, "stratum": stratum + 1, "reference": reference,
                           "stratum_px": MAPPED_PIXELS[stratum], "map_px": sum(MAPPED_PIXELS)})
    return points


def write_points(path: Path, points: list[dict], fields=("map_code", "stratum", "reference",
                                                         "stratum_px", "map_px")) -> Path:
    source = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = source.CreateLayer("points", _utm(), ogr.wkbPoint)
    for name in fields:
        layer.CreateField(ogr.FieldDefn(name, ogr.OFTInteger64))
    for point in points:
        feature = ogr.Feature(layer.GetLayerDefn())
        for name in fields:
            if point.get(name) is not None:
                feature.SetField(name, int(point[name]))
        feature.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT ({point['x']} {point['y']})"))
        layer.CreateFeature(feature)
    source = None
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("accuracy_area")


@pytest.fixture(scope="module")
def example_map(workdir) -> Path:
    return write_map(workdir / "olofsson_map.tif")


@pytest.fixture(scope="module")
def example_points(workdir) -> Path:
    return write_points(workdir / "olofsson_points.gpkg", sample_points())


def assess(qgis_process, map_path: Path, points: Path, out: Path, **extra):
    parameters = {"INPUT": map_path, "REFERENCE": points, "FIELD": "reference",
                  "OUTPUT_MATRIX": out / "matrix.csv", "OUTPUT_ESTIMATES": out / "estimates.csv",
                  "OUTPUT_REPORT": out / "report.html", **extra}
    return qgis_process.run("landcovercnn:assessaccuracy", parameters)


@pytest.mark.parametrize("design", [0, 2], ids=["stratified-auto", "simple-random"])
def test_worked_example_of_olofsson_2014(qgis_process, example_map, example_points, workdir, design):
    out = workdir / f"design{design}"
    out.mkdir()
    result = assess(qgis_process, example_map, example_points, out, SAMPLING_DESIGN=design)
    assert result.returncode == 0, result.text
    overall = result.results["OVERALL_ACCURACY"], result.results["OVERALL_ACCURACY_CI95"]
    assert (round(overall[0], 2), round(overall[1], 2)) == PAPER_OVERALL
    rows = read_csv(out / "estimates.csv")
    assert list(rows[0]) == ESTIMATE_COLUMNS
    assert [(int(r["code"]), r["name"]) for r in rows] == CLASSES
    assert [float(r["mapped_area_ha"]) for r in rows] == [n * 0.09 for n in MAPPED_PIXELS]
    # the area half-widths are 1.96 standard errors: 1.96 * alpha / 2 (EnMAP-Box) would give ~154 ha
    for column, published in PAPER.items():
        digits = 0 if column.endswith("_ha") else 2
        ours = [round(float(r[column]), digits) for r in rows]
        assert ours == pytest.approx(published, abs=1e-9), column
    # matrix CSV: the sample counts (rows reference); report: chart and area-proportion matrix
    matrix = read_csv(out / "matrix.csv")
    assert [int(r["total"]) for r in matrix] == [69, 56, 175, 340]  # column totals of Table 8
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "0.0176" in report and "0.6212" in report  # Table 9's corner cells
    assert "Area of each class" in report and "Mapped area (ha)" in report
    assert "data:image/png;base64" in report  # the mapped-versus-estimated area chart



def test_sample_size_and_allocation_of_the_worked_example(qgis_process, example_map, workdir):
    """Section 5.1.1 and Table 5 (p. 53) through the algorithm: expected user's accuracies 0.70,
    0.60, 0.90, 0.95 and a target standard error of 0.01 give 641 points (eq. 13), proportionally
    13 / 10 / 205 / 413."""
    result = qgis_process.run("landcovercnn:stratifiedpoints", {
        "INPUT": example_map, "SAMPLE_SIZE": 0, "TARGET_SE": 0.01,
        "EXPECTED_USERS_ACCURACY": "1=0.70, 2=0.60, 3=0.90, 4=0.95", "ALLOCATION": 0, "SEED": 2,
        "OUTPUT": workdir / "table5.gpkg"})
    assert result.returncode == 0, result.text
    assert result.results["REQUIRED_SAMPLE_SIZE"] == 641 and result.results["POINTS"] == 641
    points = read_points(workdir / "table5.gpkg")
    per_stratum = {h: sum(p["stratum"] == h for p in points) for h in range(1, 5)}
    assert per_stratum == {1: 13, 2: 10, 3: 205, 4: 413}
    assert {(p["stratum"], p["stratum_px"], p["map_px"]) for p in points} == {
        (h + 1, n, sum(MAPPED_PIXELS)) for h, n in enumerate(MAPPED_PIXELS)}
    assert {p["class_name"] for p in points} == {name for _, name in CLASSES}



# --- stratifiedpoints -> label -> assessaccuracy on the sample scene -------------------------------
@pytest.fixture(scope="module")
def scene_map(qgis_process, workdir) -> Path:
    """The sample scene classified by the small test model (codes, nodata 0, legend inside)."""
    from lcnn_testing import reference_stack, small_model_file

    path = workdir / "scene_map.tif"
    result = qgis_process.run("landcovercnn:classifyimage", {
        "INPUT": reference_stack(), "MODEL": small_model_file(), "OUTPUT": path})
    assert result.returncode == 0, result.text
    return path


def read_points(path: Path) -> list[dict]:
    source = ogr.Open(str(path))
    layer = source.GetLayer(0)
    points = [{**feature.items(), "x": feature.GetGeometryRef().GetX(), "y": feature.GetGeometryRef().GetY(),
               "fid": feature.GetFID()} for feature in layer]
    return points


def test_stratified_points_are_reproducible_and_carry_the_strata(qgis_process, scene_map, workdir):
    parameters = {"INPUT": scene_map, "TARGET_SE": 0.02, "MIN_PER_CLASS": 30, "SEED": 5}
    first = qgis_process.run("landcovercnn:stratifiedpoints", {**parameters, "OUTPUT": workdir / "s1.gpkg"})
    again = qgis_process.run("landcovercnn:stratifiedpoints", {**parameters, "OUTPUT": workdir / "s2.gpkg"})
    assert first.returncode == 0 and again.returncode == 0, first.text + again.text
    points, repeated = read_points(workdir / "s1.gpkg"), read_points(workdir / "s2.gpkg")
    assert [(p["x"], p["y"]) for p in points] == [(p["x"], p["y"]) for p in repeated]
    values = gdal.Open(str(scene_map)).ReadAsArray()
    codes, numbers = np.unique(values[values != 0], return_counts=True)
    pixels = dict(zip(codes.tolist(), numbers.tolist(), strict=True))
    x0, y0 = 330000.0, 5822040.0
    cells = [(int((y0 - p["y"]) // 20), int((p["x"] - x0) // 20)) for p in points]
    assert len(set(cells)) == len(points) == first.results["POINTS"]
    assert all(values[r, c] == p["map_code"] == p["stratum"] for (r, c), p in zip(cells, points, strict=True))
    assert all(p["stratum_px"] == pixels[p["stratum"]] and p["map_px"] == sum(pixels.values())
               and p["reference"] is None for p in points)
    per_class = {c: sum(p["stratum"] == c for p in points) for c in pixels}
    assert min(per_class.values()) >= min(30, min(pixels.values()))
    names = {p["stratum"]: p["class_name"] for p in points}
    assert not any(name.startswith("class ") for name in names.values())  # the map's legend names


def test_assessment_of_labelled_stratified_points_matches_independent_estimate(qgis_process, scene_map,
                                                                                workdir):
    """Label the points with the OSM polygons (pixels outside them stay unlabelled: non-response)."""
    from lcnn_testing import reference_labels

    labelled = workdir / "labelled.gpkg"
    gdal.VectorTranslate(str(labelled), str(workdir / "s1.gpkg"))
    truth = gdal.Open(str(reference_labels())).ReadAsArray()
    source = ogr.Open(str(labelled), 1)
    layer = source.GetLayer(0)
    for feature in layer:
        geometry = feature.GetGeometryRef()
        code = int(truth[int((5822040.0 - geometry.GetY()) // 20), int((geometry.GetX() - 330000.0) // 20)])
        if code:
            feature.SetField("reference", code)
            layer.SetFeature(feature)
    source = None
    out = workdir / "scene_assessment"
    out.mkdir()
    result = assess(qgis_process, scene_map, labelled, out)
    assert result.returncode == 0, result.text
    points = [p for p in read_points(labelled) if p["reference"] is not None]
    assert "have no reference code" in result.text  # the unlabelled points are reported
    # stratified estimate of overall accuracy: strata weights times the agreement within each stratum
    weights = {p["stratum"]: p["stratum_px"] / p["map_px"] for p in points}
    agreement = {h: np.mean([p["reference"] == p["map_code"] for p in points if p["stratum"] == h])
                 for h in weights}
    expected = sum(weights[h] * agreement[h] for h in weights)
    assert result.results["OVERALL_ACCURACY"] == pytest.approx(expected)
    rows = read_csv(out / "estimates.csv")
    total_ha = points[0]["map_px"] * 0.04
    assert sum(float(r["estimated_area_ha"]) for r in rows) == pytest.approx(total_ha, rel=1e-5)
    assert sum(float(r["mapped_area_ha"]) for r in rows) == pytest.approx(total_ha, rel=1e-5)


# --- bad input: one message naming the parameter, no traceback, no output ------------------------
def _bad_points(case: str, workdir: Path) -> Path:
    points = sample_points()
    if case == "foreign-code":
        points[3]["reference"] = 9
    elif case == "single-point-stratum":
        first_gain = next(i for i, p in enumerate(points) if p["stratum"] == 2)
        points = [p for i, p in enumerate(points) if p["stratum"] != 2 or i == first_gain]
    elif case == "outside":
        points[0]["x"] -= 1_000_000
    return write_points(workdir / f"bad_{case}.gpkg", points)


BAD_CASES = [
    # case, map variant, parameter named, words of the message
    ("foreign-code", "good", "FIELD", ("9 (1 points)", "not classes of the map")),
    ("single-point-stratum", "good", "REFERENCE", ("only one labelled sample point", "variance")),
    ("outside", "good", "REFERENCE", ("1 of 640 points lie outside the map",)),
    ("good", "no-nodata", "INPUT", ("no nodata value",)),
    ("good", "geographic", "INPUT", ("geographic crs", "warp")),
]


@pytest.mark.parametrize("case, variant, parameter, words", BAD_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in BAD_CASES])
def test_bad_input_is_refused_with_a_message_naming_the_parameter(qgis_process, workdir, example_map,
                                                                  case, variant, parameter, words):
    points = _bad_points(case, workdir) if case != "good" else write_points(
        workdir / f"points_{variant}.gpkg", sample_points())
    map_path = example_map
    if variant != "good":
        map_path = write_map(workdir / f"map_{variant}.tif", nodata=None if variant == "no-nodata" else 0,
                             epsg=4326 if variant == "geographic" else 32633,
                             pixel=0.0003 if variant == "geographic" else 30.0)
    out = workdir / f"bad_out_{case}_{variant}"
    out.mkdir()
    result = assess(qgis_process, map_path, points, out, SAMPLING_DESIGN=1)
    assert result.returncode != 0
    message = result.text.lower()
    assert f"{parameter.lower()}:" in message and all(w.lower() in message for w in words), result.text
    assert "traceback" not in message
    assert not list(out.iterdir())
    if variant != "good":  # the sample design refuses the same maps
        drawn = qgis_process.run("landcovercnn:stratifiedpoints",
                                 {"INPUT": map_path, "OUTPUT": out / "p.gpkg"})
        assert drawn.returncode != 0 and "INPUT:" in drawn.text and "Traceback" not in drawn.text
        assert not list(out.iterdir())


def test_polygons_get_no_area_estimate_and_the_report_says_why(qgis_process, scene_map, workdir):
    from lcnn_testing import SAMPLE_DIR

    out = workdir / "polygons"
    out.mkdir()
    result = qgis_process.run("landcovercnn:assessaccuracy", {
        "INPUT": scene_map, "REFERENCE": SAMPLE_DIR / "osm_landuse_water.gpkg", "FIELD": "code",
        "OUTPUT_MATRIX": out / "m.csv", "OUTPUT_REPORT": out / "r.html", "OUTPUT_ESTIMATES": out / "e.csv"})
    assert result.returncode == 0, result.text
    assert not (out / "e.csv").exists() and "OUTPUT_ESTIMATES is not written" in result.text
    assert "not a probability sample" in (out / "r.html").read_text(encoding="utf-8")
    forced = qgis_process.run("landcovercnn:assessaccuracy", {
        "INPUT": scene_map, "REFERENCE": SAMPLE_DIR / "osm_landuse_water.gpkg", "FIELD": "code",
        "SAMPLING_DESIGN": 1, "OUTPUT_MATRIX": out / "m2.csv"})
    assert forced.returncode != 0 and "SAMPLING_DESIGN:" in forced.text and "Traceback" not in forced.text
