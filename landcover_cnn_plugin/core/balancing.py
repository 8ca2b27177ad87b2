"""Class balancing of the training part (imbalanced-learn / scikit-learn, imported inside).

Only ever called with the training rows: validation and test rows keep their natural
class frequencies, so the accuracy measured on them is that of the map.

Methods
-------
``none``
    Rows unchanged.
``class_weights``
    Rows unchanged; a weight per class (``n / (n_classes * n_class)``, scikit-learn's
    "balanced") that scales each sample's loss.
``to_n``
    Every class resampled to ``samples_per_class`` rows: randomly down without replacement
    where it has more, up with replacement where it has fewer (the study's 500).
``smote``
    SMOTE: synthetic minority samples interpolated between neighbours of the same class,
    up to the majority class's count (per-pixel models only: it interpolates feature vectors).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import UserInputError
from .legend import ClassLegend

BALANCE_METHODS = ("none", "class_weights", "to_n", "smote")
#: What "auto" means unless a model family says otherwise (``FamilyDefaults.balance``): none. On
#: five polygon-grouped folds of both benchmark scenes (benchmarks/bench_folds.py, README) class
#: weights, and their square root, lowered overall accuracy and kappa of the per-pixel networks on
#: the cosine schedule (Berlin fold 0: 0.632 -> 0.620 OA with square-root weights) and raised macro
#: F1 on the Sentinel-2 scene by 0.001 only; patch_cnn lost overall accuracy with them too.
DEFAULT_BALANCE = "none"
#: The training default: each model family's own benchmarked setting (``FamilyDefaults.balance``).
AUTO_BALANCE = "auto"


@dataclass
class BalancedRows:
    """The training rows after balancing.

    Attributes
    ----------
    rows : ndarray, shape (m,), int64
        Index into the training rows given for every output sample; -1 for a synthetic
        SMOTE sample (its features are in ``features``).
    class_ids : ndarray, shape (m,), int32
    features : ndarray, shape (m, n_features) or None
        Set by ``smote`` only (synthetic rows cannot be expressed as indices).
    class_weight : dict[int, float] or None
        Set by ``class_weights`` only: class id -> loss weight.
    """

    rows: np.ndarray
    class_ids: np.ndarray
    features: np.ndarray | None = None
    class_weight: dict[int, float] | None = None


def balance_training_rows(class_ids: np.ndarray, method: str = "none", samples_per_class: int = 500,
                          seed: int = 42, features: np.ndarray | None = None,
                          legend: ClassLegend | None = None) -> BalancedRows:
    """Balance the classes of the training part.

    Parameters
    ----------
    class_ids : ndarray, shape (n,)
        Class id of every training row.
    method : {"none", "class_weights", "to_n", "smote"}
    samples_per_class : int
        Target rows per class for ``to_n`` (>= 1).
    seed : int
        Seed of the random resampling.
    features : ndarray, shape (n, n_features), optional
        Needed by ``smote`` only.
    legend : ClassLegend, optional
        Names the classes in messages (by code and name).

    Returns
    -------
    BalancedRows
    """
    class_ids = np.asarray(class_ids).astype(np.int32)
    all_rows = np.arange(len(class_ids), dtype=np.int64)
    if method not in BALANCE_METHODS:
        raise UserInputError(f"unknown balancing {method!r}; use one of {BALANCE_METHODS}.", "BALANCE")
    if method == "none":
        return BalancedRows(all_rows, class_ids)
    if method == "class_weights":
        from sklearn.utils.class_weight import compute_class_weight

        present = np.unique(class_ids)
        weights = compute_class_weight("balanced", classes=present, y=class_ids)
        return BalancedRows(all_rows, class_ids,
                            class_weight={int(c): float(w) for c, w in zip(present, weights, strict=True)})
    if method == "to_n":
        return _to_n(class_ids, samples_per_class, seed)
    return _smote(class_ids, features, seed, legend)


def _to_n(class_ids: np.ndarray, samples_per_class: int, seed: int) -> BalancedRows:
    from imblearn.over_sampling import RandomOverSampler
    from imblearn.under_sampling import RandomUnderSampler

    if samples_per_class < 1:
        raise UserInputError(f"samples per class must be at least 1 (got {samples_per_class}).",
                             "SAMPLES_PER_CLASS")
    present, counts = np.unique(class_ids, return_counts=True)
    rows = np.arange(len(class_ids), dtype=np.int64).reshape(-1, 1)
    down = {int(c): min(int(n), samples_per_class) for c, n in zip(present, counts, strict=True)}
    under = RandomUnderSampler(sampling_strategy=down, random_state=seed)
    rows_down, ids_down = under.fit_resample(rows, class_ids)
    up = {int(c): samples_per_class for c in present}
    over = RandomOverSampler(sampling_strategy=up, random_state=seed)
    rows_up, ids_up = over.fit_resample(rows_down, ids_down)
    return BalancedRows(rows_up[:, 0].astype(np.int64), np.asarray(ids_up, dtype=np.int32))


def _smote(class_ids: np.ndarray, features: np.ndarray | None, seed: int,
           legend: ClassLegend | None) -> BalancedRows:
    from imblearn.over_sampling import SMOTE

    if features is None:
        raise UserInputError("SMOTE interpolates feature vectors and works with per-pixel models "
                             "only; choose another balancing.", "BALANCE")
    present, counts = np.unique(class_ids, return_counts=True)
    neighbours = int(min(5, counts.min() - 1))
    if neighbours < 1:
        single = present[counts < 2]
        named = legend.labels_of_ids(single) if legend is not None else ", ".join(map(str, single))
        raise UserInputError(f"SMOTE needs at least 2 training samples in every class; {named} "
                             f"{'has' if len(single) == 1 else 'have'} one. Choose another balancing "
                             "or collect more samples.", "BALANCE")
    smote = SMOTE(k_neighbors=neighbours, random_state=seed)
    new_features, new_ids = smote.fit_resample(np.asarray(features, dtype=np.float32), class_ids)
    # imbalanced-learn keeps the original rows first, in order, and appends the synthetic ones.
    rows = np.full(len(new_ids), -1, dtype=np.int64)
    rows[: len(class_ids)] = np.arange(len(class_ids))
    return BalancedRows(rows, np.asarray(new_ids, dtype=np.int32),
                        features=np.asarray(new_features, dtype=np.float32))
