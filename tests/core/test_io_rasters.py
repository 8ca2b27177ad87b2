"""core.io.rasters on real rasters: the one validity rule, band names and matching, exact reading.

The rasters are the sample scene's stack written in other types and with nodata set, as users'
rasters come: Float32 with NaN or a float nodata, Int32 with large values, UInt16 with a nodata
its type cannot hold. The oracle for validity is GDAL's own nodata mask (``GetMaskBand``), which
knows nothing of the plugin, combined with "the value is finite".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from landcover_cnn_plugin.core.errors import UserInputError
from landcover_cnn_plugin.core.io.blocks import iter_blocks, read_valid_block
from landcover_cnn_plugin.core.io.rasters import (
    RasterBands,
    band_names,
    band_nodata,
    match_bands,
    open_raster,
    read_window,
    valid_pixels,
)
from lcnn_testing import STUDY_BANDS, reference_stack

gdal.UseExceptions()


@pytest.fixture(scope="module")
def stack() -> np.ndarray:
    """The real 9-band stack, uint16 (9, 384, 768)."""
    return gdal.Open(str(reference_stack())).ReadAsArray()


def write_like_stack(path: Path, values: np.ndarray, gdal_type: int, nodata: float | None) -> str:
    """``values`` (bands, rows, cols) as a GeoTIFF on the stack's grid, bands named like the stack's."""
    source = gdal.Open(str(reference_stack()))
    out = gdal.GetDriverByName("GTiff").Create(str(path), values.shape[2], values.shape[1], len(values),
                                               gdal_type)
    out.SetGeoTransform(source.GetGeoTransform())
    out.SetProjection(source.GetProjection())
    for index, band_values in enumerate(values, start=1):
        band = out.GetRasterBand(index)
        band.WriteArray(band_values)
        band.SetDescription(STUDY_BANDS[index - 1])
        if nodata is not None:
            band.SetNoDataValue(nodata)
    out = None
    return str(path)


def float32_nan(stack, path):
    """Reflectance (DN / 10000) as Float32, nodata NaN; a cloud patch set to NaN in two bands."""
    values = stack.astype(np.float32) / 10000
    values[[2, 5], 40:90, 300:380] = np.nan
    return write_like_stack(path, values, gdal.GDT_Float32, float("nan"))


def float32_point1(stack, path):
    """Float32 with nodata 0.1 (no float32 equals 0.1 exactly): pixels holding float32(0.1) are nodata."""
    values = stack.astype(np.float32) / 10000
    values[1, 100:140, 200:260] = np.float32(0.1)
    return write_like_stack(path, values, gdal.GDT_Float32, 0.1)


def int32_large(stack, path):
    """Int32 above 2**24 (float32 cannot tell neighbours apart there), nodata one of its values."""
    values = stack.astype(np.int32) + (1 << 24)
    nodata = int(values[0, 200, 200])
    values[0, 10:20, 10:30] = nodata
    values[0, 20:30, 10:30] = nodata + 1  # valid, although float32(nodata + 1) == float32(nodata)
    return write_like_stack(path, values, gdal.GDT_Int32, nodata)


def uint16_minus1(stack, path):
    """UInt16 with nodata -1: no UInt16 value can be nodata (GDAL masks nothing)."""
    return write_like_stack(path, stack, gdal.GDT_UInt16, -1)


CASES = [float32_nan, float32_point1, int32_large, uint16_minus1]


def gdal_valid(path: str, numbers: list[int] | None = None) -> np.ndarray:
    """The independent oracle: GDAL's nodata masks of the bands (default all), and finite values."""
    dataset = gdal.Open(path)
    numbers = numbers or list(range(1, dataset.RasterCount + 1))
    masks = np.stack([dataset.GetRasterBand(i).GetMaskBand().ReadAsArray() for i in numbers])
    values = np.stack([dataset.GetRasterBand(i).ReadAsArray() for i in numbers])
    finite = np.isfinite(values).all(axis=0) if values.dtype.kind == "f" else True
    return (masks == 255).all(axis=0) & finite


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_validity_equals_gdal_nodata_mask(stack, tmp_path, case):
    path = case(stack, tmp_path / f"{case.__name__}.tif")
    dataset = open_raster(path)
    bands = RasterBands.of(dataset)
    values = read_window(dataset, (0, 0, dataset.RasterXSize, dataset.RasterYSize))
    valid = bands.valid(values)
    expected = gdal_valid(path)
    np.testing.assert_array_equal(valid, expected)
    if case is uint16_minus1:
        assert valid.all() and bands.nodata == (None,) * 9
    else:
        assert 0 < valid.sum() < valid.size


