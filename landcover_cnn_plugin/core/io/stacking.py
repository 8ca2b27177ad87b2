"""Stack and resample rasters onto one grid with GDAL warp and VRTs.

Each input band is warped (as a virtual warped VRT, nothing resampled by hand) onto the
target grid, the warped bands are stacked with a separate-band VRT and the stack is
written once as a tiled, compressed GeoTIFF. Runs inside the QGIS process.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from osgeo import gdal

from ..errors import JobCanceled, UserInputError
from ..progress import NullReporter, Reporter
from .grid import Grid, same_crs
from .outputs import describe_bands
from .rasters import open_raster

#: Resampling choices, in the order of the algorithm's enum.
RESAMPLING_METHODS = ["automatic", "nearest", "bilinear", "cubic", "average"]
#: Nodata of float stacks (integer stacks use 0 when unsigned, the type's minimum when signed).
FLOAT_NODATA = -9999.0


@dataclass
class StackSource:
    """One input raster as the stacker sees it."""

    path: str
    band_count: int
    descriptions: list[str]
    data_types: list[int]
    nodata: list[float | None]
    crs_wkt: str
    geotransform: tuple[float, ...]
    width: int
    height: int

    @classmethod
    def open(cls, path: str, parameter: str = "INPUT") -> StackSource:
        dataset = open_raster(path, parameter)
        bands = [dataset.GetRasterBand(i + 1) for i in range(dataset.RasterCount)]
        return cls(str(path), dataset.RasterCount, [b.GetDescription() for b in bands],
                   [b.DataType for b in bands], [b.GetNoDataValue() for b in bands],
                   dataset.GetProjection() or "", tuple(dataset.GetGeoTransform()),
                   dataset.RasterXSize, dataset.RasterYSize)

    def bounds_in(self, crs_wkt: str) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` of the raster in another CRS (edges densified by GDAL)."""
        warped = gdal.Warp("", self.path, format="VRT", dstSRS=crs_wkt)
        gt = warped.GetGeoTransform()
        return (gt[0], gt[3] + gt[5] * warped.RasterYSize, gt[0] + gt[1] * warped.RasterXSize, gt[3])

    def pixel_size_in(self, crs_wkt: str) -> float:
        """The raster's pixel size expressed in ``crs_wkt`` units (GDAL's suggested warp)."""
        if same_crs(self.crs_wkt, crs_wkt):
            return abs(self.geotransform[1])
        return abs(gdal.Warp("", self.path, format="VRT", dstSRS=crs_wkt).GetGeoTransform()[1])


def band_name_from_file(path: str) -> str:
    """Band name a file gives: the part after the last '_' of its name (``..._B8A.jp2`` -> ``B8A``)."""
    stem = Path(path).name.split(".")[0]
    return stem.rsplit("_", 1)[-1] or stem


def default_band_names(sources: Sequence[StackSource]) -> list[str]:
    """Band description where set, else the file's band name (``_<n>`` added for multi-band files).

    Repeated names get ``_2``, ``_3``... so that every band of the stack has its own name.
    """
    names: list[str] = []
    for source in sources:
        token = band_name_from_file(source.path)
        for index, description in enumerate(source.descriptions, start=1):
            if description.strip():
                names.append(description.strip())
            else:
                names.append(token if source.band_count == 1 else f"{token}_{index}")
    unique: list[str] = []
    for name in names:
        candidate, number = name, 2
        while candidate in unique:
            candidate, number = f"{name}_{number}", number + 1
        unique.append(candidate)
    return unique


def output_type(data_types: Sequence[int]) -> int:
    """GDAL type of the stack: float32 unless every input band is an integer type.

    Integer inputs of one type keep it; mixed unsigned types up to 16 bits give UInt16;
    other integer mixes give Int32.
    """
    unsigned = {gdal.GDT_Byte, gdal.GDT_UInt16, gdal.GDT_UInt32}
    signed = {gdal.GDT_Int16, gdal.GDT_Int32}
    kinds = set(data_types)
    if not kinds <= unsigned | signed:
        return gdal.GDT_Float32
    if len(kinds) == 1:
        return next(iter(kinds))
    if kinds <= {gdal.GDT_Byte, gdal.GDT_UInt16}:
        return gdal.GDT_UInt16
    return gdal.GDT_Int32


def nodata_for(data_type: int) -> float:
    """The stack's one nodata value for a GDAL type."""
    if data_type in (gdal.GDT_Byte, gdal.GDT_UInt16, gdal.GDT_UInt32):
        return 0
    if data_type == gdal.GDT_Int16:
        return -32768
    if data_type == gdal.GDT_Int32:
        return -2147483648
    return FLOAT_NODATA


