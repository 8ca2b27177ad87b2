"""Stratified random samples of a class map: sample size, allocation and the points themselves.

Olofsson et al. (2014), Remote Sensing of Environment 148, 42-57, section 5.1: the map classes
are the strata; the sample size follows from a target standard error of overall accuracy and
the user's accuracies one expects (eq. 13); the points are allocated proportionally, equally,
or with a minimum per class and the rest proportionally (the guidance suggests 50 for rare
classes), and drawn at random among the pixels of each stratum, one point per pixel.

The map is read in strips through ``core.io.class_maps`` (the block walker and the validity rule
of ``core.io``): one pass counts the pixels of each class (the strata's sizes ``N_h``, which travel
with the points so that the assessment needs no second pass), a second pass picks the drawn
pixels. Memory stays flat with map size. Pixels are ranked in row-major order, so a seed gives
the same points whatever the strip height. NumPy only (runs in the QGIS process).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .errors import UserInputError
from .io.class_maps import STRIP_MEMORY_MB, ClassMap, iter_class_strips
from .progress import NullReporter, Reporter
from .samples_writer import quote_csv, text_column, write_rows

#: Allocation rules of ``allocate`` (the order of the stratifiedpoints parameter).
ALLOCATIONS = ("proportional", "equal", "minimum")
#: The least number of points any stratum gets (a variance needs 2; smaller strata: all pixels).
MIN_POINTS_FOR_VARIANCE = 2
#: Columns of the stratified points (X, Y give the geometry).
POINT_COLUMNS = ("map_code", "stratum", "class_name", "reference", "stratum_px", "map_px")


def count_classes(class_map: ClassMap, memory_mb: float = STRIP_MEMORY_MB,
                  reporter: Reporter | None = None,
                  is_canceled: Callable[[], bool] | None = None, parameter: str = "INPUT") -> dict[int, int]:
    """Pixels of each class code (nodata left out), strip by strip: ``{code: N_h}``.

    Raises
    ------
    UserInputError
        No valid pixel, or codes below 1 that are not nodata (class codes are positive).
    """
    reporter = reporter or NullReporter()
    totals: dict[int, int] = {}
    for block, values, valid in iter_class_strips(class_map, memory_mb, is_canceled):
        codes, numbers = np.unique(values[valid], return_counts=True)
        for code, number in zip(codes.tolist(), numbers.tolist(), strict=True):
            totals[code] = totals.get(code, 0) + number
        reporter.progress(100.0 * (block.index + 1) / max(1, block.count))
    if not totals:
        raise UserInputError(f"every pixel of {class_map.name} is nodata ({class_map.nodata:g}); choose "
                             "a class map with classified pixels.", parameter)
    bad = {code: n for code, n in totals.items() if code < 1}
    if bad:
        raise UserInputError(
            f"{class_map.name} holds the codes {sorted(bad)} ({sum(bad.values())} pixels) that are not its "
            f"nodata value {class_map.nodata:g}; class codes are positive integers. Set the map's nodata "
            "value to the code that marks unmapped pixels.", parameter)
    return dict(sorted(totals.items()))


def sample_size(weights: Sequence[float], expected_users_accuracy: Sequence[float],
                target_se: float) -> int:
    """Points needed for a target standard error of overall accuracy (Olofsson et al. 2014, eq. 13).

    ``n = (sum_i W_i S_i / S(O))^2`` with ``S_i = sqrt(U_i (1 - U_i))``, rounded up.

    Parameters
    ----------
    weights : sequence of float
        ``W_i``, each stratum's share of the mapped area.
    expected_users_accuracy : sequence of float
        ``U_i`` one expects per stratum, 0-1.
    target_se : float
        Target standard error of overall accuracy (0.01 = one percentage point).
    """
    w = np.asarray(weights, dtype=float)
    u = np.asarray(expected_users_accuracy, dtype=float)
    spread = float((w * np.sqrt(u * (1 - u))).sum())
    return max(1, math.ceil((spread / target_se) ** 2 - 1e-9))


def allocate(total: int, pixels: Mapping[int, int], method: str = "minimum",
             min_per_class: int = 50) -> dict[int, int]:
    """Split ``total`` points over the strata: ``{code: n_h}``.

    ``proportional``: ``n_h`` proportional to ``N_h``; ``equal``: the same for every stratum;
    ``minimum``: at least ``min_per_class`` per stratum, the rest proportionally (a stratum
    pushed under the minimum by that joins it). Every rule gives each stratum at least 2 points
    (a variance needs 2) and never more than its pixels (one point per pixel). Shares are
    rounded by largest remainder, so the counts sum to ``total`` unless the floors need more
    or the map has fewer pixels.
    """
    if method not in ALLOCATIONS:
        raise ValueError(f"unknown allocation {method!r}; use one of {ALLOCATIONS}")
    codes = sorted(pixels)
    sizes = np.array([pixels[c] for c in codes], dtype=float)
    floor = MIN_POINTS_FOR_VARIANCE if method != "minimum" else max(MIN_POINTS_FOR_VARIANCE, min_per_class)
    lower = np.minimum(floor, sizes)
    upper = sizes
    total = int(min(max(total, lower.sum()), upper.sum()))
    weights = np.ones_like(sizes) if method == "equal" else sizes
    shares = _water_fill(total, weights, lower, upper)
    counts = np.floor(shares + 1e-9).astype(np.int64)
    remainder = total - int(counts.sum())
    # Largest remainders first; ties to the larger stratum, then the lower code (deterministic).
    order = sorted(range(len(codes)), key=lambda i: (-(shares[i] - counts[i]), -sizes[i], codes[i]))
    for i in order:
        if remainder <= 0:
            break
        if counts[i] < upper[i]:
            counts[i] += 1
            remainder -= 1
    return {code: int(n) for code, n in zip(codes, counts, strict=True)}


def _water_fill(total: float, weights: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Shares ``clip(lambda * weights, lower, upper)`` summing to ``total`` (exact for the free ones)."""
    low, high = 0.0, float(np.max(upper / weights)) + 1.0
    for _ in range(200):  # bisection finds which strata sit at a bound
        middle = (low + high) / 2
        if np.clip(middle * weights, lower, upper).sum() < total:
            low = middle
        else:
            high = middle
    shares = np.clip(high * weights, lower, upper)
    free = (shares > lower) & (shares < upper)
    if free.any():  # the free strata share the rest exactly in proportion to their weights
        rest = total - shares[~free].sum()
        shares[free] = rest * weights[free] / weights[free].sum()
    return shares


