"""Classify a raster block by block with a loaded model (raster I/O through :mod:`.io`; the model
brings Keras).

The raster is read through the block walker (:mod:`.io.blocks`): each block, grown by the
model's halo and edge-padded at the image border, goes to ``LoadedModel.predict_block``;
the class codes, the confidence (highest probability) and optionally every class
probability are written at the block's offset. Memory depends on the block size (from
``memory_mb``), not on the raster size.

Outputs
-------
* class map: GeoTIFF, the legend's class CODES (never internal ids), the smallest unsigned
  type that holds the largest code, nodata 0, tiled 256 x 256, DEFLATE; colour table and
  the legend (as JSON metadata ``LANDCOVER_LEGEND`` and ``CLASS_<code>`` items) inside the
  file; category names in the ``.aux.xml`` side-car (where GDAL keeps them for GeoTIFF); a
  QGIS style ``<map>.qml`` beside it (paletted renderer).
* confidence: float32, highest class probability 0..1, nodata -1.
* probabilities: float32, one band per class in legend order, band descriptions = class
  names, nodata -1.

A pixel that is invalid in any used input band (:func:`.io.rasters.valid_pixels`: nodata,
NaN or infinite), or outside the mask, is nodata in every output. Every output is written
under a partial name and renamed when complete; on error or cancel the partial files are
deleted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .atomic import atomic_output, check_output_folder
from .errors import UserInputError, raise_if_canceled
from .io.blocks import Block, block_size_for_budget, iter_blocks, read_valid_block
from .io.outputs import code_dtype, create_geotiff, describe_bands, write_block, write_class_legend
from .io.rasterize import mask_on_grid
from .io.rasters import RasterBands, open_raster
from .progress import NullReporter, Reporter
from .styles import qml_path_for, write_paletted_qml

CONFIDENCE_NODATA = -1.0


@dataclass(frozen=True)
class BlockOutputs:
    """What every block of a run returns: the legend's codes, the class map's type, the optional outputs."""

    codes: tuple[int, ...]
    map_dtype: str
    confidence: bool
    probabilities: bool


@dataclass(frozen=True)
class BlockJob:
    """One block to predict and, when a mask is given, where it allows classifying (with the halo)."""

    block: Block
    inside: np.ndarray | None = None


@dataclass(frozen=True)
class BlockResult:
    """What :func:`classify_block` returns for one block (small: written by the caller at the block).

    Attributes
    ----------
    index : int
        The block's index in the walk.
    class_map : ndarray, shape (rows, cols), of ``BlockOutputs.map_dtype``
        Class codes, 0 = nodata.
    confidence : ndarray, shape (rows, cols), float32, or None
    probabilities : ndarray, shape (n_classes, rows, cols), float32, or None
        Nodata :data:`CONFIDENCE_NODATA`.
    counts : ndarray, shape (n_classes,), int64
        Pixels per class id.
    n_valid : int
    """

    index: int
    class_map: np.ndarray
    confidence: np.ndarray | None
    probabilities: np.ndarray | None
    counts: np.ndarray
    n_valid: int


class BlockRunner(Protocol):
    """Where the blocks of a classification are predicted."""

    def results(self, dataset, bands: RasterBands, jobs: Iterable[BlockJob], outputs: BlockOutputs,
                is_canceled: Callable[[], bool] | None) -> Iterator[BlockResult]:
        """:func:`classify_block` of every job, yielded in job order.

        ``dataset`` and ``bands`` are the caller's open input and its matched bands (a runner in
        this process reads through them; a cluster's workers open the raster themselves). Jobs are
        taken lazily, a bounded number ahead; ``is_canceled`` is polled while waiting.
        """


class LocalBlocks:
    """Predicts every block in this process with a loaded model, one after the other."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def results(self, dataset, bands: RasterBands, jobs: Iterable[BlockJob], outputs: BlockOutputs,
                is_canceled: Callable[[], bool] | None) -> Iterator[BlockResult]:
        for job in jobs:
            raise_if_canceled(is_canceled)
            yield classify_block(dataset, bands, self.model, job, outputs)


def bytes_per_pixel(n_features: int, n_classes: int, patch_size: int = 1) -> int:
    """Working memory per output pixel of a classification block, bytes (for the budget).

    Input values (float32, a few copies), probabilities (float32, a few copies), masks and
    outputs, plus the network's activations (larger for the fully convolutional patch model).
    """
    activations = 4096 if patch_size > 1 else 512
    return 4 * 4 * n_features + 4 * 4 * n_classes + 32 + activations


