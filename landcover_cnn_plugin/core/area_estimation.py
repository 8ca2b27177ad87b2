"""Design-based accuracy and area estimates of a class map from a probability sample.

Olofsson, Foody, Herold, Stehman, Woodcock and Wulder (2014), "Good practices for estimating
area and assessing accuracy of land change", Remote Sensing of Environment 148, 42-57: the
stratified estimator with the map classes as strata. It serves stratified random samples
(``stratifiedpoints``) and simple random samples alike (for the latter it is the
post-stratified estimator, Olofsson et al. 2013, RSE 129, 122-131).

With ``N_i`` mapped pixels and ``n_ij`` sample points mapped ``i`` and labelled ``j``:

* weights ``W_i = N_i / N``; area proportions ``p_ij = W_i n_ij / n_i.`` (eq. 4, the error
  matrix in area terms); ``p_.j`` the estimated area share of class ``j`` (eq. 9);
* overall accuracy ``O = sum_j p_jj`` (eq. 1), user's accuracy ``U_i = p_ii / p_i.`` (eq. 2),
  producer's accuracy ``P_j = p_jj / p_.j`` (eq. 3);
* variances eq. 5 (O), 6 (U), 7 (P) and 10 (area share); 95 % intervals are +- 1.96 standard
  errors, as in the paper (EnMAP-Box's helper multiplies by 1.96 * alpha / 2, about 0.05 SE).

No finite population correction (as in the paper), except that a stratum sampled completely
(a census, ``n_i. = N_i``) adds no variance. A stratum with one point (of several pixels) has
no variance estimate (``n_i. - 1`` in the denominator) and is refused.

Pure NumPy: no qgis, no scikit-learn; usable in the QGIS process and in the worker.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .atomic import atomic_output
from .errors import UserInputError

#: Standard errors in a 95 % confidence interval (Olofsson et al. 2014 use 1.96).
Z95 = 1.96
#: Columns of the estimates CSV (OUTPUT_ESTIMATES of assessaccuracy), in this order.
ESTIMATE_COLUMNS = ("code", "name", "mapped_area_ha", "estimated_area_ha", "area_ci95_ha",
                    "users_accuracy", "users_ci95", "producers_accuracy", "producers_ci95")
PairCounts = Mapping[tuple[int, int], int]


@dataclass(frozen=True)
class AreaEstimates:
    """Estimates of a map's accuracy and class areas (Olofsson et al. 2014).

    Arrays are indexed by class in ``codes`` order (every map stratum and every reference
    class); NaN where an estimate is undefined (the user's accuracy of a class that is not a
    map class, the producer's accuracy of a class no sample point was labelled with).

    Attributes
    ----------
    codes : list of int
    counts : ndarray, shape (k, k), int64
        Sample points: rows the map class (stratum), columns the reference class.
    proportions : ndarray, shape (k, k)
        Estimated area proportions ``p_ij`` (rows map, columns reference); sums to 1.
    mapped_pixels : ndarray, shape (k,), int64
        ``N_i``: pixels of each class in the map.
    overall_accuracy, overall_se : float
    users_accuracy, users_se, producers_accuracy, producers_se : ndarray, shape (k,)
    area_share, area_share_se : ndarray, shape (k,)
        Estimated share of the mapped area (``p_.j``) and its standard error.
    """

    codes: list[int]
    counts: np.ndarray
    proportions: np.ndarray
    mapped_pixels: np.ndarray
    overall_accuracy: float
    overall_se: float
    users_accuracy: np.ndarray
    users_se: np.ndarray
    producers_accuracy: np.ndarray
    producers_se: np.ndarray
    area_share: np.ndarray
    area_share_se: np.ndarray

    @property
    def total_pixels(self) -> int:
        return int(self.mapped_pixels.sum())

    @property
    def kappa(self) -> float:
        """Cohen's kappa of the estimated proportion matrix (for comparison with older reports)."""
        chance = float(self.proportions.sum(axis=1) @ self.proportions.sum(axis=0))
        return (self.overall_accuracy - chance) / (1 - chance) if chance < 1 else 1.0

    @property
    def macro_f1(self) -> float:
        """Mean F1 over the map classes, from the estimated user's and producer's accuracies."""
        users, producers = self.users_accuracy, self.producers_accuracy
        both = np.isfinite(users) & np.isfinite(producers)
        total = users + producers
        f1 = np.where(both & (total > 0), 2 * users * producers / np.where(total > 0, total, 1), 0.0)
        return float(f1[both].mean()) if both.any() else float("nan")

    def area_pixels(self) -> tuple[np.ndarray, np.ndarray]:
        """Estimated area of each class and the half-width of its 95 % interval, in pixels."""
        return self.area_share * self.total_pixels, Z95 * self.area_share_se * self.total_pixels


def estimate_areas(pairs: PairCounts, stratum_pixels: Mapping[int, int],
                   parameter: str = "REFERENCE") -> AreaEstimates:
    """Olofsson et al. (2014) estimates from sample counts and the strata's pixel counts.

    Parameters
    ----------
    pairs : {(reference code, map code): points}
        The labelled sample points; the map code is the stratum.
    stratum_pixels : {map code: pixels}
        ``N_i`` of every map class (stratum); classes with 0 pixels are ignored.
    parameter : str
        Named in the messages about the sample.

    Raises
    ------
    UserInputError
        A point on a map class without pixels, a stratum without points, or a stratum with
        one point of several pixels (variance undefined).
    """
    strata = {int(code): int(n) for code, n in stratum_pixels.items() if int(n) > 0}
    used = {(int(r), int(m)): int(n) for (r, m), n in pairs.items() if int(n) > 0}
    stray = sorted({m for _, m in used} - set(strata))
    if stray:
        raise UserInputError(f"sample points lie on map classes {stray} that the map has no pixels "
                             "of; the points and the map do not belong together.", parameter)
    codes = sorted(set(strata) | {r for r, _ in used})
    index = {code: i for i, code in enumerate(codes)}
    k = len(codes)
    counts = np.zeros((k, k), dtype=np.int64)
    for (reference, mapped), n in used.items():
        counts[index[mapped], index[reference]] += n
    pixels = np.array([strata.get(code, 0) for code in codes], dtype=np.int64)
    sampled = counts.sum(axis=1)
    _check_strata(codes, pixels, sampled, parameter)

    weights = pixels / pixels.sum()
    is_stratum = pixels > 0
    share = np.divide(counts, sampled[:, None], out=np.zeros((k, k)), where=sampled[:, None] > 0)
    # 1 / (n_i. - 1), the variance factor of each stratum; a census stratum contributes none.
    census = sampled >= pixels
    factor = np.divide(1.0, sampled - 1, out=np.zeros(k), where=is_stratum & ~census & (sampled > 1))
    proportions = weights[:, None] * share
    area_share = proportions.sum(axis=0)
    area_share_var = (weights[:, None] ** 2 * share * (1 - share) * factor[:, None]).sum(axis=0)

    users = np.where(is_stratum, np.diag(share), np.nan)
    users_var = np.where(is_stratum, users * (1 - users) * factor, np.nan)
    overall = float(np.trace(proportions))
    overall_var = float(np.nansum(weights ** 2 * users * (1 - users) * factor))

    diagonal = np.diag(proportions)
    producers = np.divide(diagonal, area_share, out=np.full(k, np.nan), where=area_share > 0)
    # Eq. 7: N_.j (the estimated pixels of reference class j) and the two variance terms.
    reference_pixels = (pixels[:, None] * share).sum(axis=0)
    own = pixels.astype(float) ** 2 * (1 - producers) ** 2 * np.nan_to_num(users * (1 - users)) * factor
    cells = (pixels.astype(float)[:, None] ** 2 * share * (1 - share) * factor[:, None])
    others = cells.sum(axis=0) - np.diag(cells)
    producers_var = np.divide(own + producers ** 2 * others, reference_pixels ** 2,
                              out=np.full(k, np.nan), where=reference_pixels > 0)
    return AreaEstimates(codes, counts, proportions, pixels, overall, math.sqrt(overall_var),
                         users, np.sqrt(users_var), producers, np.sqrt(producers_var), area_share,
                         np.sqrt(area_share_var))


def _check_strata(codes: Sequence[int], pixels: np.ndarray, sampled: np.ndarray, parameter: str) -> None:
    empty = [f"{code} ({int(n)} pixels)" for code, n, s in zip(codes, pixels, sampled, strict=True)
             if n > 0 and s == 0]
    if empty:
        raise UserInputError(
            f"the map classes {', '.join(empty)} have no labelled sample point, so their share of the "
            "map cannot be estimated; label points in every class (stratifiedpoints gives each class "
            "at least 2) or merge those classes into others.", parameter)
    single = [f"{code} ({int(n)} pixels)" for code, n, s in zip(codes, pixels, sampled, strict=True)
              if s == 1 and n > 1]
    if single:
        raise UserInputError(
            f"the map classes {', '.join(single)} have only one labelled sample point: the variance "
            "of a stratum needs at least 2 (it divides by points - 1), so no confidence interval "
            "is defined; label at least 2 points in every class.", parameter)


def estimate_rows(estimates: AreaEstimates, names: Mapping[int, str],
                  pixel_ha: float) -> list[dict[str, float | int | str | None]]:
    """One row per class with the OUTPUT_ESTIMATES columns (accuracies as fractions).

    Each ``_ci95`` is the half-width of the 95 % interval (estimate +- it); None where
    the estimate is undefined.
    """
    area, area_half = estimates.area_pixels()

    def value(number: float) -> float | None:
        return None if not np.isfinite(number) else float(number)

    rows = []
    for i, code in enumerate(estimates.codes):
        rows.append({
            "code": code, "name": names.get(code, f"class {code}"),
            "mapped_area_ha": float(estimates.mapped_pixels[i]) * pixel_ha,
            "estimated_area_ha": float(area[i]) * pixel_ha, "area_ci95_ha": float(area_half[i]) * pixel_ha,
            "users_accuracy": value(estimates.users_accuracy[i]),
            "users_ci95": value(Z95 * estimates.users_se[i]),
            "producers_accuracy": value(estimates.producers_accuracy[i]),
            "producers_ci95": value(Z95 * estimates.producers_se[i])})
    return rows


def write_estimates_csv(path: str, rows: Sequence[Mapping[str, float | int | str | None]]) -> str:
    """Write the estimates CSV atomically (empty cells where an estimate is undefined)."""
    with atomic_output(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ESTIMATE_COLUMNS)
        for row in rows:
            writer.writerow(["" if row[c] is None else _csv_number(row[c]) for c in ESTIMATE_COLUMNS])
    return path


def _csv_number(value: float | int | str) -> str:
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") if abs(value) < 1e15 else repr(value)
    return str(value)