def test_nodata_is_compared_in_the_bands_type(stack, tmp_path):
    float_path = float32_point1(stack, tmp_path / "f32.tif")
    bands = RasterBands.of(open_raster(float_path))
    assert bands.nodata[1] == np.float32(0.1) and bands.nodata[1].dtype == np.float32
    int_path = int32_large(stack, tmp_path / "i32.tif")
    dataset = open_raster(int_path)
    values = read_window(dataset, (0, 0, 40, 40))
    assert values.dtype == np.int32
    valid = RasterBands.of(dataset).valid(values)
    assert not valid[10:20, 10:30].any() and valid[20:30, 10:30].all()
    # as float32 the two would be one value: the rule must not round before comparing
    assert np.float32(values[0, 10, 10]) == np.float32(values[0, 25, 10])


def test_band_nodata_rules():
    assert band_nodata(None, np.dtype(np.float32)) is None
    assert band_nodata(float("nan"), np.dtype(np.float32)) is None  # NaN values are invalid anyway
    assert band_nodata(-1.0, np.dtype(np.uint16)) is None
    assert band_nodata(0.5, np.dtype(np.int16)) is None
    assert band_nodata(-99.0, np.dtype(np.int16)) == np.int16(-99)
    assert band_nodata(1e40, np.dtype(np.float32)) is None  # no float32 holds it
    # float32's lowest written with 15 digits (beyond float32's range as a double) is that value
    # once rounded to the band's type (GDAL's GeoTIFF and VRT readers adjust it the same way)
    assert band_nodata(-3.40282346638529e+38, np.dtype(np.float32)) == np.finfo(np.float32).min


def test_finite_values_and_nodata_in_one_rule(stack):
    """NaN and infinite values are invalid whatever the nodata value, in any band."""
    values = stack[:3, :50, :50].astype(np.float32)
    nodata = np.float32(values[2, 3, 3])
    values[0, 0, 0], values[1, 1, 1], values[2, 2, 2] = np.nan, -np.inf, nodata
    valid = valid_pixels(values, (None, None, nodata))
    assert not valid[0, 0] and not valid[1, 1] and not valid[2, 2] and not valid[3, 3]
    np.testing.assert_array_equal(valid, np.isfinite(values).all(axis=0) & (values[2] != nodata))


@pytest.mark.parametrize("case", [float32_nan, int32_large], ids=lambda case: case.__name__)
def test_walker_blocks_follow_the_rule(stack, tmp_path, case):
    """Classification's and patch cutting's reader: halo blocks equal the edge-padded full-image rule."""
    path = case(stack, tmp_path / "raster.tif")
    dataset = open_raster(path)
    bands = RasterBands.of(dataset, ["B05", "B03"])
    assert bands.numbers == (3, 1)
    full_values = read_window(dataset, (0, 0, 768, 384), bands.numbers)
    halo = 3
    padded_valid = np.pad(gdal_valid(path, [3, 1]), halo, mode="edge")
    assert not padded_valid.all()
    padded_values = np.pad(full_values.astype(np.float32), [(0, 0), (halo, halo), (halo, halo)], mode="edge")
    for block in iter_blocks(768, 384, 300, 100, halo):
        values, valid = read_valid_block(dataset, block, bands)
        rows = slice(block.y_off, block.y_off + block.height + 2 * halo)
        cols = slice(block.x_off, block.x_off + block.width + 2 * halo)
        assert values.dtype == np.float32
        np.testing.assert_array_equal(values, padded_values[:, rows, cols])
        np.testing.assert_array_equal(valid, padded_valid[rows, cols])


def test_read_window_keeps_mixed_band_types_exact(stack, tmp_path):
    """An Int32 band beside a Float32 band: GDAL alone reads both as float32 and rounds the integers."""
    ints = write_like_stack(tmp_path / "i.tif", stack[:1].astype(np.int32) + (1 << 24) + 1,
                            gdal.GDT_Int32, None)
    floats = write_like_stack(tmp_path / "f.tif", stack[1:2].astype(np.float32) / 3, gdal.GDT_Float32, None)
    vrt = str(tmp_path / "mixed.vrt")
    gdal.BuildVRT(vrt, [ints, floats], separate=True).FlushCache()
    dataset = open_raster(vrt)
    values = read_window(dataset, (0, 0, 768, 384))
    assert values.dtype == np.float64 and RasterBands.of(dataset).dtype == np.float64
    np.testing.assert_array_equal(values[0], stack[0].astype(np.int64) + (1 << 24) + 1)
    np.testing.assert_array_equal(values[1], (stack[1].astype(np.float32) / 3).astype(np.float64))
    assert (dataset.ReadAsArray()[0] != values[0]).any()  # what a plain read would have given


def renamed_stack(tmp_path, names: dict[int, str]) -> str:
    """The real stack as a VRT with some band descriptions changed ('' clears one)."""
    path = str(tmp_path / "renamed.vrt")
    gdal.Translate(path, str(reference_stack()), format="VRT")
    dataset = gdal.Open(path, gdal.GA_Update)
    for number, name in names.items():
        dataset.GetRasterBand(number).SetDescription(name)
    dataset = None
    return path


