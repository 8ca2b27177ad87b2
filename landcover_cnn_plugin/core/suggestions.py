"""Points to label next: where the model is least sure, spread apart, balanced over predicted classes.

Uncertainty sampling for active learning (Settles 2012, "Active Learning", ch. 2; Tuia et al.
2011, "A survey of active learning algorithms for supervised remote sensing image
classification", IEEE J. Sel. Topics Signal Process. 5, 606-617): the pixels whose class
probabilities are the least decided are the most informative to label.

* ``margin``: 1 - (p1 - p2), the gap between the two most probable classes closed (Scheffer et
  al. 2001); ``entropy``: the Shannon entropy of the probabilities over ln(n_classes);
  ``random``: a seeded random score (the default: see :data:`DEFAULT_MEASURE`).
* :class:`SuggestionPool` keeps, per predicted class, the ``pool_size`` least sure valid pixels
  met while the raster is walked block by block (memory independent of raster size).
  The order is total (score, then a seeded hash of the pixel, then the pixel index), so the
  pool and the suggestions do not depend on the block size.
* :meth:`SuggestionPool.select` takes the least sure candidate of each predicted class in turn
  (balance) and skips candidates nearer than ``min_distance`` to a point already taken (spread).

Pure NumPy (no qgis, no TensorFlow): the worker's ``suggest`` job feeds it model
probabilities; benchmarks/bench_active_learning.py uses it as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Uncertainty measures (the order of the suggestpoints parameter).
MEASURES = ("margin", "entropy", "random")
#: The measure suggestpoints uses by default. benchmarks/bench_active_learning.py (sample scene, OSM
#: polygons as labeller, 80 labels to start, 3 rounds of 250 suggestions, 5 seeds, held-out polygons):
#: after the third round random suggestions (balanced, spread) reached median OA / kappa / macro F1
#: 0.428 / 0.290 / 0.354, margin 0.386 / 0.275 / 0.342, entropy 0.342 / 0.223 / 0.309: from a small
#: start, a weak model's doubts point at confusing boundary pixels more than at what it lacks.
DEFAULT_MEASURE = "random"
_FIELDS = ("score", "jitter", "pixel", "runner_up", "first", "second", "entropy")


def pixel_hash(pixels: np.ndarray, seed: int) -> np.ndarray:
    """A uniform number in [0, 1) per pixel index and seed (SplitMix64): the same for any block."""
    with np.errstate(over="ignore"):
        z = np.asarray(pixels, dtype=np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


@dataclass(frozen=True)
class Suggestions:
    """The chosen pixels, least sure first.

    Attributes
    ----------
    rows, cols : ndarray of int64
    predicted, runner_up : ndarray of int64
        Class ids (legend order) of the most and second most probable class.
    confidence, runner_up_probability, margin, entropy, score : ndarray of float64
        p1, p2, p1 - p2, normalised entropy, the measure's score (higher = less sure).
    """

    rows: np.ndarray
    cols: np.ndarray
    predicted: np.ndarray
    runner_up: np.ndarray
    confidence: np.ndarray
    runner_up_probability: np.ndarray
    margin: np.ndarray
    entropy: np.ndarray
    score: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


class SuggestionPool:
    """Candidates for labelling, collected block by block.

    Parameters
    ----------
    n_classes : int
    width : int
        Raster width in pixels (pixel index = row * width + col).
    measure : {"margin", "entropy", "random"}
    pool_size : int
        Candidates kept per predicted class (at least the points wanted; more leaves room for
        the minimum distance).
    seed : int
        Seeds the tie-breaking hash (and the score of ``random``).
    """

    def __init__(self, n_classes: int, width: int, measure: str = DEFAULT_MEASURE, pool_size: int = 2000,
                 seed: int = 1) -> None:
        if measure not in MEASURES:
            raise ValueError(f"unknown measure {measure!r}; use one of {MEASURES}")
        self.n_classes, self.width, self.measure = n_classes, width, measure
        self.pool_size, self.seed = pool_size, seed
        self.pools: list[dict[str, np.ndarray]] = [
            {name: np.zeros(0, np.float64 if name not in ("pixel", "runner_up") else np.int64)
             for name in _FIELDS} for _ in range(n_classes)]

    def add(self, probabilities: np.ndarray, valid: np.ndarray, row0: int, col0: int) -> None:
        """Offer a block's pixels.

        Parameters
        ----------
        probabilities : ndarray, shape (n_classes, rows, cols)
        valid : ndarray of bool, shape (rows, cols)
            Pixels that may be suggested (data, not excluded).
        row0, col0 : int
            The block's offset in the raster.
        """
        rows, cols = np.nonzero(valid)
        if not len(rows):
            return
        proba = probabilities[:, rows, cols].astype(np.float64)  # (n_classes, n)
        order = np.argsort(-proba, axis=0, kind="stable")
        first_id, second_id = order[0], order[1] if self.n_classes > 1 else order[0]
        columns = np.arange(len(rows))
        first, second = proba[first_id, columns], proba[second_id, columns]
        clipped = np.clip(proba, 1e-12, 1.0)
        entropy = -(proba * np.log(clipped)).sum(axis=0) / max(math.log(self.n_classes), 1e-12)
        pixels = (rows + row0).astype(np.int64) * self.width + (cols + col0)
        jitter = pixel_hash(pixels, self.seed)
        score = {"margin": 1.0 - (first - second), "entropy": entropy, "random": jitter}[self.measure]
        block = {"score": score, "jitter": jitter, "pixel": pixels, "runner_up": second_id.astype(np.int64),
                 "first": first, "second": second, "entropy": entropy}
        for class_id in np.unique(first_id).tolist():
            chosen = first_id == class_id
            pool = self.pools[class_id]
            merged = {name: np.concatenate([pool[name], block[name][chosen]]) for name in _FIELDS}
            keep = np.lexsort((merged["pixel"], -merged["jitter"], -merged["score"]))[:self.pool_size]
            self.pools[class_id] = {name: values[keep] for name, values in merged.items()}

    def select(self, n_points: int, min_distance: float = 0.0, pixel_width: float = 1.0,
               pixel_height: float = 1.0) -> Suggestions:
        """Up to ``n_points`` candidates: each predicted class in turn gives its least sure one
        that lies at least ``min_distance`` (map units) from every point already taken."""
        taken: list[tuple[int, int]] = []  # (class id, position in its pool)
        cells: dict[tuple[int, int], list[tuple[float, float]]] = {}
        cursor = [0] * self.n_classes
        active = [c for c in range(self.n_classes) if len(self.pools[c]["pixel"])]
        while len(taken) < n_points and active:
            for class_id in list(active):
                position = self._next_free(class_id, cursor, cells, min_distance, pixel_width, pixel_height)
                if position is None:
                    active.remove(class_id)
                    continue
                taken.append((class_id, position))
                if len(taken) == n_points:
                    break
        return self._suggestions(taken)

    def _next_free(self, class_id: int, cursor: list[int], cells, min_distance: float,
                   pixel_width: float, pixel_height: float) -> int | None:
        pool = self.pools[class_id]
        while cursor[class_id] < len(pool["pixel"]):
            position = cursor[class_id]
            cursor[class_id] += 1
            row, col = divmod(int(pool["pixel"][position]), self.width)
            x, y = col * pixel_width, row * pixel_height
            if min_distance > 0:
                cell = (int(x // min_distance), int(y // min_distance))
                near = (p for dx in (-1, 0, 1) for dy in (-1, 0, 1)
                        for p in cells.get((cell[0] + dx, cell[1] + dy), ()))
                if any((x - px) ** 2 + (y - py) ** 2 < min_distance ** 2 for px, py in near):
                    continue
                cells.setdefault(cell, []).append((x, y))
            return position
        return None

    def _suggestions(self, taken: list[tuple[int, int]]) -> Suggestions:
        def column(name: str) -> np.ndarray:
            return np.array([self.pools[c][name][p] for c, p in taken],
                            dtype=np.int64 if name in ("pixel", "runner_up") else np.float64)

        pixels = column("pixel")
        score = column("score")
        order = np.lexsort((pixels, -score))  # least sure first
        first, second = column("first")[order], column("second")[order]
        predicted = np.array([c for c, _ in taken], dtype=np.int64)[order]
        rows, cols = np.divmod(pixels[order], self.width)
        return Suggestions(rows, cols, predicted, column("runner_up")[order], first, second, first - second,
                           column("entropy")[order], score[order])
