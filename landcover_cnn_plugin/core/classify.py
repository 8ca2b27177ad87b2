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
from collections.abc import Callable
from typing import Any

import numpy as np

from .atomic import atomic_output, check_output_folder
from .errors import UserInputError, raise_if_canceled
from .io.blocks import block_size_for_budget, iter_blocks, read_valid_block
from .io.outputs import code_dtype, create_geotiff, describe_bands, write_block, write_class_legend
from .io.rasterize import mask_on_grid
from .io.rasters import RasterBands, open_raster
from .progress import NullReporter, Reporter
from .styles import qml_path_for, write_paletted_qml

CONFIDENCE_NODATA = -1.0


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
                    is_canceled: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Classify ``raster`` with ``model`` block by block and write the outputs.

    Parameters
    ----------
    raster : str
        The band stack; bands are matched to ``model.feature_names`` by description.
    model : LoadedModel
        From ``core.model_file.load_model_file``: ``feature_names``, ``halo``, ``legend``
        and ``predict_block(values, valid)`` (values float32 (bands, rows+2h, cols+2h), valid
        bool (rows+2h, cols+2h) -> probabilities float32 (n_classes, rows, cols)).
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
                for block in blocks:
                    raise_if_canceled(is_canceled)
                    class_pixels, n_valid = _classify_block(dataset, block, bands, model, codes, outs)
                    counts += class_pixels
                    valid_total += n_valid
                    reporter.progress(100.0 * (block.index + 1) / max(1, block.count))
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


def _classify_block(dataset, block, bands: RasterBands, model: Any, codes: np.ndarray,
                    outs: dict[str, Any]) -> tuple[np.ndarray, int]:
    """Read, predict and write one block; return (pixels per class id, valid pixels)."""
    values, valid = read_valid_block(dataset, block, bands)
    if "mask" in outs:
        inside, inside_valid = read_valid_block(outs["mask"], block, RasterBands.numbered(outs["mask"], [1]))
        valid &= inside_valid & (inside[0] != 0)
    h = block.halo
    interior = valid[h:h + block.height, h:h + block.width]
    n_classes = len(codes)
    class_map = np.zeros((block.height, block.width), dtype=np.uint32)
    conf = np.full((block.height, block.width), CONFIDENCE_NODATA, dtype=np.float32)
    counts = np.zeros(n_classes, dtype=np.int64)
    proba = None
    if interior.any():
        proba = np.asarray(model.predict_block(values, valid), dtype=np.float32)
        if proba.shape != (n_classes, block.height, block.width):
            raise RuntimeError(f"predict_block returned shape {proba.shape}, expected "
                               f"{(n_classes, block.height, block.width)}")
        ids = proba.argmax(axis=0)
        class_map[interior] = codes[ids[interior]]
        conf[interior] = proba.max(axis=0)[interior]
        counts = np.bincount(ids[interior], minlength=n_classes)
    write_block(outs["map"], block, class_map)
    if "confidence" in outs:
        write_block(outs["confidence"], block, conf)
    if "probabilities" in outs:
        for index in range(n_classes):
            layer = np.full((block.height, block.width), CONFIDENCE_NODATA, np.float32)
            if proba is not None:
                layer[interior] = proba[index][interior]
            write_block(outs["probabilities"], block, layer, index + 1)
    return counts, int(interior.sum())
