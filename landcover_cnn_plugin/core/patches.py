"""Square patches around labelled pixels, for the patch-based CNN (raster I/O through :mod:`.io`).

Rules shared by training and prediction (``core/io/blocks.py`` pads its halo the same way):

* **Image edges**: a patch that reaches past the raster is padded by replicating the edge
  pixel (numpy ``"edge"`` mode). The validity mask is padded the same way.
* **Nodata neighbours**: a patch pixel that is nodata in any band (the one validity rule,
  :func:`.io.rasters.valid_pixels`: the band's nodata value, or not finite) is *invalid*.
  Invalid pixels are filled with the per-band training mean, which is 0 after z-scoring
  (``ZScoreScaler.transform(values, valid)``);
  ``LoadedModel.predict_block`` does exactly the same on a block plus halo, so a pixel sees
  the same inputs in both.
* A patch whose **centre** pixel is invalid is not a sample (nodata stays nodata).

Patches are read strip by strip through the block walker (``core.io.blocks``: full-width strips
of a few hundred rows plus the halo), never one ``ReadAsArray`` per pixel, so cutting 90,000 patches
takes about a second.

Array layout: patches are ``(n, k, k, bands)`` (channels last, as Keras wants them);
row ``i`` of a patch is the raster row ``row - k//2 + i``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UserInputError
from .io.blocks import iter_blocks, read_valid_block
from .io.grid import Grid
from .io.rasters import RasterBands, open_raster

#: The 8 symmetries of the square (dihedral group D4), as (transpose, flip rows, flip cols).
DIHEDRAL = [(t, fr, fc) for t in (False, True) for fr in (False, True) for fc in (False, True)]


@dataclass
class PatchSet:
    """Patches cut at a list of pixels.

    Attributes
    ----------
    values : numpy.ndarray
        float32 ``(n, k, k, bands)``: raw band values (the raster's units, e.g. DN).
        Invalid pixels hold arbitrary numbers until ``ZScoreScaler.transform`` sets them to 0.
    valid : numpy.ndarray
        bool ``(n, k, k)``: True where every band holds data.
    rows, cols : numpy.ndarray
        int64 ``(n,)``: the centre pixels, in the order they were asked for.
    band_names : list of str
        Band descriptions in the order of the last axis.
    """

    values: np.ndarray
    valid: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    band_names: list[str]

    @property
    def patch_size(self) -> int:
        return int(self.values.shape[1])

    @property
    def centre_valid(self) -> np.ndarray:
        """bool ``(n,)``: the centre pixel holds data in every band."""
        h = self.patch_size // 2
        return self.valid[:, h, h]


def check_patch_size(patch_size: int, parameter: str = "PATCH_SIZE") -> int:
    """Return ``patch_size`` as int; refuse even or too small sizes (k must be odd, >= 3)."""
    k = int(patch_size)
    if k < 3 or k % 2 == 0 or k > 31:
        raise UserInputError(
            f"The patch size must be an odd number of pixels between 3 and 31 (got {patch_size}); "
            "use for example 5, 7 or 9.", parameter)
    return k


def cut_patches(raster: str | Path, rows: np.ndarray, cols: np.ndarray, patch_size: int,
                band_names: Sequence[str] | None = None, strip_rows: int = 256) -> PatchSet:
    """Cut ``patch_size`` x ``patch_size`` patches centred on the given pixels.

    Parameters
    ----------
    raster : path
        The stack (any GDAL raster); bands matched by description when ``band_names`` is given.
    rows, cols : numpy.ndarray
        int ``(n,)`` centre pixels (0-based row, column); all must lie on the raster.
    patch_size : int
        k, odd (3, 5, 7, ...); the halo is ``k // 2`` pixels.
    band_names : sequence of str, optional
        Band descriptions to use, in the order of the patch's last axis (default: all bands).
    strip_rows : int
        Rows read at a time (plus the halo): memory is ``bands x (strip_rows + k) x width``.

    Returns
    -------
    PatchSet
        ``values`` float32 ``(n, k, k, bands)`` raw values, ``valid`` bool ``(n, k, k)``.
        Edges replicate the edge pixel; nodata stays flagged invalid (fill it with
        ``core.scaling.ZScoreScaler.transform(values, valid)``).
    """
    k = check_patch_size(patch_size)
    h = k // 2
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    dataset = open_raster(raster, "RASTER")
    bands = RasterBands.of(dataset, band_names, "RASTER")
    width, height = dataset.RasterXSize, dataset.RasterYSize
    outside = ~((rows >= 0) & (rows < height) & (cols >= 0) & (cols < width))
    if outside.any():
        raise UserInputError(
            f"{int(outside.sum())} of {len(rows)} sample points lie outside the raster "
            f"({width} x {height} pixels): use the stack the samples were extracted from.", "RASTER")
    n = len(rows)
    values = np.empty((n, k, k, len(bands.numbers)), dtype=np.float32)
    valid = np.empty((n, k, k), dtype=bool)
    order = np.argsort(rows, kind="stable")
    sorted_rows = rows[order]
    offsets = np.arange(-h, h + 1)
    # the block walker's full-width strips with a halo of k // 2: the same edge rule and validity
    # rule as classification (core.io); strips without a sample are not read
    for strip in iter_blocks(width, height, width, max(1, int(strip_rows)), h):
        start, stop = np.searchsorted(sorted_rows, [strip.y_off, strip.y_off + strip.height])
        if start == stop:
            continue
        idx = order[start:stop]
        strip_values, strip_valid = read_valid_block(dataset, strip, bands)
        # padded coordinates: raster row r -> strip row r - y_off + h; col c -> c + h
        rr = (rows[idx] - strip.y_off + h)[:, None] + offsets[None, :]       # (m, k)
        cc = (cols[idx] + h)[:, None] + offsets[None, :]                     # (m, k)
        cut = strip_values[:, rr[:, :, None], cc[:, None, :]]                # (bands, m, k, k)
        values[idx] = np.moveaxis(cut, 0, -1)
        valid[idx] = strip_valid[rr[:, :, None], cc[:, None, :]]
    return PatchSet(values, valid, rows, cols, list(bands.names))


def cut_patches_at(raster: str | Path, xy: np.ndarray, patch_size: int,
                   band_names: Sequence[str] | None = None) -> PatchSet:
    """:func:`cut_patches` centred on the pixels that hold map points (``Grid.pixel_of``).

    ``xy``: float ``(n, 2)`` X, Y in the raster's CRS, such as the samples CSV's pixel centres.
    """
    rows, cols, _ = Grid.from_dataset(open_raster(raster, "RASTER")).pixel_of(xy[:, 0], xy[:, 1])
    return cut_patches(raster, rows, cols, patch_size, band_names)


def dihedral(patches: np.ndarray, index: int) -> np.ndarray:
    """Apply symmetry ``index`` (0..7) of the square to patches ``(n, k, k, ...)``; 0 = identity."""
    transpose, flip_rows, flip_cols = DIHEDRAL[index]
    out = patches
    if transpose:
        out = np.swapaxes(out, 1, 2)
    if flip_rows:
        out = out[:, ::-1]
    if flip_cols:
        out = out[:, :, ::-1]
    return out


def all_dihedral(patches: np.ndarray) -> np.ndarray:
    """The 8 flips/rotations of each patch: ``(n, k, k, b)`` -> ``(8 n, k, k, b)``, symmetry-major."""
    return np.concatenate([dihedral(patches, i) for i in range(8)], axis=0)

