"""Accuracy figures of a classification (scikit-learn imported inside :func:`compute_metrics`).

The metrics dict (see docs/DESIGN.md)::

    {"overall_accuracy", "kappa", "macro_f1", "n_samples",
     "per_class": [{"code", "name", "precision", "recall", "f1", "support"}],
     "confusion_matrix": {"codes": [...], "names": [...], "matrix": [[...]]}}

Confusion matrix rows are the reference classes, columns the predicted ones. Formatting
(:func:`format_metrics`) needs no third-party package.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .legend import ClassLegend


def _number(value: float) -> float | None:
    """JSON-safe float (NaN, e.g. kappa of a one-class test set, becomes None)."""
    value = float(value)
    return None if math.isnan(value) else value


def compute_metrics(reference_codes: np.ndarray, predicted_codes: np.ndarray,
                    legend: ClassLegend) -> dict[str, Any]:
    """Overall accuracy, Cohen's kappa, macro F1, per-class figures and confusion matrix.

    Parameters
    ----------
    reference_codes, predicted_codes : ndarray, shape (n,)
        Class codes (not ids) of the held-out samples.
    legend : ClassLegend
        Gives the class order and names; all legend classes appear in the matrix (a class
        without test samples has support 0 and is left out of the macro F1).
    """
    from sklearn.metrics import (
        accuracy_score,
        cohen_kappa_score,
        confusion_matrix,
        precision_recall_fscore_support,
    )

    reference = np.asarray(reference_codes).astype(np.int64)
    predicted = np.asarray(predicted_codes).astype(np.int64)
    if reference.shape != predicted.shape or reference.ndim != 1:
        raise ValueError("reference and predicted codes must be 1-D arrays of the same length")
    codes = list(legend.codes)
    extra = sorted(set(np.unique(reference).tolist()) - set(codes))
    labels = codes + extra
    names = list(legend.names) + [f"class {code}" for code in extra]
    n = len(reference)
    if n == 0:
        raise ValueError("no samples to assess")
    precision, recall, f1, support = precision_recall_fscore_support(
        reference, predicted, labels=labels, zero_division=0)
    present = support > 0
    matrix = confusion_matrix(reference, predicted, labels=labels)
    return {
        "overall_accuracy": float(accuracy_score(reference, predicted)),
        "kappa": _number(cohen_kappa_score(reference, predicted)) if len(np.unique(
            np.concatenate([reference, predicted]))) > 1 else 0.0,
        "macro_f1": float(np.mean(f1[present])) if present.any() else 0.0,
        "n_samples": int(n),
        "per_class": [
            {"code": int(code), "name": name, "precision": float(p), "recall": float(r),
             "f1": float(f), "support": int(s)}
            for code, name, p, r, f, s in zip(labels, names, precision, recall, f1, support, strict=True)],
        "confusion_matrix": {"codes": [int(c) for c in labels], "names": names,
                             "matrix": matrix.astype(int).tolist()},
    }


def summary_line(metrics: dict[str, Any]) -> str:
    """``"OA 0.612, kappa 0.503, macro F1 0.541 (n=18234)"``."""
    kappa = metrics.get("kappa")
    kappa_text = "n/a" if kappa is None else f"{kappa:.3f}"
    return (f"OA {metrics['overall_accuracy']:.3f}, kappa {kappa_text}, macro F1 "
            f"{metrics['macro_f1']:.3f} (n={metrics['n_samples']})")


def format_metrics(metrics: dict[str, Any]) -> str:
    """Plain-text table: summary line, per-class figures and the confusion matrix."""
    lines = [summary_line(metrics), "",
             f"{'code':>6} {'name':<20} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}"]
    for row in metrics["per_class"]:
        lines.append(f"{row['code']:>6} {row['name'][:20]:<20} {row['precision']:>9.3f} "
                     f"{row['recall']:>7.3f} {row['f1']:>6.3f} {row['support']:>8}")
    matrix = metrics["confusion_matrix"]
    lines += ["", "confusion matrix (rows reference, columns predicted):",
              " " * 7 + "".join(f"{code:>7}" for code in matrix["codes"])]
    for code, row in zip(matrix["codes"], matrix["matrix"], strict=True):
        lines.append(f"{code:>7}" + "".join(f"{value:>7}" for value in row))
    return "\n".join(lines)
