"""Map accuracy assessment: (reference, mapped) pixel pairs -> metrics, confusion CSV, report.

Split in two so that no scikit-learn runs inside QGIS:

* pair counting (raster I/O through :mod:`.io`, memory flat, usable in the QGIS process):
  :func:`count_pairs_rasters`, :func:`count_pairs_points`, :func:`write_pairs_csv` (reference
  polygons are burnt by :func:`.io.rasterize.rasterize_reference`);
* metrics and outputs (worker, scikit-learn through ``core.metrics``): :func:`assess_pairs`.

Reference polygons are rasterized on the class map's grid with the pixel-centre rule; where
they overlap the smallest polygon wins (ties: lower feature id), as everywhere in the plugin.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .atomic import atomic_output
from .errors import UserInputError, raise_if_canceled
from .io.blocks import BlockSampler, block_size_for_budget, iter_blocks, read_block
from .io.grid import Grid
from .io.rasters import open_raster

PairCounts = dict[tuple[int, int], int]


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
    mapped_ds = open_raster(map_path, "INPUT")
    reference_ds = open_raster(reference_path, "REFERENCE")
    width, height = mapped_ds.RasterXSize, mapped_ds.RasterYSize
    block_w, block_h = block_size_for_budget(width, height, 32, memory_mb,
                                             tuple(mapped_ds.GetRasterBand(1).GetBlockSize()))
    counts: PairCounts = {}
    for block in iter_blocks(width, height, block_w, block_h):
        raise_if_canceled(is_canceled)
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

    The map is read block by block where points lie (:class:`.io.blocks.BlockSampler`), never whole.
    """
    dataset = open_raster(map_path, "INPUT")
    rows, cols, inside = Grid.from_dataset(dataset, "INPUT").pixel_of(xs, ys)
    codes = np.asarray(codes, dtype=np.int64)
    inside &= codes > 0
    counts: PairCounts = {}
    mapped = BlockSampler(dataset).sample(rows[inside], cols[inside])[0]
    _add_pairs(counts, codes[inside], mapped)
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
