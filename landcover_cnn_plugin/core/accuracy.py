"""Map accuracy assessment: (reference, mapped) pixel pairs -> metrics, confusion CSV, report.

Split in two so that no scikit-learn runs inside QGIS:

* pair counting (GDAL + NumPy, memory flat, usable in the QGIS process):
  :func:`rasterize_reference`, :func:`count_pairs_rasters`, :func:`count_pairs_points`,
  :func:`write_pairs_csv`;
* metrics and outputs (worker, scikit-learn through ``core.metrics``): :func:`assess_pairs`.

Reference polygons are rasterized on the class map's grid with the pixel-centre rule; where
they overlap the smallest polygon wins (ties: lower feature id), as everywhere in the plugin.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .atomic import atomic_output
from .blocks import block_size_for_budget, iter_blocks, read_block
from .errors import JobCanceled, UserInputError

PairCounts = dict[tuple[int, int], int]


def map_legend(map_path: str) -> dict[str, list] | None:
    """The legend a class map carries (``LANDCOVER_LEGEND`` metadata written by classify), or None."""
    from osgeo import gdal

    dataset = gdal.Open(os.fspath(map_path))
    text = dataset.GetMetadataItem("LANDCOVER_LEGEND") if dataset is not None else None
    return json.loads(text) if text else None


def rasterize_reference(polygons_path: str, layer_name: str, code_field: str, area_field: str,
                        map_path: str, output: str) -> str:
    """Burn the reference codes on the class map's grid (UInt32 GeoTIFF, 0 = no reference).

    The polygons must already be in the map's CRS; ``area_field`` holds each polygon's area
    so that larger polygons burn first and the smallest wins (equal areas: the lower feature
    id burns last and wins).
    """
    from osgeo import gdal

    gdal.UseExceptions()
    reference = gdal.Open(os.fspath(map_path))
    gt = reference.GetGeoTransform()
    width, height = reference.RasterXSize, reference.RasterYSize
    bounds = (gt[0], gt[3] + gt[5] * height, gt[0] + gt[1] * width, gt[3])
    gdal.Rasterize(output, os.fspath(polygons_path), format="GTiff", outputType=gdal.GDT_UInt32,
                   outputBounds=bounds, width=width, height=height, initValues=0,
                   attribute=code_field, outputSRS=reference.GetProjection() or None,
                   SQLStatement=f'SELECT * FROM "{layer_name}" ORDER BY "{area_field}" DESC, fid DESC',
                   SQLDialect="SQLITE", creationOptions=["TILED=YES", "COMPRESS=DEFLATE"])
    return output


def _add_pairs(counts: PairCounts, reference: np.ndarray, mapped: np.ndarray) -> None:
    keys = reference.astype(np.int64) * (1 << 32) + mapped.astype(np.int64)
    values, numbers = np.unique(keys, return_counts=True)
    for key, number in zip(values.tolist(), numbers.tolist(), strict=True):
        pair = (key >> 32, key & 0xFFFFFFFF)
        counts[pair] = counts.get(pair, 0) + number


def count_pairs_rasters(map_path: str, reference_path: str, memory_mb: float = 64,
                        progress: Callable[[float], None] | None = None,
                        is_canceled: Callable[[], bool] | None = None) -> PairCounts:
    """Count (reference code, mapped code) pairs over the pixels with a reference code.

    Both rasters are on the same grid; read block by block. Mapped 0 (nodata) is kept as a
    pair so that the caller can report unclassified reference pixels.
    """
    from osgeo import gdal

    mapped_ds = gdal.Open(os.fspath(map_path))
    reference_ds = gdal.Open(os.fspath(reference_path))
    width, height = mapped_ds.RasterXSize, mapped_ds.RasterYSize
    block_w, block_h = block_size_for_budget(width, height, 32, memory_mb,
                                             tuple(mapped_ds.GetRasterBand(1).GetBlockSize()))
    counts: PairCounts = {}
    for block in iter_blocks(width, height, block_w, block_h):
        if is_canceled is not None and is_canceled():
            raise JobCanceled("canceled")
        reference = read_block(reference_ds, block, [1], np.int64)[0]
        labelled = reference > 0
        if labelled.any():
            mapped = read_block(mapped_ds, block, [1], np.int64)[0]
            _add_pairs(counts, reference[labelled], mapped[labelled])
        if progress is not None:
            progress(100.0 * (block.index + 1) / max(1, block.count))
    return counts


def count_pairs_points(map_path: str, xs: np.ndarray, ys: np.ndarray,
                       codes: np.ndarray) -> tuple[PairCounts, int]:
    """Count (reference code, mapped code) pairs at points (map CRS); return (pairs, points outside).

    The map is read in strips around the points' rows, never whole.
    """
    from osgeo import gdal

    dataset = gdal.Open(os.fspath(map_path))
    x0, dx, _, y0, _, dy = dataset.GetGeoTransform()
    cols = np.floor((np.asarray(xs, dtype=float) - x0) / dx).astype(np.int64)
    rows = np.floor((np.asarray(ys, dtype=float) - y0) / dy).astype(np.int64)
    codes = np.asarray(codes, dtype=np.int64)
    inside = ((cols >= 0) & (cols < dataset.RasterXSize) & (rows >= 0) & (rows < dataset.RasterYSize)
              & (codes > 0))
    rows, cols, codes = rows[inside], cols[inside], codes[inside]
    counts: PairCounts = {}
    strip = 256
    band = dataset.GetRasterBand(1)
    for start in np.unique(rows // strip * strip).tolist():
        chosen = (rows >= start) & (rows < start + strip)
        stop = min(dataset.RasterYSize, start + strip)
        values = band.ReadAsArray(0, start, dataset.RasterXSize, stop - start)
        _add_pairs(counts, codes[chosen], values[rows[chosen] - start, cols[chosen]])
    return counts, int((~inside).sum())


def write_pairs_csv(path: str, counts: Mapping[tuple[int, int], int]) -> str:
    """``reference,mapped,count`` rows (the small file handed to the worker)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["reference", "mapped", "count"])
        for (reference, mapped), count in sorted(counts.items()):
            writer.writerow([reference, mapped, count])
    return path


