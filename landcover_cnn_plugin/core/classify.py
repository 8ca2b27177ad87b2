"""Classify a raster block by block with a loaded model (GDAL + NumPy; the model brings Keras).

The raster is read through the block walker (:mod:`.blocks`): each block, grown by the
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

A pixel that is nodata in any used input band (or NaN), or outside the mask, is nodata in
every output. Every output is written under a partial name and renamed when complete;
on error or cancel the partial files are deleted.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .atomic import atomic_output, check_output_folder
from .blocks import OUTPUT_TILE, block_size_for_budget, iter_blocks, read_block, valid_pixels
from .errors import JobCanceled, UserInputError
from .progress import NullReporter, Reporter
from .styles import qml_path_for, write_paletted_qml

CONFIDENCE_NODATA = -1.0
GTIFF_OPTIONS = ["TILED=YES", f"BLOCKXSIZE={OUTPUT_TILE}", f"BLOCKYSIZE={OUTPUT_TILE}",
                 "COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER"]


def code_data_type(max_code: int) -> int:
    """Smallest unsigned GDAL type that holds ``max_code`` (Byte, UInt16, UInt32)."""
    from osgeo import gdal

    if max_code <= 255:
        return gdal.GDT_Byte
    if max_code <= 65535:
        return gdal.GDT_UInt16
    return gdal.GDT_UInt32


def open_raster(path: str, parameter: str = "INPUT"):
    """Open a raster with GDAL or raise :class:`UserInputError` naming ``parameter``."""
    from osgeo import gdal

    gdal.UseExceptions()
    try:
        dataset = gdal.Open(os.fspath(path))
    except RuntimeError as exc:
        raise UserInputError(f"cannot open the raster {path} ({exc}); choose a raster file GDAL "
                             "can read.", parameter) from None
    if dataset is None or dataset.RasterCount == 0:
        raise UserInputError(f"{path} is not a raster with bands; choose the band stack.", parameter)
    return dataset


def band_names(dataset) -> list[str]:
    """Band descriptions of a GDAL dataset, in band order (empty string where none)."""
    return [dataset.GetRasterBand(i).GetDescription() for i in range(1, dataset.RasterCount + 1)]


def match_bands(names: Sequence[str], feature_names: Sequence[str],
                parameter: str = "INPUT") -> list[int]:
    """Find the raster band of each model feature by band description.

    Parameters
    ----------
    names : sequence of str
        The raster's band descriptions in band order.
    feature_names : sequence of str
        The model's feature names in the order the model expects them.

    Returns
    -------
    list of int
        1-based band numbers, one per feature, in feature order.

    Raises
    ------
    UserInputError
        A feature has no band of that name, or a name is used by several bands; the
        message gives both lists.
    """
    wanted = list(feature_names)
    have = list(names)
    missing = [name for name in wanted if name not in have]
    repeated = sorted({name for name in wanted if have.count(name) > 1})
    if missing or repeated:
        problem = (f"the raster has no band named {', '.join(missing)}" if missing
                   else f"several bands are named {', '.join(repeated)}")
        raise UserInputError(
            f"{problem}. The model needs the bands {wanted} (matched by band description, in "
            f"this order); the raster has the bands {have}. Choose the stack the model was "
            "trained on, or name its bands accordingly (Stack and resample rasters, BAND_NAMES).",
            parameter)
    return [have.index(name) + 1 for name in wanted]


def _open_mask_on_grid(mask: str, reference, workdir: str):
    """The mask as a raster on the reference grid: nonzero (and not nodata) = inside.

    A raster mask is warped onto the grid (nearest neighbour, through a VRT, no copy);
    a vector mask is rasterized (pixel-centre rule) into a temporary GeoTIFF.
    """
    from osgeo import gdal

    gdal.UseExceptions()
    try:
        source = gdal.OpenEx(os.fspath(mask), gdal.OF_RASTER | gdal.OF_VECTOR)
    except RuntimeError:
        source = None
    if source is None:
        raise UserInputError(f"cannot open the mask {mask}; choose a raster or a polygon layer.", "MASK")
    gt = reference.GetGeoTransform()
    width, height = reference.RasterXSize, reference.RasterYSize
    bounds = (gt[0], gt[3] + gt[5] * height, gt[0] + gt[1] * width, gt[3])
    srs = reference.GetProjection()
    if source.RasterCount > 0:
        return gdal.Warp(os.path.join(workdir, "mask.vrt"), source, format="VRT", outputBounds=bounds,
                         width=width, height=height, dstSRS=srs or None, resampleAlg="near",
                         dstNodata=0)
    if source.GetLayerCount() == 0:
        raise UserInputError(f"the mask {mask} has neither bands nor layers.", "MASK")
    return gdal.Rasterize(os.path.join(workdir, "mask.tif"), source, format="GTiff",
                          outputType=gdal.GDT_Byte, outputBounds=bounds, width=width, height=height,
                          outputSRS=srs or None, burnValues=[1], initValues=0,
                          creationOptions=["TILED=YES", "COMPRESS=DEFLATE"])


def _create(driver, path: str, reference, bands: int, data_type: int, nodata: float):
    dataset = driver.Create(path, reference.RasterXSize, reference.RasterYSize, bands, data_type,
                            GTIFF_OPTIONS + (["INTERLEAVE=BAND"] if bands > 1 else []))
    dataset.SetGeoTransform(reference.GetGeoTransform())
    dataset.SetProjection(reference.GetProjection())
    for index in range(1, bands + 1):
        dataset.GetRasterBand(index).SetNoDataValue(nodata)
    return dataset


def _hex_rgb(color: str) -> tuple[int, int, int, int]:
    color = color.lstrip("#")
    return int(color[0:2], 16), int(color[2:4], 16), int(color[4:6], 16), 255


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
    from osgeo import gdal

    gdal.UseExceptions()
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
    bands = match_bands(band_names(dataset), model.feature_names, "INPUT")
    nodata = [dataset.GetRasterBand(b).GetNoDataValue() for b in bands]
    legend = model.legend
    codes = np.asarray(legend.codes, dtype=np.int64)
    n_classes = len(codes)
    halo = int(model.halo)
    width, height = dataset.RasterXSize, dataset.RasterYSize
    n_inputs = getattr(model, "n_inputs", len(bands))  # bands + derived channels of the network
    block_w, block_h = block_size_for_budget(
        width, height, bytes_per_pixel(n_inputs, n_classes, 2 * halo + 1), memory_mb,
        tuple(dataset.GetRasterBand(bands[0]).GetBlockSize()), halo)
    blocks = list(iter_blocks(width, height, block_w, block_h, halo))
    reporter.log(f"Classifying {width} x {height} pixels with bands {list(model.feature_names)} in "
                 f"{len(blocks)} blocks of {block_w} x {block_h} (halo {halo}).")

    driver = gdal.GetDriverByName("GTiff")
    map_type = code_data_type(int(codes.max()))
    counts = np.zeros(n_classes, dtype=np.int64)
    valid_total = 0
    workdir = tempfile.mkdtemp(prefix="lcnn-classify-")
    outs: dict[str, Any] = {}  # the only references to the open outputs: closed before renaming
    try:
        with contextlib.ExitStack() as stack:
            if mask:
                outs["mask"] = _open_mask_on_grid(mask, dataset, workdir)
            outs["map"] = _create(driver, stack.enter_context(atomic_output(output)), dataset, 1,
                                  map_type, 0)
            if confidence:
                outs["confidence"] = _create(driver, stack.enter_context(atomic_output(confidence)),
                                             dataset, 1, gdal.GDT_Float32, CONFIDENCE_NODATA)
            if probabilities:
                outs["probabilities"] = _create(
                    driver, stack.enter_context(atomic_output(probabilities)), dataset, n_classes,
                    gdal.GDT_Float32, CONFIDENCE_NODATA)
            try:
                # Colour table and descriptions before the first block: GDAL may flush blocks to
                # the file at any time, after which a GeoTIFF's colour table can no longer be set.
                _describe_outputs(outs, legend, int(codes.max()))
                for block in blocks:
                    if is_canceled is not None and is_canceled():
                        raise JobCanceled("canceled")
                    class_pixels, n_valid = _classify_block(dataset, block, bands, nodata, model,
                                                            codes, outs)
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


def _classify_block(dataset, block, bands: list[int], nodata: list[float | None], model: Any,
                    codes: np.ndarray, outs: dict[str, Any]) -> tuple[np.ndarray, int]:
    """Read, predict and write one block; return (pixels per class id, valid pixels)."""
    values = read_block(dataset, block, bands)
    valid = valid_pixels(values, nodata)
    if "mask" in outs:
        mask_band = outs["mask"].GetRasterBand(1)
        inside = read_block(outs["mask"], block, [1], np.float32)[0]
        mask_nodata = mask_band.GetNoDataValue()
        valid &= inside != 0
        if mask_nodata is not None:
            valid &= inside != np.float32(mask_nodata)
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
    outs["map"].GetRasterBand(1).WriteArray(class_map, block.x_off, block.y_off)
    if "confidence" in outs:
        outs["confidence"].GetRasterBand(1).WriteArray(conf, block.x_off, block.y_off)
    if "probabilities" in outs:
        for index in range(n_classes):
            layer = np.full((block.height, block.width), CONFIDENCE_NODATA, np.float32)
            if proba is not None:
                layer[interior] = proba[index][interior]
            outs["probabilities"].GetRasterBand(index + 1).WriteArray(layer, block.x_off, block.y_off)
    return counts, int(interior.sum())


def _describe_outputs(outs: dict[str, Any], legend, max_code: int) -> None:
    """Colour table, category names and legend metadata; band descriptions."""
    from osgeo import gdal

    map_ds, conf_ds, prob_ds = outs["map"], outs.get("confidence"), outs.get("probabilities")

    band = map_ds.GetRasterBand(1)
    band.SetDescription("class code")
    if max_code <= 65535:
        table = gdal.ColorTable()
        table.SetColorEntry(0, (0, 0, 0, 0))
        for code, color in zip(legend.codes, legend.colors, strict=True):
            table.SetColorEntry(int(code), _hex_rgb(color))
        band.SetColorTable(table)
        names = [""] * (max_code + 1)
        for code, name in zip(legend.codes, legend.names, strict=True):
            names[int(code)] = name
        band.SetCategoryNames(names)
    map_ds.SetMetadataItem("LANDCOVER_LEGEND", json.dumps(
        {"codes": [int(c) for c in legend.codes], "names": list(legend.names),
         "colors": list(legend.colors)}))
    for code, name in zip(legend.codes, legend.names, strict=True):
        band.SetMetadataItem(f"CLASS_{int(code)}", str(name))
    if conf_ds is not None:
        conf_ds.GetRasterBand(1).SetDescription("confidence")
    if prob_ds is not None:
        for index, name in enumerate(legend.names):
            prob_ds.GetRasterBand(index + 1).SetDescription(str(name))
