"""QGIS layer styles written as plain XML (no qgis import): the class map's paletted QML."""

from __future__ import annotations

import os
from collections.abc import Sequence
from xml.sax.saxutils import quoteattr

from .atomic import atomic_output


def paletted_qml(codes: Sequence[int], names: Sequence[str], colors: Sequence[str],
                 band: int = 1) -> str:
    """Return a QGIS 3 style (QML) with a paletted renderer: one entry per class code.

    Parameters
    ----------
    codes : sequence of int
        Class codes as stored in the map (0 = nodata is not listed).
    names : sequence of str
        Class names shown in the layer legend.
    colors : sequence of str
        ``#rrggbb`` colours.
    band : int
        1-based band the renderer reads.
    """
    entries = "\n".join(
        f"        <paletteEntry value={quoteattr(str(int(code)))} color={quoteattr(color)} "
        f"alpha=\"255\" label={quoteattr(str(name))}/>"
        for code, name, color in zip(codes, names, colors, strict=True))
    return f"""<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.22.16" styleCategories="AllStyleCategories" hasScaleBasedVisibilityFlag="0">
  <pipe>
    <provider>
      <resampling enabled="false" zoomedInResamplingMethod="nearestNeighbour"
                  zoomedOutResamplingMethod="nearestNeighbour" maxOversampling="2"/>
    </provider>
    <rasterrenderer type="paletted" band="{int(band)}" opacity="1" alphaBand="-1" nodataColor="">
      <rasterTransparency/>
      <minMaxOrigin>
        <limits>None</limits>
        <extent>WholeRaster</extent>
        <statAccuracy>Estimated</statAccuracy>
        <cumulativeCutLower>0.02</cumulativeCutLower>
        <cumulativeCutUpper>0.98</cumulativeCutUpper>
        <stdDevFactor>2</stdDevFactor>
      </minMaxOrigin>
      <colorPalette>
{entries}
      </colorPalette>
      <colorramp type="randomcolors" name="[source]"/>
    </rasterrenderer>
    <brightnesscontrast brightness="0" contrast="0" gamma="1"/>
    <huesaturation saturation="0" grayscaleMode="0" colorizeOn="0" colorizeRed="255"
                   colorizeGreen="128" colorizeBlue="128" colorizeStrength="100" invertColors="0"/>
    <rasterresampler maxOversampling="2"/>
    <resamplingStage>resamplingFilter</resamplingStage>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
"""


def qml_path_for(raster_path: str | os.PathLike) -> str:
    """``map.tif`` -> ``map.qml`` (the name QGIS loads automatically beside a raster)."""
    return os.path.splitext(os.fspath(raster_path))[0] + ".qml"


def write_paletted_qml(path: str | os.PathLike, codes: Sequence[int], names: Sequence[str],
                       colors: Sequence[str], band: int = 1) -> str:
    """Write :func:`paletted_qml` to ``path`` atomically; return the path."""
    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        handle.write(paletted_qml(codes, names, colors, band))
    return os.fspath(path)
