"""Data preparation algorithms inside QGIS (processing.run), on the real sample data.

Every expected value comes from an independent GDAL/OGR/numpy computation
(``lcnn_testing.reference_*``), never from the plugin's own code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr, osr
from qgis.core import QgsProcessingException, QgsProcessingFeedback

from lcnn_testing import (
    OSM_CODES,
    SAMPLE_DIR,
    STUDY_BANDS,
    STUDY_GRID,
    band_path,
    read_samples_csv,
    reference_rasterize,
    reference_stack,
)

gdal.UseExceptions()


_COPY: dict[str, Path] = {}


@pytest.fixture(scope="module", autouse=True)
def copied_bands(sample_copy) -> None:
    """band_file() reads the session's copy of the sample data (conftest.sample_copy)."""
    _COPY["dir"] = sample_copy


def band_file(band: str) -> str:
    """A band of the copied sample data."""
    return str(_COPY["dir"] / "IMG_DATA" / band_path(band).name)


@pytest.fixture(scope="module")
def provider(landcover_provider):
    return landcover_provider


def run(algorithm: str, params: dict, feedback: QgsProcessingFeedback | None = None) -> dict:
    import processing

    return processing.run(f"landcovercnn:{algorithm}", params, feedback=feedback)


def ref_stack() -> str:
    return str(reference_stack())


def only_outputs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def study(provider, tmp_path_factory, osm_polygons):
    """The study chain once: stack, labels, regular points, samples by both paths."""
    folder = tmp_path_factory.mktemp("study")
    out = {"folder": folder}
    out["stack"] = run("stackrasters", {"INPUT": [str(band_file(b)) for b in STUDY_BANDS], "PIXEL_SIZE": 20,
                                        "OUTPUT": str(folder / "stack.tif")})
    stack = out["stack"]["OUTPUT"]
    out["labels"] = run("rasterizepolygons", {"INPUT": str(osm_polygons), "FIELD": "code", "REFERENCE": stack,
                                              "OUTPUT": str(folder / "labels.tif")})
    out["points"] = run("regularpoints", {"INPUT": str(osm_polygons), "FIELD": "code",
                                          "NAMES_FIELD": "fclass", "REFERENCE": stack,
                                          "OUTPUT": str(folder / "points.gpkg")})
    out["samples"] = run("samplepoints", {"POINTS": out["points"]["OUTPUT"], "RASTER": stack, "LABEL": "code",
                                          "NAMES_FIELD": "fclass", "OUTPUT": str(folder / "chain.csv")})
    out["extract"] = run("extractsamples", {"RASTER": stack, "POLYGONS": str(osm_polygons), "FIELD": "code",
                                            "NAMES_FIELD": "fclass", "OUTPUT": str(folder / "one.csv")})
    return out


def osm_reference(burn: str, name: str) -> np.ndarray:
    return gdal.Open(str(reference_rasterize(SAMPLE_DIR / "osm_landuse_water.gpkg", "osm_landuse_water",
                                             burn, name))).ReadAsArray()


# --- stackrasters -----------------------------------------------------------------------------

def test_stack_of_study_bands_equals_direct_warp(study):
    stack = gdal.Open(study["stack"]["OUTPUT"])
    assert (stack.RasterXSize, stack.RasterYSize) == (STUDY_GRID["width"], STUDY_GRID["height"])
    srs = osr.SpatialReference(wkt=stack.GetProjection())
    assert srs.GetAuthorityCode(None) == str(STUDY_GRID["epsg"])
    assert [stack.GetRasterBand(i + 1).GetDescription() for i in range(stack.RasterCount)] == STUDY_BANDS
    assert study["stack"]["BAND_NAME_LIST"].split(",") == STUDY_BANDS
    assert {stack.GetRasterBand(i + 1).GetNoDataValue() for i in range(stack.RasterCount)} == {0}
    assert stack.GetRasterBand(1).DataType == gdal.GDT_UInt16  # all inputs integer
    np.testing.assert_array_equal(stack.ReadAsArray(), gdal.Open(ref_stack()).ReadAsArray())
    assert stack.GetMetadata("IMAGE_STRUCTURE").get("COMPRESSION") == "DEFLATE"


