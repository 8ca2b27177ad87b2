"""Train / validation / test splits without leakage (scikit-learn, imported inside functions).

``group`` protocol: whole groups (``polygon_id``) go to one part only, with classes kept
stratified by the polygons of each class (:func:`group_folds`). Neighbouring pixels of
one polygon are nearly copies of each other; a random pixel split puts such near-copies
in train and test and reports an optimistic accuracy.

``random`` protocol: a stratified random split of rows; use it only when no group column
exists, and say that accuracy may be optimistic.

Validation rows (for early stopping) are carved from the training part in the same way, where
the model's schedule needs them (validation fraction 0: none); the test part is never looked at
during training.

Of the held-out folds a group split could take, the first that leaves every class some training
samples (and then holds out the most classes) is taken. :func:`check_split` refuses a split that
still leaves a class nothing to learn from, before any training, naming the classes by code and
name and saying what to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from .errors import UserInputError
from .legend import ClassLegend

SPLIT_PROTOCOLS = ("group", "random")
RANDOM_SPLIT_WARNING = (
    "Random split: neighbouring pixels of one polygon can sit in both the training and the "
    "test part, so the accuracy reported may be optimistic; use a group column (polygon_id) "
    "for a spatially honest estimate.")


@dataclass
class SplitIndices:
    """Row indices of the three parts (int64 arrays into the sample table, disjoint)."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    protocol: str
    group_column: str | None = None
    test_fraction: float = 0.2
    validation_fraction: float = 0.2
    warnings: list[str] = field(default_factory=list)
    cv_folds: int = 0  # >= 2: the test part is every row, each predicted by the fold that held it out
    groups: np.ndarray | None = None  # group of every row of the table, when it has groups

    def counts(self, codes: np.ndarray) -> dict[str, dict[str, int]]:
        """Samples per class code and part: ``{"train": {"7201": n, ...}, ...}`` (JSON keys)."""
        result = {}
        for part in ("train", "validation", "test"):
            values, numbers = np.unique(np.asarray(codes)[getattr(self, part)], return_counts=True)
            result[part] = {str(int(v)): int(n) for v, n in zip(values, numbers, strict=True)}
        return result

    def group_counts(self, codes: np.ndarray) -> dict[str, dict[str, int]] | None:
        """Groups (polygons) per class code and part, like :meth:`counts`; None without groups."""
        if self.groups is None:
            return None
        result = {}
        for part in ("train", "validation", "test"):
            rows = getattr(self, part)
            pairs = np.unique(np.column_stack([np.asarray(codes)[rows], _group_ids(self.groups)[rows]]),
                              axis=0)
            values, numbers = np.unique(pairs[:, 0], return_counts=True)
            result[part] = {str(int(v)): int(n) for v, n in zip(values, numbers, strict=True)}
        return result

    def to_dict(self, codes: np.ndarray) -> dict:
        """The model file's ``split`` entry (``groups``: polygons per class and part, with groups)."""
        entry = {"protocol": self.protocol, "group_column": self.group_column,
                 "test_fraction": self.test_fraction, "validation_fraction": self.validation_fraction,
                 "cv_folds": self.cv_folds, "counts": self.counts(codes)}
        groups = self.group_counts(codes)
        return entry | ({"groups": groups} if groups is not None else {})


def _n_splits(fraction: float, parameter: str) -> int:
    if not 0.0 < fraction < 1.0:
        raise UserInputError(f"the fraction must lie between 0 and 1 (got {fraction}).", parameter)
    return max(2, int(round(1.0 / fraction)))


def holdout_split(labels: np.ndarray, groups: np.ndarray | None, fraction: float, seed: int,
             parameter: str) -> tuple[np.ndarray, np.ndarray]:
    """Split positions ``0..n-1`` into (keep, held out) with about ``fraction`` held out.

    With ``groups``: whole groups, one of ``round(1 / fraction)`` :func:`group_folds` (each holds
    about ``fraction`` of every class's polygons): the first that leaves every class in the kept
    part and, among those, holds out the most classes (the first fold when none keeps every class).
    Without groups: a stratified random split of rows (unstratified where a class has a single
    row).
    """
    n = len(labels)
    if groups is not None:
        n_groups = len(np.unique(groups))
        n_splits = min(_n_splits(fraction, parameter), n_groups)
        if n_splits < 2:
            raise UserInputError(
                f"a group split needs at least 2 groups; the samples have {n_groups}.", "GROUP")
        folds = list(group_folds(labels, groups, n_splits, seed))
        n_classes = len(np.unique(labels))

        def merit(fold: tuple[np.ndarray, np.ndarray]) -> tuple[bool, int]:
            keep, held = fold
            return len(np.unique(labels[keep])) == n_classes, len(np.unique(labels[held]))

        return max(folds, key=merit)  # max keeps the first of equals
    from sklearn.model_selection import train_test_split

    _, counts = np.unique(labels, return_counts=True)
    stratify = labels if counts.min() >= 2 else None
    positions = np.arange(n)
    keep, held = train_test_split(positions, test_size=fraction, random_state=seed, stratify=stratify)
    return np.sort(keep), np.sort(held)


