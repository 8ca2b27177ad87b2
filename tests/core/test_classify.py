"""Block-wise classification on the real stack with a really trained (small) model."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from landcover_cnn_plugin.core.atomic import partial_files
from landcover_cnn_plugin.core.classify import CONFIDENCE_NODATA, classify_raster
from landcover_cnn_plugin.core.errors import JobCanceled, UserInputError
from landcover_cnn_plugin.core.io.rasters import match_bands
from landcover_cnn_plugin.core.model_file import load_model_file
from lcnn_testing import STUDY_BANDS, reference_stack, small_model_file

gdal.UseExceptions()


@pytest.fixture(scope="module")
def model():
    return load_model_file(small_model_file())


@pytest.fixture(scope="module")
def classified(model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("classified")
    paths = {name: str(folder / f"{name}.tif") for name in ("map", "confidence", "proba")}
    # a small budget: many blocks, so seams are exercised
    result = classify_raster(str(reference_stack()), model, paths["map"], paths["confidence"],
                             paths["proba"], memory_mb=8)
    return paths, result


def test_map_holds_legend_codes_with_colours_and_style(model, classified):
    paths, result = classified
    assert result["n_blocks"] > 1
    ds = gdal.Open(paths["map"])
    band = ds.GetRasterBand(1)
    data = band.ReadAsArray()
    assert set(np.unique(data)) <= set(model.legend.codes)  # no nodata in the stack: all classified
    assert band.DataType == gdal.GDT_UInt16 and band.GetNoDataValue() == 0
    assert ds.GetMetadata("IMAGE_STRUCTURE")["COMPRESSION"] == "DEFLATE"
    assert band.GetBlockSize() == [256, 256]
    table = band.GetColorTable()
    for code, color in zip(model.legend.codes, model.legend.colors, strict=True):
        assert "#{:02x}{:02x}{:02x}".format(*table.GetColorEntry(code)[:3]) == color.lower()
        assert band.GetCategoryNames()[code] == model.legend.name_of(code)
    qml = Path(os.path.splitext(paths["map"])[0] + ".qml").read_text(encoding="utf-8")
    assert qml.count("<paletteEntry") == len(model.legend.codes)
    assert sum(result["class_pixels"].values()) == data.size == result["valid_pixels"]
    assert not partial_files(paths["map"])


def test_confidence_and_probabilities(model, classified):
    paths, _ = classified
    conf = gdal.Open(paths["confidence"]).ReadAsArray()
    proba_ds = gdal.Open(paths["proba"])
    proba = proba_ds.ReadAsArray()
    assert conf.dtype == np.float32 and proba.shape[0] == len(model.legend.codes)
    assert (conf >= 1.0 / len(model.legend.codes) - 1e-6).all() and (conf <= 1.0 + 1e-6).all()
    np.testing.assert_allclose(proba.sum(axis=0), 1.0, atol=1e-4)
    np.testing.assert_allclose(proba.max(axis=0), conf, atol=1e-6)
    names = [proba_ds.GetRasterBand(i + 1).GetDescription() for i in range(proba_ds.RasterCount)]
    assert names == list(model.legend.names)


def test_map_equals_in_memory_prediction_on_a_window(model, classified):
    paths, _ = classified
    stack = gdal.Open(str(reference_stack())).ReadAsArray(250, 200, 60, 40).astype(np.float32)
    features = stack.reshape(len(STUDY_BANDS), -1).T
    expected = np.asarray(model.legend.codes)[model.predict_proba(features).argmax(axis=1)]
    mapped = gdal.Open(paths["map"]).ReadAsArray(250, 200, 60, 40).reshape(-1)
    np.testing.assert_array_equal(mapped, expected)


def test_block_size_does_not_change_the_map(model, classified, tmp_path):
    paths, _ = classified
    other = str(tmp_path / "one_block.tif")
    result = classify_raster(str(reference_stack()), model, other, memory_mb=512)
    assert result["n_blocks"] == 1
    np.testing.assert_array_equal(gdal.Open(other).ReadAsArray(), gdal.Open(paths["map"]).ReadAsArray())


def test_nodata_and_mask_become_nodata_everywhere(model, tmp_path):
    stack = gdal.Open(str(reference_stack()))
    b05 = stack.GetRasterBand(3).ReadAsArray()
    nodata_value = int(b05[100, 100])
    vrt = str(tmp_path / "stack_nodata.vrt")
    gdal.Translate(vrt, stack, format="VRT")
    ds = gdal.Open(vrt, gdal.GA_Update)
    ds.GetRasterBand(3).SetNoDataValue(nodata_value)
    ds = None
    mask = tmp_path / "mask.tif"
    mask_ds = gdal.GetDriverByName("GTiff").Create(str(mask), stack.RasterXSize, stack.RasterYSize, 1,
                                                   gdal.GDT_Byte)
    mask_ds.SetGeoTransform(stack.GetGeoTransform())
    mask_ds.SetProjection(stack.GetProjection())
    inside = np.zeros((stack.RasterYSize, stack.RasterXSize), dtype=np.uint8)
    inside[:, :500] = 1
    mask_ds.GetRasterBand(1).WriteArray(inside)
    mask_ds = None
    before = (Path(vrt).read_bytes(), mask.read_bytes())
    out, conf, proba = (str(tmp_path / f"{n}.tif") for n in ("map", "conf", "proba"))
    classify_raster(vrt, model, out, conf, proba, mask=str(mask), memory_mb=4)
    expected_invalid = (b05 == nodata_value) | (inside == 0)
    assert expected_invalid[:, :500].any()
    mapped = gdal.Open(out).ReadAsArray()
    np.testing.assert_array_equal(mapped == 0, expected_invalid)
    assert (gdal.Open(conf).ReadAsArray()[expected_invalid] == CONFIDENCE_NODATA).all()
    assert (gdal.Open(proba).ReadAsArray()[:, expected_invalid] == CONFIDENCE_NODATA).all()
    assert (Path(vrt).read_bytes(), mask.read_bytes()) == before  # inputs not modified


def test_band_mismatch_names_both_lists(model, tmp_path):
    with pytest.raises(UserInputError) as info:
        match_bands(["B03", "B04", "B05", "nir"], model.feature_names)
    assert info.value.parameter == "INPUT"
    assert "['B03', 'B04', 'B05', 'nir']" in info.value.message
    assert str(model.feature_names) in info.value.message
    assert not list(tmp_path.iterdir())


def test_cancel_deletes_partial_outputs(model, tmp_path):
    out, conf = str(tmp_path / "map.tif"), str(tmp_path / "conf.tif")
    calls = []

    def is_canceled():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(JobCanceled):
        classify_raster(str(reference_stack()), model, out, conf, memory_mb=2, is_canceled=is_canceled)
    assert len(calls) == 3
    assert list(tmp_path.iterdir()) == []


def test_quicklook_png_uses_the_legend_colours(model, classified, tmp_path):
    from matplotlib.image import imread

    from landcover_cnn_plugin.core.quicklook import write_quicklook_png

    paths, result = classified
    png = write_quicklook_png(paths["map"], str(tmp_path / "map.png"), max_pixels=100_000)
    pixels = (imread(png)[..., :3] * 255).round().astype(int)
    present = {tuple(p) for p in pixels.reshape(-1, 3).tolist()}
    for code, color in zip(model.legend.codes, model.legend.colors, strict=True):
        if result["class_pixels"][str(code)]:  # every mapped class shows in its legend colour
            assert tuple(int(color[i:i + 2], 16) for i in (1, 3, 5)) in present


def test_small_gdal_cache_flushing_mid_run_keeps_colour_table(model, tmp_path):
    """Blocks flushed to disk before the end (large rasters) must not break the colour table."""
    previous = gdal.GetCacheMax()
    gdal.SetCacheMax(256 * 1024)  # far smaller than one output block: every block is flushed
    try:
        out = str(tmp_path / "map.tif")
        result = classify_raster(str(reference_stack()), model, out, memory_mb=4)
    finally:
        gdal.SetCacheMax(previous)
    assert result["n_blocks"] > 1
    dataset = gdal.Open(out)
    band = dataset.GetRasterBand(1)
    assert band.GetColorTable().GetCount() > max(model.legend.codes)
    assert set(np.unique(band.ReadAsArray()).tolist()) <= set(model.legend.codes)
