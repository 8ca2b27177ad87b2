"""North-up pixel grids: map coordinates <-> pixels, windows, WGS84 coordinates.

Conventions: ``row``/``col`` are 0-based pixel indices; the centre of pixel ``(row, col)`` is
``(x0 + (col + 0.5) * pixel_width, y0 - (row + 0.5) * pixel_height)``. A point on the edge
between two pixels belongs to the pixel to its east (south): the pixel holding ``(x, y)`` is
``floor((x - x0) / pixel_width)``, ``floor((y0 - y) / pixel_height)``, and :meth:`Grid.pixel_of`
is the only place that computes it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from osgeo import osr

from ..errors import UserInputError


@dataclass(frozen=True)
class Grid:
    """A north-up pixel grid.

    Attributes
    ----------
    x0, y0 : float
        Upper-left corner, map units of ``crs_wkt``.
    pixel_width, pixel_height : float
        Pixel size, map units, both positive.
    width, height : int
        Columns and rows.
    crs_wkt : str
        The grid's CRS ('' if unknown).
    """

    x0: float
    y0: float
    pixel_width: float
    pixel_height: float
    width: int
    height: int
    crs_wkt: str = ""

    @classmethod
    def from_dataset(cls, dataset, parameter: str = "RASTER") -> Grid:
        """Grid of an open GDAL dataset; refuses rotated and south-up rasters."""
        gt = dataset.GetGeoTransform()
        if gt[2] != 0 or gt[4] != 0 or gt[5] >= 0:
            raise UserInputError(
                f"the raster's geotransform {tuple(gt)} is rotated or not north-up; warp it to a "
                "north-up grid first (Raster > Projections > Warp).", parameter)
        return cls(gt[0], gt[3], gt[1], -gt[5], dataset.RasterXSize, dataset.RasterYSize,
                   dataset.GetProjection() or "")

    @classmethod
    def from_spacing(cls, bounds: tuple[float, float, float, float], spacing: float,
                     crs_wkt: str = "") -> Grid:
        """Grid of ``spacing`` x ``spacing`` cells aligned to multiples of ``spacing``.

        ``bounds`` is ``(xmin, ymin, xmax, ymax)``; the grid covers it completely.
        """
        xmin, ymin, xmax, ymax = bounds
        x0 = math.floor(xmin / spacing) * spacing
        y0 = math.ceil(ymax / spacing) * spacing
        width = max(1, math.ceil((xmax - x0) / spacing))
        height = max(1, math.ceil((y0 - ymin) / spacing))
        return cls(x0, y0, spacing, spacing, width, height, crs_wkt)

    @property
    def geotransform(self) -> tuple[float, float, float, float, float, float]:
        return (self.x0, self.pixel_width, 0.0, self.y0, 0.0, -self.pixel_height)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)``."""
        return (self.x0, self.y0 - self.height * self.pixel_height,
                self.x0 + self.width * self.pixel_width, self.y0)

    def pixel_centres(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map coordinates (float64) of the centres of pixels ``(rows, cols)``."""
        x = self.x0 + (np.asarray(cols, dtype=np.float64) + 0.5) * self.pixel_width
        y = self.y0 - (np.asarray(rows, dtype=np.float64) + 0.5) * self.pixel_height
        return x, y

    def pixel_of(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The pixels holding points ``(x, y)`` (map units of the grid's CRS).

        Returns
        -------
        rows, cols : ndarray, shape (n,), int64
            -1 for non-finite coordinates; may lie outside the grid otherwise.
        inside : ndarray, shape (n,), bool
            The pixel lies on the grid.
        """
        cols = np.floor((np.asarray(x, dtype=np.float64) - self.x0) / self.pixel_width)
        rows = np.floor((self.y0 - np.asarray(y, dtype=np.float64)) / self.pixel_height)
        finite = np.isfinite(cols) & np.isfinite(rows)
        cols = np.where(finite, cols, -1).astype(np.int64)
        rows = np.where(finite, rows, -1).astype(np.int64)
        inside = (cols >= 0) & (cols < self.width) & (rows >= 0) & (rows < self.height)
        return rows, cols, inside

    def window_of(self, envelope: tuple[float, float, float, float]) -> tuple[int, int, int, int] | None:
        """Pixel window ``(col0, row0, ncols, nrows)`` covering an OGR envelope
        ``(minx, maxx, miny, maxy)``, clipped to the grid; None when it misses the grid."""
        minx, maxx, miny, maxy = envelope
        col0 = max(0, math.floor((minx - self.x0) / self.pixel_width))
        col1 = min(self.width, math.ceil((maxx - self.x0) / self.pixel_width))
        row0 = max(0, math.floor((self.y0 - maxy) / self.pixel_height))
        row1 = min(self.height, math.ceil((self.y0 - miny) / self.pixel_height))
        if col1 <= col0 or row1 <= row0:
            return None
        return col0, row0, col1 - col0, row1 - row0

    def window_geotransform(self, col0: int, row0: int) -> tuple[float, ...]:
        return (self.x0 + col0 * self.pixel_width, self.pixel_width, 0.0,
                self.y0 - row0 * self.pixel_height, 0.0, -self.pixel_height)


def lonlat_transform(crs_wkt: str) -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A function ``(x, y) -> (longitude, latitude)``: map coordinates of ``crs_wkt`` to WGS84 degrees."""
    source = osr.SpatialReference()
    source.ImportFromWkt(crs_wkt)
    source.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    wgs84 = osr.SpatialReference()
    wgs84.ImportFromEPSG(4326)
    wgs84.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    transformation = osr.CoordinateTransformation(source, wgs84)

    def to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lonlat = np.asarray(transformation.TransformPoints(np.column_stack([x, y])))
        return lonlat[:, 0], lonlat[:, 1]

    return to_lonlat


def same_crs(first_wkt: str, second_wkt: str) -> bool:
    """The two CRS definitions describe the same CRS (OSR's ``IsSame``)."""
    first, second = osr.SpatialReference(), osr.SpatialReference()
    first.ImportFromWkt(first_wkt)
    second.ImportFromWkt(second_wkt)
    return bool(first.IsSame(second))


def metres_per_unit(crs_wkt: str) -> float | None:
    """Metres per map unit of a projected CRS; None for a geographic or unknown CRS."""
    if not crs_wkt:
        return None
    srs = osr.SpatialReference()
    srs.ImportFromWkt(crs_wkt)
    return float(srs.GetLinearUnits()) if srs.IsProjected() else None