def grid_from_pixel_size(sources: Sequence[StackSource], pixel_size: float, crs_wkt: str | None = None,
                         extent: tuple[float, float, float, float] | None = None) -> Grid:
    """Target grid from a pixel size (map units of the CRS).

    ``crs_wkt`` defaults to the first input's CRS, ``extent`` ``(xmin, ymin, xmax, ymax)`` to
    the union of the inputs' extents. Edges are snapped outwards to multiples of the pixel
    size so that stacks made with the same pixel size share one grid.
    """
    crs_wkt = crs_wkt or sources[0].crs_wkt
    if extent is None:
        boxes = [source.bounds_in(crs_wkt) for source in sources]
        extent = (min(b[0] for b in boxes), min(b[1] for b in boxes),
                  max(b[2] for b in boxes), max(b[3] for b in boxes))
    xmin, ymin, xmax, ymax = extent
    if not (xmax > xmin and ymax > ymin):
        raise UserInputError(f"the extent {extent} is empty; give xmin < xmax and ymin < ymax.", "EXTENT")
    # Tolerate float noise so that an extent already on the grid is not grown by a pixel.
    eps = pixel_size * 1e-9
    x0 = math.floor((xmin + eps) / pixel_size) * pixel_size
    y1 = math.ceil((ymax - eps) / pixel_size) * pixel_size
    x1 = math.ceil((xmax - eps) / pixel_size) * pixel_size
    y0 = math.floor((ymin + eps) / pixel_size) * pixel_size
    width, height = round((x1 - x0) / pixel_size), round((y1 - y0) / pixel_size)
    if width * height > 2**34:
        raise UserInputError(
            f"a pixel size of {pixel_size} gives {width} x {height} pixels; choose a larger PIXEL_SIZE "
            "or a smaller EXTENT.", "PIXEL_SIZE")
    return Grid(x0, y1, pixel_size, pixel_size, width, height, crs_wkt)


def resampling_for(method: str, source_pixel: float, target_pixel: float) -> str:
    """GDAL resampling name; ``automatic`` = average when coarsening (or equal), bilinear when refining."""
    if method != "automatic":
        return method
    return "average" if source_pixel <= target_pixel * (1 + 1e-9) else "bilinear"


def stack_rasters(sources: Sequence[StackSource], grid: Grid, output_path: str, resampling: str = "automatic",
                  band_names: Sequence[str] | None = None, reporter: Reporter | None = None,
                  is_canceled: Callable[[], bool] = lambda: False) -> dict:
    """Warp every band of ``sources`` onto ``grid`` and write one GeoTIFF.

    Parameters
    ----------
    sources : sequence of StackSource
        Inputs in stack order (all bands of each, in order).
    grid : Grid
        Target grid (CRS, origin, pixel size, size).
    output_path : str
        GeoTIFF to write (the caller makes it atomic).
    resampling : str
        One of :data:`RESAMPLING_METHODS`.
    band_names : sequence of str, optional
        One per output band; default :func:`default_band_names`.

    Returns
    -------
    dict
        ``band_names``, ``data_type`` (GDAL name), ``nodata``, ``width``, ``height``.
    """
    reporter = reporter or NullReporter()
    names = list(band_names) if band_names else default_band_names(sources)
    data_type = output_type([t for source in sources for t in source.data_types])
    nodata = nodata_for(data_type)
    prefix = f"/vsimem/lcnn_stack_{uuid.uuid4().hex}"
    warped: list[str] = []
    try:
        for source in sources:
            method = resampling_for(resampling, source.pixel_size_in(grid.crs_wkt), grid.pixel_width)
            for band in range(1, source.band_count + 1):
                if is_canceled():
                    raise JobCanceled("canceled")
                single = f"{prefix}_{len(warped)}_src.vrt"
                gdal.Translate(single, source.path, format="VRT", bandList=[band])
                target = f"{prefix}_{len(warped)}.vrt"
                source_nodata = source.nodata[band - 1]
                gdal.Warp(target, single, format="VRT", outputBounds=grid.bounds, width=grid.width,
                          height=grid.height, dstSRS=grid.crs_wkt, resampleAlg=method,
                          outputType=data_type, dstNodata=nodata,
                          srcNodata=source_nodata if source_nodata is not None else None,
                          errorThreshold=0)  # exact reprojection, no piecewise-linear shortcut
                warped.append(target)
        gdal.BuildVRT(f"{prefix}_stack.vrt", warped, separate=True).FlushCache()

        def progress(complete: float, message, data) -> int:
            reporter.progress(100.0 * complete)
            return 0 if is_canceled() else 1

        predictor = "3" if data_type == gdal.GDT_Float32 else "2"
        options = ["TILED=YES", "COMPRESS=DEFLATE", f"PREDICTOR={predictor}", "BIGTIFF=IF_SAFER",
                   "NUM_THREADS=ALL_CPUS"]
        try:
            out = gdal.Translate(output_path, f"{prefix}_stack.vrt", format="GTiff", creationOptions=options,
                                 noData=nodata, callback=progress)
        except RuntimeError:
            if is_canceled():
                raise JobCanceled("canceled") from None
            raise
        describe_bands(out, names)
        out.FlushCache()
        out = None
    finally:
        for path in gdal.ReadDirRecursive("/vsimem/") or []:
            if re.match(re.escape(prefix.split("/")[-1]), path):
                gdal.Unlink("/vsimem/" + path)
    return {"band_names": names, "data_type": gdal.GetDataTypeName(data_type), "nodata": nodata,
            "width": grid.width, "height": grid.height}
