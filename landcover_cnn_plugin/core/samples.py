"""The samples table: the contract between data preparation and training.

The samples CSV (docs/DESIGN.md) holds one row per labelled pixel:
``X,Y,<band 1>,...,<band n>,<label>[,<class name>],polygon_id,Latitude,Longitude``.
This module owns its column names (:func:`samples_header`), the writer
(:class:`SamplesCsvWriter`, streaming, no Python per row), the reader (:func:`read_samples`,
pandas imported inside) and its checks; :class:`SampleTable` is what training reads.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

from .errors import UserInputError
from .progress import NullReporter, Reporter

#: Pixel centre in the raster's CRS.
X_COLUMN, Y_COLUMN = "X", "Y"
#: The polygon (source feature id) a sample comes from: the default group of the splits.
GROUP_COLUMN = "polygon_id"
#: Pixel centre in WGS84 degrees.
LATITUDE_COLUMN, LONGITUDE_COLUMN = "Latitude", "Longitude"
#: Columns of the samples CSV that are never features (besides label, names and group columns).
NON_FEATURE_COLUMNS = (X_COLUMN, Y_COLUMN, LATITUDE_COLUMN, LONGITUDE_COLUMN, GROUP_COLUMN,
                       "row", "col", "fid")
#: Class-name columns looked for when none is named (in this order).
NAME_COLUMNS = ("fclass", "name", "class_name")


@dataclass
class SampleTable:
    """Validated samples.

    Attributes
    ----------
    features : ndarray, shape (n, n_features), float32
        Band values in the CSV's units (e.g. DN), columns in ``feature_names`` order.
    feature_names : list of str
    codes : ndarray, shape (n,), int64
        Class code per row.
    groups : ndarray, shape (n,) or None
        Group (polygon id) per row.
    class_names : dict[int, str]
        Names from the names field (empty without one).
    xy : ndarray, shape (n, 2), float64, or None
        ``X``, ``Y`` pixel centres (raster CRS units) when the CSV has them.
    n_dropped : int
        Rows dropped because a feature or the label was empty, NaN or infinite.
    label_column, group_column : str or None
    """

    features: np.ndarray
    feature_names: list[str]
    codes: np.ndarray
    groups: np.ndarray | None
    class_names: dict[int, str]
    xy: np.ndarray | None
    n_dropped: int
    label_column: str
    group_column: str | None

    def __len__(self) -> int:
        return len(self.codes)

    def select_features(self, names: Sequence[str]) -> SampleTable:
        """The same rows with a subset of the features (for feature-set comparisons)."""
        positions = [self.feature_names.index(name) for name in names]
        return SampleTable(self.features[:, positions], list(names), self.codes, self.groups,
                           self.class_names, self.xy, self.n_dropped, self.label_column,
                           self.group_column)


def read_samples(samples: Any, label: str = "code", features: Sequence[str] | None = None,
                 group: str | None = GROUP_COLUMN, names_field: str | None = None,
                 reporter: Reporter | None = None, min_classes: int = 2,
                 min_per_class: int = 2) -> SampleTable:
    """Read and validate a samples CSV (or a pandas DataFrame).

    Parameters
    ----------
    samples : str, path or pandas.DataFrame
        The samples CSV (docs/DESIGN.md layout).
    label : str
        Column of positive integer class codes.
    features : sequence of str, optional
        Feature columns in this order. Default: every numeric column that is not X, Y,
        the label, the names field, the group column, Latitude or Longitude.
    group : str or None
        Group column (polygon id); ignored when empty or None; None in the result if absent.
    names_field : str, optional
        Column of class names (first name seen per code is used).
    min_classes, min_per_class : int
        Refuse fewer classes, or a class with fewer samples (2 and 2 for training;
        evaluation passes 1 and 1).

    Raises
    ------
    UserInputError
        Missing columns, non-numeric features, non-integer codes, fewer than 2 classes,
        a class with fewer than 2 samples (named, with what to do).
    """
    import pandas as pd

    reporter = reporter or NullReporter()
    if isinstance(samples, pd.DataFrame):
        frame = samples
    else:
        if not os.path.isfile(samples):
            raise UserInputError(f"the samples file {samples} does not exist.", "INPUT")
        try:
            frame = pd.read_csv(samples)
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            raise UserInputError(f"cannot read {samples} as a CSV file: {exc}", "INPUT") from exc
    columns = [str(c) for c in frame.columns]
    if label not in columns:
        raise UserInputError(f"the samples have no label column {label!r}; columns: {columns}.", "LABEL")
    group = group or None
    if group is not None and group not in columns:
        group = None
    if names_field and names_field not in columns:
        raise UserInputError(f"the samples have no class-name column {names_field!r}; columns: "
                             f"{columns}.", "NAMES_FIELD")
    if features:
        missing = [name for name in features if name not in columns]
        if missing:
            raise UserInputError(f"the feature columns {missing} are not in the samples; columns: "
                                 f"{columns}.", "FEATURES")
        feature_names = list(features)
        for name in feature_names:
            if not _numeric(frame[name]):
                raise UserInputError(f"the feature column {name!r} is not numeric.", "FEATURES")
    else:
        skip = {label, names_field, group, *NON_FEATURE_COLUMNS}
        candidates = [c for c in columns if c not in skip]
        feature_names = [c for c in candidates if _numeric(frame[c])]
        ignored = [c for c in candidates if c not in feature_names]
        for name in ignored:  # mostly numbers with some text: a damaged band, not a text column
            numbers = pd.to_numeric(frame[name], errors="coerce")
            text = frame[name][numbers.isna() & frame[name].notna()]
            if numbers.notna().mean() >= 0.5 and len(text):
                raise UserInputError(
                    f"the band column {name!r} holds {len(text)} non-numeric values (e.g. "
                    f"{str(text.iloc[0])!r}); fix or remove those rows, or leave the column out by "
                    "listing the feature columns to use.", "FEATURES")
        if ignored:
            reporter.log(f"Ignoring non-numeric columns {ignored} (not features).")
        if not feature_names:
            raise UserInputError(f"the samples have no numeric feature columns; columns: {columns}.",
                                 "FEATURES")
    values = frame[feature_names].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    codes_raw = pd.to_numeric(frame[label], errors="coerce").to_numpy(dtype=np.float64)
    keep = np.isfinite(values).all(axis=1) & np.isfinite(codes_raw) & (codes_raw != 0)
    n_dropped = int((~keep).sum())
    if n_dropped:
        reporter.log(f"Dropped {n_dropped} of {len(frame)} rows with an empty, NaN or infinite feature "
                     f"value or no label (0 or empty {label}).")
    codes_raw = codes_raw[keep]
    bad = codes_raw[(codes_raw < 0) | (codes_raw != np.round(codes_raw))]
    if bad.size:
        raise UserInputError(f"the label column {label!r} must hold positive integer class codes; "
                             f"found {sorted(set(bad.tolist()))[:10]}.", "LABEL")
    codes = codes_raw.astype(np.int64)
    present, counts = np.unique(codes, return_counts=True)
    if len(present) < min_classes:
        raise UserInputError(f"training needs at least {min_classes} classes; the samples hold "
                             f"{present.tolist()} in column {label!r}.", "LABEL")
    rare = [f"{int(c)} ({int(n)} sample)" for c, n in zip(present, counts, strict=True)
            if n < min_per_class]
    if rare:
        dropped = (f" (after dropping {n_dropped} rows with an empty, NaN or infinite value)"
                   if n_dropped else "")
        raise UserInputError(f"the classes {', '.join(rare)} have fewer than 2 samples{dropped}: merge "
                             "them with a similar class, drop them, or collect more samples.", "LABEL")
    class_names: dict[int, str] = {}
    if names_field:
        names = frame.loc[keep, names_field].astype(str).to_numpy()
        for code in present.tolist():
            class_names[int(code)] = str(names[np.argmax(codes == code)])
    xy = None
    if X_COLUMN in columns and Y_COLUMN in columns:
        xy = frame.loc[keep, [X_COLUMN, Y_COLUMN]].to_numpy(dtype=np.float64)
    groups = frame.loc[keep, group].to_numpy() if group else None
    return SampleTable(values[keep].astype(np.float32), feature_names, codes, groups, class_names, xy,
                       n_dropped, label, group)


def _numeric(series: Any) -> bool:
    import pandas as pd

    if pd.api.types.is_numeric_dtype(series):
        return True
    converted = pd.to_numeric(series, errors="coerce")
    return bool(converted.notna().sum() >= series.notna().sum() and series.notna().any())


# --- Writing ------------------------------------------------------------------------------------

def _format_values(values: np.ndarray) -> list[str]:
    """Text of each value: integers exact, float32 as NumPy's shortest float32 text, float64 as repr."""
    if values.dtype.kind in "iub":
        return list(map(str, values.astype(np.int64).tolist()))
    if values.dtype == np.float32:
        return values.astype(str).tolist()
    return list(map(repr, values.astype(np.float64).tolist()))