def test_stack_mixes_resolution_crs_and_float(provider, tmp_path):
    """A 10 m band, a 20 m band reprojected to EPSG:3035 and a float band onto the 20 m study grid."""
    b02, b05 = str(band_file("B02")), str(band_file("B05"))
    laea = str(tmp_path / "b05_laea.tif")
    gdal.Warp(laea, b05, dstSRS="EPSG:3035", xRes=20, yRes=20)
    as_float = str(tmp_path / "b11_float.tif")
    gdal.Translate(as_float, str(band_file("B11")), outputType=gdal.GDT_Float32)
    result = run("stackrasters", {"INPUT": [b02, laea, as_float], "REFERENCE": ref_stack(),
                                  "RESAMPLING": 4, "OUTPUT": str(tmp_path / "mixed.tif")})
    stack = gdal.Open(result["OUTPUT"])
    assert result["BAND_NAME_LIST"].split(",") == ["B02", "laea", "float"]
    assert stack.GetRasterBand(1).DataType == gdal.GDT_Float32
    g = STUDY_GRID
    bounds = (g["xmin"], g["ymin"], g["xmax"], g["ymax"])
    # Independent: gdal.Warp of each file straight onto the grid, average resampling.
    for index, (path, method) in enumerate([(b02, "average"), (laea, "average"), (as_float, "average")], 1):
        expected = gdal.Warp("", path, format="MEM", outputBounds=bounds, xRes=20, yRes=20,
                             dstSRS=f"EPSG:{g['epsg']}", resampleAlg=method, outputType=gdal.GDT_Float32,
                             dstNodata=-9999, errorThreshold=0).ReadAsArray()
        np.testing.assert_allclose(stack.GetRasterBand(index).ReadAsArray(), expected, rtol=1e-6)