def test_band_names_fall_back_to_band_numbers(tmp_path):
    dataset = open_raster(renamed_stack(tmp_path, {2: "", 9: ""}))
    assert band_names(dataset) == ["B03", "band_2", *STUDY_BANDS[2:8], "band_9"]


def test_matching_follows_the_wanted_order():
    assert match_bands(list(reversed(STUDY_BANDS)), STUDY_BANDS) == list(range(9))[::-1]
    assert match_bands(STUDY_BANDS, ["B12", "B03"]) == [8, 0]


def test_duplicate_band_names_are_refused_everywhere_bands_are_matched(tmp_path):
    """Band 9 also named B03: which B03 the model meant cannot be told, so it is refused."""
    from landcover_cnn_plugin.core.patches import cut_patches

    dataset = open_raster(renamed_stack(tmp_path, {9: "B03"}))
    with pytest.raises(UserInputError, match="several bands of the raster are named B03") as info:
        RasterBands.of(dataset, STUDY_BANDS[:8], "INPUT")
    assert info.value.parameter == "INPUT" and str(STUDY_BANDS[:8]) in info.value.message
    with pytest.raises(UserInputError, match="several bands") as info:
        cut_patches(dataset.GetDescription(), [5], [5], 3, ["B04", "B03"])
    assert info.value.parameter == "RASTER"
    # names the model does not use may repeat
    assert RasterBands.of(dataset, ["B05", "B04"]).numbers == (3, 2)


def test_missing_band_names_both_lists():
    with pytest.raises(UserInputError) as info:
        match_bands(["B03", "B04", "NIR"], ["B03", "B08"], "SAMPLES", "the samples")
    message = info.value.message
    assert info.value.parameter == "SAMPLES" and "no band of the samples is named B08" in message
    assert "['B03', 'B08']" in message and "['B03', 'B04', 'NIR']" in message


def test_open_raster_names_the_parameter(tmp_path):
    text = tmp_path / "not_a_raster.tif"
    text.write_text("not a raster", encoding="utf-8")
    for path in (text, tmp_path / "missing.tif"):
        with pytest.raises(UserInputError) as info:
            open_raster(path, "RASTER")
        assert info.value.parameter == "RASTER" and str(path) in info.value.message


def osm_polygons():
    """The OSM training polygons as LabelPolygons (read with OGR: the QGIS side is not in these tests)."""
    from osgeo import ogr

    from landcover_cnn_plugin.core.io.rasterize import LabelPolygons
    from lcnn_testing import SAMPLE_DIR

    source = ogr.Open(str(SAMPLE_DIR / "osm_landuse_water.gpkg"))
    layer = source.GetLayer(0)
    rows = [(f.GetFID(), f.GetField("code"), bytes(f.GetGeometryRef().ExportToWkb()), f.GetField("fclass"))
            for f in layer]
    fids, codes, wkbs, names = zip(*rows, strict=True)
    return LabelPolygons(np.array(fids), np.array(codes), list(wkbs), list(names))


@pytest.mark.parametrize("case", [float32_nan, int32_large], ids=lambda case: case.__name__)
def test_samples_and_patches_follow_the_same_rule(stack, tmp_path, case):
    """A labelled pixel is a row of the samples CSV exactly when classification and patch cutting
    see it as valid (the issue: two rules let a pixel be a sample under one and nodata under the other)."""
    import csv

    from landcover_cnn_plugin.core.io.grid import Grid
    from landcover_cnn_plugin.core.io.rasterize import PolygonRasterizer
    from landcover_cnn_plugin.core.patches import cut_patches
    from landcover_cnn_plugin.core.sampling import extract_samples_to_csv

    path = case(stack, tmp_path / "raster.tif")
    grid = Grid.from_dataset(open_raster(path))
    rasterizer = PolygonRasterizer(osm_polygons(), grid)
    csv_path = tmp_path / "samples.csv"
    counts = extract_samples_to_csv(rasterizer, path, str(csv_path), "code", "fclass")
    with open(csv_path, newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    rows, cols, _ = grid.pixel_of(np.array([float(r["X"]) for r in table]),
                                  np.array([float(r["Y"]) for r in table]))
    labelled_rows, labelled_cols = np.nonzero(rasterizer.winners(0, 0, grid.width, grid.height))
    valid = gdal_valid(path)
    expected = valid[labelled_rows, labelled_cols]
    assert counts.nodata == int((~expected).sum()) > 0 and counts.written == len(table)
    assert set(zip(rows.tolist(), cols.tolist(), strict=True)) == \
        set(zip(labelled_rows[expected].tolist(), labelled_cols[expected].tolist(), strict=True))
    patches = cut_patches(path, labelled_rows, labelled_cols, 3)
    np.testing.assert_array_equal(patches.centre_valid, expected)