def text_column(values: np.ndarray) -> list[str]:
    """A numeric column as CSV text, formatted once per distinct value where values repeat.

    Band values, codes, ids and pixel-centre coordinates repeat a lot, so formatting the
    distinct values and indexing (C speed) is several times faster than formatting each.
    """
    values = np.asarray(values)
    if len(values) > 64:
        distinct, inverse = np.unique(values, return_inverse=True)
        if len(distinct) * 4 <= len(values):
            return np.array(_format_values(distinct), dtype=object)[inverse].tolist()
    return _format_values(values)


def quote_csv(texts: Sequence[str]) -> list[str]:
    """CSV-quote text that holds a comma, quote or line break."""
    return [f'"{t.replace(chr(34), chr(34) * 2)}"' if any(c in t for c in ',"\n\r') else t
            for t in texts]


def text_names(names: np.ndarray) -> list[str]:
    """A text column (class names) CSV-quoted, each distinct name quoted once."""
    names = np.asarray(names, dtype=str)
    if not len(names):
        return []
    distinct, inverse = np.unique(names, return_inverse=True)
    return np.array(quote_csv(distinct.tolist()), dtype=object)[inverse].tolist()


def text_repeated(text: str, n: int) -> list[str]:
    return [quote_csv([text])[0]] * n