def classify_raster(raster: str, model: Any, output: str, confidence: str | None = None,
                    probabilities: str | None = None, mask: str | None = None,
                    memory_mb: float = 256.0, reporter: Reporter | None = None,
                    is_canceled: Callable[[], bool] | None = None,
                    runner: BlockRunner | None = None) -> dict[str, Any]:
    """Classify ``raster`` with ``model`` block by block and write the outputs.

    Parameters
    ----------
    raster : str
        The band stack; bands are matched to ``model.feature_names`` by description.
    model : LoadedModel or ModelSpec
        From ``core.model_file``: ``feature_names``, ``halo``, ``legend``, ``n_inputs``; with the
        default runner a ``LoadedModel`` (``predict_block(values, valid)``: values float32
        (bands, rows+2h, cols+2h), valid bool (rows+2h, cols+2h) -> probabilities float32
        (n_classes, rows, cols)).
    output : str
        Class map GeoTIFF (codes); a ``.qml`` style is written beside it.
    confidence, probabilities : str, optional
        Float32 GeoTIFFs: highest probability; all probabilities (one band per class).
    mask : str, optional
        Raster (nonzero = classify) or polygon layer (inside = classify).
    memory_mb : float
        Memory budget of one block, MiB (the GDAL cache is extra).
    reporter : Reporter
        Progress per block (0-100) and log lines.
    is_canceled : callable, optional
        Polled per block; true stops with :class:`JobCanceled` (partial files deleted).
    runner : BlockRunner, optional
        Where the blocks are predicted; default :class:`LocalBlocks` of ``model``.

    Returns
    -------
    dict
        Output paths, ``width``, ``height``, ``n_blocks``, ``block_size``, ``valid_pixels``,
        ``class_pixels`` {code: count}, ``seconds``, ``pixels_per_second``.
    """
    reporter = reporter or NullReporter()
    started = time.perf_counter()
    for path, parameter in ((output, "OUTPUT"), (confidence, "OUTPUT_CONFIDENCE"),
                            (probabilities, "OUTPUT_PROBABILITIES")):
        if path:
            check_output_folder(path, parameter)
    if memory_mb <= 0:
        raise UserInputError(f"the memory budget must be positive, got {memory_mb} MB.", "MEMORY_MB")
    finals = [os.path.abspath(p) for p in (output, confidence, probabilities) if p]
    if len(set(finals)) != len(finals):
        raise UserInputError("the class map, confidence and probability outputs must be "
                             "different files.", "OUTPUT")
    dataset = open_raster(raster, "INPUT")
    if os.path.abspath(raster) in finals:
        raise UserInputError("an output would overwrite the input raster; choose another "
                             "output path.", "OUTPUT")
    bands = RasterBands.of(dataset, model.feature_names, "INPUT")
    legend = model.legend
    codes = np.asarray(legend.codes, dtype=np.int64)
    n_classes = len(codes)
    halo = int(model.halo)
    width, height = dataset.RasterXSize, dataset.RasterYSize
    n_inputs = getattr(model, "n_inputs", len(bands.numbers))  # bands + derived channels of the network
    block_w, block_h = block_size_for_budget(
        width, height, bytes_per_pixel(n_inputs, n_classes, 2 * halo + 1), memory_mb,
        tuple(dataset.GetRasterBand(bands.numbers[0]).GetBlockSize()), halo)
    blocks = list(iter_blocks(width, height, block_w, block_h, halo))
    reporter.log(f"Classifying {width} x {height} pixels with bands {list(model.feature_names)} in "
                 f"{len(blocks)} blocks of {block_w} x {block_h} (halo {halo}).")

    map_type = code_dtype(int(codes.max()))
    wanted = BlockOutputs(tuple(int(c) for c in codes), map_type.name, bool(confidence),
                          bool(probabilities))
    runner = runner or LocalBlocks(model)
    counts = np.zeros(n_classes, dtype=np.int64)
    valid_total = 0
    workdir = tempfile.mkdtemp(prefix="lcnn-classify-")
    outs: dict[str, Any] = {}  # the only references to the open outputs: closed before renaming
    try:
        with contextlib.ExitStack() as stack:
            if mask:
                outs["mask"] = mask_on_grid(mask, dataset, workdir)
            outs["map"] = create_geotiff(stack.enter_context(atomic_output(output)), dataset, 1,
                                         map_type, 0)
            if confidence:
                outs["confidence"] = create_geotiff(stack.enter_context(atomic_output(confidence)),
                                                    dataset, 1, np.float32, CONFIDENCE_NODATA)
            if probabilities:
                outs["probabilities"] = create_geotiff(
                    stack.enter_context(atomic_output(probabilities)), dataset, n_classes, np.float32,
                    CONFIDENCE_NODATA)
            try:
                # Colour table and descriptions before the first block: GDAL may flush blocks to
                # the file at any time, after which a GeoTIFF's colour table can no longer be set.
                write_class_legend(outs["map"], legend)
                if confidence:
                    describe_bands(outs["confidence"], ["confidence"])
                if probabilities:
                    describe_bands(outs["probabilities"], legend.names)
                jobs = (BlockJob(block, _inside_mask(outs.get("mask"), block)) for block in blocks)
                for done, result in enumerate(runner.results(dataset, bands, jobs, wanted, is_canceled), 1):
                    _write_result(outs, blocks[result.index], result)
                    counts += result.counts
                    valid_total += result.n_valid
                    reporter.progress(100.0 * done / len(blocks))
                if valid_total == 0:  # an all-nodata map helps nobody: refuse, partial files go
                    raise UserInputError(
                        f"every pixel of {raster} is nodata in at least one of the bands "
                        f"{list(model.feature_names)}{' or lies outside the mask' if mask else ''}, so "
                        "nothing can be classified; choose a raster with data (check its nodata value)"
                        f"{' and a mask that covers it' if mask else ''}.", "INPUT")
            finally:
                outs.clear()  # closes (and on success flushes) every GDAL dataset
            qml = write_paletted_qml(qml_path_for(output), legend.codes, legend.names, legend.colors)
    finally:
        outs.clear()
        shutil.rmtree(workdir, ignore_errors=True)
    seconds = time.perf_counter() - started
    result = {
        "output": output, "output_confidence": confidence or "", "output_probabilities":
        probabilities or "", "style": qml, "width": width, "height": height,
        "n_blocks": len(blocks), "block_size": [block_w, block_h], "halo": halo,
        "valid_pixels": valid_total,
        "class_pixels": {str(int(c)): int(n) for c, n in zip(codes, counts, strict=True)},
        "seconds": round(seconds, 3),
        "pixels_per_second": round(width * height / seconds, 1) if seconds > 0 else 0.0,
    }
    reporter.log(f"Classified {valid_total} valid pixels of {width * height} in {seconds:.1f} s "
                 f"({result['pixels_per_second']:.0f} pixels/s).")
    return result


