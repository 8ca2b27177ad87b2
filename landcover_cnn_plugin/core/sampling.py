"""Sampling pipelines: raster values at points or in training polygons -> the samples CSV.

Used inside the QGIS process (Debian's NumPy) by the data preparation algorithms, so it never
imports qgis, pandas or anything else heavy. The hot paths never loop over points in Python:
points come in Arrow batches (:mod:`.io.vectors`), are mapped to pixels with index arrays
(``Grid.pixel_of``) and the raster is read once per block (:class:`.io.blocks.BlockSampler`);
a pixel is a sample only where every band is valid (:func:`.io.rasters.valid_pixels`, the rule
classification and patch cutting use too). Rows are written by :class:`.samples_writer.SamplesCsvWriter`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .errors import raise_if_canceled
from .io.blocks import BlockSampler
from .io.grid import Grid, lonlat_transform
from .io.rasterize import PolygonRasterizer
from .io.rasters import open_raster
from .io.vectors import (
    POINT_BATCH,
    count_points,
    iter_point_batches,
    layer_fields,
    masked_integers,
    masked_labels,
    masked_texts,
)
from .legend import class_label
from .progress import NullReporter, Reporter
from .samples import GROUP_COLUMN, PART_COLUMN, X_COLUMN, Y_COLUMN
from .samples_writer import SamplesCsvWriter, quote_csv, text_column, text_repeated, write_rows

#: Samples buffered before a CSV chunk is formatted and written.
CSV_CHUNK = 65_536


@dataclass
class SampleCounts:
    """What sampling did (also the algorithms' outputs)."""

    written: int = 0
    outside: int = 0
    nodata: int = 0
    unlabelled: int = 0
    polygons_used: int = 0
    polygons_outside: int = 0
    per_code: dict[str, int] = field(default_factory=dict)
    #: Groups (the parts of the polygons, each drawn polygon once) with samples, per class code.
    groups_per_code: dict[str, int] = field(default_factory=dict)
    #: Class name per code, where a name field was given.
    names: dict[str, str] = field(default_factory=dict)

    def add_codes(self, labels: np.ndarray) -> None:
        """Count samples per label (integer codes, or class names)."""
        found, counts = np.unique(labels, return_counts=True)
        for label, count in zip(found.tolist(), counts, strict=True):
            self.per_code[str(label)] = self.per_code.get(str(label), 0) + int(count)

    def add_groups(self, code: int, n_groups: int, name: str | None) -> None:
        self.groups_per_code[str(code)] = self.groups_per_code.get(str(code), 0) + n_groups
        if name:
            self.names.setdefault(str(code), name)

    def class_summary(self) -> str:
        """Samples (and groups) per class, classes named by code and name, for the log."""
        def named(label: str) -> str:
            return class_label(int(label), self.names.get(label)) if label.isdigit() else label

        def order(label: str) -> tuple:  # codes ascending, then class names alphabetically
            return (0, int(label), "") if label.isdigit() else (1, 0, label)

        return "; ".join(f"{named(label)}: {self.per_code[label]} samples"
                         + (f" in {self.groups_per_code[label]} polygons" if label in self.groups_per_code
                            else "") for label in sorted(self.per_code, key=order))


def _samples_writer(raster_path: str, stream, label_name: str,
                    name_column: str | None) -> tuple[Grid, BlockSampler, SamplesCsvWriter]:
    """The raster's grid, a sampler of all its bands and a samples CSV writer for its band names."""
    dataset = open_raster(raster_path, "RASTER")
    grid = Grid.from_dataset(dataset)
    sampler = BlockSampler(dataset)
    writer = SamplesCsvWriter(stream, lonlat_transform(grid.crs_wkt), sampler.bands.names, label_name,
                              name_column)
    return grid, sampler, writer


def sample_points_to_csv(points_path: str, points_layer: str | int | None, raster_path: str, csv_path: str,
                         label_field: str, group_field: str | None = None,
                         name_field: str | None = None, reporter: Reporter | None = None,
                         is_canceled: Callable[[], bool] | None = None,
                         batch_size: int = POINT_BATCH) -> SampleCounts:
    """Sample every band of a raster at points and stream the samples CSV.

    Parameters
    ----------
    points_path, points_layer : str
        OGR point layer **in the raster's CRS**.
    raster_path : str
        The stack; band descriptions name the columns.
    csv_path : str
        File to write (the caller makes it atomic).
    label_field : str
        Class field: integer codes, or text class names (training gives them codes); the column
        keeps its name.
    group_field : str, optional
        Integer field written as ``polygon_id``; None: the point's feature id (each point its own
        group). With ``polygon_id`` the points' ``polygon_part`` field (regular points) is carried.
    name_field : str, optional
        Class name field copied after the label.

    Returns
    -------
    SampleCounts
        Rows written, points outside the raster, on nodata, without a label. Rows keep
        the input order; X, Y are the centres of the sampled pixels.
    """
    reporter = reporter or NullReporter()
    total = count_points(points_path, points_layer)
    part_field = PART_COLUMN if group_field == GROUP_COLUMN and PART_COLUMN in layer_fields(
        points_path, points_layer) else None
    fields = [label_field] + [f for f in (group_field, name_field, part_field) if f]
    counts = SampleCounts()
    seen = 0
    with open(csv_path, "w", newline="", encoding="utf-8") as stream:
        grid, sampler, writer = _samples_writer(raster_path, stream, label_field, name_field)
        for batch in iter_point_batches(points_path, points_layer, fields, batch_size):
            raise_if_canceled(is_canceled)
            seen += len(batch.x)
            labels, labelled = masked_labels(batch.columns[label_field])
            if group_field:
                groups, grouped = masked_integers(batch.columns[group_field])
                labelled &= grouped
            else:
                groups = batch.fid
            rows, cols, inside = grid.pixel_of(batch.x, batch.y)
            counts.outside += int((~inside).sum())
            counts.unlabelled += int((inside & ~labelled).sum())
            keep = np.flatnonzero(inside & labelled)
            values = sampler.sample(rows[keep], cols[keep], is_canceled)
            valid = sampler.bands.valid(values)
            counts.nodata += int((~valid).sum())
            keep, values = keep[valid], values[:, valid]
            x, y = grid.pixel_centres(rows[keep], cols[keep])
            names = masked_texts(batch.columns[name_field])[keep] if name_field else None
            parts = masked_integers(batch.columns[part_field])[0][keep] if part_field else None
            writer.write(x, y, values, labels[keep], groups[keep], names, parts)
            counts.add_codes(labels[keep])
            if total:
                reporter.progress(100.0 * min(seen, total) / total)
    counts.written = writer.rows_written
    return counts


def extract_samples_to_csv(rasterizer: PolygonRasterizer, raster_path: str, csv_path: str,
                           label_name: str, name_column: str | None = None,
                           max_points_per_polygon: int = 0, seed: int = 1,
                           reporter: Reporter | None = None,
                           is_canceled: Callable[[], bool] | None = None) -> SampleCounts:
    """One-step sampling: the pixels each polygon wins, sampled into the samples CSV.

    Gives the same rows as regular points (same grid, same options) sampled by
    :func:`sample_points_to_csv`: ordered by polygon_id, then row, col.
    ``rasterizer.grid`` must be the raster's grid.
    """
    counts = SampleCounts(polygons_outside=rasterizer.polygons_outside)
    buffered: list[tuple] = []
    buffered_rows = 0
    with open(csv_path, "w", newline="", encoding="utf-8") as stream:
        grid, sampler, writer = _samples_writer(raster_path, stream, label_name, name_column)

        def flush() -> None:
            if not buffered:
                return
            rows = np.concatenate([part[0] for part in buffered])
            cols = np.concatenate([part[1] for part in buffered])
            values = np.concatenate([part[2] for part in buffered], axis=1)
            codes = np.concatenate([np.full(len(part[0]), part[3], dtype=np.int64) for part in buffered])
            pids = np.concatenate([np.full(len(part[0]), part[4], dtype=np.int64) for part in buffered])
            names = np.concatenate([np.full(len(part[0]), part[5] or "", dtype=object)
                                    for part in buffered]).astype(str) if name_column else None
            parts = np.concatenate([part[6] for part in buffered])
            x, y = grid.pixel_centres(rows, cols)
            writer.write(x, y, values, codes, pids, names, parts)
            counts.add_codes(codes)
            buffered.clear()

        for pixels in rasterizer.iter_polygon_pixels(max_points_per_polygon, seed, reporter, is_canceled):
            counts.polygons_used += 1
            values = sampler.sample_window(pixels.rows, pixels.cols)
            valid = sampler.bands.valid(values)
            counts.nodata += int((~valid).sum())
            buffered.append((pixels.rows[valid], pixels.cols[valid], values[:, valid], pixels.code,
                             pixels.fid, pixels.name, pixels.parts[valid]))
            if valid.any():
                counts.add_groups(pixels.code, len(np.unique(pixels.parts[valid])), pixels.name)
            buffered_rows += int(valid.sum())
            if buffered_rows >= CSV_CHUNK:
                flush()
                buffered_rows = 0
        flush()
    counts.written = writer.rows_written
    return counts


def write_points_csv(rasterizer: PolygonRasterizer, csv_path: str, label_name: str,
                     name_column: str | None = None, max_points_per_polygon: int = 0, seed: int = 1,
                     reporter: Reporter | None = None,
                     is_canceled: Callable[[], bool] | None = None) -> SampleCounts:
    """Regular points: one row ``X,Y,<label>[,<name>],polygon_id,polygon_part`` per pixel centre a
    polygon wins.

    Written as CSV (with a ``.csvt`` type file) so that OGR converts it to any vector format
    in C++ (:func:`.io.vectors.csv_points_to_vector`). Order: polygon_id, then row, col.
    """
    grid = rasterizer.grid
    counts = SampleCounts(polygons_outside=rasterizer.polygons_outside)
    header = [X_COLUMN, Y_COLUMN, label_name, *([name_column] if name_column else []), GROUP_COLUMN,
              PART_COLUMN]
    with open(csv_path, "w", newline="", encoding="utf-8") as stream:
        stream.write(",".join(quote_csv(header)) + "\n")
        for pixels in rasterizer.iter_polygon_pixels(max_points_per_polygon, seed, reporter, is_canceled):
            counts.polygons_used += 1
            x, y = grid.pixel_centres(pixels.rows, pixels.cols)
            n = len(x)
            columns = [text_column(x), text_column(y), [str(pixels.code)] * n]
            if name_column:
                columns.append(text_repeated(pixels.name or "", n))
            columns += [[str(pixels.fid)] * n, text_column(pixels.parts)]
            write_rows(stream, columns)
            counts.written += n
            counts.per_code[str(pixels.code)] = counts.per_code.get(str(pixels.code), 0) + n
            counts.add_groups(pixels.code, pixels.n_parts, pixels.name)
    types = ["Real", "Real", "Integer64"] + (["String"] if name_column else []) + ["Integer64", "Integer"]
    with open(os.path.splitext(csv_path)[0] + ".csvt", "w", encoding="utf-8") as stream:
        stream.write(",".join(f'"{t}"' for t in types) + "\n")
    return counts