def test_stack_band_names_given(provider, tmp_path):
    result = run("stackrasters", {"INPUT": [str(band_file("B05")), str(band_file("B06"))], "PIXEL_SIZE": 60,
                                  "BAND_NAMES": "red_edge_1, red_edge_2", "RESAMPLING": 1,
                                  "OUTPUT": str(tmp_path / "named.tif")})
    stack = gdal.Open(result["OUTPUT"])
    assert [stack.GetRasterBand(i).GetDescription() for i in (1, 2)] == ["red_edge_1", "red_edge_2"]
    assert (stack.RasterXSize, stack.RasterYSize) == (STUDY_GRID["width"] // 3, STUDY_GRID["height"] // 3)
    expected = gdal.Warp("", str(band_file("B06")), format="MEM", xRes=60, yRes=60,
                         resampleAlg="near").ReadAsArray()
    np.testing.assert_array_equal(stack.GetRasterBand(2).ReadAsArray(), expected)


# --- rasterizepolygons ------------------------------------------------------------------------

def test_rasterized_codes_equal_independent_rasterization(study):
    labels = gdal.Open(study["labels"]["OUTPUT"])
    assert labels.GetGeoTransform() == gdal.Open(study["stack"]["OUTPUT"]).GetGeoTransform()
    assert labels.GetRasterBand(1).GetNoDataValue() == 0
    values = labels.ReadAsArray()
    assert set(np.unique(values)) - {0} <= set(OSM_CODES)
    expected = osm_reference("code", "osm_code_lowfid")
    for code in OSM_CODES:
        assert (values == code).sum() == (expected == code).sum(), code
    np.testing.assert_array_equal(values, expected)
    assert study["labels"]["LABELLED_PIXELS"] == (expected > 0).sum()


def test_rasterize_reprojected_polygons(provider, tmp_path, osm_polygons):
    """Polygons in EPSG:3035 are reprojected onto the UTM grid, not refused."""
    laea = tmp_path / "osm_laea.gpkg"
    gdal.VectorTranslate(str(laea), str(osm_polygons), dstSRS="EPSG:3035", reproject=True)
    result = run("rasterizepolygons", {"INPUT": str(laea), "FIELD": "code", "REFERENCE": ref_stack(),
                                       "OUTPUT": str(tmp_path / "labels.tif")})
    values = gdal.Open(result["OUTPUT"]).ReadAsArray()
    expected = osm_reference("code", "osm_code_lowfid")
    # Two reprojections move vertices by micrometres: only pixel centres on an edge may flip.
    assert (values != expected).mean() < 1e-4
    assert set(np.unique(values)) == set(np.unique(expected))


def test_rasterize_reference_polygons_edge_cases(provider, tmp_path, reference_polygons):
    """pid 18 lies wholly outside the image (no pixel, counted); pid 17 (280 m2) crosses the top edge
    and holds no 20 m pixel centre, but ALL_TOUCHED labels the pixels it touches inside."""
    result = run("rasterizepolygons", {"INPUT": str(reference_polygons), "FIELD": "pid",
                                       "REFERENCE": ref_stack(), "OUTPUT": str(tmp_path / "pid.tif")})
    values = gdal.Open(result["OUTPUT"]).ReadAsArray()
    expected = gdal.Open(str(reference_rasterize(reference_polygons, "s2l1c_ref", "pid", "ref_pid",
                                                 geometry="geometry"))).ReadAsArray()
    np.testing.assert_array_equal(values, expected)
    assert not (values == 18).any() and not (values == 17).any()
    assert result["POLYGONS_OUTSIDE"] == 1
    touched = run("rasterizepolygons", {"INPUT": str(reference_polygons), "FIELD": "pid", "ALL_TOUCHED": True,
                                        "REFERENCE": ref_stack(), "OUTPUT": str(tmp_path / "all.tif")})
    g = STUDY_GRID
    alone = gdal.Rasterize("", str(reference_polygons), format="MEM", outputType=gdal.GDT_Byte,
                           outputBounds=(g["xmin"], g["ymin"], g["xmax"], g["ymax"]), xRes=20, yRes=20,
                           burnValues=[1], allTouched=True, where="pid = 17").ReadAsArray()
    assert alone.sum() > 0
    np.testing.assert_array_equal(gdal.Open(touched["OUTPUT"]).ReadAsArray() == 17, alone == 1)


# --- regularpoints, samplepoints, extractsamples ----------------------------------------------

def read_points(path: str) -> dict[str, np.ndarray]:
    """Point layer as columns x, y, code, polygon_id, polygon_part[, fclass] (via an OGR CSV export)."""
    text = path + ".xy.csv"
    gdal.VectorTranslate(text, path, format="CSV", layerCreationOptions=["GEOMETRY=AS_XY"])
    header, rows = read_samples_csv(Path(text))
    columns = {name.lower(): [row[i] for row in rows] for i, name in enumerate(header)}
    out = {"x": np.array(columns["x"], dtype=float), "y": np.array(columns["y"], dtype=float)}
    for name in ("code", "polygon_id", "polygon_part"):
        if name in columns:
            out[name] = np.array(columns[name], dtype=np.int64)
    if "fclass" in columns:
        out["fclass"] = np.array(columns["fclass"])
    return out


def test_regular_points_one_per_labelled_pixel(study, osm_polygons):
    points = read_points(study["points"]["OUTPUT"])
    g = STUDY_GRID
    cols = (points["x"] - g["xmin"]) / g["pixel_size"] - 0.5
    rows = (g["ymax"] - points["y"]) / g["pixel_size"] - 0.5
    np.testing.assert_array_equal(cols, np.round(cols))  # pixel centres
    np.testing.assert_array_equal(rows, np.round(rows))
    rows, cols = rows.astype(int), cols.astype(int)
    codes = osm_reference("code", "osm_code_lowfid")
    fids = osm_reference("fid", "osm_fid_lowfid")
    assert len(points["x"]) == (codes > 0).sum() == study["points"]["POINTS"]
    assert len(set(zip(rows.tolist(), cols.tolist(), strict=True))) == len(rows)  # one point per pixel
    np.testing.assert_array_equal(points["code"], codes[rows, cols])
    np.testing.assert_array_equal(points["polygon_id"], fids[rows, cols])
    polygons = ogr.Open(str(osm_polygons))
    names = {f.GetFID(): f.GetField("fclass") for f in polygons.GetLayer(0)}
    assert [names[pid] for pid in points["polygon_id"]] == points["fclass"].tolist()
    source = ogr.Open(study["points"]["OUTPUT"])
    assert source.GetLayer(0).GetSpatialRef().GetAuthorityCode(None) == str(g["epsg"])


def test_chain_and_one_step_give_identical_rows(study):
    chain = Path(study["samples"]["OUTPUT"]).read_bytes()
    assert chain == Path(study["extract"]["OUTPUT"]).read_bytes()
    header, rows = read_samples_csv(Path(study["samples"]["OUTPUT"]))
    assert header == ["X", "Y", *STUDY_BANDS, "code", "fclass", "polygon_id", "polygon_part", "Latitude",
                      "Longitude"]
    assert study["samples"]["SAMPLES"] == study["extract"]["SAMPLES"] == len(rows)
    pids = np.array([int(r[header.index("polygon_id")]) for r in rows])
    assert (np.diff(pids) >= 0).all()  # ordered by polygon_id
    # the 4 OSM features of two parts: the rows of their second parts say so (independent: OGR)
    parts = {(int(r[header.index("polygon_id")]), int(r[header.index("polygon_part")])) for r in rows}
    source = ogr.Open(str(SAMPLE_DIR / "osm_landuse_water.gpkg"))
    two_parts = {f.GetFID() for f in source.GetLayer(0) if f.GetGeometryRef().GetGeometryCount() == 2}
    assert len(two_parts) == 4 and {pid for pid, part in parts if part == 1} <= two_parts
    assert {pid for pid, part in parts if part == 1}  # some of them have pixels in both parts


def test_sampled_values_equal_raster(study):
    header, rows = read_samples_csv(Path(study["samples"]["OUTPUT"]))
    stack = gdal.Open(study["stack"]["OUTPUT"]).ReadAsArray()
    codes = osm_reference("code", "osm_code_lowfid")
    valid = (codes > 0) & (stack != 0).all(axis=0)
    assert len(rows) == valid.sum()
    assert study["samples"]["NODATA"] == ((codes > 0) & ~(stack != 0).all(axis=0)).sum()
    rng = np.random.default_rng(3)
    g = STUDY_GRID
    utm, wgs84 = osr.SpatialReference(), osr.SpatialReference()
    utm.ImportFromEPSG(g["epsg"])
    wgs84.ImportFromEPSG(4326)
    to_wgs84 = osr.CoordinateTransformation(utm, wgs84)  # authority order: lat, lon
    for index in rng.choice(len(rows), size=300, replace=False):
        row = rows[index]
        x, y = float(row[0]), float(row[1])
        r, c = int((g["ymax"] - y) // g["pixel_size"]), int((x - g["xmin"]) // g["pixel_size"])
        assert [int(v) for v in row[2:11]] == stack[:, r, c].tolist()
        assert int(row[11]) == codes[r, c]
        lat, lon, _ = to_wgs84.TransformPoint(x, y)
        assert float(row[15]) == pytest.approx(lat, abs=1e-7)
        assert float(row[16]) == pytest.approx(lon, abs=1e-7)


def test_samplepoints_skips_points_outside_raster(provider, tmp_path, reference_polygons):
    """Points on a 20 m spacing in every reference polygon: pid 18's points lie outside the image."""
    points = run("regularpoints", {"INPUT": str(reference_polygons), "FIELD": "cid", "SPACING": 20,
                                   "OUTPUT": str(tmp_path / "points.gpkg")})
    data = read_points_xy(points["OUTPUT"])
    g = STUDY_GRID
    outside = ~((data[:, 0] > g["xmin"]) & (data[:, 0] < g["xmax"]) & (data[:, 1] > g["ymin"])
                & (data[:, 1] < g["ymax"]))
    assert outside.any()
    result = run("samplepoints", {"POINTS": points["OUTPUT"], "RASTER": ref_stack(),
                                  "LABEL": "cid",
                                  "OUTPUT": str(tmp_path / "samples.csv")})
    assert result["OUTSIDE"] == outside.sum()
    assert result["SAMPLES"] == (~outside).sum()
    header, rows = read_samples_csv(tmp_path / "samples.csv")
    assert header[11] == "cid" and len(rows) == result["SAMPLES"]


def test_samplepoints_reprojects_points(provider, tmp_path, study):
    """Points in EPSG:4326 (another CRS than the stack's) give the same rows as the UTM points."""
    wgs84 = tmp_path / "points_wgs84.gpkg"
    gdal.VectorTranslate(str(wgs84), study["points"]["OUTPUT"], dstSRS="EPSG:4326", reproject=True,
                         where="polygon_id < 60")
    result = run("samplepoints", {"POINTS": str(wgs84), "RASTER": study["stack"]["OUTPUT"], "LABEL": "code",
                                  "NAMES_FIELD": "fclass", "OUTPUT": str(tmp_path / "samples.csv")})
    header, rows = read_samples_csv(Path(result["OUTPUT"]))
    expected_header, expected = read_samples_csv(Path(study["samples"]["OUTPUT"]))
    assert header == expected_header
    assert rows == [row for row in expected if int(row[header.index("polygon_id")]) < 60]


def read_points_xy(path: str) -> np.ndarray:
    points = read_points(path)
    return np.column_stack([points["x"], points["y"]])


def test_extractsamples_with_reprojected_polygons(provider, tmp_path, osm_polygons, study):
    wgs84 = tmp_path / "osm_wgs84.gpkg"
    gdal.VectorTranslate(str(wgs84), str(osm_polygons), dstSRS="EPSG:4326", reproject=True)
    result = run("extractsamples", {"RASTER": study["stack"]["OUTPUT"], "POLYGONS": str(wgs84),
                                    "FIELD": "code",
                                    "OUTPUT": str(tmp_path / "samples.csv")})
    _, rows = read_samples_csv(tmp_path / "samples.csv")
    _, reference_rows = read_samples_csv(Path(study["extract"]["OUTPUT"]))
    keys = {(r[0], r[1], r[-4]) for r in rows}  # X, Y, polygon_id
    expected = {(r[0], r[1], r[-4]) for r in reference_rows}
    assert len(keys ^ expected) <= 1e-4 * len(expected)  # centres exactly on an edge may flip
    assert result["SAMPLES"] == len(rows)


def test_max_points_per_polygon_is_seeded_subset(provider, tmp_path, osm_polygons, study):
    params = {"INPUT": str(osm_polygons), "FIELD": "code", "REFERENCE": study["stack"]["OUTPUT"],
              "MAX_POINTS_PER_POLYGON": 25, "SEED": 7}
    first = run("regularpoints", {**params, "OUTPUT": str(tmp_path / "a.gpkg")})
    second = run("regularpoints", {**params, "OUTPUT": str(tmp_path / "b.gpkg")})
    a, b = read_points(first["OUTPUT"]), read_points(second["OUTPUT"])
    np.testing.assert_array_equal(a["x"], b["x"])
    _, counts = np.unique(np.column_stack([a["polygon_id"], a["polygon_part"]]), axis=0, return_counts=True)
    assert counts.max() == 25  # per polygon drawn: each part of a multi-part feature
    full = read_points(study["points"]["OUTPUT"])
    full_keys = set(zip(full["x"].tolist(), full["y"].tolist(), full["polygon_id"].tolist(), strict=True))
    assert set(zip(a["x"].tolist(), a["y"].tolist(), a["polygon_id"].tolist(), strict=True)) <= full_keys
    one_step = run("extractsamples", {"RASTER": study["stack"]["OUTPUT"], "POLYGONS": str(osm_polygons),
                                      "FIELD": "code", "MAX_POINTS_PER_POLYGON": 25, "SEED": 7,
                                      "OUTPUT": str(tmp_path / "one.csv")})
    chain = run("samplepoints", {"POINTS": first["OUTPUT"], "RASTER": study["stack"]["OUTPUT"],
                                 "LABEL": "code", "OUTPUT": str(tmp_path / "chain.csv")})
    assert Path(one_step["OUTPUT"]).read_bytes() == Path(chain["OUTPUT"]).read_bytes()


def test_names_field_keeps_its_old_name(provider, tmp_path, osm_polygons, study):
    """Scripts and models saved before NAMES_FIELD pass CLASS_NAME_FIELD: same samples."""
    params = {"RASTER": study["stack"]["OUTPUT"], "POLYGONS": str(osm_polygons), "FIELD": "code",
              "MAX_POINTS_PER_POLYGON": 5}
    new = run("extractsamples", {**params, "NAMES_FIELD": "fclass", "OUTPUT": str(tmp_path / "new.csv")})
    old = run("extractsamples", {**params, "CLASS_NAME_FIELD": "fclass", "OUTPUT": str(tmp_path / "old.csv")})
    assert Path(new["OUTPUT"]).read_bytes() == Path(old["OUTPUT"]).read_bytes()
    header, _ = read_samples_csv(Path(old["OUTPUT"]))
    assert header[header.index("code") + 1] == "fclass"


def test_inset_keeps_distance_from_edges(provider, tmp_path, reference_polygons):
    params = {"INPUT": str(reference_polygons), "FIELD": "cid", "REFERENCE": ref_stack()}
    full = read_points_xy(run("regularpoints", {**params, "OUTPUT": str(tmp_path / "a.gpkg")})["OUTPUT"])
    inset = read_points_xy(run("regularpoints", {**params, "INSET": 30,
                                                 "OUTPUT": str(tmp_path / "b.gpkg")})["OUTPUT"])
    assert 0 < len(inset) < len(full)
    source = ogr.Open(str(reference_polygons))
    boundaries = [f.GetGeometryRef().Boundary().Clone() for f in source.GetLayer(0)]
    for x, y in inset[:: max(1, len(inset) // 200)]:
        point = ogr.Geometry(ogr.wkbPoint)
        point.AddPoint_2D(float(x), float(y))
        assert min(b.Distance(point) for b in boundaries) >= 30 - 1e-6


def test_progress_and_cancel_leave_no_output(provider, tmp_path, osm_polygons, study):
    feedback = QgsProcessingFeedback()
    seen: list[float] = []

    def on_progress(value: float) -> None:
        seen.append(value)
        if value > 20:
            feedback.cancel()

    feedback.progressChanged.connect(on_progress)
    output = tmp_path / "canceled.csv"
    run("extractsamples", {"RASTER": study["stack"]["OUTPUT"], "POLYGONS": str(osm_polygons), "FIELD": "code",
                           "OUTPUT": str(output)}, feedback=feedback)
    assert seen and max(seen) < 100
    assert only_outputs(tmp_path) == []


# --- bad input: a message naming the parameter, nothing written -------------------------------

def _no_crs_stack(folder: Path) -> str:
    path = folder / "no_crs.tif"
    gdal.Translate(str(path), ref_stack(), srcWin=[0, 0, 64, 64])
    dataset = gdal.Open(str(path), gdal.GA_Update)
    dataset.SetProjection("")
    dataset = None
    return str(path)


def _layer_copy(folder: Path, source: Path, sql: str, name: str) -> str:
    path = folder / f"{name}.gpkg"
    gdal.VectorTranslate(str(path), str(source), SQLStatement=sql, SQLDialect="SQLITE", layerName=name)
    return str(path)


BAD_INPUTS = {
    "field missing": ("rasterizepolygons", "FIELD", "no field 'klasse'",
                      lambda d, osm, ref: {"FIELD": "klasse"}),
    "text field": ("rasterizepolygons", "FIELD", "not integer", lambda d, osm, ref: {"FIELD": "fclass"}),
    "float field": ("extractsamples", "FIELD", "not integer", lambda d, osm, ref: {
        "POLYGONS": _layer_copy(d, osm, "SELECT CAST(code AS REAL) AS code, geom FROM osm_landuse_water",
                                "real_code")}),
    "empty layer": ("regularpoints", "INPUT", "no features", lambda d, osm, ref: {
        "INPUT": _layer_copy(d, osm, "SELECT * FROM osm_landuse_water WHERE 0", "empty")}),
    "no overlap": ("extractsamples", "POLYGONS", "no polygon overlaps", lambda d, osm, ref: {
        "POLYGONS": _layer_copy(d, ref, "SELECT * FROM s2l1c_ref WHERE pid = 18", "outside"),
        "FIELD": "cid"}),
    "raster without CRS": ("extractsamples", "RASTER", "no coordinate reference system",
                           lambda d, osm, ref: {"RASTER": _no_crs_stack(d)}),
    "pixel size 0": ("stackrasters", "PIXEL_SIZE", "positive", lambda d, osm, ref: {"PIXEL_SIZE": 0}),
    "pixel size negative": ("stackrasters", "PIXEL_SIZE", "-20", lambda d, osm, ref: {"PIXEL_SIZE": -20}),
    "no grid": ("stackrasters", "PIXEL_SIZE", "reference raster", lambda d, osm, ref: {}),
    "reference and CRS differ": ("stackrasters", "CRS", "EPSG:3035", lambda d, osm, ref: {
        "REFERENCE": ref_stack(), "CRS": "EPSG:3035"}),
    "resampling nonsense": ("stackrasters", "RESAMPLING", "", lambda d, osm, ref: {"PIXEL_SIZE": 20,
                                                                                   "RESAMPLING": 9}),
    "band names count": ("stackrasters", "BAND_NAMES", "2 names given for 1 bands", lambda d, osm, ref: {
        "PIXEL_SIZE": 20, "BAND_NAMES": "a,b"}),
    "output folder missing": ("samplepoints", "OUTPUT", "does not exist", lambda d, osm, ref: {
        "OUTPUT": str(d / "not_a_folder.txt" / "samples.csv")}),
    "spacing missing": ("regularpoints", "SPACING", "spacing", lambda d, osm, ref: {"REFERENCE": None}),
}


def _base_params(algorithm: str, folder: Path, osm: Path) -> dict:
    stack = ref_stack()
    return {
        "stackrasters": {"INPUT": [str(band_file("B05"))], "OUTPUT": str(folder / "out.tif")},
        "rasterizepolygons": {"INPUT": str(osm), "FIELD": "code", "REFERENCE": stack,
                              "OUTPUT": str(folder / "out.tif")},
        "regularpoints": {"INPUT": str(osm), "FIELD": "code", "REFERENCE": stack,
                          "OUTPUT": str(folder / "out.gpkg")},
        "samplepoints": {"POINTS": str(folder / "points.gpkg"), "RASTER": stack, "LABEL": "cid",
                         "OUTPUT": str(folder / "out.csv")},
        "extractsamples": {"RASTER": stack, "POLYGONS": str(osm), "FIELD": "code",
                           "OUTPUT": str(folder / "out.csv")},
    }[algorithm]


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_names_parameter_and_writes_nothing(provider, tmp_path, osm_polygons, reference_polygons,
                                                      case):
    algorithm, parameter, text, change = BAD_INPUTS[case]
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    if algorithm == "samplepoints":
        run("regularpoints", {"INPUT": str(reference_polygons), "FIELD": "cid", "SPACING": 100,
                              "OUTPUT": str(inputs / "points.gpkg")})
    params = {**_base_params(algorithm, inputs, osm_polygons),
              **change(inputs, osm_polygons, reference_polygons)}
    params["OUTPUT"] = params["OUTPUT"].replace(str(inputs), str(tmp_path))
    (tmp_path / "not_a_folder.txt").write_text("a file, not a folder")
    before = only_outputs(tmp_path)
    with pytest.raises(QgsProcessingException) as error:
        run(algorithm, {k: v for k, v in params.items() if v is not None})
    message = str(error.value)
    assert parameter in message and text in message, message
    assert "Traceback" not in message
    assert only_outputs(tmp_path) == before
