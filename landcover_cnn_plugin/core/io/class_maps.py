"""Class maps as the strata of a probability sample: the checks such a map must pass, and a walk
over its codes in row-major order.

A probability sample (``core.sample_design``, ``core.probability_sample``) turns pixel counts into
areas and ranks pixels in row-major order, so the map must have one integer band, a nodata value
(else unmapped pixels would count as a class) and a projected CRS (a pixel's area must not change
with latitude). :func:`iter_class_strips` walks the map in full-width strips of the one block
walker (:mod:`.blocks`), with the one validity rule (:mod:`.rasters`), so that a pixel's rank does
not depend on the memory budget.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from osgeo import gdal, osr

from ..errors import UserInputError, raise_if_canceled
from .blocks import Block, iter_blocks, read_block
from .grid import Grid
from .rasters import RasterBands, open_raster

#: Memory of one strip of a class map walk, MiB.
STRIP_MEMORY_MB = 64.0
#: Working bytes per pixel of a strip (codes as int64, validity, the comparisons of the callers).
_STRIP_BYTES_PER_PIXEL = 16


@dataclass(frozen=True)
class ClassMap:
    """A single-band class map fit for a probability sample: projected CRS, nodata, integer codes
    (checked by :func:`open_class_map`, the only maker).

    Attributes
    ----------
    path : str
    grid : Grid
        Its pixel grid (``pixel_of`` finds the pixels of sample points).
    nodata : float
        The map's nodata value (pixels outside the mapped area).
    pixel_area : float
        Area of one pixel in squared map units.
    unit_name : str
        The CRS's linear unit (e.g. "metre").
    metres_per_unit : float
    """

    path: str
    grid: Grid
    nodata: float
    pixel_area: float
    unit_name: str
    metres_per_unit: float

    @property
    def hectares_per_pixel(self) -> float:
        return self.pixel_area * self.metres_per_unit ** 2 / 10_000.0

    @property
    def name(self) -> str:
        return os.path.basename(self.path)


def open_class_map(path: str | os.PathLike, parameter: str = "INPUT") -> ClassMap:
    """Check that ``path`` is a class map a probability sample can be drawn from and assessed on.

    Raises
    ------
    UserInputError
        Not one band, not integer codes, no nodata value, no CRS or a geographic CRS (pixel
        areas then change with latitude), rotated grid: each naming ``parameter``.
    """
    dataset = open_raster(path, parameter)
    name = os.path.basename(os.fspath(path))
    if dataset.RasterCount != 1:
        raise UserInputError(f"the class map must have one band of class codes; {name} has "
                             f"{dataset.RasterCount}. Choose the map from 'Classify image'.", parameter)
    band = dataset.GetRasterBand(1)
    if RasterBands.of(dataset).dtype.kind not in "iu":
        raise UserInputError(f"{name} holds {gdal.GetDataTypeName(band.DataType)} values, not integer "
                             "class codes; choose a class map (codes, e.g. from 'Classify image').",
                             parameter)
    nodata = band.GetNoDataValue()
    if nodata is None:
        raise UserInputError(
            f"{name} has no nodata value, so pixels outside the mapped area would count as a class; "
            "set the value that marks them (0 for maps from 'Classify image') in the layer's "
            "properties or with Raster > Conversion > Translate (-a_nodata), then run again.", parameter)
    wkt = dataset.GetProjection()
    if not wkt:
        raise UserInputError(f"{name} has no coordinate reference system; assign its projected CRS "
                             "(Raster > Projections > Assign Projection) and run again.", parameter)
    srs = osr.SpatialReference()
    srs.ImportFromWkt(wkt)
    if srs.IsGeographic():
        raise UserInputError(
            f"{name} is in a geographic CRS ({srs.GetName()}), where a pixel's area changes with "
            "latitude and areas in hectares cannot come from pixel counts; warp the map to a "
            "projected or equal-area CRS (Raster > Projections > Warp, nearest neighbour, e.g. to the "
            "UTM zone) and run again.", parameter)
    grid = Grid.from_dataset(dataset, parameter)
    return ClassMap(os.fspath(path), grid, float(nodata), grid.pixel_width * grid.pixel_height,
                    srs.GetLinearUnitsName() or "unit", float(srs.GetLinearUnits() or 1.0))


def iter_class_strips(class_map: ClassMap, memory_mb: float = STRIP_MEMORY_MB,
                      is_canceled: Callable[[], bool] | None = None,
                      ) -> Iterator[tuple[Block, np.ndarray, np.ndarray]]:
    """Walk the map in full-width strips, top to bottom (row-major order whatever the budget).

    Yields
    ------
    block : Block
        The strip (``index``/``count`` for progress).
    codes : ndarray, shape (rows, width), int64
    valid : ndarray, shape (rows, width), bool
        The validity rule (:func:`.rasters.valid_pixels`): False on the map's nodata.
    """
    dataset = open_raster(class_map.path)
    bands = RasterBands.of(dataset)
    width, height = class_map.grid.width, class_map.grid.height
    rows = max(1, int(memory_mb * 2 ** 20 // (_STRIP_BYTES_PER_PIXEL * width)))
    for block in iter_blocks(width, height, width, rows):
        raise_if_canceled(is_canceled)
        values = read_block(dataset, block, bands.numbers)
        yield block, values[0].astype(np.int64, copy=False), bands.valid(values)