def split_samples(labels: np.ndarray, groups: np.ndarray | None = None, protocol: str = "group",
                  test_fraction: float = 0.2, validation_fraction: float = 0.2, seed: int = 42,
                  group_column: str | None = "polygon_id") -> SplitIndices:
    """Split sample rows into training, validation and test parts.

    Parameters
    ----------
    labels : ndarray, shape (n,)
        Class id or code per row (stratification).
    groups : ndarray, shape (n,), optional
        Group per row (polygon id); required for ``protocol="group"``.
    protocol : {"group", "random"}
        See the module docstring.
    test_fraction : float
        Share of rows (of groups, for ``group``) held out for the test part, 0-1.
    validation_fraction : float
        Share of the *training* part held out for early stopping, 0-1 (0: no validation part).
    seed : int
        Seed of the shuffles: the same inputs and seed give the same split.

    Returns
    -------
    SplitIndices
        Disjoint index arrays; with ``group``, no group appears in two parts.
    """
    labels = np.asarray(labels)
    if protocol not in SPLIT_PROTOCOLS:
        raise UserInputError(f"unknown split {protocol!r}; use one of {SPLIT_PROTOCOLS}.", "SPLIT")
    if protocol == "group" and groups is None:
        raise UserInputError("the group split needs a group column (e.g. polygon_id); give one or "
                             "use the random split.", "GROUP")
    use_groups = np.asarray(groups) if protocol == "group" else None
    train_val, test = holdout_split(labels, use_groups, test_fraction, seed, "TEST_FRACTION")
    train, validation = carve_validation(labels, use_groups, np.sort(train_val).astype(np.int64),
                                         validation_fraction, seed + 1)
    split = SplitIndices(train=train, validation=validation, test=np.sort(test).astype(np.int64),
                         protocol=protocol, group_column=group_column if protocol == "group" else None,
                         test_fraction=test_fraction, validation_fraction=validation_fraction,
                         groups=None if groups is None else np.asarray(groups))
    if protocol == "random":
        split.warnings.append(RANDOM_SPLIT_WARNING)
    return split


