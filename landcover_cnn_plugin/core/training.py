"""Training: samples CSV -> validated table -> split -> balance -> scale -> Keras fit -> test metrics.

:class:`LandcoverTrainer` is estimator-like: settings in ``__init__``, work in :meth:`fit`,
results in attributes ending in ``_``, :meth:`save` writes the model file. pandas, Keras and
scikit-learn are imported inside the methods.

Model inputs come from an *input provider* (:func:`make_input_provider`): per-pixel models use
the feature rows (:class:`PixelInputs`); ``patch_cnn`` uses ``core.patch_cnn.PatchInputs``,
which must offer the same three members (``patch_size``, ``fit_scaler(rows)``,
``inputs(rows, scaler)``), so that split, balancing, scaling, early stopping, metrics and the
model file are shared by every model type.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .balancing import BALANCE_METHODS, DEFAULT_BALANCE, balance_training_rows
from .errors import JobCanceled, UserInputError
from .indices import AUTO_DERIVED, DERIVED_FEATURES, NO_DERIVED, add_derived, check_derived, n_inputs
from .legend import ClassLegend
from .metrics import compute_metrics, summary_line
from .mixup import mixup_dataset
from .models import DEFAULT_MODEL, MODEL_TYPES, check_model_type
from .progress import NullReporter, Reporter
from .samples import SampleTable, read_samples
from .scaling import ZScoreScaler
from .splits import SPLIT_PROTOCOLS, SplitIndices, cross_validation_folds, holdout_split, split_samples

STEPS_PER_EXECUTION = 16
#: Quantity that early stopping watches on the validation part (lower is better for a loss).
EARLY_STOPPING_MONITOR = "val_loss"


def build_legend(table: SampleTable, legend: ClassLegend | str | None = None) -> ClassLegend:
    """Legend of the classes in ``table``: from a legend (object or CSV path) or the names field."""
    codes = np.unique(table.codes).tolist()
    if isinstance(legend, ClassLegend):
        missing = [c for c in codes if c not in legend.codes]
        if missing:
            raise UserInputError(f"the legend lacks the class codes {missing}.", "LEGEND")
        return ClassLegend(codes, [legend.name_of(c) for c in codes],
                           [legend.colors[legend.codes.index(c)] for c in codes])
    if legend:
        return ClassLegend.from_csv(os.fspath(legend), codes)
    return ClassLegend(codes, table.class_names or None)


class PixelInputs:
    """Input provider of per-pixel models: the feature rows (plus derived channels), scaled."""

    patch_size = 1

    def __init__(self, table: SampleTable, derived_features: str = NO_DERIVED) -> None:
        self.table = table
        self.derived_features = check_derived(derived_features)
        self.n_inputs = n_inputs(len(table.feature_names), self.derived_features)

    def fit_scaler(self, rows: np.ndarray) -> ZScoreScaler:
        """Z-score statistics of the given (training) rows."""
        return ZScoreScaler().fit(add_derived(self.table.features[rows], self.derived_features))

    def inputs(self, rows: np.ndarray, scaler: ZScoreScaler) -> np.ndarray:
        """Scaled inputs of ``rows``: (len(rows), n_inputs) float32."""
        return scaler.transform(add_derived(self.table.features[rows], self.derived_features))


def resolve_derived(derived_features: str, model_type: str) -> str:
    """The concrete derived features: ``"auto"`` is the model type's benchmarked choice
    (``ModelType.default_derived``)."""
    if derived_features != AUTO_DERIVED:
        return check_derived(derived_features)
    return check_derived(check_model_type(model_type).default_derived)


def make_input_provider(model_type: str, table: SampleTable, raster: str | None = None,
                        patch_size: int = 7, derived_features: str = AUTO_DERIVED) -> Any:
    """The input provider for ``model_type`` (hook for patch models, see the module docstring)."""
    derived = resolve_derived(derived_features, model_type)
    if check_model_type(model_type).per_pixel:
        return PixelInputs(table, derived)
    from .patch_cnn import PatchInputs  # written with the patch model

    return PatchInputs(table, raster=raster, patch_size=patch_size, derived_features=derived)


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow (``keras.utils.set_random_seed``).

    On the CPU, TensorFlow's kernels for these networks are deterministic once seeded (a test
    trains twice and compares). ``tf.config.experimental.enable_op_determinism`` is not
    called: it is process-wide and makes every unseeded random op elsewhere raise.
    """
    import keras

    keras.utils.set_random_seed(int(seed))


