"""Vector layers through OGR without a Python loop per feature: point batches, point files.

Point layers are read as Arrow batches (``GetArrowStreamAsNumPy``): coordinates come out of the
WKB column with one NumPy view, attributes as (masked) arrays, so memory stays flat and speed
does not depend on Python. Regular points are written as CSV and converted by OGR in C++
(:func:`csv_points_to_vector`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from osgeo import gdal, ogr

from ..errors import JobCanceled
from ..progress import NullReporter, Reporter

#: Points per Arrow batch when reading point layers (memory stays flat with point count).
POINT_BATCH = 65_536


@dataclass
class PointBatch:
    """One batch of points: coordinates (float64) and attribute columns."""

    x: np.ndarray
    y: np.ndarray
    fid: np.ndarray
    columns: dict[str, np.ndarray] = field(default_factory=dict)


_WKB_POINT = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])
_WKB_POINT_Z = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8"), ("z", "<f8")])


def _points_from_wkb(geometry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x, y of WKB points; vectorised for little-endian Point/PointZ, OGR parse otherwise."""
    if isinstance(geometry, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(geometry)
        geometry = geometry.data
    else:
        mask = np.zeros(len(geometry), dtype=bool)
    if geometry.dtype.kind == "V" and geometry.dtype.itemsize in (21, 29) and not mask.any():
        layout = _WKB_POINT if geometry.dtype.itemsize == 21 else _WKB_POINT_Z
        parsed = np.frombuffer(geometry.tobytes(), dtype=layout)
        if (parsed["order"] == 1).all():
            return parsed["x"].astype(np.float64), parsed["y"].astype(np.float64)
    # Rare layouts (multipoints, big-endian): OGR parses each geometry.
    x = np.full(len(geometry), np.nan)
    y = np.full(len(geometry), np.nan)
    for i, wkb in enumerate(geometry):
        if mask[i] or wkb is None:
            continue
        point = ogr.CreateGeometryFromWkb(bytes(wkb))
        if point is not None and not point.IsEmpty():
            first = point.GetGeometryRef(0) if point.GetGeometryCount() else point
            x[i], y[i] = first.GetX(), first.GetY()
    return x, y


def _column(values) -> np.ndarray:
    """An Arrow column as a plain array; nulls become masked entries."""
    if isinstance(values, np.ma.MaskedArray):
        return values
    return np.ma.asarray(values)


def iter_point_batches(path: str, layer_name: str | int | None, fields: Sequence[str],
                       batch_size: int = POINT_BATCH) -> Iterator[PointBatch]:
    """Read a point layer in batches of ``batch_size`` points (OGR Arrow stream, no Python per point).

    Parameters
    ----------
    path, layer_name : str
        OGR data source and layer (None: the first layer).
    fields : sequence of str
        Attribute fields to return in ``PointBatch.columns`` (masked arrays; strings as bytes).
    """
    source = ogr.Open(str(path))
    layer = _layer(source, layer_name)
    definition = layer.GetLayerDefn()
    wanted = set(fields)
    ignored = [definition.GetFieldDefn(i).GetName() for i in range(definition.GetFieldCount())
               if definition.GetFieldDefn(i).GetName() not in wanted]
    layer.SetIgnoredFields(ignored)
    geometry_name = layer.GetGeometryColumn() or "wkb_geometry"
    fid_name = layer.GetFIDColumn() or "OGC_FID"
    stream = layer.GetArrowStreamAsNumPy(options=[f"MAX_FEATURES_IN_BATCH={int(batch_size)}",
                                                  "INCLUDE_FID=YES"])
    for batch in stream:
        geometry = batch.get(geometry_name)
        if geometry is None:  # the geometry column may be named differently in the stream
            geometry = next(v for k, v in batch.items() if k not in wanted and k != fid_name)
        x, y = _points_from_wkb(geometry)
        fid = np.asarray(batch.get(fid_name, np.arange(len(x))), dtype=np.int64)
        yield PointBatch(x, y, fid, {name: _column(batch[name]) for name in fields})
    layer.SetIgnoredFields([])


def _layer(source, layer_name: str | int | None):
    """A layer by name, by index, or the first one."""
    if isinstance(layer_name, str) and layer_name:
        return source.GetLayerByName(layer_name)
    return source.GetLayer(int(layer_name or 0))


def count_points(path: str, layer_name: str | int | None) -> int:
    """Features in a layer (for progress)."""
    source = ogr.Open(str(path))
    return _layer(source, layer_name).GetFeatureCount()


def layer_fields(path: str, layer_name: str | int | None) -> list[str]:
    """Attribute field names of a layer."""
    source = ogr.Open(str(path))  # kept open while its layer is read (OGR frees the layer with it)
    definition = _layer(source, layer_name).GetLayerDefn()
    return [definition.GetFieldDefn(i).GetName() for i in range(definition.GetFieldCount())]


def masked_integers(column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values int64, valid bool) of a possibly masked integer column."""
    mask = np.ma.getmaskarray(column)
    return np.asarray(np.ma.getdata(column)).astype(np.int64), ~mask


def masked_labels(column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labels, valid) of a class field: int64 codes of a numeric field, str class names of a text
    field (empty or null: not valid)."""
    if np.ma.getdata(column).dtype.kind in "iufb":
        return masked_integers(column)
    texts = np.char.strip(masked_texts(column))
    return texts, texts != ""


def masked_texts(column: np.ndarray) -> np.ndarray:
    """A possibly masked text column (bytes or str) as str, '' where null."""
    data = np.ma.getdata(column)
    mask = np.ma.getmaskarray(column)
    if data.dtype.kind == "S":
        text = np.char.decode(data, "utf-8")
    else:
        text = data.astype(str)
    return np.where(mask, "", text)


def csv_points_to_vector(csv_path: str, output_path: str, crs_wkt: str, layer_name: str,
                         driver: str | None = None, reporter: Reporter | None = None,
                         is_canceled: Callable[[], bool] = lambda: False) -> None:
    """Convert a points CSV (``X``, ``Y`` columns and a ``.csvt`` beside it, as
    ``core.sampling.write_points_csv`` writes it) to a vector file (OGR, C++ speed)."""
    reporter = reporter or NullReporter()

    def progress(complete: float, message, data) -> int:
        reporter.progress(100.0 * complete)
        return 0 if is_canceled() else 1

    # Open the CSV ourselves: VectorTranslate ignores "-oo" for a source given by name.
    source = gdal.OpenEx(csv_path, gdal.OF_VECTOR, open_options=[
        "X_POSSIBLE_NAMES=X", "Y_POSSIBLE_NAMES=Y", "KEEP_GEOM_COLUMNS=NO"])
    arguments = ["-nln", layer_name, "-a_srs", crs_wkt, "-nlt", "POINT"]
    if driver:
        arguments += ["-f", driver]
    try:
        result = gdal.VectorTranslate(output_path, source, options=gdal.VectorTranslateOptions(
            options=arguments, callback=progress))
    except RuntimeError:
        if is_canceled():
            raise JobCanceled("canceled") from None
        raise
    if result is None:
        raise RuntimeError(f"could not write {output_path}")
    result = None