def carve_validation(labels: np.ndarray, groups: np.ndarray | None, rows: np.ndarray, fraction: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(training rows, validation rows)`` of ``rows``: about ``fraction`` of them (of their groups)
    held out for early stopping by :func:`holdout_split`; ``fraction`` 0: no validation rows."""
    rows = np.asarray(rows, dtype=np.int64)
    if fraction == 0:
        return rows, rows[:0]
    keep, held = holdout_split(labels[rows], groups[rows] if groups is not None else None, fraction, seed,
                               "VALIDATION_FRACTION")
    return np.sort(rows[keep]), np.sort(rows[held])


def group_folds(labels: np.ndarray, groups: np.ndarray, n_folds: int, seed: int
                ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(other_rows, fold_rows)`` of ``n_folds`` folds of whole groups, stratified by groups.

    A shuffled ``StratifiedKFold`` over one entry per group (its class: that of its first row), so
    that each fold holds about ``1 / n_folds`` of every class's polygons. Stratifying pixels instead
    (``StratifiedGroupKFold``) lets one large polygon fill a class's share: on the Berlin scene a
    fifth of the polygons then held 1 of 298 pavement polygons. When no class has ``n_folds``
    polygons, there is nothing to stratify: a shuffled ``KFold`` of the groups.
    """
    import warnings

    from sklearn.model_selection import KFold, StratifiedKFold

    units, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    unit_labels = np.asarray(labels)[first]
    most = np.unique(unit_labels, return_counts=True)[1].max()
    kind = StratifiedKFold if most >= n_folds else KFold
    splitter = kind(n_splits=n_folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # a class of fewer groups than folds: the trainer warns about it
        warnings.simplefilter("ignore", UserWarning)
        unit_folds = list(splitter.split(np.zeros((len(units), 1)), unit_labels))
    inverse = inverse.reshape(-1)
    for _, held_units in unit_folds:
        held = np.isin(inverse, held_units)
        yield np.flatnonzero(~held), np.flatnonzero(held)


def _group_ids(groups: np.ndarray) -> np.ndarray:
    """Groups as integers 0.. (any values: numbers or text)."""
    return np.unique(np.asarray(groups), return_inverse=True)[1].reshape(-1)


def class_summary(class_ids: np.ndarray, groups: np.ndarray | None, legend: ClassLegend) -> str:
    """Samples (and polygons, with groups) per class for the log: "1 (Roof): 14756 samples in 104
    polygons; ..."."""
    class_ids = np.asarray(class_ids)
    counts = np.bincount(class_ids, minlength=legend.n_classes)
    n_groups = None
    if groups is not None:
        pairs = np.unique(np.column_stack([class_ids, _group_ids(groups)]), axis=0)
        n_groups = np.bincount(pairs[:, 0], minlength=legend.n_classes)
    return "; ".join(f"{legend.label_of(code)}: {counts[i]} samples"
                     + (f" in {_polygons(n_groups[i])}" if n_groups is not None else "")
                     for i, code in enumerate(legend.codes))


def _polygons(n: int) -> str:
    return f"{n} polygon" + ("" if n == 1 else "s")


def check_split(split: SplitIndices, class_ids: np.ndarray, legend: ClassLegend) -> None:
    """Refuse a split that leaves a class without training samples; warn of empty other parts.

    Run before any training: a network cannot learn a class it never sees, and a model without
    it must not be written as if training had worked. Classes missing from the validation or the
    test part only get a warning (in ``split.warnings``): they are learnt but not checked.

    Raises
    ------
    UserInputError
        Naming the classes by code and name, their polygons (groups) and what to do (``SPLIT``).
    """
    class_ids = np.asarray(class_ids)
    present = {part: set(np.unique(class_ids[getattr(split, part)]).tolist())
               for part in ("train", "validation", "test")}
    untrained = [i for i in range(legend.n_classes) if i not in present["train"]]
    if untrained:
        them = "it" if len(untrained) == 1 else "them"
        classes = f"{'class' if len(untrained) == 1 else 'classes'} {legend.labels_of_ids(untrained)}"
        if split.protocol != "group":
            raise UserInputError(
                f"the random split leaves no training samples for {classes}, so the model could not "
                f"learn {them}: collect more samples of {them} or merge {them} with a similar class.",
                "SPLIT")
        pairs = np.unique(np.column_stack([class_ids, _group_ids(split.groups)]), axis=0)
        held = np.bincount(pairs[:, 0], minlength=legend.n_classes)
        polygons = "; ".join(f"{legend.label_of(legend.codes[i])} has {_polygons(held[i])}"
                             for i in untrained)
        raise UserInputError(
            f"the group split leaves no training samples for {classes} ({polygons}: too few to be "
            "both learnt and tested, since a polygon's pixels go to one part only), so the model "
            f"could not learn {them}. Draw more polygons of {them} (each part of a multi-part feature "
            f"counts as one), merge {them} with a similar class, estimate the accuracy by "
            "cross-validation (CV_FOLDS) instead of one held-out part, or choose the random split "
            "(SPLIT; its accuracy figures are optimistic, since neighbouring pixels of one polygon "
            "land in training and test).", "SPLIT")
    for part in ("validation", "test") if len(split.validation) else ("test",):
        missing = [i for i in range(legend.n_classes) if i not in present[part]]
        if missing:
            one = len(missing) == 1
            it = "it" if one else "them"
            use = f"early stopping does not watch {it}" if part == "validation" else \
                f"the accuracy figures do not cover {it}"
            split.warnings.append(
                f"{'class' if one else 'classes'} {legend.labels_of_ids(missing)} {'has' if one else 'have'} "
                f"no samples in the {part} part ({use}): draw more polygons of {it} or merge {it} with a "
                "similar class.")


def cross_validation_folds(labels: np.ndarray, groups: np.ndarray | None, protocol: str, n_folds: int,
                           seed: int = 42) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(train_val_rows, test_rows)`` of a k-fold (spatial, with groups) cross-validation.

    Parameters
    ----------
    labels : ndarray, shape (n,)
    groups : ndarray, shape (n,), optional
        With ``protocol="group"``: whole groups per fold (:func:`group_folds`).
    n_folds : int
        Number of folds, >= 2.
    """
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels)
    if n_folds < 2:
        raise UserInputError(f"cross-validation needs at least 2 folds (got {n_folds}).", "CV_FOLDS")
    if protocol == "group":
        yield from group_folds(labels, np.asarray(groups), n_folds, seed)
    else:
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        yield from splitter.split(np.zeros((len(labels), 1)), labels)
