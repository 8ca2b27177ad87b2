"""One fit of a family's network on a training and a validation part (the trainer's and each fold's).

Scaling statistics and class balancing come from the training rows only; the family builds and
fits its network (``ModelFamily.fit``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .balancing import balance_training_rows
from .legend import ClassLegend
from .models.base import FitProgress, FittedNetwork, InputProvider, ModelFamily, TrainingData
from .scaling import ZScoreScaler


@dataclass(frozen=True)
class TrainingRun:
    """A fitted network with the scaler and balancing it was trained with.

    Attributes
    ----------
    fitted : FittedNetwork
    scaler : ZScoreScaler
        Statistics of the training rows' network inputs.
    train_counts_balanced : dict[str, int]
        Training samples per class code after balancing.
    class_weight : dict[int, float] or None
        Loss weight per class id (``class_weights`` balancing).
    """

    fitted: FittedNetwork
    scaler: ZScoreScaler
    train_counts_balanced: dict[str, int]
    class_weight: dict[int, float] | None


def train_once(family: ModelFamily, provider: InputProvider, class_ids: np.ndarray, train_rows: np.ndarray,
               validation_rows: np.ndarray, settings: Any, legend: ClassLegend, progress: FitProgress
               ) -> TrainingRun:
    """Scale, balance and fit on ``train_rows``, stopping early on ``validation_rows``.

    Parameters
    ----------
    family : ModelFamily
    provider : InputProvider
        The family's inputs of the samples table.
    class_ids : numpy.ndarray
        int ``(n_rows,)`` class id of every table row.
    train_rows, validation_rows : numpy.ndarray
        Row positions of the two parts.
    settings : core.settings.TrainingSettings
        Resolved.
    legend : ClassLegend
    progress : FitProgress
    """
    scaler = provider.fit_scaler(train_rows)
    balanced = balance_training_rows(
        class_ids[train_rows], settings.balance, settings.samples_per_class, settings.seed,
        features=provider.inputs(train_rows, scaler) if settings.balance == "smote" else None, legend=legend)
    if balanced.features is not None:
        x_train = balanced.features
    else:
        x_train = provider.inputs(train_rows[balanced.rows], scaler)
    values, numbers = np.unique(balanced.class_ids, return_counts=True)
    counts = {str(int(legend.codes[v])): int(n) for v, n in zip(values, numbers, strict=True)}
    if settings.balance != "none":
        per_class = ", ".join(f"{legend.label_of(int(code))}: {n}" for code, n in counts.items())
        weights = ", ".join(f"{legend.label_of(legend.codes[i])}: {w:.3g}"
                            for i, w in (balanced.class_weight or {}).items())
        progress.reporter.log(f"{progress.label}balancing '{settings.balance}': {len(balanced.class_ids)} "
                              f"training samples, per class {per_class}"
                              + (f"; class weights {weights}" if weights else ""))
    data = TrainingData(x_train, balanced.class_ids, provider.inputs(validation_rows, scaler),
                        class_ids[validation_rows], balanced.class_weight, legend.n_classes)
    fitted = family.fit(data, settings, provider.patch_size, progress)
    return TrainingRun(fitted, scaler, counts, balanced.class_weight)


def predict_ids(family: ModelFamily, run: TrainingRun, provider: InputProvider, rows: np.ndarray
                ) -> np.ndarray:
    """Most probable class id of each of ``rows`` under ``run``'s network -> int64 ``(len(rows),)``."""
    if len(rows) == 0:
        return np.zeros(0, dtype=np.int64)
    inputs = provider.inputs(rows, run.scaler)
    probabilities = family.predict_inputs(run.fitted.network, inputs, batch_size=8192)
    return np.argmax(probabilities, axis=1)
