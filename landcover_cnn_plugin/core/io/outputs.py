"""The GeoTIFFs the plugin writes: creation on a grid, block writing, class maps' legend.

Every raster output is a tiled (256 x 256, :data:`.blocks.OUTPUT_TILE`), DEFLATE-compressed
GeoTIFF (BigTIFF when needed) on the grid of a reference raster. A class map holds class
CODES (0 = nodata) in the smallest unsigned type that holds the largest code, a colour
table, category names and its legend as JSON metadata (``LANDCOVER_LEGEND``, read back by
:func:`read_map_legend` for the accuracy report and the quick-look).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from osgeo import gdal

from .blocks import OUTPUT_TILE, Block
from .grid import Grid
from .rasters import gdal_type, open_raster

GTIFF_OPTIONS = ["TILED=YES", f"BLOCKXSIZE={OUTPUT_TILE}", f"BLOCKYSIZE={OUTPUT_TILE}",
                 "COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER"]
#: Metadata item of a class map holding its legend (codes, names, colours) as JSON.
LEGEND_METADATA = "LANDCOVER_LEGEND"


def code_dtype(max_code: int) -> np.dtype:
    """Smallest unsigned type that holds ``max_code`` (uint8, uint16, uint32: Byte, UInt16, UInt32)."""
    return np.dtype(np.uint8 if max_code <= 255 else np.uint16 if max_code <= 65535 else np.uint32)


def create_geotiff(path: str, like: Grid | Any, n_bands: int, dtype: np.dtype | type, nodata: float):
    """Create a GeoTIFF of ``dtype`` on the grid of ``like`` (a :class:`Grid` or an open GDAL dataset).

    Tiled 256 x 256, DEFLATE, band-interleaved when several bands; every band's nodata set.
    Returns the open dataset (closed, and flushed, when the last reference goes).
    """
    if isinstance(like, Grid):
        width, height, geotransform, crs_wkt = like.width, like.height, like.geotransform, like.crs_wkt
    else:
        width, height = like.RasterXSize, like.RasterYSize
        geotransform, crs_wkt = like.GetGeoTransform(), like.GetProjection()
    dataset = gdal.GetDriverByName("GTiff").Create(
        os.fspath(path), width, height, n_bands, gdal_type(dtype),
        GTIFF_OPTIONS + (["INTERLEAVE=BAND"] if n_bands > 1 else []))
    dataset.SetGeoTransform(geotransform)
    dataset.SetProjection(crs_wkt)
    for index in range(1, n_bands + 1):
        dataset.GetRasterBand(index).SetNoDataValue(nodata)
    return dataset


def write_block(dataset, block: Block, values: np.ndarray, band: int = 1) -> None:
    """Write ``values`` (rows, cols) into band ``band`` at the block's write window."""
    dataset.GetRasterBand(band).WriteArray(values, block.x_off, block.y_off)


def describe_bands(dataset, names: Sequence[str]) -> None:
    """Set the band descriptions (names) of ``dataset``, band 1 first."""
    for index, name in enumerate(names, start=1):
        dataset.GetRasterBand(index).SetDescription(str(name))


def _hex_rgba(color: str) -> tuple[int, int, int, int]:
    color = color.lstrip("#")
    return int(color[0:2], 16), int(color[2:4], 16), int(color[4:6], 16), 255


def write_class_legend(dataset, legend: Any) -> None:
    """Colour table, category names and legend metadata of a class map (band 1).

    ``legend`` has ``codes``, ``names`` and ``colors`` (``core.legend.ClassLegend``). Call it
    before writing the first block: GDAL may flush blocks at any time, after which a GeoTIFF's
    colour table can no longer be set.
    """
    band = dataset.GetRasterBand(1)
    band.SetDescription("class code")
    max_code = int(max(legend.codes))
    if max_code <= 65535:
        table = gdal.ColorTable()
        table.SetColorEntry(0, (0, 0, 0, 0))
        for code, color in zip(legend.codes, legend.colors, strict=True):
            table.SetColorEntry(int(code), _hex_rgba(color))
        band.SetColorTable(table)
        names = [""] * (max_code + 1)
        for code, name in zip(legend.codes, legend.names, strict=True):
            names[int(code)] = name
        band.SetCategoryNames(names)
    dataset.SetMetadataItem(LEGEND_METADATA, json.dumps(
        {"codes": [int(c) for c in legend.codes], "names": list(legend.names),
         "colors": list(legend.colors)}))
    for code, name in zip(legend.codes, legend.names, strict=True):
        band.SetMetadataItem(f"CLASS_{int(code)}", str(name))


def read_map_legend(map_path: str, parameter: str = "INPUT") -> dict[str, list] | None:
    """The legend a class map carries (:func:`write_class_legend`), or None."""
    text = open_raster(map_path, parameter).GetMetadataItem(LEGEND_METADATA)
    return json.loads(text) if text else None