def _epoch_callback(reporter: Reporter, start: float, stop: float, epochs: int,
                    is_canceled: Callable[[], bool] | None, label: str) -> Any:
    import keras

    class EpochReporter(keras.callbacks.Callback):
        """Reports each epoch as progress and a log line; stops on cancel."""

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = logs or {}
            reporter.progress(start + (stop - start) * (epoch + 1) / max(1, epochs))
            parts = [f"{key} {float(logs[key]):.4f}" for key in
                     ("loss", "accuracy", "val_loss", "val_accuracy") if key in logs]
            reporter.log(f"{label}epoch {epoch + 1}/{epochs}: {', '.join(parts)}")
            self._check_cancel()

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self._check_cancel()

        def _check_cancel(self) -> None:
            if is_canceled is not None and is_canceled():
                self.model.stop_training = True
                raise JobCanceled("training canceled")

    return EpochReporter()


@dataclass
class TrainedNetwork:
    """One training run's outcome (internal to :class:`LandcoverTrainer`)."""

    model: Any
    scaler: ZScoreScaler
    history: dict[str, list[float]]
    epochs_run: int
    best_epoch: int
    train_counts_balanced: dict[str, int]
    class_weight: dict[int, float] | None
    fit_seconds: float


class LandcoverTrainer:
    """Train a land-cover network on a samples table with a leakage-free protocol.

    Parameters
    ----------
    label : str
        Class-code column.
    features : sequence of str, optional
        Feature columns (default: every numeric band column).
    group : str or None
        Group column for the ``group`` split (default ``polygon_id``).
    names_field : str, optional
        Column of class names.
    legend : ClassLegend or str, optional
        Legend object or legend CSV (``code,name,color``).
    model_type : str
        A key of ``models.MODEL_TYPES``.
    split : {"group", "random"}
    test_fraction, validation_fraction : float
        Test share of all rows (groups); validation share of the training part.
    balance : {"none", "class_weights", "to_n", "smote"}
        Applied to the training part only (default ``balancing.DEFAULT_BALANCE``).
    samples_per_class : int
        Target per class for ``to_n``.
    epochs, batch_size, patience : int
        Maximum epochs; samples per gradient step; epochs without validation-loss improvement
        before stopping (best weights restored).
    seed : int
        Seeds split, balancing, weight initialisation and shuffling: repeatable runs.
    learning_rate : float
        Adam's learning rate.
    cv_folds : int
        0: no cross-validation; k >= 2: also a k-fold (spatial, with groups) cross-validation
        of the accuracy (k extra trainings), reported in ``cv_results_``.
    raster : str, optional
        Stack raster for patch models (patches cut at the samples' X, Y).
    patch_size : int
        Patch side (pixels) for patch models.
    derived_features : {"auto", "none", "normalized_differences"}
        Input channels computed from the raw bands before scaling (``core.indices``); "auto":
        the model type's benchmarked choice (none, at present, for every model).
    reporter : Reporter, optional
        Receives progress (0-100) and log lines.
    is_canceled : callable, optional
        Polled during training; True stops with ``JobCanceled``.

    Attributes
    ----------
    table_ : SampleTable
    legend_ : ClassLegend
    split_ : SplitIndices
    scaler_ : ZScoreScaler
    model_ : keras.Model
    history_ : dict[str, list[float]]
    epochs_run_ : int
    metrics_ : dict
        Test-part metrics (``core.metrics`` layout).
    cv_results_ : dict or None
    metadata_ : dict
        The model file's metadata.
    """

    def __init__(self, label: str = "code", features: Sequence[str] | None = None,
                 group: str | None = "polygon_id", names_field: str | None = None,
                 legend: ClassLegend | str | None = None, model_type: str = DEFAULT_MODEL,
                 split: str = "group", test_fraction: float = 0.2, validation_fraction: float = 0.2,
                 balance: str = DEFAULT_BALANCE, samples_per_class: int = 500, epochs: int = 200,
                 batch_size: int = 60, patience: int = 20, seed: int = 42,
                 learning_rate: float = 0.001, cv_folds: int = 0, raster: str | None = None,
                 patch_size: int = 7, derived_features: str = AUTO_DERIVED,
                 reporter: Reporter | None = None,
                 is_canceled: Callable[[], bool] | None = None) -> None:
        self.label = label
        self.features = list(features) if features else None
        self.group = group or None
        self.names_field = names_field or None
        self.legend = legend
        self.model_type = model_type
        self.split = split
        self.test_fraction = test_fraction
        self.validation_fraction = validation_fraction
        self.balance = balance
        self.samples_per_class = samples_per_class
        self.epochs = epochs
        self.batch_size = batch_size
        self.patience = patience
        self.seed = seed
        self.learning_rate = learning_rate
        self.cv_folds = cv_folds
        self.raster = raster
        self.patch_size = patch_size
        self.derived_features = derived_features
        self.reporter = reporter
        self.is_canceled = is_canceled

    # --- parameters ---------------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """The settings as JSON-ready values (the model file's ``training`` entry)."""
        return {"label": self.label, "features": self.features, "group": self.group,
                "names_field": self.names_field,
                "legend": self.legend if isinstance(self.legend, str) else None,
                "model_type": self.model_type, "split": self.split,
                "test_fraction": self.test_fraction, "validation_fraction": self.validation_fraction,
                "balance": self.balance, "samples_per_class": self.samples_per_class,
                "epochs": self.epochs, "batch_size": self.batch_size, "patience": self.patience,
                "seed": self.seed, "learning_rate": self.learning_rate, "cv_folds": self.cv_folds,
                "raster": self.raster, "patch_size": self.patch_size,
                "derived_features": self.derived_features}

    def _check_params(self) -> None:
        check_model_type(self.model_type)
        if self.split not in SPLIT_PROTOCOLS:
            raise UserInputError(f"unknown split {self.split!r}; use one of {SPLIT_PROTOCOLS}.", "SPLIT")
        if self.balance not in BALANCE_METHODS:
            raise UserInputError(f"unknown balancing {self.balance!r}; use one of {BALANCE_METHODS}.",
                                 "BALANCE")
        if self.balance == "smote" and not MODEL_TYPES[self.model_type].per_pixel:
            raise UserInputError("SMOTE works with per-pixel models only; use class_weights or to_n.",
                                 "BALANCE")
        for name, value, low in (("EPOCHS", self.epochs, 1), ("BATCH_SIZE", self.batch_size, 1),
                                 ("PATIENCE", self.patience, 0), ("CV_FOLDS", self.cv_folds, 0)):
            if int(value) < low:
                raise UserInputError(f"must be at least {low} (got {value}).", name)
        if self.derived_features not in (AUTO_DERIVED, *DERIVED_FEATURES):
            raise UserInputError(f"unknown derived features {self.derived_features!r}; use one of "
                                 f"{(AUTO_DERIVED, *DERIVED_FEATURES)}.", "DERIVED_FEATURES")
        if self.cv_folds == 1:
            raise UserInputError("use 0 (no cross-validation) or at least 2 folds.", "CV_FOLDS")
        if not 0 < self.learning_rate < 1:
            raise UserInputError(f"must lie between 0 and 1 (got {self.learning_rate}).", "LEARNING_RATE")

    # --- work ---------------------------------------------------------------------------------
    def fit(self, samples: Any) -> LandcoverTrainer:
        """Read, split, balance, scale, train, and measure on the test part.

        Parameters
        ----------
        samples : str, path, pandas.DataFrame or SampleTable
            The samples. A SampleTable is used as it is (``features`` then must be None or
            a subset of its features).
        """
        started = time.monotonic()
        reporter = self.reporter or NullReporter()
        self._check_params()
        if isinstance(samples, SampleTable):
            table = samples.select_features(self.features) if self.features else samples
        else:
            table = read_samples(samples, self.label, self.features, self.group, self.names_field,
                                 reporter)
        if self.split == "group" and table.groups is None:
            raise UserInputError(f"the group split needs the group column {self.group!r}, which the "
                                 "samples lack; name the group column or choose the random split.",
                                 "GROUP")
        self.table_ = table
        self.legend_ = build_legend(table, self.legend)
        class_ids = self.legend_.ids_from_codes(table.codes)
        reporter.log(f"{len(table)} samples, {len(table.feature_names)} features "
                     f"{table.feature_names}, {self.legend_.n_classes} classes {self.legend_.codes}.")
        self.split_ = split_samples(class_ids, table.groups, self.split, self.test_fraction,
                                    self.validation_fraction, self.seed, table.group_column)
        for warning in self.split_.warnings:
            reporter.log(f"Warning: {warning}")
        reporter.log(f"{self.split} split: {len(self.split_.train)} training, "
                     f"{len(self.split_.validation)} validation, {len(self.split_.test)} test samples.")
        provider = make_input_provider(self.model_type, table, self.raster, self.patch_size,
                                       self.derived_features)
        self.patch_size_ = int(provider.patch_size)
        self.derived_features_ = provider.derived_features
        if self.derived_features_ != NO_DERIVED:
            reporter.log(f"Network inputs: the {len(table.feature_names)} bands and "
                         f"{provider.n_inputs - len(table.feature_names)} derived channels "
                         f"({self.derived_features_.replace('_', ' ')} of the band pairs).")

        self.cv_results_ = None
        n_runs = 1 + (self.cv_folds if self.cv_folds >= 2 else 0)
        if self.cv_folds >= 2:
            self.cv_results_ = self._cross_validate(provider, class_ids, reporter, n_runs)
        start = 100.0 * (n_runs - 1) / n_runs
        run = self._train(provider, class_ids, self.split_.train, self.split_.validation,
                          reporter, start, 99.0, "")
        self.model_, self.scaler_, self.history_ = run.model, run.scaler, run.history
        self.epochs_run_, self.best_epoch_ = run.epochs_run, run.best_epoch
        self.fit_seconds_ = run.fit_seconds
        self.test_predictions_ = self._predict_ids(run, provider, self.split_.test)
        self.metrics_ = compute_metrics(table.codes[self.split_.test],
                                        self.legend_.codes_from_ids(self.test_predictions_), self.legend_)
        reporter.log(f"Test part ({self.split} split): {summary_line(self.metrics_)}")
        self.metadata_ = self._metadata(run, time.monotonic() - started)
        reporter.progress(100.0)
        return self

    def _cross_validate(self, provider: Any, class_ids: np.ndarray, reporter: Reporter,
                        n_runs: int) -> dict[str, Any]:
        table = self.table_
        groups = table.groups if self.split == "group" else None
        folds = []
        for fold, (train_val, test) in enumerate(cross_validation_folds(
                class_ids, groups, self.split, self.cv_folds, self.seed)):
            inner_groups = groups[train_val] if groups is not None else None
            keep, held = holdout_split(class_ids[train_val], inner_groups, self.validation_fraction,
                                       self.seed + 1, "VALIDATION_FRACTION")
            label = f"fold {fold + 1}/{self.cv_folds}: "
            run = self._train(provider, class_ids, np.sort(train_val[keep]), np.sort(train_val[held]),
                              reporter, 100.0 * fold / n_runs, 100.0 * (fold + 1) / n_runs, label)
            predicted = self._predict_ids(run, provider, test)
            metrics = compute_metrics(table.codes[test], self.legend_.codes_from_ids(predicted),
                                      self.legend_)
            reporter.log(f"{label}{summary_line(metrics)}")
            folds.append({"fold": fold + 1, "n_test": int(len(test)), "epochs_run": run.epochs_run,
                          **{k: metrics[k] for k in ("overall_accuracy", "kappa", "macro_f1")}})
        summary = {}
        for key in ("overall_accuracy", "kappa", "macro_f1"):
            values = np.array([f[key] if f[key] is not None else np.nan for f in folds], dtype=float)
            summary[key] = {"mean": float(np.nanmean(values)), "std": float(np.nanstd(values))}
        reporter.log("Cross-validation ({} folds, {} split): OA {:.3f} +- {:.3f}, kappa {:.3f} +- {:.3f}, "
                     "macro F1 {:.3f} +- {:.3f}".format(
                         self.cv_folds, self.split, summary["overall_accuracy"]["mean"],
                         summary["overall_accuracy"]["std"], summary["kappa"]["mean"],
                         summary["kappa"]["std"], summary["macro_f1"]["mean"], summary["macro_f1"]["std"]))
        return {"n_folds": self.cv_folds, "protocol": self.split, "folds": folds, "summary": summary}

    def _train(self, provider: Any, class_ids: np.ndarray, train_rows: np.ndarray,
               validation_rows: np.ndarray, reporter: Reporter, start: float, stop: float,
               label: str) -> TrainedNetwork:
        import keras

        from .models import build_model

        set_seed(self.seed)
        scaler = provider.fit_scaler(train_rows)
        balanced = balance_training_rows(
            class_ids[train_rows], self.balance, self.samples_per_class, self.seed,
            features=provider.inputs(train_rows, scaler) if self.balance == "smote" else None)
        if balanced.features is not None:
            x_train = balanced.features
        else:
            x_train = provider.inputs(train_rows[balanced.rows], scaler)
        n_classes = self.legend_.n_classes
        y_train = keras.utils.to_categorical(balanced.class_ids, n_classes)
        x_val = provider.inputs(validation_rows, scaler)
        y_val = keras.utils.to_categorical(class_ids[validation_rows], n_classes)
        values, numbers = np.unique(balanced.class_ids, return_counts=True)
        counts = {str(int(self.legend_.codes[v])): int(n) for v, n in zip(values, numbers, strict=True)}
        if self.balance != "none":
            reporter.log(f"{label}balancing '{self.balance}': {len(balanced.class_ids)} training "
                         f"samples, per class {counts}"
                         + (f", class weights {balanced.class_weight}" if balanced.class_weight else ""))
        model = build_model(self.model_type, provider.n_inputs, n_classes,
                            patch_size=self.patch_size, learning_rate=self.learning_rate,
                            steps_per_execution=STEPS_PER_EXECUTION)
        callbacks = [keras.callbacks.EarlyStopping(monitor=EARLY_STOPPING_MONITOR, patience=self.patience,
                                                   restore_best_weights=True),
                     _epoch_callback(reporter, start, stop, self.epochs, self.is_canceled, label)]
        started = time.monotonic()
        mixup_alpha = MODEL_TYPES[self.model_type].mixup_alpha
        if mixup_alpha:
            batches = mixup_dataset(x_train, y_train, self.batch_size, mixup_alpha, self.seed,
                                    balanced.class_weight)
            fit = model.fit(batches, epochs=self.epochs, validation_data=(x_val, y_val), shuffle=False,
                            callbacks=callbacks, verbose=0)
        else:
            fit = model.fit(x_train, y_train, batch_size=self.batch_size, epochs=self.epochs,
                            validation_data=(x_val, y_val), class_weight=balanced.class_weight,
                            shuffle=True, callbacks=callbacks, verbose=0)
        fit_seconds = time.monotonic() - started
        history = {key: [float(v) for v in values] for key, values in fit.history.items()}
        epochs_run = len(history.get("loss", []))
        watched = history.get(EARLY_STOPPING_MONITOR)
        if not watched:
            best_epoch = epochs_run
        elif EARLY_STOPPING_MONITOR.endswith("loss"):
            best_epoch = int(np.argmin(watched)) + 1
        else:
            best_epoch = int(np.argmax(watched)) + 1
        reporter.log(f"{label}stopped after {epochs_run} epochs (best {EARLY_STOPPING_MONITOR} at epoch "
                     f"{best_epoch}, weights restored) in {fit_seconds:.0f} s.")
        return TrainedNetwork(model, scaler, history, epochs_run, best_epoch, counts,
                              balanced.class_weight, fit_seconds)

    @staticmethod
    def _predict_ids(run: TrainedNetwork, provider: Any, rows: np.ndarray) -> np.ndarray:
        if len(rows) == 0:
            return np.zeros(0, dtype=np.int64)
        probabilities = run.model.predict(provider.inputs(rows, run.scaler), batch_size=8192, verbose=0)
        return np.argmax(probabilities, axis=1)

    def _metadata(self, run: TrainedNetwork, total_seconds: float) -> dict[str, Any]:
        table = self.table_
        training = self.get_params()
        training.update({"epochs_run": run.epochs_run, "best_epoch": run.best_epoch,
                         "fit_seconds": round(run.fit_seconds, 2), "total_seconds": round(total_seconds, 2),
                         "n_dropped_rows": table.n_dropped,
                         "label_smoothing": MODEL_TYPES[self.model_type].label_smoothing,
                         "mixup_alpha": MODEL_TYPES[self.model_type].mixup_alpha,
                         "balanced_train_counts": run.train_counts_balanced,
                         "class_weight": ({str(self.legend_.codes[k]): v for k, v in run.class_weight.items()}
                                          if run.class_weight else None)})
        return {"model_type": self.model_type, "feature_names": list(table.feature_names),
                "patch_size": self.patch_size_, "derived_features": self.derived_features_,
                "scaler": run.scaler.to_dict(),
                "legend": self.legend_.to_dict(), "training": training,
                "split": self.split_.to_dict(table.codes) | {"warnings": list(self.split_.warnings)},
                "metrics": self.metrics_, "history": run.history,
                "cross_validation": self.cv_results_}

    def save(self, path: str) -> str:
        """Write the model file (atomic); returns ``path``."""
        from .model_file import save_model_file

        return save_model_file(path, self.model_, self.metadata_)

    def result(self, model_path: str | None = None) -> dict[str, Any]:
        """The train job's result dict (JSON-ready)."""
        metrics = self.metrics_
        result = {"model": model_path, "overall_accuracy": metrics["overall_accuracy"],
                  "kappa": metrics["kappa"], "macro_f1": metrics["macro_f1"],
                  "n_train": int(len(self.split_.train)), "n_validation": int(len(self.split_.validation)),
                  "n_test": int(len(self.split_.test)), "epochs_run": self.epochs_run_,
                  "split_protocol": self.split_.protocol, "model_type": self.model_type,
                  "feature_names": list(self.table_.feature_names), "n_classes": self.legend_.n_classes,
                  "n_dropped_rows": self.table_.n_dropped, "fit_seconds": round(self.fit_seconds_, 2)}
        if self.cv_results_:
            result["cross_validation"] = self.cv_results_["summary"]
        return result


def split_for(table: SampleTable, legend: ClassLegend, protocol: str = "group", test_fraction: float = 0.2,
              validation_fraction: float = 0.2, seed: int = 42) -> SplitIndices:
    """The split :meth:`LandcoverTrainer.fit` makes for ``table`` (for benchmarks and comparisons)."""
    return split_samples(legend.ids_from_codes(table.codes), table.groups, protocol, test_fraction,
                         validation_fraction, seed, table.group_column)
