"""core.io.grid: the one map-to-pixel lookup, on the real stack's grid, edges included."""

from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal, osr

from landcover_cnn_plugin.core.errors import UserInputError
from landcover_cnn_plugin.core.io.grid import Grid, lonlat_transform
from landcover_cnn_plugin.core.io.rasters import raster_grid
from lcnn_testing import STUDY_GRID, reference_stack

gdal.UseExceptions()


@pytest.fixture(scope="module")
def grid() -> Grid:
    return raster_grid(reference_stack())


def test_grid_of_the_stack(grid):
    g = STUDY_GRID
    assert (grid.width, grid.height, grid.pixel_width, grid.pixel_height) == (g["width"], g["height"], 20, 20)
    assert grid.bounds == (g["xmin"], g["ymin"], g["xmax"], g["ymax"])
    assert grid.geotransform == tuple(gdal.Open(str(reference_stack())).GetGeoTransform())


def test_every_pixel_centre_maps_back_to_its_pixel_as_gdal_says(grid):
    rows, cols = np.mgrid[0:grid.height, 0:grid.width]
    x, y = grid.pixel_centres(rows.ravel(), cols.ravel())
    found_rows, found_cols, inside = grid.pixel_of(x, y)
    assert inside.all()
    np.testing.assert_array_equal(found_rows, rows.ravel())
    np.testing.assert_array_equal(found_cols, cols.ravel())
    # GDAL's inverse geotransform agrees (an independent computation) on these and on random points
    inverse = gdal.InvGeoTransform(grid.geotransform)
    rng = np.random.default_rng(3)
    px = rng.uniform(grid.bounds[0], grid.bounds[2], 5000)
    py = rng.uniform(grid.bounds[1], grid.bounds[3], 5000)
    expected = np.array([gdal.ApplyGeoTransform(inverse, a, b) for a, b in zip(px, py, strict=True)])
    found_rows, found_cols, _ = grid.pixel_of(px, py)
    np.testing.assert_array_equal(found_cols, np.floor(expected[:, 0]).astype(np.int64))
    np.testing.assert_array_equal(found_rows, np.floor(expected[:, 1]).astype(np.int64))


def test_points_on_cell_edges_belong_to_the_east_and_south_pixel(grid):
    x0, y0, size = grid.x0, grid.y0, grid.pixel_width
    x = np.array([x0, x0 + 5 * size, x0 + 5 * size, x0 + grid.width * size, x0, x0 - 1e-6, np.nan])
    y = np.array([y0, y0 - 7 * size, y0 - 7 * size - 10, y0 - 1, y0 - grid.height * size, y0 - 1, y0 - 1])
    rows, cols, inside = grid.pixel_of(x, y)
    assert rows.tolist() == [0, 7, 7, 0, grid.height, 0, -1]
    assert cols.tolist() == [0, 5, 5, grid.width, 0, -1, -1]
    # the right and bottom edges of the raster and anything west of it are outside
    assert inside.tolist() == [True, True, True, False, False, False, False]


def test_rotated_or_south_up_rasters_are_refused(tmp_path):
    path = str(tmp_path / "south_up.vrt")
    gdal.Translate(path, str(reference_stack()), format="VRT")
    dataset = gdal.Open(path, gdal.GA_Update)
    x0, dx, _, _, _, dy = dataset.GetGeoTransform()
    dataset.SetGeoTransform((x0, dx, 0, STUDY_GRID["ymin"], 0, -dy))
    dataset = None
    with pytest.raises(UserInputError, match="north-up") as info:
        raster_grid(path, "REFERENCE")
    assert info.value.parameter == "REFERENCE"


def test_lonlat_equals_osr(grid):
    x, y = grid.pixel_centres(np.array([0, 383]), np.array([0, 767]))
    lon, lat = lonlat_transform(grid.crs_wkt)(x, y)
    utm, wgs84 = osr.SpatialReference(), osr.SpatialReference()
    utm.ImportFromEPSG(STUDY_GRID["epsg"])
    wgs84.ImportFromEPSG(4326)  # authority order: latitude first
    for i in range(2):
        expected_lat, expected_lon, _ = osr.CoordinateTransformation(utm, wgs84).TransformPoint(x[i], y[i])
        assert (lat[i], lon[i]) == pytest.approx((expected_lat, expected_lon), abs=1e-9)
    assert 52 < lat.min() < lat.max() < 53 and 12 < lon.min() < lon.max() < 13
