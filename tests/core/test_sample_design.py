"""Stratified random points from a class map (core.sample_design) on the sample scene's OSM map."""

from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal

from landcover_cnn_plugin.core.errors import UserInputError
from landcover_cnn_plugin.core.io.class_maps import open_class_map
from landcover_cnn_plugin.core.sample_design import allocate, count_classes, draw_points, expected_accuracies
from lcnn_testing import reference_labels

gdal.UseExceptions()


@pytest.fixture(scope="module")
def osm_map(tmp_path_factory):
    """The OSM codes rasterized on the study grid (0 = no polygon) as a class map with nodata 0."""
    path = tmp_path_factory.mktemp("design") / "osm_map.vrt"
    gdal.Translate(str(path), str(reference_labels()), format="VRT", noData=0)
    return path


def test_pixel_counts_match_the_map(osm_map):
    values = gdal.Open(str(osm_map)).ReadAsArray()
    codes, numbers = np.unique(values[values != 0], return_counts=True)
    counted = count_classes(open_class_map(str(osm_map)), memory_mb=0.05)  # many strips
    assert counted == dict(zip(codes.tolist(), numbers.tolist(), strict=True))


def test_points_lie_on_distinct_pixels_of_their_stratum_and_repeat_for_a_seed(osm_map):
    class_map = open_class_map(str(osm_map))
    pixels = count_classes(class_map)
    allocation = allocate(600, pixels, "minimum", 50)
    rows, cols, codes = draw_points(class_map, allocation, pixels, seed=7)
    values = gdal.Open(str(osm_map)).ReadAsArray()
    np.testing.assert_array_equal(values[rows, cols], codes)
    assert len(set(zip(rows.tolist(), cols.tolist(), strict=True))) == len(rows) == sum(allocation.values())
    assert {c: int((codes == c).sum()) for c in allocation} == allocation
    again = draw_points(class_map, allocation, pixels, seed=7, memory_mb=0.02)  # other strips
    for first, second in zip((rows, cols, codes), again, strict=True):
        np.testing.assert_array_equal(first, second)
    other = draw_points(class_map, allocation, pixels, seed=8)
    assert not np.array_equal(other[0], rows)


def test_each_stratum_is_sampled_uniformly(osm_map):
    """Over many draws every pixel of a small stratum is picked about equally often."""
    class_map = open_class_map(str(osm_map))
    pixels = count_classes(class_map)
    rare = min(pixels, key=pixels.get)
    hits = np.zeros(pixels[rare])
    values = gdal.Open(str(osm_map)).ReadAsArray()
    flat_index = {p: i for i, p in enumerate(np.flatnonzero(values == rare).tolist())}
    for seed in range(200):
        rows, cols, codes = draw_points(class_map, {rare: 50}, pixels, seed)
        for pixel in (rows * values.shape[1] + cols).tolist():
            hits[flat_index[pixel]] += 1
    expected = 200 * 50 / pixels[rare]
    # chi-square of uniform picks: mean 1 per degree of freedom (loose bound)
    assert ((hits - expected) ** 2 / expected).sum() / (len(hits) - 1) < 1.3


def test_expected_accuracies_parse_and_refuse():
    assert expected_accuracies("7201=0.9; 7203=0.6", [7201, 7203, 7205], 0.8) == {
        7201: 0.9, 7203: 0.6, 7205: 0.8}
    for text, words in (("7201:0.9", "code=accuracy"), ("9999=0.9", "not in the map"),
                        ("7201=90", "fraction")):
        with pytest.raises(UserInputError, match=words) as error:
            expected_accuracies(text, [7201], 0.8)
        assert error.value.parameter == "EXPECTED_USERS_ACCURACY"


def test_maps_without_nodata_or_in_geographic_crs_are_refused(tmp_path):
    with pytest.raises(UserInputError, match="no nodata value") as error:
        open_class_map(str(reference_labels()))
    assert error.value.parameter == "INPUT"
    geographic = tmp_path / "geographic.vrt"
    gdal.Translate(str(geographic), str(reference_labels()), format="VRT", noData=0, outputSRS="EPSG:4326",
                   outputBounds=(13.0, 52.6, 13.2, 52.5))
    with pytest.raises(UserInputError, match="geographic CRS.*Warp"):
        open_class_map(str(geographic))