def draw_points(class_map: ClassMap, allocation: Mapping[int, int], pixels: Mapping[int, int], seed: int,
                memory_mb: float = STRIP_MEMORY_MB, reporter: Reporter | None = None,
                is_canceled: Callable[[], bool] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``allocation[h]`` distinct pixels of each stratum ``h`` at random (second pass).

    Each stratum has its own generator seeded by ``(seed, code)``; it picks ranks among the
    stratum's ``N_h`` pixels in row-major order, and the walk finds those pixels.

    Returns
    -------
    rows, cols, codes : ndarray of int64
        The drawn pixels, ordered by stratum code, then row and column.
    """
    reporter = reporter or NullReporter()
    ranks = {}
    for code, n in allocation.items():
        if n > 0:
            rng = np.random.default_rng([int(seed), int(code)])
            ranks[code] = np.sort(rng.choice(int(pixels[code]), size=int(n), replace=False))
    seen = dict.fromkeys(ranks, 0)  # pixels of each stratum met so far in the walk
    found: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {code: [] for code in ranks}
    for block, values, valid in iter_class_strips(class_map, memory_mb, is_canceled):
        for code, wanted in ranks.items():
            flat = np.flatnonzero(valid & (values == code))
            start = seen[code]
            chosen = wanted[(wanted >= start) & (wanted < start + len(flat))] - start
            if len(chosen):
                rows, cols = np.divmod(flat[chosen], block.width)
                found[code].append((rows + block.y_off, cols + block.x_off))
            seen[code] = start + len(flat)
        reporter.progress(100.0 * (block.index + 1) / max(1, block.count))
    parts = [(np.concatenate([r for r, _ in found[c]]), np.concatenate([k for _, k in found[c]]), c)
             for c in sorted(found) if found[c]]
    rows = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    cols = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
    codes = np.concatenate([np.full(len(p[0]), p[2], np.int64) for p in parts]) if parts else rows
    return rows, cols, codes


def write_points_csv(path: str, class_map: ClassMap, rows: np.ndarray, cols: np.ndarray, codes: np.ndarray,
                     pixels: Mapping[int, int], names: Mapping[int, str]) -> str:
    """The drawn points as CSV (with a ``.csvt`` of types) for ``io.vectors.csv_points_to_vector``.

    Columns ``X, Y`` (pixel centres) and :data:`POINT_COLUMNS`; ``reference`` is empty (NULL),
    for the analyst to fill with the class seen on reference data.
    """
    x, y = class_map.grid.pixel_centres(rows, cols)
    n = len(rows)
    total = sum(pixels.values())
    code_text = text_column(codes)
    name_text = quote_csv([names.get(int(c), f"class {int(c)}") for c in codes.tolist()])
    columns = [text_column(x), text_column(y), code_text, code_text, name_text, [""] * n,
               text_column(np.array([pixels[int(c)] for c in codes.tolist()], dtype=np.int64)),
               [str(total)] * n]
    with open(path, "w", newline="", encoding="utf-8") as stream:
        stream.write(",".join(quote_csv(["X", "Y", *POINT_COLUMNS])) + "\n")
        write_rows(stream, columns)
    types = ["Real", "Real", "Integer64", "Integer64", "String", "Integer64", "Integer64", "Integer64"]
    with open(os.path.splitext(path)[0] + ".csvt", "w", encoding="utf-8") as stream:
        stream.write(",".join(f'"{t}"' for t in types) + "\n")
    return path


def expected_accuracies(text: str, codes: Sequence[int], default: float,
                        parameter: str = "EXPECTED_USERS_ACCURACY") -> dict[int, float]:
    """User's accuracy expected per class: ``"7201=0.9, 7203=0.6"``; other classes ``default``.

    Raises
    ------
    UserInputError
        An entry that is not ``code=value``, a value outside (0, 1), a code not in the map.
    """
    chosen = {int(c): float(default) for c in codes}
    for entry in [e.strip() for e in (text or "").replace(";", ",").split(",") if e.strip()]:
        code_text, _, value_text = entry.partition("=")
        try:
            code, value = int(code_text), float(value_text)
        except ValueError:
            raise UserInputError(f"{entry!r} is not code=accuracy; write e.g. '7201=0.9, 7203=0.6' "
                                 "(accuracies as fractions).", parameter) from None
        if code not in chosen:
            raise UserInputError(f"class {code} is not in the map (its classes: "
                                 f"{sorted(chosen)}); list only map classes.", parameter)
        if not 0 < value < 1:
            raise UserInputError(f"the expected user's accuracy of class {code} is {value:g}; give a "
                                 "fraction between 0 and 1 (e.g. 0.85), not a percentage.", parameter)
        chosen[code] = value
    return chosen


def write_strata_csv(path: str, pixels: Mapping[int, int]) -> str:
    """``code,pixels`` rows: the strata's sizes handed to the worker with the sample."""
    with open(path, "w", newline="", encoding="utf-8") as stream:
        stream.write("code,pixels\n" + "".join(f"{int(c)},{int(n)}\n" for c, n in sorted(pixels.items())))
    return path


def read_strata_csv(path: str) -> dict[int, int]:
    with open(path, newline="", encoding="utf-8") as stream:
        return {int(row["code"]): int(row["pixels"]) for row in csv.DictReader(stream)}
