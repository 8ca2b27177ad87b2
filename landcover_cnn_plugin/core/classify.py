"""Classify a raster block by block with a loaded model (raster I/O through :mod:`.io`; the model
brings its engine: TensorFlow or ONNX Runtime, ``core.engines``).

The raster is read through the block walker (:mod:`.io.blocks`): each block, grown by the
model's halo and edge-padded at the image border, goes to :func:`classify_values` (the per-block
function: ``LoadedModel.predict_block``, then codes, confidence and probabilities; no I/O, so a
Dask task can call it for one window); the outputs are written at the block's offset. Reading,
predicting and writing overlap (:func:`.io.pipeline.run_block_pipeline`: one reader thread, the
engine's number of predictor threads, one writer thread, bounded queues). Memory depends on the
block size (from ``memory_mb``), not on the raster size.

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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .atomic import atomic_output, check_output_folder
from .errors import UserInputError
from .io.blocks import Block, block_size_for_budget, iter_blocks, read_valid_block
from .io.outputs import code_dtype, create_geotiff, describe_bands, write_block, write_class_legend
from .io.pipeline import run_block_pipeline
from .io.rasterize import mask_on_grid
from .io.rasters import RasterBands, open_raster
from .progress import NullReporter, Reporter
from .styles import qml_path_for, write_paletted_qml

CONFIDENCE_NODATA = -1.0
#: Blocks read ahead, and results waiting to be written (each queue).
QUEUE_DEPTH = 2


class BlockModel(Protocol):
    """What classification needs of a model (``core.loaded_model.LoadedModel`` is one)."""

    feature_names: list[str]
    halo: int
    n_inputs: int  # network inputs per pixel (bands + derived channels), for the memory budget
    legend: Any  # core.legend.ClassLegend: codes, names, colors

    @property
    def prediction_threads(self) -> int:
        """Blocks to predict at once (the engine's ``GraphRunner.threads``)."""

    def predict_block(self, values: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """float32 (bands, rows + 2h, cols + 2h), bool (rows + 2h, cols + 2h) -> float32
        (n_classes, rows, cols), thread-safe."""


@dataclass(frozen=True)
class BlockResult:
    """The outputs of one block (what :func:`classify_values` returns).

    Attributes
    ----------
    class_map : numpy.ndarray
        uint32 ``(rows, cols)`` class codes, 0 where nodata.
    confidence : numpy.ndarray
        float32 ``(rows, cols)``, highest probability, :data:`CONFIDENCE_NODATA` where nodata.
    probabilities : numpy.ndarray or None
        float32 ``(n_classes, rows, cols)`` in legend order, :data:`CONFIDENCE_NODATA` where
        nodata; None when not asked for.
    counts : numpy.ndarray
        int64 ``(n_classes,)`` pixels per class id.
    n_valid : int
        Pixels classified.
    """

    class_map: np.ndarray
    confidence: np.ndarray
    probabilities: np.ndarray | None
    counts: np.ndarray
    n_valid: int


def bytes_per_pixel(n_features: int, n_classes: int, patch_size: int = 1) -> int:
    """Working memory per output pixel of a classification block, bytes (for the budget).

    Input values (float32, a few copies), probabilities (float32, a few copies), masks and
    outputs, plus the network's activations (larger for the fully convolutional patch model).
    """
    activations = 4096 if patch_size > 1 else 512
    return 4 * 4 * n_features + 4 * 4 * n_classes + 32 + activations


def classify_raster(raster: str, model: BlockModel, output: str, confidence: str | None = None,
                    probabilities: str | None = None, mask: str | None = None,
                    memory_mb: float = 256.0, reporter: Reporter | None = None,
                    is_canceled: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Classify ``raster`` with ``model`` block by block and write the outputs.

    Parameters
    ----------
    raster : str
        The band stack; bands are matched to ``model.feature_names`` by description.
    model : BlockModel
        A ``LoadedModel`` (``core.model_file.load_model_file``) on either engine; its
        ``prediction_threads`` blocks are predicted at once.
    output : str
        Class map GeoTIFF (codes); a ``.qml`` style is written beside it.
    confidence, probabilities : str, optional
        Float32 GeoTIFFs: highest probability; all probabilities (one band per class).
    mask : str, optional
        Raster (nonzero = classify) or polygon layer (inside = classify).
    memory_mb : float
        Memory budget of the blocks predicted at once, MiB (the GDAL cache and the queued raw
        blocks and results are extra).
    reporter : Reporter
        Progress per block (0-100) and log lines.
    is_canceled : callable, optional
        Polled every 50 ms; true stops with :class:`JobCanceled` (partial files deleted).

    Returns
    -------
    dict
        Output paths, ``width``, ``height``, ``n_blocks``, ``block_size``, ``predictor_threads``,
        ``stage_seconds`` (seconds spent reading, predicting and writing, summed over each stage's
        threads, and closing the outputs, when GDAL encodes what its cache still holds: where the
        time goes),
        ``valid_pixels``, ``class_pixels`` {code: count}, ``seconds``, ``pixels_per_second``.
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
    workers = max(1, int(model.prediction_threads))
    # The budget covers the blocks predicted at once (one per predictor thread).
    block_w, block_h = block_size_for_budget(
        width, height, bytes_per_pixel(model.n_inputs, n_classes, 2 * halo + 1), memory_mb / workers,
        tuple(dataset.GetRasterBand(bands.numbers[0]).GetBlockSize()), halo)
    blocks = list(iter_blocks(width, height, block_w, block_h, halo))
    reporter.log(f"Classifying {width} x {height} pixels with bands {list(model.feature_names)} in "
                 f"{len(blocks)} blocks of {block_w} x {block_h} (halo {halo}), {workers} predictor "
                 f"thread{'s' if workers > 1 else ''}.")

    map_type = code_dtype(int(codes.max()))
    counts = np.zeros(n_classes, dtype=np.int64)
    valid_total = 0
    stage_seconds: dict[str, float] = {}
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
                mask_dataset = outs.get("mask")

                def read(block: Block) -> tuple[np.ndarray, np.ndarray]:
                    return read_classify_inputs(dataset, block, bands, mask_dataset)

                def predict(block: Block, inputs: tuple[np.ndarray, np.ndarray]) -> BlockResult:
                    return classify_values(model, *inputs, with_probabilities=bool(probabilities))

                def write(block: Block, result: BlockResult) -> None:
                    nonlocal counts, valid_total
                    write_block_outputs(outs, block, result)
                    counts += result.counts
                    valid_total += result.n_valid

                written = 0

                def block_written(block: Block) -> None:
                    nonlocal written
                    written += 1
                    reporter.progress(100.0 * written / max(1, len(blocks)))

                stage_seconds |= run_block_pipeline(blocks, read, predict, write, workers=workers,
                                                   depth=QUEUE_DEPTH, is_canceled=is_canceled,
                                                   on_written=block_written)
                if valid_total == 0:  # an all-nodata map helps nobody: refuse, partial files go
                    raise UserInputError(
                        f"every pixel of {raster} is nodata in at least one of the bands "
                        f"{list(model.feature_names)}{' or lies outside the mask' if mask else ''}, so "
                        "nothing can be classified; choose a raster with data (check its nodata value)"
                        f"{' and a mask that covers it' if mask else ''}.", "INPUT")
            finally:
                closing = time.perf_counter()
                outs.clear()  # closes (and on success flushes) every GDAL dataset
                stage_seconds["close"] = time.perf_counter() - closing
            qml = write_paletted_qml(qml_path_for(output), legend.codes, legend.names, legend.colors)
    finally:
        outs.clear()
        shutil.rmtree(workdir, ignore_errors=True)
    seconds = time.perf_counter() - started
    result = {
        "output": output, "output_confidence": confidence or "", "output_probabilities":
        probabilities or "", "style": qml, "width": width, "height": height,
        "n_blocks": len(blocks), "block_size": [block_w, block_h], "halo": halo,
        "predictor_threads": workers,
        "stage_seconds": {stage: round(value, 3) for stage, value in stage_seconds.items()},
        "valid_pixels": valid_total,
        "class_pixels": {str(int(c)): int(n) for c, n in zip(codes, counts, strict=True)},
        "seconds": round(seconds, 3),
        "pixels_per_second": round(width * height / seconds, 1) if seconds > 0 else 0.0,
    }
    reporter.log(f"Classified {valid_total} valid pixels of {width * height} in {seconds:.1f} s "
                 f"({result['pixels_per_second']:.0f} pixels/s).")
    return result


def read_classify_inputs(dataset, block: Block, bands: RasterBands, mask=None
                         ) -> tuple[np.ndarray, np.ndarray]:
    """A block's band values (float32, the block plus its halo) and validity, the mask applied.

    ``mask``: an open raster on the same grid (nonzero = classify), or None.
    """
    values, valid = read_valid_block(dataset, block, bands)
    if mask is not None:
        inside, inside_valid = read_valid_block(mask, block, RasterBands.numbered(mask, [1]))
        valid &= inside_valid & (inside[0] != 0)
    return values, valid


def classify_values(model: BlockModel, values: np.ndarray, valid: np.ndarray,
                    with_probabilities: bool = False) -> BlockResult:
    """The per-block function: a block's raw values -> its class codes, confidence and probabilities.

    No file is touched: the caller reads (:func:`read_classify_inputs`) and writes
    (:func:`write_block_outputs`), here or in a Dask task for one window.

    Parameters
    ----------
    model : BlockModel
    values : numpy.ndarray
        float32 ``(bands, rows + 2 halo, cols + 2 halo)`` in ``model.feature_names`` order.
    valid : numpy.ndarray
        bool ``(rows + 2 halo, cols + 2 halo)``: False where a band is nodata or outside the mask.
    with_probabilities : bool
        Also return every class probability.
    """
    h = int(model.halo)
    rows, cols = valid.shape[0] - 2 * h, valid.shape[1] - 2 * h
    codes = np.asarray(model.legend.codes, dtype=np.int64)
    n_classes = len(codes)
    interior = valid[h:h + rows, h:h + cols]
    class_map = np.zeros((rows, cols), dtype=np.uint32)
    confidence = np.full((rows, cols), CONFIDENCE_NODATA, dtype=np.float32)
    probabilities = np.full((n_classes, rows, cols), CONFIDENCE_NODATA, dtype=np.float32) \
        if with_probabilities else None
    counts = np.zeros(n_classes, dtype=np.int64)
    if interior.any():
        proba = np.asarray(model.predict_block(values, valid), dtype=np.float32)
        if proba.shape != (n_classes, rows, cols):
            raise RuntimeError(f"predict_block returned shape {proba.shape}, expected "
                               f"{(n_classes, rows, cols)}")
        ids = proba.argmax(axis=0)
        class_map[interior] = codes[ids[interior]]
        confidence[interior] = proba.max(axis=0)[interior]
        counts = np.bincount(ids[interior], minlength=n_classes)
        if probabilities is not None:
            probabilities[:, interior] = proba[:, interior]
    return BlockResult(class_map, confidence, probabilities, counts, int(interior.sum()))


def write_block_outputs(outs: dict[str, Any], block: Block, result: BlockResult) -> None:
    """Write a block's outputs into the open datasets ``outs`` ("map", optional "confidence" and
    "probabilities") at the block's offset."""
    write_block(outs["map"], block, result.class_map)
    if "confidence" in outs:
        write_block(outs["confidence"], block, result.confidence)
    if "probabilities" in outs:
        if result.probabilities is None:
            raise ValueError("the block was classified without probabilities")
        for index, layer in enumerate(result.probabilities, start=1):
            write_block(outs["probabilities"], block, layer, index)