def read_pairs_csv(path: str) -> PairCounts:
    with open(path, newline="", encoding="utf-8") as handle:
        return {(int(r["reference"]), int(r["mapped"])): int(r["count"]) for r in csv.DictReader(handle)}


def assess_pairs(counts: Mapping[tuple[int, int], int], legend: Mapping[str, list] | None,
                 matrix_csv: str | None = None, report_html: str | None = None,
                 info: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Metrics of a map from its pair counts; write the confusion CSV and the HTML report.

    Parameters
    ----------
    counts : {(reference code, mapped code): pixels}
        Mapped code 0 = the map has no value there: counted, left out of the metrics.
    legend : dict or None
        The map's legend (codes, names, colors); reference codes missing from it are added
        with default names.

    Returns
    -------
    dict
        The metrics dict (docs/DESIGN.md) plus ``unclassified_reference_pixels``.
    """
    from .legend import ClassLegend
    from .metrics import compute_metrics
    from .report import write_accuracy_report

    pairs = {k: v for k, v in counts.items() if k[0] > 0 and k[1] > 0 and v > 0}
    unclassified = int(sum(v for k, v in counts.items() if k[0] > 0 and k[1] == 0))
    if not pairs:
        raise UserInputError("no reference pixel lies on a classified pixel of the map; check that "
                             "the reference data overlaps the map and that the code field is right.",
                             "REFERENCE")
    legend = legend or {"codes": [], "names": [], "colors": []}
    names = dict(zip(legend.get("codes", []), legend.get("names", []), strict=False))
    colors = dict(zip(legend.get("codes", []), legend.get("colors", []), strict=False))
    codes = sorted({int(c) for c in legend.get("codes", [])} | {c for pair in pairs for c in pair})
    full = ClassLegend(codes, {c: names[c] for c in codes if c in names},
                       {c: colors[c] for c in codes if c in colors})
    keys = list(pairs)
    weights = np.asarray([pairs[k] for k in keys], dtype=np.int64)
    reference = np.repeat(np.asarray([k[0] for k in keys], dtype=np.int64), weights)
    mapped = np.repeat(np.asarray([k[1] for k in keys], dtype=np.int64), weights)
    metrics = compute_metrics(reference, mapped, full)
    metrics["unclassified_reference_pixels"] = unclassified
    if matrix_csv:
        confusion = metrics["confusion_matrix"]
        with atomic_output(matrix_csv) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["reference_code", "reference_name",
                             *[f"mapped_{c}" for c in confusion["codes"]], "total"])
            for code, name, row in zip(confusion["codes"], confusion["names"], confusion["matrix"],
                                       strict=True):
                writer.writerow([code, name, *[int(v) for v in row], int(sum(row))])
    if report_html:
        details = dict(info or {})
        details["Reference pixels compared"] = int(weights.sum())
        details["Reference pixels where the map has no value (left out)"] = unclassified
        details["colors"] = dict(zip(full.codes, full.colors, strict=True))
        write_accuracy_report(report_html, metrics, details)
    return metrics
