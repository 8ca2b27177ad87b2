"""The samples table: the contract between data preparation and training.

The samples CSV (docs/DESIGN.md) holds one row per labelled pixel:
``X,Y,<band 1>,...,<band n>,<label>[,<class name>],polygon_id,polygon_part,Latitude,Longitude``.
This module owns its column names (:func:`samples_header`), the reader (:func:`read_samples`,
pandas imported inside; any CSV dialect :mod:`.csv_format` detects, codes or class names as labels)
and its checks; :class:`SampleTable` is what training reads. The writer is
:class:`.samples_writer.SamplesCsvWriter`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .csv_format import detect_csv_format
from .errors import UserInputError
from .legend import ClassLegend, class_label, codes_for_text_labels
from .progress import NullReporter, Reporter

#: Pixel centre in the raster's CRS.
X_COLUMN, Y_COLUMN = "X", "Y"
#: The polygon (source feature id) a sample comes from: the default group of the splits.
GROUP_COLUMN = "polygon_id"
#: The part of a multi-part feature a sample comes from (0 for a single polygon or a point): the
#: group of the splits is the polygon a user drew, (polygon_id, polygon_part).
PART_COLUMN = "polygon_part"
#: Pixel centre in WGS84 degrees.
LATITUDE_COLUMN, LONGITUDE_COLUMN = "Latitude", "Longitude"
#: Columns of the samples CSV that are never features (besides label, names and group columns).
NON_FEATURE_COLUMNS = (X_COLUMN, Y_COLUMN, LATITUDE_COLUMN, LONGITUDE_COLUMN, GROUP_COLUMN,
                       PART_COLUMN, "row", "col", "fid")
#: Class-name columns looked for when none is named (in this order).
NAME_COLUMNS = ("fclass", "name", "class_name")


def samples_header(band_names: Sequence[str], label_name: str, name_column: str | None = None) -> list[str]:
    """Column names of a samples CSV, in order (``name_column`` None: no class-name column)."""
    return [X_COLUMN, Y_COLUMN, *band_names, label_name, *([name_column] if name_column else []),
            GROUP_COLUMN, PART_COLUMN, LATITUDE_COLUMN, LONGITUDE_COLUMN]


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
                 min_per_class: int = 2, legend: ClassLegend | str | os.PathLike | None = None,
                 unknown_labels: str = "refuse") -> SampleTable:
    """Read and validate a samples CSV (or a pandas DataFrame).

    Parameters
    ----------
    samples : str, path or pandas.DataFrame
        The samples CSV (docs/DESIGN.md layout), in any dialect :func:`.csv_format.detect_csv_format`
        recognises.
    label : str
        Column of class labels: positive integer codes, or text (class names), which get codes
        by :func:`.legend.codes_for_text_labels` (alphabetical, or those of ``legend``).
    features : sequence of str, optional
        Feature columns in this order. Default: every numeric column that is not X, Y,
        the label, the names field, the group columns, Latitude or Longitude.
    group : str or None
        Group column (polygon id); ignored when empty or None; None in the result if absent.
        ``polygon_id`` with a ``polygon_part`` column: a group is one part of one feature.
    names_field : str, optional
        Column of class names (first name seen per code is used). Default: the column right
        after the label when it holds one text per code (the samples CSV puts it there), else
        ``fclass``, ``name`` or ``class_name`` on the same condition.
    min_classes, min_per_class : int
        Refuse fewer classes, or a class with fewer samples (2 and 2 for training;
        evaluation passes 1 and 1).
    legend : ClassLegend, legend CSV path or None
        Codes of text labels by name (a text not in it: see ``unknown_labels``).
    unknown_labels : {"refuse", "drop"}
        A text label the legend lacks: refused (training), or its rows dropped (evaluation).

    Raises
    ------
    UserInputError
        Missing columns, non-numeric features, non-integer codes, fewer than 2 classes,
        a class with fewer than 2 samples (named by code and name, with what to do).
    """
    import pandas as pd

    reporter = reporter or NullReporter()
    frame = samples if isinstance(samples, pd.DataFrame) else read_samples_frame(samples, reporter)
    columns = [str(c) for c in frame.columns]
    if label not in columns:
        raise UserInputError(f"the samples have no label column {label!r}; columns: {columns}.", "LABEL")
    group = group or None
    if group is not None and group not in columns:
        group = None
    if names_field and names_field not in columns:
        raise UserInputError(f"the samples have no class-name column {names_field!r}; columns: "
                             f"{columns}.", "NAMES_FIELD")
    codes_raw, text_names = _label_codes(frame[label], label, legend, unknown_labels, reporter)
    if text_names is not None:
        if names_field:
            reporter.log(f"The labels in {label!r} are class names: the column {names_field!r} is not used.")
        names_field = None
    elif not names_field:
        names_field = _names_column(frame, columns, label, codes_raw)
        if names_field:
            reporter.log(f"Class names from the column {names_field!r}.")
    feature_names = _feature_columns(frame, columns, features,
                                     {label, names_field, group, *NON_FEATURE_COLUMNS}, reporter)
    values = frame[feature_names].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    keep = np.isfinite(values).all(axis=1) & np.isfinite(codes_raw) & (codes_raw != 0)
    n_dropped = int((~keep).sum())
    if n_dropped:
        reporter.log(f"Dropped {n_dropped} of {len(frame)} rows with an empty, NaN or infinite feature "
                     f"value or no label (0 or empty {label}).")
    codes_raw = codes_raw[keep]
    bad = codes_raw[(codes_raw < 0) | (codes_raw != np.round(codes_raw))]
    if bad.size:
        raise UserInputError(f"the label column {label!r} must hold positive integer class codes or "
                             f"class names; found {sorted(set(bad.tolist()))[:10]}.", "LABEL")
    codes = codes_raw.astype(np.int64)
    present, counts = np.unique(codes, return_counts=True)
    class_names = text_names if text_names is not None else {}
    if names_field:
        names = frame.loc[keep, names_field].astype(str).to_numpy()
        for code in present.tolist():
            class_names[int(code)] = str(names[np.argmax(codes == code)])
    class_names = {code: name for code, name in class_names.items() if code in set(present.tolist())}
    if len(present) < min_classes:
        held = ", ".join(class_label(int(c), class_names.get(int(c))) for c in present) or "none"
        raise UserInputError(f"training needs at least {min_classes} classes; the samples hold {held} "
                             f"in column {label!r}.", "LABEL")
    rare = [f"{class_label(int(c), class_names.get(int(c)))}: {int(n)} sample"
            for c, n in zip(present, counts, strict=True) if n < min_per_class]
    if rare:
        dropped = (f" (after dropping {n_dropped} rows with an empty, NaN or infinite value)"
                   if n_dropped else "")
        raise UserInputError(f"the classes {'; '.join(rare)} have fewer than 2 samples{dropped}: merge "
                             "them with a similar class, drop them, or collect more samples.", "LABEL")
    xy = None
    if X_COLUMN in columns and Y_COLUMN in columns:
        xy = frame.loc[keep, [X_COLUMN, Y_COLUMN]].to_numpy(dtype=np.float64)
    groups, group_column = _groups(frame, keep, group, columns)
    return SampleTable(values[keep].astype(np.float32), feature_names, codes, groups, class_names, xy,
                       n_dropped, label, group_column)


def _label_codes(values: Any, label: str, legend: Any, unknown_labels: str, reporter: Reporter,
                 ) -> tuple[np.ndarray, dict[int, str] | None]:
    """Codes (float64, NaN where empty) of a label column, and the names of text labels (else None).

    A column whose every non-empty value is a number holds codes; one of mostly texts holds class
    names; codes with a few texts are refused (damaged rows).
    """
    import pandas as pd

    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    texts = values.astype(str).str.strip().where(values.notna(), "")
    labelled = (texts != "").to_numpy()
    numeric = np.isfinite(numbers[labelled])
    if numeric.all():
        return numbers, None
    if numeric.mean() >= 0.5:  # codes with a few texts: damaged rows, not a column of class names
        text = texts[labelled][~numeric]
        raise UserInputError(
            f"the label column {label!r} holds class codes and {len(text)} texts (e.g. {text.iloc[0]!r}); "
            "give every row a code (or every row a class name), or remove those rows.", "LABEL")
    given = legend if legend is None or isinstance(legend, ClassLegend) else ClassLegend.from_csv(legend)
    code_of = codes_for_text_labels(texts[labelled].unique().tolist(), given,
                                    drop_unknown=unknown_labels == "drop")
    codes = texts.map(code_of).to_numpy(dtype=np.float64)  # NaN: empty or an unknown name
    order = "the legend's codes" if given is not None else "codes 1.. in alphabetical order"
    reporter.log(f"The labels in {label!r} are class names; {order}: "
                 + ", ".join(f"{name} = {code}" for name, code in code_of.items()) + ".")
    unknown = int((labelled & ~np.isfinite(codes)).sum())
    if unknown:
        reporter.log(f"Dropped {unknown} rows whose class name is not in the legend.")
    return codes, {code: name for name, code in code_of.items()}


def _names_column(frame: Any, columns: list[str], label: str, codes: np.ndarray) -> str | None:
    """The class-name column when none is named: right after the label, else a usual name, if it
    holds exactly one text per code (not a column of feature names such as OSM's 'name')."""
    position = columns.index(label)
    candidates = [columns[position + 1]] if position + 1 < len(columns) else []
    candidates += [name for name in NAME_COLUMNS if name in columns]
    for name in candidates:
        if name in NON_FEATURE_COLUMNS or _numeric(frame[name]):
            continue
        pairs = frame.loc[np.isfinite(codes), name].astype(str).groupby(codes[np.isfinite(codes)])
        if len(pairs) and (pairs.nunique() == 1).all():
            return name
    return None


def _feature_columns(frame: Any, columns: list[str], features: Sequence[str] | None, skip: set,
                     reporter: Reporter) -> list[str]:
    """The feature columns given (checked: present and numeric), else every numeric column not in
    ``skip`` (a column of numbers with a few texts is refused as a damaged band)."""
    import pandas as pd

    if features:
        missing = [name for name in features if name not in columns]
        if missing:
            raise UserInputError(f"the feature columns {missing} are not in the samples; columns: "
                                 f"{columns}.", "FEATURES")
        for name in features:
            if not _numeric(frame[name]):
                raise UserInputError(f"the feature column {name!r} is not numeric.", "FEATURES")
        return list(features)
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
    return feature_names


def _groups(frame: Any, keep: np.ndarray, group: str | None, columns: list[str],
            ) -> tuple[np.ndarray | None, str | None]:
    """Group of each kept row and the group column's description. ``polygon_id`` with a
    ``polygon_part`` column that is not all 0: one group per (feature, part), numbered 0.. in that
    order; else the group column's values."""
    if not group:
        return None, None
    values = frame.loc[keep, group].to_numpy()
    if group != GROUP_COLUMN or PART_COLUMN not in columns:
        return values, group
    parts = np.nan_to_num(frame.loc[keep, PART_COLUMN].to_numpy(dtype=np.float64))
    if not parts.any():
        return values, group
    _, groups = np.unique(np.column_stack([values.astype(np.float64), parts]), axis=0, return_inverse=True)
    return groups.reshape(-1).astype(np.int64), f"{GROUP_COLUMN} + {PART_COLUMN}"


def read_samples_frame(path: str | os.PathLike, reporter: Reporter | None = None):
    """A samples CSV as a pandas DataFrame, read as it was written (:mod:`.csv_format`: delimiter,
    decimal mark, encoding, quotes); the dialect is logged. Column names are stripped of blanks;
    unnamed empty columns (a trailing delimiter) are dropped.

    Raises
    ------
    UserInputError
        Missing or unreadable file, with what was seen (parameter ``INPUT``).
    """
    import pandas as pd

    if not os.path.isfile(path):
        raise UserInputError(f"the samples file {path} does not exist.", "INPUT")
    found = detect_csv_format(path)
    try:
        frame = pd.read_csv(path, sep=found.delimiter, decimal=found.decimal, encoding=found.encoding,
                            quotechar='"', skipinitialspace=True)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise UserInputError(f"cannot read {path} as a CSV file ({found.describe()}): {exc}",
                             "INPUT") from exc
    frame.columns = [str(column).strip() for column in frame.columns]
    empty = [c for c in frame.columns if c.startswith("Unnamed:") and frame[c].isna().all()]
    (reporter or NullReporter()).log(f"Samples file {os.path.basename(os.fspath(path))}: "
                                     f"{found.describe()}, {len(frame)} rows.")
    return frame.drop(columns=empty)


def _numeric(series: Any) -> bool:
    import pandas as pd

    if pd.api.types.is_numeric_dtype(series):
        return True
    converted = pd.to_numeric(series, errors="coerce")
    return bool(converted.notna().sum() >= series.notna().sum() and series.notna().any())
