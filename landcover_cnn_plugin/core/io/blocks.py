"""The one block walker: read, process and write a raster block by block.

Every raster pass of the plugin (classification, patch cutting, sampling at points, class
codes, accuracy pairs) goes through this module so that memory stays flat with raster size
(EnMAP-Box style block processing):

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
  cut from the same padded blocks (``core.patches``).
* :func:`read_valid_block` reads a block as float32 with the one validity rule of
  :mod:`.rasters`; sampling at points groups the points by these blocks (:class:`BlockSampler`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import raise_if_canceled
from .rasters import RasterBands, read_window

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


def read_block(dataset, block: Block, bands: Sequence[int] | None = None,
               dtype: type | np.dtype | None = None) -> np.ndarray:
    """Read a block's read window from a GDAL dataset and pad it by edge replication.

    Parameters
    ----------
    dataset : osgeo.gdal.Dataset
    block : Block
    bands : sequence of int, optional
        1-based band numbers in the wanted order (default: all bands).
    dtype : numpy dtype, optional
        Type of the returned array (default: one that holds every band exactly,
        :func:`.rasters.read_window`).

    Returns
    -------
    ndarray, shape (n_bands, height + 2 halo, width + 2 halo)
    """
    data = read_window(dataset, block.read_window, bands)
    return block.pad_array(data if dtype is None else data.astype(dtype, copy=False))


def read_valid_block(dataset, block: Block, bands: RasterBands) -> tuple[np.ndarray, np.ndarray]:
    """A block's values as float32 and its validity (:func:`.rasters.valid_pixels`), both edge-padded.

    What classification and patch cutting read: validity is decided on the exact values, before
    the conversion to float32 (which would merge large integers or float64 values).

    Returns
    -------
    values : ndarray, shape (n_bands, height + 2 halo, width + 2 halo), float32
    valid : ndarray, shape (height + 2 halo, width + 2 halo), bool
    """
    values = read_block(dataset, block, bands.numbers)
    return values.astype(np.float32, copy=False), bands.valid(values)


class BlockSampler:
    """Reads raster values at pixels, one read per walker block that holds some of them.

    Parameters
    ----------
    dataset : osgeo.gdal.Dataset
        Every band is read.
    memory_mb : float
        Budget of one block, MiB (:func:`block_size_for_budget`).

    Attributes
    ----------
    bands : RasterBands
        The bands read: names, nodata values, the common type of the values returned.
    """

    def __init__(self, dataset, memory_mb: float = 64.0) -> None:
        self.dataset = dataset
        self.bands = RasterBands.of(dataset)
        width, height = dataset.RasterXSize, dataset.RasterYSize
        self.block_width, self.block_height = block_size_for_budget(
            width, height, len(self.bands.numbers) * self.bands.dtype.itemsize, memory_mb,
            internal_block=tuple(dataset.GetRasterBand(1).GetBlockSize()))
        self.blocks = list(iter_blocks(width, height, self.block_width, self.block_height))
        self.blocks_per_row = math.ceil(width / self.block_width)

    def sample(self, rows: np.ndarray, cols: np.ndarray,
               is_canceled: Callable[[], bool] | None = None) -> np.ndarray:
        """Values at pixels ``(rows, cols)`` (on the raster): shape (bands, n), in the order given.

        The pixels are grouped by block with index arrays; each block is read once (all bands).
        """
        values = np.empty((len(self.bands.numbers), len(rows)), dtype=self.bands.dtype)
        if not len(rows):
            return values
        block_ids = (rows // self.block_height) * self.blocks_per_row + cols // self.block_width
        order = np.argsort(block_ids, kind="stable")
        sorted_ids = block_ids[order]
        starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
        ends = np.r_[starts[1:], len(order)]
        for start, end in zip(starts, ends, strict=True):
            raise_if_canceled(is_canceled)
            block = self.blocks[int(sorted_ids[start])]  # iter_blocks walks row-major: index = id
            selection = order[start:end]
            data = read_block(self.dataset, block)
            values[:, selection] = data[:, rows[selection] - block.y_off, cols[selection] - block.x_off]
        return values

    def sample_window(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Values at pixels that lie close together (one polygon): one read of their bounding window."""
        row0, col0 = int(rows.min()), int(cols.min())
        data = read_window(self.dataset, (col0, row0, int(cols.max()) - col0 + 1,
                                          int(rows.max()) - row0 + 1))
        return data[:, rows - row0, cols - col0]
