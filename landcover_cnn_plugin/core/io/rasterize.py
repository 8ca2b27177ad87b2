"""Polygons burnt on a grid: training polygons (smallest polygon wins), masks, reference maps.

Overlapping polygons: **the smallest polygon wins** (area in the grid's CRS), ties go to the
lower feature id, as everywhere in the plugin (docs/DESIGN.md). :class:`PolygonRasterizer`
burns polygons largest first so that smaller ones overwrite, window by window, with only the
polygons that meet the window: memory and time do not grow with the number of polygons.
The pixels a multi-part feature wins are told apart by part (the polygons a user drew, which the
splits keep together): its parts are burnt in its window with the same rule.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from osgeo import gdal, ogr, osr

from ..errors import UserInputError, raise_if_canceled
from ..progress import NullReporter, Reporter
from .blocks import block_size_for_budget, iter_blocks
from .grid import Grid
from .outputs import code_dtype, create_geotiff, write_block

#: Working memory for one block of the class code raster, MiB.
BLOCK_MEMORY_MB = 64.0
#: Geometry types whose parts are separate polygons (groups).
MULTI_TYPES = (ogr.wkbMultiPolygon, ogr.wkbGeometryCollection, ogr.wkbMultiSurface)


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
    """The pixels one polygon wins (``rows``, ``cols``: int64 arrays, row-major order) and the part
    of the feature each lies in (``parts``: int64, 0-based in the geometry's order; 0 for a
    single polygon)."""

    index: int
    fid: int
    code: int
    name: str | None
    rows: np.ndarray
    cols: np.ndarray
    parts: np.ndarray

    @property
    def n_parts(self) -> int:
        """Parts of the feature that won pixels (the groups it gives)."""
        return len(np.unique(self.parts))


@dataclass
class _Parts:
    """The parts of a multi-part feature: geometries, OGR envelopes, burn order (largest first)."""

    geometries: list
    envelopes: np.ndarray
    burn_order: np.ndarray


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
        self.polygons, self.grid, self.all_touched = polygons, grid, all_touched
        n = len(polygons)
        geometries = [ogr.CreateGeometryFromWkb(wkb) for wkb in polygons.wkbs]
        areas = np.array([g.GetArea() if g is not None else 0.0 for g in geometries])
        if inset > 0:
            geometries = [g.Buffer(-inset) if g is not None else None for g in geometries]
        self.envelopes = np.full((n, 4), np.nan)  # OGR order: minx, maxx, miny, maxy
        self._geometries = geometries
        self._original = ([ogr.CreateGeometryFromWkb(wkb) for wkb in polygons.wkbs] if inset > 0
                          else geometries)
        self._parts: dict[int, _Parts | None] = {}
        for index, geometry in enumerate(geometries):
            if geometry is not None and not geometry.IsEmpty():
                self.envelopes[index] = geometry.GetEnvelope()
        # Burn order: largest first, and among equal areas the higher fid first, so that the
        # smallest polygon (then the lowest fid) is burnt last and wins.
        self._burn_order = np.lexsort((-np.arange(n), -areas))
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
        return self._burn(self._geometries, self.envelopes, self._burn_order, col0, row0, ncols, nrows)

    def _burn(self, geometries: list, envelopes: np.ndarray, order: np.ndarray, col0: int, row0: int,
              ncols: int, nrows: int) -> np.ndarray:
        """Position + 1 (0: none) in ``geometries`` of the last one burnt on each pixel of a window,
        burnt in ``order``; int32 (nrows, ncols)."""
        target = gdal.GetDriverByName("MEM").Create("", ncols, nrows, 1, gdal.GDT_Int32)
        target.SetGeoTransform(self.grid.window_geotransform(col0, row0))
        xmin = self.grid.x0 + col0 * self.grid.pixel_width
        xmax = self.grid.x0 + (col0 + ncols) * self.grid.pixel_width
        ymin = self.grid.y0 - (row0 + nrows) * self.grid.pixel_height
        ymax = self.grid.y0 - row0 * self.grid.pixel_height
        env = envelopes[order]
        # Only the geometries whose envelope meets the window, in burn order: a small layer per
        # window keeps the cost independent of the number of polygons (NaN envelopes never match).
        candidates = order[(env[:, 0] <= xmax) & (env[:, 1] >= xmin)
                           & (env[:, 2] <= ymax) & (env[:, 3] >= ymin)]
        if len(candidates):
            source = ogr.GetDriverByName("Memory").CreateDataSource("window")
            layer = source.CreateLayer("polygons", self._srs, ogr.wkbUnknown)
            layer.CreateField(ogr.FieldDefn("burn", ogr.OFTInteger))
            definition = layer.GetLayerDefn()
            for index in candidates.tolist():
                feature = ogr.Feature(definition)
                feature.SetField(0, index + 1)
                feature.SetGeometry(geometries[index])
                layer.CreateFeature(feature)
            options = ["ATTRIBUTE=burn"] + (["ALL_TOUCHED=TRUE"] if self.all_touched else [])
            gdal.RasterizeLayer(target, [1], layer, options=options)
        return target.GetRasterBand(1).ReadAsArray()

    def _parts_of(self, index: int) -> _Parts | None:
        """The parts of feature ``index`` (before the inset), None for a single polygon (cached)."""
        if index not in self._parts:
            geometry = self._original[index]
            parts = None
            if (geometry is not None and ogr.GT_Flatten(geometry.GetGeometryType()) in MULTI_TYPES
                    and geometry.GetGeometryCount() > 1):
                count = geometry.GetGeometryCount()
                geometries = [geometry.GetGeometryRef(i).Clone() for i in range(count)]
                envelopes = np.array([g.GetEnvelope() for g in geometries], dtype=np.float64)
                areas = np.array([g.GetArea() for g in geometries])
                parts = _Parts(geometries, envelopes, np.lexsort((-np.arange(count), -areas)))
            self._parts[index] = parts
        return self._parts[index]

    def _part_numbers(self, index: int, won: np.ndarray, col0: int, row0: int) -> np.ndarray:
        """Part (0-based) of each pixel where ``won`` (a window's mask at ``col0``, ``row0``) is true.

        Parts overlapping: the smallest wins. A won pixel no part holds by itself (rings of one
        feature that cross each other) goes to the part burnt nearest in row-major order.
        """
        parts = self._parts_of(index)
        if parts is None:
            return np.zeros(int(won.sum()), dtype=np.int64)
        burnt = self._burn(parts.geometries, parts.envelopes, parts.burn_order, col0, row0,
                           won.shape[1], won.shape[0])[won].astype(np.int64) - 1
        if (burnt < 0).any() and (burnt >= 0).any():
            known = np.flatnonzero(burnt >= 0)
            nearest = np.clip(np.searchsorted(known, np.flatnonzero(burnt < 0)), 0, len(known) - 1)
            burnt[burnt < 0] = burnt[known[nearest]]
        return np.maximum(burnt, 0)

    def code_lookup(self) -> np.ndarray:
        """Array mapping winner value (index + 1, 0 = none) to class code (0 = unlabelled)."""
        return np.concatenate([[0], self.polygons.codes]).astype(np.int64)

    def polygon_pixels(self, index: int, max_pixels: int = 4_000_000,
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pixels won by polygon ``index``: rows, cols and the part each lies in (int64), row-major.

        The polygon's window is processed in row strips of at most ``max_pixels`` pixels
        so that a huge polygon does not need its whole window in memory at once.
        """
        window = self.windows[index]
        if window is None:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, empty
        col0, row0, ncols, nrows = window
        strip = max(1, max_pixels // ncols)
        rows, cols, parts = [], [], []
        for start in range(row0, row0 + nrows, strip):
            height = min(strip, row0 + nrows - start)
            won = self.winners(col0, start, ncols, height) == index + 1
            r, c = np.nonzero(won)
            rows.append(r.astype(np.int64) + start)
            cols.append(c.astype(np.int64) + col0)
            parts.append(self._part_numbers(index, won, col0, start))
        return np.concatenate(rows), np.concatenate(cols), np.concatenate(parts)

    def iter_polygon_pixels(self, max_points_per_polygon: int = 0, seed: int = 1,
                            reporter: Reporter | None = None,
                            is_canceled: Callable[[], bool] | None = None) -> Iterator[PolygonPixels]:
        """Yield the pixels of every polygon, in feature id order (polygons without pixels skipped).

        ``max_points_per_polygon`` > 0 keeps a random subset of that many pixels per polygon (each
        part of a multi-part feature: a polygon the user drew), drawn with a generator seeded by
        ``(seed, fid)`` (``(seed, fid, part)`` for the parts of a multi-part feature), independent
        of the other polygons, still in row-major order.
        """
        reporter = reporter or NullReporter()
        total = len(self.polygons)
        for index in range(total):
            raise_if_canceled(is_canceled)
            rows, cols, parts = self.polygon_pixels(index)
            fid = int(self.polygons.fids[index])
            if max_points_per_polygon > 0:
                keep = _subset_per_part(parts, max_points_per_polygon, seed, fid)
                rows, cols, parts = rows[keep], cols[keep], parts[keep]
            if total:
                reporter.progress(100.0 * (index + 1) / total)
            if len(rows):
                name = self.polygons.names[index] if self.polygons.names is not None else None
                yield PolygonPixels(index, fid, int(self.polygons.codes[index]), name, rows, cols, parts)


def _subset_per_part(parts: np.ndarray, n: int, seed: int, fid: int) -> np.ndarray:
    """Positions of at most ``n`` pixels of each part, drawn at random (sorted). One pass of
    Python per part larger than ``n``, on that part's pixels only."""
    order = np.argsort(parts, kind="stable")
    distinct, starts, counts = np.unique(parts[order], return_index=True, return_counts=True)
    keep = [order[start:start + count] for start, count in zip(starts, counts, strict=True) if count <= n]
    for part, start, count in zip(distinct.tolist(), starts, counts, strict=True):
        if count > n:
            rng = np.random.default_rng([seed, fid] if len(distinct) == 1 else [seed, fid, part])
            keep.append(order[start:start + count][rng.choice(count, size=n, replace=False)])
    return np.sort(np.concatenate(keep)) if keep else np.empty(0, dtype=np.int64)


def rasterize_codes(rasterizer: PolygonRasterizer, path: str, reporter: Reporter | None = None,
                    is_canceled: Callable[[], bool] | None = None) -> dict[str, int]:
    """Write the class code raster (0 = unlabelled, nodata 0) on the rasterizer's grid.

    Block by block (tiled, DEFLATE-compressed GeoTIFF, the smallest unsigned type that holds
    the codes). Returns pixel counts per code (``{code: n}``) for the log.
    """
    reporter = reporter or NullReporter()
    grid = rasterizer.grid
    lookup = rasterizer.code_lookup()
    out = create_geotiff(path, grid, 1, code_dtype(int(lookup.max())), 0)
    counts = np.zeros(len(lookup), dtype=np.int64)
    block_width, block_height = block_size_for_budget(grid.width, grid.height, 12.0, BLOCK_MEMORY_MB)
    for block in iter_blocks(grid.width, grid.height, block_width, block_height):
        raise_if_canceled(is_canceled)
        winners = rasterizer.winners(block.x_off, block.y_off, block.width, block.height)
        counts += np.bincount(winners.ravel(), minlength=len(lookup))
        write_block(out, block, lookup[winners])
        reporter.progress(100.0 * (block.index + 1) / block.count)
    out.FlushCache()
    out = None
    per_code: dict[str, int] = {}
    for code, count in zip(lookup[1:], counts[1:], strict=True):
        if count:
            per_code[str(int(code))] = per_code.get(str(int(code)), 0) + int(count)
    return per_code


def _bounds_of(reference) -> tuple[float, float, float, float]:
    """``(xmin, ymin, xmax, ymax)`` of an open GDAL dataset."""
    gt = reference.GetGeoTransform()
    width, height = reference.RasterXSize, reference.RasterYSize
    return gt[0], gt[3] + gt[5] * height, gt[0] + gt[1] * width, gt[3]


def mask_on_grid(mask: str, reference, workdir: str):
    """The mask as a raster on the reference grid: nonzero (and not nodata) = inside.

    A raster mask is warped onto the grid (nearest neighbour, through a VRT, no copy);
    a vector mask is rasterized (pixel-centre rule) into a GeoTIFF in ``workdir``.
    """
    try:
        source = gdal.OpenEx(os.fspath(mask), gdal.OF_RASTER | gdal.OF_VECTOR)
    except RuntimeError:
        source = None
    if source is None:
        raise UserInputError(f"cannot open the mask {mask}; choose a raster or a polygon layer.", "MASK")
    width, height = reference.RasterXSize, reference.RasterYSize
    bounds, srs = _bounds_of(reference), reference.GetProjection()
    if source.RasterCount > 0:
        return gdal.Warp(os.path.join(workdir, "mask.vrt"), source, format="VRT", outputBounds=bounds,
                         width=width, height=height, dstSRS=srs or None, resampleAlg="near",
                         dstNodata=0)
    if source.GetLayerCount() == 0:
        raise UserInputError(f"the mask {mask} has neither bands nor layers.", "MASK")
    return gdal.Rasterize(os.path.join(workdir, "mask.tif"), source, format="GTiff",
                          outputType=gdal.GDT_Byte, outputBounds=bounds, width=width, height=height,
                          outputSRS=srs or None, burnValues=[1], initValues=0,
                          creationOptions=["TILED=YES", "COMPRESS=DEFLATE"])


def rasterize_reference(polygons_path: str, layer_name: str, code_field: str, area_field: str,
                        map_path: str, output: str) -> str:
    """Burn reference codes on a class map's grid (UInt32 GeoTIFF, 0 = no reference).

    The polygons must already be in the map's CRS; ``area_field`` holds each polygon's area
    so that larger polygons burn first and the smallest wins (equal areas: the lower feature
    id burns last and wins).
    """
    reference = gdal.Open(os.fspath(map_path))
    gdal.Rasterize(output, os.fspath(polygons_path), format="GTiff", outputType=gdal.GDT_UInt32,
                   outputBounds=_bounds_of(reference), width=reference.RasterXSize,
                   height=reference.RasterYSize, initValues=0, attribute=code_field,
                   outputSRS=reference.GetProjection() or None,
                   SQLStatement=f'SELECT * FROM "{layer_name}" ORDER BY "{area_field}" DESC, fid DESC',
                   SQLDialect="SQLITE", creationOptions=["TILED=YES", "COMPRESS=DEFLATE"])
    return output