def write_rows(stream: TextIO, columns: Sequence[Sequence[str]]) -> None:
    """Write columns of text as CSV lines (zip/map/join iterate in C: no Python code per row)."""
    stream.write("\n".join(map(",".join, zip(*columns, strict=True))))
    stream.write("\n")


def samples_header(band_names: Sequence[str], label_name: str, name_column: str | None = None) -> list[str]:
    """Column names of a samples CSV, in order (``name_column`` None: no class-name column)."""
    return [X_COLUMN, Y_COLUMN, *band_names, label_name, *([name_column] if name_column else []),
            GROUP_COLUMN, LATITUDE_COLUMN, LONGITUDE_COLUMN]


class SamplesCsvWriter:
    """Streams sample rows to a CSV in the design's column order.

    Parameters
    ----------
    stream : text file
        Opened with ``newline=""``.
    to_lonlat : callable
        ``(x, y) -> (longitude, latitude)`` from the raster's CRS to WGS84 degrees
        (``core.io.grid.lonlat_transform``).
    band_names, label_name, name_column
        Column names (:func:`samples_header`); ``name_column`` None leaves the class-name column out.
    """

    def __init__(self, stream: TextIO,
                 to_lonlat: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
                 band_names: Sequence[str], label_name: str, name_column: str | None = None) -> None:
        self.stream, self.to_lonlat, self.name_column = stream, to_lonlat, name_column
        self.rows_written = 0
        stream.write(",".join(quote_csv(samples_header(band_names, label_name, name_column))) + "\n")

    def write(self, x: np.ndarray, y: np.ndarray, values: np.ndarray, labels: np.ndarray,
              polygon_ids: np.ndarray, names: np.ndarray | None = None) -> None:
        """Append rows. ``values``: (bands, n); the others (n,); X, Y in the raster's CRS."""
        if not len(x):
            return
        longitude, latitude = self.to_lonlat(x, y)
        columns = [text_column(x), text_column(y)] + [text_column(band) for band in values]
        columns.append(text_column(labels))
        if self.name_column:
            columns.append(text_names(names) if names is not None else [""] * len(x))
        columns += [text_column(polygon_ids), _format_values(np.round(latitude, 8)),
                    _format_values(np.round(longitude, 8))]
        write_rows(self.stream, columns)
        self.rows_written += len(x)
