"""k-fold cross-validation of a training setup (spatial, with groups): every fold tested once."""

from __future__ import annotations

from typing import Any

import numpy as np

from .legend import ClassLegend
from .metrics import compute_metrics, summary_line
from .models.base import FitProgress, InputProvider, ModelFamily
from .progress import Reporter
from .splits import cross_validation_folds, holdout_split
from .training_run import predict_ids, train_once

FIGURES = ("overall_accuracy", "kappa", "macro_f1")


def cross_validate(family: ModelFamily, provider: InputProvider, table: Any, class_ids: np.ndarray,
                   legend: ClassLegend, settings: Any, reporter: Reporter, n_runs: int) -> dict[str, Any]:
    """Train and test once per fold of ``settings.cv_folds``; progress takes the first folds / n_runs.

    Each fold's training part gives up a validation part for early stopping (whole groups,
    ``settings.validation_fraction``, seed + 1); the fold's test part scores it.

    Returns
    -------
    dict
        ``{"n_folds", "protocol", "folds": [{"fold", "n_test", "epochs_run", <figures>}],
        "summary": {<figure>: {"mean", "std"}}}`` (figures: overall_accuracy, kappa, macro_f1).
    """
    groups = table.groups if settings.split == "group" else None
    folds = []
    for fold, (train_val, test) in enumerate(cross_validation_folds(
            class_ids, groups, settings.split, settings.cv_folds, settings.seed)):
        inner_groups = groups[train_val] if groups is not None else None
        keep, held = holdout_split(class_ids[train_val], inner_groups, settings.validation_fraction,
                                   settings.seed + 1, "VALIDATION_FRACTION")
        label = f"fold {fold + 1}/{settings.cv_folds}: "
        progress = FitProgress(reporter, 100.0 * fold / n_runs, 100.0 * (fold + 1) / n_runs, label)
        run = train_once(family, provider, class_ids, np.sort(train_val[keep]), np.sort(train_val[held]),
                         settings, legend, progress)
        predicted = predict_ids(family, run, provider, test)
        metrics = compute_metrics(table.codes[test], legend.codes_from_ids(predicted), legend)
        reporter.log(f"{label}{summary_line(metrics)}")
        folds.append({"fold": fold + 1, "n_test": int(len(test)), "epochs_run": run.fitted.epochs_run,
                      **{k: metrics[k] for k in FIGURES}})
    summary = {}
    for key in FIGURES:
        values = np.array([f[key] if f[key] is not None else np.nan for f in folds], dtype=float)
        summary[key] = {"mean": float(np.nanmean(values)), "std": float(np.nanstd(values))}
    reporter.log("Cross-validation ({} folds, {} split): OA {:.3f} +- {:.3f}, kappa {:.3f} +- {:.3f}, "
                 "macro F1 {:.3f} +- {:.3f}".format(
                     settings.cv_folds, settings.split, summary["overall_accuracy"]["mean"],
                     summary["overall_accuracy"]["std"], summary["kappa"]["mean"],
                     summary["kappa"]["std"], summary["macro_f1"]["mean"], summary["macro_f1"]["std"]))
    return {"n_folds": settings.cv_folds, "protocol": settings.split, "folds": folds, "summary": summary}
