"""Raster and vector I/O: the one place in ``core`` that imports ``osgeo`` (GDAL/OGR/OSR).

Everything that opens a raster or a vector file, describes a grid, matches bands by name,
decides which pixels are valid, walks a raster block by block or writes a GeoTIFF goes
through this package, so that sampling, patch cutting, classification, stacking and
accuracy assessment follow the same rules:

* :mod:`.grid`       ``Grid`` (north-up pixel grid; ``pixel_of`` is the one map-to-pixel lookup)
* :mod:`.rasters`    open a raster, band names, the band matcher, the nodata rule, reading windows
* :mod:`.blocks`     the block walker (memory budget, halo, edge padding), block reading
* :mod:`.outputs`    GeoTIFFs the plugin writes (class maps, their colour table and legend)
* :mod:`.vectors`    point layers in Arrow batches, CSV points to a vector file
* :mod:`.rasterize`  training polygons on a grid (smallest polygon wins), masks, reference maps
* :mod:`.stacking`   warp input rasters onto one grid and stack their bands
* :mod:`.class_maps` class maps as strata of a probability sample: checks, row-major strips

GDAL, OGR and OSR raise Python exceptions instead of returning None: switched on once, here,
when the package is first imported (GDAL 4 makes it the default).
"""

from __future__ import annotations

from osgeo import gdal, ogr, osr

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()
