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
  1.96 * alpha / 2 standard errors (EnMAP-Box's helper) would give about 302 ha for deforestation.
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
                           "stratum_pixels": MAPPED_PIXELS[stratum], "map_pixels": sum(MAPPED_PIXELS)})
    return points


def write_points(path: Path, points: list[dict], fields=("map_code", "stratum", "reference",
                                                         "stratum_pixels", "map_pixels")) -> Path:
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
    # the area half-widths are 1.96 standard errors: 1.96 * alpha / 2 (EnMAP-Box) would give ~302 ha
    for column, published in PAPER.items():
        digits = 0 if column.endswith("_ha") else 2
        ours = [round(float(r[column]), digits) for r in rows]
        assert ours == pytest.approx(published, abs=1e-9), column
    # matrix CSV: the sample counts (rows reference); report: chart and area-proportion matrix
    matrix = read_csv(out / "matrix.csv")
    assert [int(r["total"]) for r in matrix] == [69, 56, 175, 340]  # column totals of Table 8
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "0.0176" in report and "0.6212" in report  # Table 9's corner cells
    assert "data:image/png;base64" in report  # the mapped-versus-estimated area chart

