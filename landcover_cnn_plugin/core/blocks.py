"""The one block walker: read, process and write a raster block by block.

Every raster pass of the plugin (classification, patch sampling) goes through this
module so that memory stays flat with raster size (EnMAP-Box style block processing):

* :func:`block_size_for_budget` chooses the block size from a memory budget and aligns
  it to the raster's internal blocks (strips or tiles) so that GDAL never decodes an
  internal block twice, and to the tile size of the outputs so that each compressed
  output tile is written once.
* :func:`iter_blocks` yields :class:`Block` objects: the window to *write*
  (``x_off, y_off, width, height``) and the window to *read*, grown by ``halo`` pixels on
  every side for models that look at a neighbourhood, clipped to the raster.
* Where the grown window leaves the image, the missing rows and columns are filled by
  replicating the edge pixel (NumPy ``"edge"`` mode). A halo block therefore equals the
  corresponding slice of ``np.pad(full_image, halo, mode="edge")``; training patches are
  cut with the same rule (:func:`pad_edges`).

Pure NumPy/GDAL: no qgis import.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

#: Tile size of the GeoTIFFs the plugin writes (pixels); blocks are aligned to it too.
OUTPUT_TILE = 256


@dataclass(frozen=True)
class Block:
    """One block of a raster pass.

    Attributes
    ----------
    index, count : int
        Position of the block in the walk (0-based) and the number of blocks.
    x_off, y_off, width, height : int
        Window to write, in pixels of the full raster.
    halo : int
        Pixels added on every side of the write window for reading.
    read_x, read_y, read_width, read_height : int
        Window to read: the write window grown by ``halo``, clipped to the raster.
    pad : tuple of (int, int)
        ``((top, bottom), (left, right))`` rows/columns missing from the read window
        because it was clipped at the image edge; :meth:`pad_array` adds them.
    """

    index: int
    count: int
    x_off: int
    y_off: int
    width: int
    height: int
    halo: int
    read_x: int
    read_y: int
    read_width: int
    read_height: int
    pad: tuple[tuple[int, int], tuple[int, int]]

    @property
    def write_window(self) -> tuple[int, int, int, int]:
        """``(x_off, y_off, width, height)`` of the output block."""
        return self.x_off, self.y_off, self.width, self.height

    @property
    def read_window(self) -> tuple[int, int, int, int]:
        """``(x_off, y_off, width, height)`` of the input block (clipped, without padding)."""
        return self.read_x, self.read_y, self.read_width, self.read_height

    @property
    def shape_with_halo(self) -> tuple[int, int]:
        """``(rows, cols)`` of a padded read block: ``(height + 2 halo, width + 2 halo)``."""
        return self.height + 2 * self.halo, self.width + 2 * self.halo

    def pad_array(self, array: np.ndarray) -> np.ndarray:
        """Pad the last two axes of a read block to ``shape_with_halo`` by edge replication.

        Parameters
        ----------
        array : ndarray, shape (..., read_height, read_width)

        Returns
        -------
        ndarray, shape (..., height + 2 halo, width + 2 halo)
            ``array`` itself when no padding is needed.
        """
        (top, bottom), (left, right) = self.pad
        if not (top or bottom or left or right):
            return array
        widths = [(0, 0)] * (array.ndim - 2) + [(top, bottom), (left, right)]
        return np.pad(array, widths, mode="edge")


def iter_blocks(width: int, height: int, block_width: int, block_height: int,
                halo: int = 0) -> Iterator[Block]:
    """Walk a ``width`` x ``height`` raster in row-major blocks that tile it exactly once.

    Parameters
    ----------
    width, height : int
        Raster size in pixels.
    block_width, block_height : int
        Size of the write windows (the last row/column of blocks is cut to the raster).
    halo : int, default 0
        Pixels read beyond the write window on every side (``patch_size // 2``).

    Yields
    ------
    Block
    """
    if width <= 0 or height <= 0:
        return
    if block_width <= 0 or block_height <= 0:
        raise ValueError(f"block size must be positive, got {block_width} x {block_height}")
    if halo < 0:
        raise ValueError(f"halo must be >= 0, got {halo}")
    n_cols = math.ceil(width / block_width)
    n_rows = math.ceil(height / block_height)
    count = n_cols * n_rows
    index = 0
    for y_off in range(0, height, block_height):
        rows = min(block_height, height - y_off)
        for x_off in range(0, width, block_width):
            cols = min(block_width, width - x_off)
            x0, y0 = max(0, x_off - halo), max(0, y_off - halo)
            x1, y1 = min(width, x_off + cols + halo), min(height, y_off + rows + halo)
            pad = ((y0 - (y_off - halo), (y_off + rows + halo) - y1),
                   (x0 - (x_off - halo), (x_off + cols + halo) - x1))
            yield Block(index, count, x_off, y_off, cols, rows, halo, x0, y0, x1 - x0, y1 - y0, pad)
            index += 1


def _lcm(a: int, b: int) -> int:
    return a * b // math.gcd(a, b)


def block_size_for_budget(width: int, height: int, bytes_per_pixel: float, memory_mb: float,
                          internal_block: tuple[int, int] = (0, 0), halo: int = 0,
                          output_tile: int = OUTPUT_TILE) -> tuple[int, int]:
    """Choose a block size that fits a memory budget and follows the raster's layout.

    Parameters
    ----------
    width, height : int
        Raster size in pixels.
    bytes_per_pixel : float
        Working memory one output pixel costs (inputs, model activations, outputs), bytes.
    memory_mb : float
        Budget for one block, MiB.
    internal_block : (int, int)
        The input's internal block size (``band.GetBlockSize()``): strips have the full
        width. ``(0, 0)``: unknown.
    halo : int
        Halo pixels per side (the budget counts the grown window).
    output_tile : int
        Tile size of the outputs; block rows (and columns when tiled) are aligned to it too.

    Returns
    -------
    (block_width, block_height) : tuple of int
        Full-width strips when a row band of aligned height fits the budget, else tiles.
        Never larger than the raster; never smaller than one aligned unit.
    """
    target = max(1.0, memory_mb * 1024 * 1024 / max(bytes_per_pixel, 1e-9))
    in_w, in_h = internal_block
    in_w = in_w if 0 < in_w < width else width  # strips (or unknown): the full width
    in_h = max(1, in_h)
    row_align = _lcm(in_h, output_tile) if output_tile else in_h
    # Full-width strips when an aligned band of rows fits: each input strip/tile row and each
    # output tile row is decoded or encoded once.
    rows = int(target // (width + 2 * halo)) - 2 * halo
    if rows >= height:
        return width, height
    if rows >= row_align:
        return width, rows // row_align * row_align
    # Tiles: columns aligned to the input tiles and the output tiles, rows to one aligned unit.
    # (a strip input has no column structure: GDAL's block cache keeps the strips just read)
    col_align = in_w if in_w < width else 1
    col_align = _lcm(col_align, output_tile) if output_tile else col_align
    cols = int(target // (row_align + 2 * halo)) - 2 * halo
    cols = max(col_align, cols // col_align * col_align)
    return min(width, cols), min(height, row_align)


def pad_edges(array: np.ndarray, halo: int) -> np.ndarray:
    """Pad the last two axes by ``halo`` pixels, replicating the edge pixel (NumPy "edge").

    The rule used at image edges both when cutting training patches and when predicting.
    """
    if halo <= 0:
        return array
    return np.pad(array, [(0, 0)] * (array.ndim - 2) + [(halo, halo), (halo, halo)], mode="edge")


def valid_pixels(values: np.ndarray, nodata: Sequence[float | None]) -> np.ndarray:
    """Pixels valid in every band: finite and not the band's nodata value.

    values: (bands, rows, cols) float32 -> (rows, cols) bool. The one rule for classification
    and for cutting training patches (nodata compared in float32, as the values are).
    """
    valid = np.isfinite(values).all(axis=0)
    for index, value in enumerate(nodata):
        if value is not None:
            valid &= values[index] != np.float32(value)
    return valid


def read_block(dataset, block: Block, bands: Sequence[int] | None = None,
               dtype: type | np.dtype = np.float32) -> np.ndarray:
    """Read a block's read window from a GDAL dataset and pad it by edge replication.

    Parameters
    ----------
    dataset : osgeo.gdal.Dataset
    block : Block
    bands : sequence of int, optional
        1-based band numbers in the wanted order (default: all bands).
    dtype : numpy dtype
        Type of the returned array.

    Returns
    -------
    ndarray, shape (n_bands, height + 2 halo, width + 2 halo)
    """
    band_list = list(bands) if bands is not None else list(range(1, dataset.RasterCount + 1))
    data = dataset.ReadAsArray(block.read_x, block.read_y, block.read_width, block.read_height,
                               band_list=band_list)
    if data is None:
        raise OSError(f"GDAL could not read the window {block.read_window} of "
                      f"{dataset.GetDescription()}")
    data = np.asarray(data)
    if data.ndim == 2:
        data = data[np.newaxis]
    return block.pad_array(data.astype(dtype, copy=False))
