"""How many polygons back each class in each part of a split, and the warnings when too few do.

Pixels of one polygon are near-copies: a class learnt from two polygons, or tested on one, gives
figures that say little however many pixels those polygons hold. The trainer counts polygons (the
group column; rows where there is none) per class and part and warns, naming class code and name,
where a class has fewer than :data:`MIN_POLYGONS`; and it notes, recommending cross-validation,
when the test figures' 95 % intervals are wide.

Needs NumPy only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .legend import ClassLegend

#: Fewer polygons than this of a class in a part draw a warning.
MIN_POLYGONS = 3
#: Fewer test polygons than this of a class: its F1 varies more between splits than the polygon
#: bootstrap shows (on the Berlin set the interval missed the five-fold macro F1 in 3 of 15 splits,
#: each time with a class of 1-2 test polygons); the report says so next to macro F1.
MIN_F1_POLYGONS = 5
#: A test figure whose 95 % interval is wider than this (either side of the estimate, roughly)
#: draws the note that the test part is too small to pin it down.
WIDE_HALF_INTERVAL = 0.05
PART_WORDS = {"train": "training", "validation": "validation", "test": "test"}


def polygons_per_class(codes: np.ndarray, groups: np.ndarray | None, rows: np.ndarray) -> dict[str, int]:
    """Distinct groups (rows, without groups) of each class code among ``rows``: ``{"7201": n, ...}``."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) == 0:
        return {}
    codes = np.asarray(codes)[rows]
    units = np.asarray(groups)[rows] if groups is not None else rows
    pairs = np.unique(np.column_stack([codes.astype(np.int64), np.unique(units, return_inverse=True)[1]
                                       .reshape(-1)]), axis=0)
    values, counts = np.unique(pairs[:, 0], return_counts=True)
    return {str(int(v)): int(n) for v, n in zip(values, counts, strict=True)}


def class_label(legend: ClassLegend, code: int) -> str:
    """``"5 (Soil)"``: a class as messages name it."""
    name = legend.names[legend.codes.index(int(code))]
    return f"{int(code)} ({name})" if name != f"class {int(code)}" else str(int(code))


def few_polygon_warnings(polygon_counts: Mapping[str, Mapping[str, int]], legend: ClassLegend,
                         unit: str = "polygons") -> list[str]:
    """One warning per part listing the classes with fewer than :data:`MIN_POLYGONS` there.

    ``polygon_counts``: ``{"train": {"7201": n, ...}, "validation": {...}, "test": {...}}``; a part
    missing or empty is skipped (e.g. no validation part).
    """
    warnings = []
    for part, counts in polygon_counts.items():
        if not counts:
            continue
        few = [(code, int(counts.get(str(code), 0))) for code in legend.codes
               if int(counts.get(str(code), 0)) < MIN_POLYGONS]
        if few:
            listed = ", ".join(f"{class_label(legend, code)}: {n}" for code, n in few)
            warnings.append(f"few {unit} in the {PART_WORDS.get(part, part)} part ({listed}; fewer than "
                            f"{MIN_POLYGONS} {unit} say little about a class): collect more {unit} of these "
                            "classes, merge them with others, or use cross-validation (CV_FOLDS).")
    return warnings


def thin_test_classes(test_polygons: Mapping[str, int], legend: ClassLegend) -> list[str]:
    """``["5 (Soil): 2", ...]``: the tested classes with fewer than :data:`MIN_F1_POLYGONS` test polygons."""
    return [f"{class_label(legend, code)}: {test_polygons[str(code)]}" for code in legend.codes
            if 0 < test_polygons.get(str(code), 0) < MIN_F1_POLYGONS]


def absent_class_note(metrics: Mapping[str, Any], legend: ClassLegend) -> list[str]:
    """The classes without test samples: left out of macro F1 (not counted as 0)."""
    absent = metrics.get("absent_codes") or []
    if not absent:
        return []
    return [f"no test samples of class {', '.join(class_label(legend, c) for c in absent)}: the test "
            "figures say nothing about it, and macro F1 is the mean over the other classes."]


def interval_notes(intervals: Mapping[str, Sequence[float]], n_test_groups: int, cv_folds: int) -> list[str]:
    """A note when an interval is wider than ``2 * WIDE_HALF_INTERVAL``, recommending CV_FOLDS."""
    widths = {key: intervals[key][1] - intervals[key][0] for key in ("overall_accuracy", "kappa", "macro_f1")
              if key in intervals}
    wide = [key.replace("_", " ") for key, width in widths.items() if width > 2 * WIDE_HALF_INTERVAL]
    if not wide:
        return []
    advice = ("" if cv_folds else " Cross-validation (CV_FOLDS = 5) tests every polygon once and gives "
              "figures that vary less.")
    return [f"the test part holds {n_test_groups} polygons, too few to pin down {', '.join(wide)}: another "
            f"equally honest split could give figures anywhere in the 95 % intervals shown.{advice}"]
