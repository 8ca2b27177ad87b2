"""k-fold cross-validation of one training setup (grouped by polygon): every fold tested once.

:class:`CrossValidation` runs its folds one at a time, so that the automatic model choice
(``core.model_choice``) can interleave candidates and stop when its time is up. Each fold's model
is trained on the other folds (carving validation polygons out of them when the family stops
early) and predicts its held-out fold; the out-of-fold predictions of all folds give the pooled
figures and confusion matrix, the folds their mean and spread.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .errors import UserInputError
from .legend import ClassLegend
from .metrics import FIGURES, compute_metrics, figures_from_confusion, summary_line
from .models.base import FitProgress, InputProvider, ModelFamily
from .splits import carve_validation, cross_validation_folds
from .training_run import predict_ids, train_once


@dataclass(frozen=True)
class FoldRun:
    """One fold's result: its test rows, their predicted class ids and how the fit went."""

    fold: int
    test_rows: np.ndarray
    predicted_ids: np.ndarray
    epochs_run: int
    best_epoch: int
    fit_seconds: float
    figures: dict[str, float | None]


def make_folds(class_ids: np.ndarray, groups: np.ndarray | None, protocol: str, n_folds: int, seed: int,
               rows: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(train_rows, test_rows)`` of ``n_folds`` folds of ``rows`` (default: every row), grouped by
    polygon for the ``group`` protocol (``core.splits.cross_validation_folds``).

    Raises
    ------
    UserInputError
        (``CV_FOLDS``) fewer groups (or rows) than folds.
    """
    rows = np.arange(len(class_ids)) if rows is None else np.asarray(rows, dtype=np.int64)
    units = len(np.unique(groups[rows])) if protocol == "group" and groups is not None else len(rows)
    if units < n_folds:
        what = "polygons" if protocol == "group" else "samples"
        raise UserInputError(f"{n_folds}-fold cross-validation needs at least {n_folds} {what}; the "
                             f"samples hold {units}. Choose fewer folds.", "CV_FOLDS")
    part_groups = groups[rows] if protocol == "group" and groups is not None else None
    return [(np.sort(rows[a]), np.sort(rows[b])) for a, b in
            cross_validation_folds(class_ids[rows], part_groups, protocol, n_folds, seed)]


class CrossValidation:
    """The folds of one training setup (family and resolved settings), run on demand.

    Parameters
    ----------
    family : ModelFamily
    provider : InputProvider
        The family's inputs of ``table``.
    table : core.samples.SampleTable
    class_ids : ndarray, shape (n_rows,)
    legend : ClassLegend
    settings : core.settings.TrainingSettings
        Resolved.
    folds : list of (train_rows, test_rows)
    """

    def __init__(self, family: ModelFamily, provider: InputProvider, table: Any, class_ids: np.ndarray,
                 legend: ClassLegend, settings: Any, folds: list[tuple[np.ndarray, np.ndarray]]) -> None:
        self.family, self.provider, self.table = family, provider, table
        self.class_ids, self.legend, self.settings, self.folds = class_ids, legend, settings, folds
        self.runs: list[FoldRun] = []

    @property
    def complete(self) -> bool:
        return len(self.runs) == len(self.folds)

    def run_fold(self, progress: FitProgress) -> FoldRun:
        """Train on the next fold's training rows, predict its test rows."""
        index = len(self.runs)
        train, test = self.folds[index]
        settings, groups = self.settings, self.table.groups if self.settings.split == "group" else None
        fraction = settings.validation_fraction if self.family.needs_validation(settings) else 0.0
        train, validation = carve_validation(self.class_ids, groups, train, fraction, settings.seed + 1)
        run = train_once(self.family, self.provider, self.class_ids, train, validation, settings, self.legend,
                         progress)
        predicted = predict_ids(self.family, run, self.provider, test)
        metrics = compute_metrics(self.table.codes[test], self.legend.codes_from_ids(predicted), self.legend)
        progress.reporter.log(f"{progress.label}{summary_line(metrics)}")
        fitted = run.fitted
        self.runs.append(FoldRun(index + 1, test, predicted, fitted.epochs_run, fitted.best_epoch,
                                 fitted.fit_seconds, {key: metrics[key] for key in FIGURES}))
        return self.runs[-1]

    def run_all(self, progress: FitProgress) -> CrossValidation:
        """Run the folds not yet run, sharing ``progress``'s range."""
        todo = len(self.folds) - len(self.runs)
        for step in range(todo):
            span = (progress.stop - progress.start) / todo
            start = progress.start + step * span
            self.run_fold(FitProgress(progress.reporter, start, start + span,
                                      f"{progress.label}fold {len(self.runs) + 1}/{len(self.folds)}: "))
        return self

    def pooled(self) -> tuple[np.ndarray, np.ndarray]:
        """Test rows of the folds run so far and their out-of-fold predicted class ids."""
        if not self.runs:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return (np.concatenate([r.test_rows for r in self.runs]),
                np.concatenate([r.predicted_ids for r in self.runs]))

    def score(self) -> float:
        """Mean of OA, kappa and macro F1 of the pooled out-of-fold predictions (the choice's score)."""
        rows, predicted = self.pooled()
        n = self.legend.n_classes
        matrix = np.bincount(self.class_ids[rows] * n + predicted, minlength=n * n).reshape(n, n)
        return float(figures_from_confusion(matrix).mean())

    def pooled_metrics(self) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
        """Metrics of the pooled out-of-fold predictions, with their rows (sorted) and predicted ids."""
        rows, predicted = self.pooled()
        order = np.argsort(rows, kind="stable")
        rows, predicted = rows[order], predicted[order]
        metrics = compute_metrics(self.table.codes[rows], self.legend.codes_from_ids(predicted), self.legend)
        return metrics, rows, predicted

    def summary(self) -> dict[str, Any]:
        """``{"n_folds", "protocol", "folds": [{"fold", "n_test", "epochs_run", "best_epoch",
        "fit_seconds", <figures>}], "summary": {<figure>: {"mean", "std"}}}`` of the folds run."""
        folds = [{"fold": r.fold, "n_test": int(len(r.test_rows)), "epochs_run": r.epochs_run,
                  "best_epoch": r.best_epoch, "fit_seconds": round(r.fit_seconds, 2), **r.figures}
                 for r in self.runs]
        summary = {}
        for key in FIGURES:
            values = np.array([f[key] if f[key] is not None else np.nan for f in folds], dtype=float)
            summary[key] = {"mean": float(np.nanmean(values)), "std": float(np.nanstd(values))}
        return {"n_folds": len(self.folds), "protocol": self.settings.split, "folds": folds,
                "summary": summary}

    def final_settings(self) -> Any:
        """The settings of the fit on every row: what the folds chose.

        Early stopping: its validation loss picked a best epoch in each fold; the final model,
        which has no validation part, trains the median of them. The cosine schedule: unchanged.
        """
        if not self.family.needs_validation(self.settings) or not self.runs:
            return self.settings
        return replace(self.settings, epochs=int(np.median([r.best_epoch for r in self.runs])))


def summary_text(summary: dict[str, Any]) -> str:
    """``"OA 0.612 +- 0.031, kappa ..., macro F1 ... (5 folds)"``."""
    parts = [f"{label} {summary['summary'][key]['mean']:.3f} +- {summary['summary'][key]['std']:.3f}"
             for key, label in zip(FIGURES, ("OA", "kappa", "macro F1"), strict=True)]
    return f"{', '.join(parts)} ({len(summary['folds'])} folds)"
