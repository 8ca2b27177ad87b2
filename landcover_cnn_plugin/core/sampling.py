"""Block-wise raster sampling at points and in training polygons (GDAL/OGR + NumPy only).

Used inside the QGIS process (Debian's NumPy) by the data preparation algorithms, so it
never imports qgis, pandas or anything else heavy. The hot paths never loop over points
in Python: points are read in Arrow batches, mapped to pixels with index arrays and the
raster is read once per block.

Conventions
-----------
* A :class:`Grid` is a north-up raster grid; ``row``/``col`` are 0-based pixel indices,
  pixel centres are ``x0 + (col + 0.5) * pixel_width``, ``y0 - (row + 0.5) * pixel_height``.
* Overlapping polygons: **the smallest polygon wins** (area in the grid's CRS), ties go to
  the lower feature id. Polygons are burnt largest first so that smaller ones overwrite.
* Samples CSV (docs/DESIGN.md): ``X,Y,<bands>,<label>[,<name>],polygon_id,Latitude,Longitude``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TextIO

import numpy as np

from .blocks import block_size_for_budget, iter_blocks
from .errors import JobCanceled, UserInputError
from .progress import NullReporter, Reporter

#: Working memory for one raster block or polygon window, MiB.
BLOCK_MEMORY_MB = 64.0
#: Points per Arrow batch when reading point layers (memory stays flat with point count).
POINT_BATCH = 65_536
#: Samples buffered before a CSV chunk is formatted and written.
CSV_CHUNK = 65_536
CanceledCheck = Callable[[], bool]


def _never_canceled() -> bool:
    return False


def _gdal():
    from osgeo import gdal

    gdal.UseExceptions()
    return gdal


def _ogr():
    from osgeo import ogr

    ogr.UseExceptions()
    return ogr


def _osr():
    from osgeo import osr

    osr.UseExceptions()
    return osr


def _check_canceled(is_canceled: CanceledCheck) -> None:
    if is_canceled():
        raise JobCanceled("canceled")


# --- Grid -------------------------------------------------------------------------------------

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
    def from_path(cls, path: str, parameter: str = "RASTER") -> Grid:
        dataset = _gdal().Open(str(path))
        return cls.from_dataset(dataset, parameter)

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
        """Rows, cols (int64) of the pixels holding points ``(x, y)`` and a mask of those inside."""
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


# --- Training polygons ------------------------------------------------------------------------

@dataclass
class LabelPolygons:
    """Training polygons already in the grid's CRS.

    Attributes
    ----------
    fids : (n,) int64
        Source feature ids (they become ``polygon_id``), ascending.
    codes : (n,) int64
        Positive class codes.
    wkbs : list of bytes
        Geometries (WKB) in the grid's CRS.
    names : list of str, optional
        Class names (``fclass``), one per polygon.
    """

    fids: np.ndarray
    codes: np.ndarray
    wkbs: list[bytes]
    names: list[str] | None = None

    def __post_init__(self) -> None:
        order = np.argsort(self.fids, kind="stable")
        self.fids = np.asarray(self.fids, dtype=np.int64)[order]
        self.codes = np.asarray(self.codes, dtype=np.int64)[order]
        self.wkbs = [self.wkbs[i] for i in order]
        if self.names is not None:
            self.names = [self.names[i] for i in order]

    def __len__(self) -> int:
        return len(self.fids)


@dataclass
class PolygonPixels:
    """The pixels one polygon wins (``rows``, ``cols``: int64 arrays, row-major order)."""

    index: int
    fid: int
    code: int
    name: str | None
    rows: np.ndarray
    cols: np.ndarray


class PolygonRasterizer:
    """Rasterizes training polygons on a grid with the smallest-polygon-wins rule.

    Parameters
    ----------
    polygons : LabelPolygons
        Polygons in the grid's CRS.
    grid : Grid
        Target grid.
    all_touched : bool
        False: a pixel belongs to a polygon when its centre is inside (GDAL's default);
        True: every pixel the polygon touches.
    inset : float
        Distance (map units) the polygons are shrunk by before rasterizing (negative
        buffer), to keep mixed edge pixels out. Areas for the overlap rule are those of
        the original polygons.
    """

    def __init__(self, polygons: LabelPolygons, grid: Grid, all_touched: bool = False,
                 inset: float = 0.0) -> None:
        ogr = _ogr()
        osr = _osr()
        self.polygons, self.grid, self.all_touched = polygons, grid, all_touched
        n = len(polygons)
        geometries = [ogr.CreateGeometryFromWkb(wkb) for wkb in polygons.wkbs]
        areas = np.array([g.GetArea() if g is not None else 0.0 for g in geometries])
        if inset > 0:
            geometries = [g.Buffer(-inset) if g is not None else None for g in geometries]
        self.envelopes = np.full((n, 4), np.nan)  # OGR order: minx, maxx, miny, maxy
        self._geometries = geometries
        for index, geometry in enumerate(geometries):
            if geometry is not None and not geometry.IsEmpty():
                self.envelopes[index] = geometry.GetEnvelope()
        # Burn order: largest first, and among equal areas the higher fid first, so that the
        # smallest polygon (then the lowest fid) is burnt last and wins.
        self._burn_rank = np.empty(n, dtype=np.int64)
        self._burn_rank[np.lexsort((-np.arange(n), -areas))] = np.arange(n)
        self._srs = None
        if grid.crs_wkt:
            self._srs = osr.SpatialReference()
            self._srs.ImportFromWkt(grid.crs_wkt)
        self.windows = [None if np.isnan(env[0]) else grid.window_of(tuple(env))
                        for env in self.envelopes]

    def require_overlap(self, parameter: str = "INPUT") -> None:
        """Refuse polygons of which none reaches the grid (nothing could be labelled)."""
        if self.polygons_outside == len(self.polygons):
            xmin, ymin, xmax, ymax = self.grid.bounds
            raise UserInputError(
                f"none of the {len(self.polygons)} polygons overlaps the raster's extent "
                f"({xmin:.0f}, {ymin:.0f}) - ({xmax:.0f}, {ymax:.0f}); choose polygons and a raster of "
                "the same area (the polygons are reprojected to the raster's CRS).", parameter)

    @property
    def polygons_outside(self) -> int:
        """Polygons whose (inset) envelope misses the grid."""
        return sum(window is None for window in self.windows)

    def winners(self, col0: int, row0: int, ncols: int, nrows: int) -> np.ndarray:
        """Index + 1 (0: none) of the winning polygon for each pixel of a window, int32 (nrows, ncols)."""
        gdal = _gdal()
        target = gdal.GetDriverByName("MEM").Create("", ncols, nrows, 1, gdal.GDT_Int32)
        target.SetGeoTransform(self.grid.window_geotransform(col0, row0))
        xmin = self.grid.x0 + col0 * self.grid.pixel_width
        xmax = self.grid.x0 + (col0 + ncols) * self.grid.pixel_width
        ymin = self.grid.y0 - (row0 + nrows) * self.grid.pixel_height
        ymax = self.grid.y0 - row0 * self.grid.pixel_height
        env = self.envelopes
        # Only the polygons whose envelope meets the window, in burn order: a small layer per
        # window keeps the cost independent of the number of polygons (NaN envelopes never match).
        candidates = np.flatnonzero((env[:, 0] <= xmax) & (env[:, 1] >= xmin)
                                    & (env[:, 2] <= ymax) & (env[:, 3] >= ymin))
        if len(candidates):
            candidates = candidates[np.argsort(self._burn_rank[candidates])]
            ogr = _ogr()
            source = ogr.GetDriverByName("Memory").CreateDataSource("window")
            layer = source.CreateLayer("polygons", self._srs, ogr.wkbUnknown)
            layer.CreateField(ogr.FieldDefn("burn", ogr.OFTInteger))
            definition = layer.GetLayerDefn()
            for index in candidates.tolist():
                feature = ogr.Feature(definition)
                feature.SetField(0, index + 1)
                feature.SetGeometry(self._geometries[index])
                layer.CreateFeature(feature)
            options = ["ATTRIBUTE=burn"] + (["ALL_TOUCHED=TRUE"] if self.all_touched else [])
            gdal.RasterizeLayer(target, [1], layer, options=options)
        return target.GetRasterBand(1).ReadAsArray()

    def code_lookup(self) -> np.ndarray:
        """Array mapping winner value (index + 1, 0 = none) to class code (0 = unlabelled)."""
        return np.concatenate([[0], self.polygons.codes]).astype(np.int64)

    def polygon_pixels(self, index: int, max_pixels: int = 4_000_000) -> tuple[np.ndarray, np.ndarray]:
        """Pixels won by polygon ``index``: rows, cols (int64), row-major.

        The polygon's window is processed in row strips of at most ``max_pixels`` pixels
        so that a huge polygon does not need its whole window in memory at once.
        """
        window = self.windows[index]
        if window is None:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        col0, row0, ncols, nrows = window
        strip = max(1, max_pixels // ncols)
        rows_parts, cols_parts = [], []
        for start in range(row0, row0 + nrows, strip):
            height = min(strip, row0 + nrows - start)
            won = self.winners(col0, start, ncols, height) == index + 1
            r, c = np.nonzero(won)
            rows_parts.append(r.astype(np.int64) + start)
            cols_parts.append(c.astype(np.int64) + col0)
        return np.concatenate(rows_parts), np.concatenate(cols_parts)

    def iter_polygon_pixels(self, max_points_per_polygon: int = 0, seed: int = 1,
                            reporter: Reporter | None = None,
                            is_canceled: CanceledCheck = _never_canceled) -> Iterator[PolygonPixels]:
        """Yield the pixels of every polygon, in feature id order (polygons without pixels skipped).

        ``max_points_per_polygon`` > 0 keeps a random subset of that many pixels per polygon,
        drawn with a generator seeded by ``(seed, fid)`` (independent of the other polygons),
        still in row-major order.
        """
        reporter = reporter or NullReporter()
        total = len(self.polygons)
        for index in range(total):
            _check_canceled(is_canceled)
            rows, cols = self.polygon_pixels(index)
            fid = int(self.polygons.fids[index])
            if 0 < max_points_per_polygon < len(rows):
                rng = np.random.default_rng([seed, fid])
                keep = np.sort(rng.choice(len(rows), size=max_points_per_polygon, replace=False))
                rows, cols = rows[keep], cols[keep]
            if total:
                reporter.progress(100.0 * (index + 1) / total)
            if len(rows):
                name = self.polygons.names[index] if self.polygons.names is not None else None
                yield PolygonPixels(index, fid, int(self.polygons.codes[index]), name, rows, cols)


def code_raster_type(codes: np.ndarray) -> int:
    """Smallest unsigned GDAL type holding every code (0 = unlabelled)."""
    gdal = _gdal()
    top = int(codes.max()) if len(codes) else 0
    return gdal.GDT_Byte if top <= 255 else gdal.GDT_UInt16 if top <= 65535 else gdal.GDT_UInt32


def rasterize_codes(rasterizer: PolygonRasterizer, path: str, reporter: Reporter | None = None,
                    is_canceled: CanceledCheck = _never_canceled) -> dict[str, int]:
    """Write the class code raster (0 = unlabelled, nodata 0) on the rasterizer's grid.

    Block by block (tiled, DEFLATE-compressed GeoTIFF). Returns pixel counts per code
    (``{code: n}``) for the log.
    """
    gdal = _gdal()
    reporter = reporter or NullReporter()
    grid = rasterizer.grid
    lookup = rasterizer.code_lookup()
    dtype = code_raster_type(rasterizer.polygons.codes)
    out = gdal.GetDriverByName("GTiff").Create(
        path, grid.width, grid.height, 1, dtype,
        options=["TILED=YES", "COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER"])
    out.SetGeoTransform(grid.geotransform)
    out.SetProjection(grid.crs_wkt)
    band = out.GetRasterBand(1)
    band.SetNoDataValue(0)
    counts = np.zeros(len(lookup), dtype=np.int64)
    block_width, block_height = block_size_for_budget(grid.width, grid.height, 12.0, BLOCK_MEMORY_MB)
    blocks = list(iter_blocks(grid.width, grid.height, block_width, block_height))
    for number, block in enumerate(blocks, start=1):
        _check_canceled(is_canceled)
        winners = rasterizer.winners(block.x_off, block.y_off, block.width, block.height)
        counts += np.bincount(winners.ravel(), minlength=len(lookup))
        band.WriteArray(lookup[winners], block.x_off, block.y_off)
        reporter.progress(100.0 * number / len(blocks))
    out.FlushCache()
    out = None
    per_code: dict[str, int] = {}
    for code, count in zip(lookup[1:], counts[1:], strict=True):
        if count:
            per_code[str(int(code))] = per_code.get(str(int(code)), 0) + int(count)
    return per_code


# --- Reading point layers without per-point Python --------------------------------------------

@dataclass
class PointBatch:
    """One batch of points: coordinates (float64) and attribute columns."""

    x: np.ndarray
    y: np.ndarray
    fid: np.ndarray
    columns: dict[str, np.ndarray] = field(default_factory=dict)


_WKB_POINT = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])
_WKB_POINT_Z = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8"), ("z", "<f8")])


def _points_from_wkb(geometry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x, y of WKB points; vectorised for little-endian Point/PointZ, OGR parse otherwise."""
    if isinstance(geometry, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(geometry)
        geometry = geometry.data
    else:
        mask = np.zeros(len(geometry), dtype=bool)
    if geometry.dtype.kind == "V" and geometry.dtype.itemsize in (21, 29) and not mask.any():
        layout = _WKB_POINT if geometry.dtype.itemsize == 21 else _WKB_POINT_Z
        parsed = np.frombuffer(geometry.tobytes(), dtype=layout)
        if (parsed["order"] == 1).all():
            return parsed["x"].astype(np.float64), parsed["y"].astype(np.float64)
    # Rare layouts (multipoints, big-endian): OGR parses each geometry.
    ogr = _ogr()
    x = np.full(len(geometry), np.nan)
    y = np.full(len(geometry), np.nan)
    for i, wkb in enumerate(geometry):
        if mask[i] or wkb is None:
            continue
        point = ogr.CreateGeometryFromWkb(bytes(wkb))
        if point is not None and not point.IsEmpty():
            first = point.GetGeometryRef(0) if point.GetGeometryCount() else point
            x[i], y[i] = first.GetX(), first.GetY()
    return x, y


def _column(values) -> np.ndarray:
    """An Arrow column as a plain array; nulls become masked entries."""
    if isinstance(values, np.ma.MaskedArray):
        return values
    return np.ma.asarray(values)


def iter_point_batches(path: str, layer_name: str | int | None, fields: Sequence[str],
                       batch_size: int = POINT_BATCH) -> Iterator[PointBatch]:
    """Read a point layer in batches of ``batch_size`` points (OGR Arrow stream, no Python per point).

    Parameters
    ----------
    path, layer_name : str
        OGR data source and layer (None: the first layer).
    fields : sequence of str
        Attribute fields to return in ``PointBatch.columns`` (masked arrays; strings as bytes).
    """
    ogr = _ogr()
    source = ogr.Open(str(path))
    layer = _layer(source, layer_name)
    definition = layer.GetLayerDefn()
    wanted = set(fields)
    ignored = [definition.GetFieldDefn(i).GetName() for i in range(definition.GetFieldCount())
               if definition.GetFieldDefn(i).GetName() not in wanted]
    layer.SetIgnoredFields(ignored)
    geometry_name = layer.GetGeometryColumn() or "wkb_geometry"
    fid_name = layer.GetFIDColumn() or "OGC_FID"
    stream = layer.GetArrowStreamAsNumPy(options=[f"MAX_FEATURES_IN_BATCH={int(batch_size)}",
                                                  "INCLUDE_FID=YES"])
    for batch in stream:
        geometry = batch.get(geometry_name)
        if geometry is None:  # the geometry column may be named differently in the stream
            geometry = next(v for k, v in batch.items() if k not in wanted and k != fid_name)
        x, y = _points_from_wkb(geometry)
        fid = np.asarray(batch.get(fid_name, np.arange(len(x))), dtype=np.int64)
        yield PointBatch(x, y, fid, {name: _column(batch[name]) for name in fields})
    layer.SetIgnoredFields([])


def _layer(source, layer_name: str | int | None):
    """A layer by name, by index, or the first one."""
    if isinstance(layer_name, str) and layer_name:
        return source.GetLayerByName(layer_name)
    return source.GetLayer(int(layer_name or 0))


def count_points(path: str, layer_name: str | int | None) -> int:
    source = _ogr().Open(str(path))
    return _layer(source, layer_name).GetFeatureCount()


# --- Raster reading by blocks -----------------------------------------------------------------

@dataclass
class RasterInfo:
    """What sampling needs to know about the stack."""

    grid: Grid
    band_names: list[str]
    nodata: list[float | None]
    integer: bool
    dtype: np.dtype

    @classmethod
    def open(cls, path: str) -> tuple[RasterInfo, object]:
        gdal = _gdal()
        dataset = gdal.Open(str(path))
        bands = [dataset.GetRasterBand(i + 1) for i in range(dataset.RasterCount)]
        names = [band.GetDescription() or f"band_{i + 1}" for i, band in enumerate(bands)]
        dtype = np.result_type(*[gdal_array_type(band.DataType) for band in bands])
        return cls(Grid.from_dataset(dataset), names, [band.GetNoDataValue() for band in bands],
                   np.issubdtype(dtype, np.integer), dtype), dataset


def gdal_array_type(gdal_type: int) -> np.dtype:
    from osgeo import gdal_array

    return np.dtype(gdal_array.GDALTypeCodeToNumericTypeCode(gdal_type))


def valid_mask(values: np.ndarray, nodata: Sequence[float | None]) -> np.ndarray:
    """True where no band is nodata (or NaN). ``values``: (bands, n) -> (n,) bool."""
    valid = np.ones(values.shape[1], dtype=bool)
    for band, value in enumerate(nodata):
        if values.dtype.kind == "f":
            valid &= np.isfinite(values[band])
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            valid &= values[band] != value
    return valid


class BlockSampler:
    """Reads raster values at pixels, one read per raster block touched.

    ``sample(rows, cols)`` groups the pixels by block with index arrays, reads each block
    (all bands) once and gathers the values: shape (bands, n), in the order given.
    """

    def __init__(self, dataset, info: RasterInfo, memory_mb: float = BLOCK_MEMORY_MB) -> None:
        self.dataset, self.info = dataset, info
        grid = info.grid
        internal = tuple(dataset.GetRasterBand(1).GetBlockSize())
        bytes_per_pixel = max(1, dataset.RasterCount) * info.dtype.itemsize
        self.block_width, self.block_height = block_size_for_budget(
            grid.width, grid.height, bytes_per_pixel, memory_mb, internal_block=internal)
        self.blocks_per_row = math.ceil(grid.width / self.block_width)

    def sample(self, rows: np.ndarray, cols: np.ndarray,
               is_canceled: CanceledCheck = _never_canceled) -> np.ndarray:
        n_bands = self.dataset.RasterCount
        values = np.empty((n_bands, len(rows)), dtype=self.info.dtype)
        if not len(rows):
            return values
        block_ids = (rows // self.block_height) * self.blocks_per_row + cols // self.block_width
        order = np.argsort(block_ids, kind="stable")
        sorted_ids = block_ids[order]
        starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
        ends = np.r_[starts[1:], len(order)]
        for start, end in zip(starts, ends, strict=True):
            _check_canceled(is_canceled)
            block_id = int(sorted_ids[start])
            x_off = (block_id % self.blocks_per_row) * self.block_width
            y_off = (block_id // self.blocks_per_row) * self.block_height
            x_size = min(self.block_width, self.info.grid.width - x_off)
            y_size = min(self.block_height, self.info.grid.height - y_off)
            selection = order[start:end]
            block = self.dataset.ReadAsArray(x_off, y_off, x_size, y_size)
            if block.ndim == 2:
                block = block[np.newaxis]
            values[:, selection] = block[:, rows[selection] - y_off, cols[selection] - x_off]
        return values

    def sample_window(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Values at pixels that lie close together (one polygon): one read of their bounding window."""
        row0, col0 = int(rows.min()), int(cols.min())
        block = self.dataset.ReadAsArray(col0, row0, int(cols.max()) - col0 + 1,
                                         int(rows.max()) - row0 + 1)
        if block.ndim == 2:
            block = block[np.newaxis]
        return block[:, rows - row0, cols - col0]


# --- Samples CSV ------------------------------------------------------------------------------

def _format_values(values: np.ndarray) -> list[str]:
    """Text of each value: integers exact, float32 as NumPy's shortest float32 text, float64 as repr."""
    if values.dtype.kind in "iub":
        return list(map(str, values.astype(np.int64).tolist()))
    if values.dtype == np.float32:
        return values.astype(str).tolist()
    return list(map(repr, values.astype(np.float64).tolist()))


def text_column(values: np.ndarray) -> list[str]:
    """A numeric column as CSV text, formatted once per distinct value where values repeat.

    Band values, codes, ids and pixel-centre coordinates repeat a lot, so formatting the
    distinct values and indexing (C speed) is several times faster than formatting each.
    """
    values = np.asarray(values)
    if len(values) > 64:
        distinct, inverse = np.unique(values, return_inverse=True)
        if len(distinct) * 4 <= len(values):
            return np.array(_format_values(distinct), dtype=object)[inverse].tolist()
    return _format_values(values)


def quote_csv(texts: Sequence[str]) -> list[str]:
    """CSV-quote text that holds a comma, quote or line break."""
    return [f'"{t.replace(chr(34), chr(34) * 2)}"' if any(c in t for c in ',"\n\r') else t
            for t in texts]


def text_names(names: np.ndarray) -> list[str]:
    """A text column (class names) CSV-quoted, each distinct name quoted once."""
    names = np.asarray(names, dtype=str)
    if not len(names):
        return []
    distinct, inverse = np.unique(names, return_inverse=True)
    return np.array(quote_csv(distinct.tolist()), dtype=object)[inverse].tolist()


def text_repeated(text: str, n: int) -> list[str]:
    return [quote_csv([text])[0]] * n


def write_rows(stream: TextIO, columns: Sequence[Sequence[str]]) -> None:
    """Write columns of text as CSV lines (zip/map/join iterate in C: no Python code per row)."""
    stream.write("\n".join(map(",".join, zip(*columns, strict=True))))
    stream.write("\n")


class SamplesCsvWriter:
    """Streams sample rows to a CSV in the design's column order.

    Parameters
    ----------
    stream : text file
        Opened with ``newline=""``.
    grid_crs_wkt : str
        CRS of X, Y (for Latitude/Longitude).
    band_names, label_name, name_column
        Column names; ``name_column`` None leaves the class-name column out.
    """

    def __init__(self, stream: TextIO, grid_crs_wkt: str, band_names: Sequence[str], label_name: str,
                 name_column: str | None = None) -> None:
        osr = _osr()
        self.stream, self.name_column = stream, name_column
        self.rows_written = 0
        source = osr.SpatialReference()
        source.ImportFromWkt(grid_crs_wkt)
        source.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        wgs84 = osr.SpatialReference()
        wgs84.ImportFromEPSG(4326)
        wgs84.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        self.to_wgs84 = osr.CoordinateTransformation(source, wgs84)
        header = ["X", "Y", *band_names, label_name] + ([name_column] if name_column else []) \
            + ["polygon_id", "Latitude", "Longitude"]
        stream.write(",".join(quote_csv(header)) + "\n")

    def write(self, x: np.ndarray, y: np.ndarray, values: np.ndarray, labels: np.ndarray,
              polygon_ids: np.ndarray, names: np.ndarray | None = None) -> None:
        """Append rows. ``values``: (bands, n); the others (n,); X, Y in the grid's CRS."""
        if not len(x):
            return
        lonlat = np.asarray(self.to_wgs84.TransformPoints(np.column_stack([x, y])))
        columns = [text_column(x), text_column(y)] + [text_column(band) for band in values]
        columns.append(text_column(labels))
        if self.name_column:
            columns.append(text_names(names) if names is not None else [""] * len(x))
        columns += [text_column(polygon_ids), _format_values(np.round(lonlat[:, 1], 8)),
                    _format_values(np.round(lonlat[:, 0], 8))]
        write_rows(self.stream, columns)
        self.rows_written += len(x)


@dataclass
class SampleCounts:
    """What sampling did (also the algorithms' outputs)."""

    written: int = 0
    outside: int = 0
    nodata: int = 0
    unlabelled: int = 0
    polygons_used: int = 0
    polygons_outside: int = 0
    per_code: dict[str, int] = field(default_factory=dict)

    def add_codes(self, codes: np.ndarray) -> None:
        found, counts = np.unique(codes, return_counts=True)
        for code, count in zip(found, counts, strict=True):
            self.per_code[str(int(code))] = self.per_code.get(str(int(code)), 0) + int(count)


def _masked_to_int(column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values int64, valid bool) of a possibly masked integer column."""
    mask = np.ma.getmaskarray(column)
    return np.asarray(np.ma.getdata(column)).astype(np.int64), ~mask


def _masked_to_str(column: np.ndarray) -> np.ndarray:
    data = np.ma.getdata(column)
    mask = np.ma.getmaskarray(column)
    if data.dtype.kind == "S":
        text = np.char.decode(data, "utf-8")
    else:
        text = data.astype(str)
    return np.where(mask, "", text)


def sample_points_to_csv(points_path: str, points_layer: str | int | None, raster_path: str, csv_path: str,
                         label_field: str, group_field: str | None = None,
                         name_field: str | None = None, reporter: Reporter | None = None,
                         is_canceled: CanceledCheck = _never_canceled,
                         batch_size: int = POINT_BATCH) -> SampleCounts:
    """Sample every band of a raster at points and stream the samples CSV.

    Parameters
    ----------
    points_path, points_layer : str
        OGR point layer **in the raster's CRS**.
    raster_path : str
        The stack; band descriptions name the columns.
    csv_path : str
        File to write (the caller makes it atomic).
    label_field : str
        Integer class code field (the column keeps its name).
    group_field : str, optional
        Integer field written as ``polygon_id``; None: the point's feature id.
    name_field : str, optional
        Class name field copied after the label.

    Returns
    -------
    SampleCounts
        Rows written, points outside the raster, on nodata, without a label. Rows keep
        the input order; X, Y are the centres of the sampled pixels.
    """
    reporter = reporter or NullReporter()
    info, dataset = RasterInfo.open(raster_path)
    sampler = BlockSampler(dataset, info)
    total = count_points(points_path, points_layer)
    fields = [label_field] + [f for f in (group_field, name_field) if f]
    counts = SampleCounts()
    seen = 0
    with open(csv_path, "w", newline="", encoding="utf-8") as stream:
        writer = SamplesCsvWriter(stream, info.grid.crs_wkt, info.band_names, label_field, name_field)
        for batch in iter_point_batches(points_path, points_layer, fields, batch_size):
            _check_canceled(is_canceled)
            seen += len(batch.x)
            labels, labelled = _masked_to_int(batch.columns[label_field])
            if group_field:
                groups, grouped = _masked_to_int(batch.columns[group_field])
                labelled &= grouped
            else:
                groups = batch.fid
            rows, cols, inside = info.grid.pixel_of(batch.x, batch.y)
            counts.outside += int((~inside).sum())
            counts.unlabelled += int((inside & ~labelled).sum())
            keep = np.flatnonzero(inside & labelled)
            values = sampler.sample(rows[keep], cols[keep], is_canceled)
            valid = valid_mask(values, info.nodata)
            counts.nodata += int((~valid).sum())
            keep, values = keep[valid], values[:, valid]
            x, y = info.grid.pixel_centres(rows[keep], cols[keep])
            names = _masked_to_str(batch.columns[name_field])[keep] if name_field else None
            writer.write(x, y, values, labels[keep], groups[keep], names)
            counts.add_codes(labels[keep])
            if total:
                reporter.progress(100.0 * min(seen, total) / total)
    counts.written = writer.rows_written
    return counts


def extract_samples_to_csv(rasterizer: PolygonRasterizer, raster_path: str, csv_path: str,
                           label_name: str, name_column: str | None = None,
                           max_points_per_polygon: int = 0, seed: int = 1,
                           reporter: Reporter | None = None,
                           is_canceled: CanceledCheck = _never_canceled) -> SampleCounts:
    """One-step sampling: the pixels each polygon wins, sampled into the samples CSV.

    Gives the same rows as regular points (same grid, same options) sampled by
    :func:`sample_points_to_csv`: ordered by polygon_id, then row, col.
    ``rasterizer.grid`` must be the raster's grid.
    """
    info, dataset = RasterInfo.open(raster_path)
    sampler = BlockSampler(dataset, info)
    counts = SampleCounts(polygons_outside=rasterizer.polygons_outside)
    buffered: list[tuple] = []
    buffered_rows = 0
    with open(csv_path, "w", newline="", encoding="utf-8") as stream:
        writer = SamplesCsvWriter(stream, info.grid.crs_wkt, info.band_names, label_name, name_column)

        def flush() -> None:
            if not buffered:
                return
            rows = np.concatenate([part[0] for part in buffered])
            cols = np.concatenate([part[1] for part in buffered])
            values = np.concatenate([part[2] for part in buffered], axis=1)
            codes = np.concatenate([np.full(len(part[0]), part[3], dtype=np.int64) for part in buffered])
            pids = np.concatenate([np.full(len(part[0]), part[4], dtype=np.int64) for part in buffered])
            names = np.concatenate([np.full(len(part[0]), part[5] or "", dtype=object)
                                    for part in buffered]).astype(str) if name_column else None
            x, y = info.grid.pixel_centres(rows, cols)
            writer.write(x, y, values, codes, pids, names)
            counts.add_codes(codes)
            buffered.clear()

        for pixels in rasterizer.iter_polygon_pixels(max_points_per_polygon, seed, reporter, is_canceled):
            counts.polygons_used += 1
            values = sampler.sample_window(pixels.rows, pixels.cols)
            valid = valid_mask(values, info.nodata)
            counts.nodata += int((~valid).sum())
            buffered.append((pixels.rows[valid], pixels.cols[valid], values[:, valid], pixels.code,
                             pixels.fid, pixels.name))
            buffered_rows += int(valid.sum())
            if buffered_rows >= CSV_CHUNK:
                flush()
                buffered_rows = 0
        flush()
    counts.written = writer.rows_written
    return counts


def write_points_csv(rasterizer: PolygonRasterizer, csv_path: str, label_name: str,
                     name_column: str | None = None, max_points_per_polygon: int = 0, seed: int = 1,
                     reporter: Reporter | None = None,
                     is_canceled: CanceledCheck = _never_canceled) -> SampleCounts:
    """Regular points: one row ``X,Y,<label>[,<name>],polygon_id`` per pixel centre a polygon wins.

    Written as CSV (with a ``.csvt`` type file) so that OGR converts it to any vector format
    in C++ (:func:`csv_points_to_vector`). Order: polygon_id, then row, col.
    """
    grid = rasterizer.grid
    counts = SampleCounts(polygons_outside=rasterizer.polygons_outside)
    header = ["X", "Y", label_name] + ([name_column] if name_column else []) + ["polygon_id"]
    with open(csv_path, "w", newline="", encoding="utf-8") as stream:
        stream.write(",".join(quote_csv(header)) + "\n")
        for pixels in rasterizer.iter_polygon_pixels(max_points_per_polygon, seed, reporter, is_canceled):
            counts.polygons_used += 1
            x, y = grid.pixel_centres(pixels.rows, pixels.cols)
            n = len(x)
            columns = [text_column(x), text_column(y), [str(pixels.code)] * n]
            if name_column:
                columns.append(text_repeated(pixels.name or "", n))
            columns.append([str(pixels.fid)] * n)
            write_rows(stream, columns)
            counts.written += n
            counts.per_code[str(pixels.code)] = counts.per_code.get(str(pixels.code), 0) + n
    types = ["Real", "Real", "Integer64"] + (["String"] if name_column else []) + ["Integer64"]
    with open(os.path.splitext(csv_path)[0] + ".csvt", "w", encoding="utf-8") as stream:
        stream.write(",".join(f'"{t}"' for t in types) + "\n")
    return counts


def csv_points_to_vector(csv_path: str, output_path: str, crs_wkt: str, layer_name: str,
                         driver: str | None = None, reporter: Reporter | None = None,
                         is_canceled: CanceledCheck = _never_canceled) -> None:
    """Convert a points CSV from :func:`write_points_csv` to a vector file (OGR, C++ speed)."""
    gdal = _gdal()
    reporter = reporter or NullReporter()

    def progress(complete: float, message, data) -> int:
        reporter.progress(100.0 * complete)
        return 0 if is_canceled() else 1

    # Open the CSV ourselves: VectorTranslate ignores "-oo" for a source given by name.
    source = gdal.OpenEx(csv_path, gdal.OF_VECTOR, open_options=[
        "X_POSSIBLE_NAMES=X", "Y_POSSIBLE_NAMES=Y", "KEEP_GEOM_COLUMNS=NO"])
    arguments = ["-nln", layer_name, "-a_srs", crs_wkt, "-nlt", "POINT"]
    if driver:
        arguments += ["-f", driver]
    try:
        result = gdal.VectorTranslate(output_path, source, options=gdal.VectorTranslateOptions(
            options=arguments, callback=progress))
    except RuntimeError:
        if is_canceled():
            raise JobCanceled("canceled") from None
        raise
    if result is None:
        raise RuntimeError(f"could not write {output_path}")
    result = None