def _inside_mask(mask, block: Block) -> np.ndarray | None:
    """Where the (rasterized) mask allows classifying in a block's read window, or None without a mask."""
    if mask is None:
        return None
    inside, inside_valid = read_valid_block(mask, block, RasterBands.numbered(mask, [1]))
    return inside_valid & (inside[0] != 0)


def classify_block(dataset, bands: RasterBands, model: Any, job: BlockJob,
                   outputs: BlockOutputs) -> BlockResult:
    """Read and predict one block: the one per-block prediction of every runner.

    ``dataset`` the input raster, ``bands`` its bands in the model's order, ``model`` a
    ``LoadedModel``. Pixels invalid in any band or outside ``job.inside`` get no class.
    """
    block = job.block
    values, valid = read_valid_block(dataset, block, bands)
    if job.inside is not None:
        valid &= job.inside
    h = block.halo
    interior = valid[h:h + block.height, h:h + block.width]
    codes = np.asarray(outputs.codes, dtype=np.int64)
    n_classes = len(codes)
    class_map = np.zeros((block.height, block.width), dtype=outputs.map_dtype)
    conf = np.full((block.height, block.width), CONFIDENCE_NODATA, dtype=np.float32)
    layers = (np.full((n_classes, block.height, block.width), CONFIDENCE_NODATA, np.float32)
              if outputs.probabilities else None)
    counts = np.zeros(n_classes, dtype=np.int64)
    if interior.any():
        proba = np.asarray(model.predict_block(values, valid), dtype=np.float32)
        if proba.shape != (n_classes, block.height, block.width):
            raise RuntimeError(f"predict_block returned shape {proba.shape}, expected "
                               f"{(n_classes, block.height, block.width)}")
        ids = proba.argmax(axis=0)
        class_map[interior] = codes[ids[interior]]
        conf[interior] = proba.max(axis=0)[interior]
        counts = np.bincount(ids[interior], minlength=n_classes)
        if layers is not None:
            layers[:, interior] = proba[:, interior]
    return BlockResult(block.index, class_map, conf if outputs.confidence else None, layers, counts,
                       int(interior.sum()))


def _write_result(outs: dict[str, Any], block: Block, result: BlockResult) -> None:
    """Write a block's outputs at its offset."""
    write_block(outs["map"], block, result.class_map)
    if "confidence" in outs:
        write_block(outs["confidence"], block, result.confidence)
    if "probabilities" in outs:
        for index, layer in enumerate(result.probabilities, start=1):
            write_block(outs["probabilities"], block, layer, index)
