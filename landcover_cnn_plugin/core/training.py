"""Training: samples -> validated table -> (model choice) -> split or folds -> fit -> test figures.

:class:`LandcoverTrainer` is estimator-like: settings in ``__init__`` (a
``core.settings.TrainingSettings``), work in :meth:`LandcoverTrainer.fit`, results in attributes
ending in ``_``, :meth:`LandcoverTrainer.save` writes the model file. What depends on the model
type is asked of its family (``core.models``): its training inputs (an ``InputProvider``), its
fit and its prediction, so that split, balancing, scaling, metrics and the model file are shared
by every family.

Two protocols give the test figures. One split (CV_FOLDS 0): whole polygons held out as the test
part, the model trained on the rest. Cross-validation (CV_FOLDS k): every polygon tested once by
the fold model that did not see it; the figures pool the folds' predictions, and the delivered
model is then trained on every sample with the settings the folds chose. Model type "auto" is
decided first, by comparing the candidates on folds of the training samples
(``core.model_choice``). One fit: ``core.training_run``; folds: ``core.cross_validation``;
metadata and job result: ``core.training_record``.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from .cross_validation import CrossValidation, make_folds, summary_text
from .errors import UserInputError
from .indices import NO_DERIVED
from .legend import ClassLegend
from .metrics import compute_metrics, polygon_bootstrap_intervals, summary_line
from .model_choice import ModelChoice, choose_model
from .models import AUTO_MODEL
from .models.base import FitProgress
from .polygon_support import absent_class_note, few_polygon_warnings, interval_notes, polygons_per_class
from .progress import NullReporter, Reporter
from .samples import SampleTable, read_samples
from .settings import TrainingSettings
from .splits import (
    RANDOM_SPLIT_WARNING,
    SplitIndices,
    carve_validation,
    check_split,
    class_summary,
    holdout_split,
    split_samples,
)
from .training_record import job_result, training_metadata
from .training_run import predict_ids, train_once

#: Share of the progress bar the automatic model choice takes.
CHOICE_PROGRESS = 70.0


def build_legend(table: SampleTable, legend: str | os.PathLike | None = None) -> ClassLegend:
    """Legend of the classes in ``table``: from a legend CSV (``code,name,color``) or the names field."""
    codes = np.unique(table.codes).tolist()
    if legend:
        return ClassLegend.from_csv(os.fspath(legend), codes)
    return ClassLegend(codes, table.class_names or None)


def _read_table(samples: Any, settings: TrainingSettings, reporter: Reporter) -> SampleTable:
    if isinstance(samples, SampleTable):
        return samples.select_features(settings.features) if settings.features else samples
    return read_samples(samples, settings.label, settings.features, settings.group, settings.names_field,
                        reporter, legend=settings.legend)


class LandcoverTrainer:
    """Train a land-cover model on a samples table with a leakage-free protocol.

    Parameters
    ----------
    settings : TrainingSettings, optional
        How to train (default: the product's defaults); "auto" values are resolved in
        :meth:`fit` (``TrainingSettings.resolved``, after the model choice).
    reporter : Reporter, optional
        Receives progress (0-100) and log lines.

    Attributes
    ----------
    settings_ : TrainingSettings
        The resolved settings of the delivered model (no "auto"; after cross-validation the
        epochs the folds chose).
    family_ : core.models.base.ModelFamily
    table_ : SampleTable
    legend_ : ClassLegend
    split_ : SplitIndices
        With cross-validation: training and test part are every row (``cv_folds`` set).
    patch_size_ : int
    derived_features_ : str
    scaler_ : ZScoreScaler
    model_ : object
        The family's fitted network (a ``keras.Model`` for Keras families).
    history_ : dict[str, list[float]]
    epochs_run_, best_epoch_ : int
    fit_seconds_ : float
    test_predictions_ : numpy.ndarray
        Class ids predicted for ``split_.test`` by a model that did not see them.
    metrics_ : dict
        Test figures (``core.metrics`` layout) with their 95 % ``intervals``.
    cv_results_ : dict or None
        Per-fold figures, mean and spread (cross-validation only).
    choice_ : ModelChoice or None
        The comparison of the automatic model choice.
    warnings_ : list of str
        What limits the figures (few polygons, absent classes, wide intervals, random split).
    polygon_counts_ : dict
        Polygons per class code and part.
    metadata_ : dict
        The model file's metadata.
    """

    def __init__(self, settings: TrainingSettings | None = None, reporter: Reporter | None = None) -> None:
        self.settings = settings if settings is not None else TrainingSettings()
        self.reporter = reporter

    def fit(self, samples: Any) -> LandcoverTrainer:
        """Read, choose the model, split (or fold), balance, scale, train, and measure on held-out polygons.

        Parameters
        ----------
        samples : str, path, pandas.DataFrame or SampleTable
            The samples. A SampleTable is used as it is (``settings.features`` then must be None
            or a subset of its features).
        """
        started = time.monotonic()
        reporter = self.reporter or NullReporter()
        requested = self.settings.check()
        table = _read_table(samples, requested, reporter)
        self._prepare(table, requested)
        legend, class_ids = self.legend_, self.class_ids_
        reporter.log(f"{len(table)} samples, {len(table.feature_names)} features "
                     f"{table.feature_names}, {legend.n_classes} classes: "
                     f"{class_summary(class_ids, table.groups, legend)}.")
        if requested.cv_folds >= 2:
            test_rows, predicted, run = self._cross_validated(requested, reporter)
        else:
            test_rows, predicted, run = self._held_out(requested, reporter)
        fitted = run.fitted
        self.run_, self.model_, self.scaler_, self.history_ = run, fitted.network, run.scaler, fitted.history
        self.epochs_run_, self.best_epoch_, self.fit_seconds_ = fitted.epochs_run, fitted.best_epoch, \
            fitted.fit_seconds
        self.test_predictions_ = predicted
        self.metrics_ = compute_metrics(table.codes[test_rows], legend.codes_from_ids(predicted), legend)
        self.metrics_["intervals"] = polygon_bootstrap_intervals(
            class_ids[test_rows], predicted, self.groups_[test_rows] if self.groups_ is not None else None,
            legend.n_classes, seed=self.settings_.seed)
        what = f"{requested.cv_folds}-fold cross-validation" if requested.cv_folds >= 2 else "test part"
        reporter.log(f"{what} ({requested.split} split): {summary_line(self.metrics_)}")
        self._collect_warnings(reporter)
        self.metadata_ = training_metadata(self, time.monotonic() - started)
        reporter.progress(100.0)
        return self

    # --- the two protocols ------------------------------------------------------------------
    @staticmethod
    def _compares(requested: TrainingSettings) -> bool:
        """Whether the model type is chosen by comparison ("auto", several candidates, time for it)."""
        return (requested.model_type == AUTO_MODEL and len(requested.candidates()) > 1
                and requested.choice_minutes > 0)

    def _choose(self, requested: TrainingSettings, rows: np.ndarray, folds: list | None,
                reporter: Reporter) -> ModelChoice | None:
        """The automatic model choice on ``rows`` (None where :meth:`_compares` says no)."""
        if not self._compares(requested):
            return None
        return choose_model(requested, self.table_, self.class_ids_, self.legend_, rows, folds,
                            FitProgress(reporter, 0.0, CHOICE_PROGRESS, "model choice: "))

    def _resolve(self, requested: TrainingSettings, choice: ModelChoice | None, reporter: Reporter) -> None:
        self.choice_ = choice
        settings = requested.resolved(choice.chosen if choice else None)
        problem = settings.family.settings_problem(settings)
        if problem:
            raise problem
        self.settings_, self.family_ = settings, settings.family
        self.provider_ = (choice.validations[choice.chosen].provider if choice and choice.validations
                          else settings.family.input_provider(self.table_, settings))
        self.patch_size_ = int(self.provider_.patch_size)
        self.derived_features_ = self.provider_.derived_features
        if self.derived_features_ != NO_DERIVED:
            reporter.log(f"Network inputs: the {len(self.table_.feature_names)} bands and "
                         f"{self.provider_.n_inputs - len(self.table_.feature_names)} derived channels "
                         f"({self.derived_features_.replace('_', ' ')} of the band pairs).")

    def _held_out(self, requested: TrainingSettings, reporter: Reporter) -> tuple:
        """One split: the model trained on the training part, tested on the held-out polygons."""
        ids = self.class_ids_
        train_val, test = holdout_split(ids, self.groups_, requested.test_fraction, requested.seed,
                                        "TEST_FRACTION")
        train_val, test = np.sort(train_val).astype(np.int64), np.sort(test).astype(np.int64)
        group_column = self.table_.group_column if requested.split == "group" else None
        # Before any training: refuse a class that the training part lacks (check_split).
        check_split(SplitIndices(train_val, train_val[:0], test, requested.split, group_column,
                                 groups=self.groups_), ids, self.legend_)
        self.fit_rows(self.table_, train_val)
        settings = self.settings_
        fraction = settings.validation_fraction if len(self.validation_rows_) else 0.0
        split = SplitIndices(self.train_rows_, self.validation_rows_, test, settings.split, group_column,
                             settings.test_fraction, fraction, groups=self.groups_)
        if settings.split == "random":
            split.warnings.append(RANDOM_SPLIT_WARNING)
        check_split(split, ids, self.legend_)  # the final parts' warnings (classes missing from a part)
        reporter.log(f"{settings.split} split: {len(split.train)} training, {len(split.validation)} "
                     f"validation, {len(split.test)} test samples.")
        self.split_, self.cv_results_ = split, None
        return split.test, self.predict_rows(split.test), self.run_

    def _prepare(self, table: SampleTable, requested: TrainingSettings) -> None:
        if requested.split == "group" and table.groups is None:
            raise UserInputError(f"the group split needs the group column {requested.group!r}, which the "
                                 "samples lack; name the group column or choose the random split.", "GROUP")
        self.table_, self.legend_ = table, build_legend(table, requested.legend)
        self.class_ids_ = self.legend_.ids_from_codes(table.codes)
        self.groups_ = table.groups if requested.split == "group" else None

    def fit_rows(self, table: SampleTable, rows: np.ndarray) -> LandcoverTrainer:
        """Train on ``rows`` of ``table`` only: what :meth:`fit` does once it has held out its test part.

        The automatic model choice compares the candidates on folds of ``rows``; a family that
        stops early holds validation polygons out of them. Sets ``settings_``, ``family_``,
        ``choice_``, ``run_`` (and ``train_rows_``, ``validation_rows_``). Benchmarks call it with
        the training part of their own folds, then :meth:`predict_rows` on the test part.
        """
        reporter = self.reporter or NullReporter()
        requested = self.settings.check()
        self._prepare(table, requested)
        choice = self._choose(requested, rows, None, reporter)
        self._resolve(requested, choice, reporter)
        settings = self.settings_
        fraction = settings.validation_fraction if self.family_.needs_validation(settings) else 0.0
        self.train_rows_, self.validation_rows_ = carve_validation(self.class_ids_, self.groups_, rows,
                                                                   fraction, settings.seed + 1)
        start = CHOICE_PROGRESS if choice else 0.0
        self.run_ = train_once(self.family_, self.provider_, self.class_ids_, self.train_rows_,
                               self.validation_rows_, settings, self.legend_,
                               FitProgress(reporter, start, 99.0))
        return self

    def predict_rows(self, rows: np.ndarray) -> np.ndarray:
        """Class ids int64 ``(len(rows),)`` that the fitted model predicts for ``rows`` of its table."""
        return predict_ids(self.family_, self.run_, self.provider_, rows)

    def _cross_validated(self, requested: TrainingSettings, reporter: Reporter) -> tuple:
        """k folds (every polygon tested once), then the model trained on every sample."""
        ids = self.class_ids_
        folds = make_folds(ids, self.groups_, requested.split, requested.cv_folds, requested.seed)
        choice = self._choose(requested, np.arange(len(ids)), folds, reporter)
        self._resolve(requested, choice, reporter)
        validation = (choice.validations[choice.chosen] if choice and choice.validations else
                      CrossValidation(self.family_, self.provider_, self.table_, ids, self.legend_,
                                      self.settings_, folds))
        start = CHOICE_PROGRESS if choice else 0.0
        validation.run_all(FitProgress(reporter, start, start + (95.0 - start) * 0.8))
        self.cv_results_ = validation.summary()
        reporter.log(f"Cross-validation ({requested.split} split): {summary_text(self.cv_results_)}")
        _, test_rows, predicted = validation.pooled_metrics()
        every_row = np.arange(len(ids))
        self.settings_ = validation.final_settings()
        if self.settings_.epochs != validation.settings.epochs:
            reporter.log(f"The final model trains {self.settings_.epochs} epochs (the folds' median best "
                         "epoch).")
        self.split_ = SplitIndices(every_row, every_row[:0], every_row, requested.split,
                                   self.table_.group_column if requested.split == "group" else None,
                                   requested.test_fraction, 0.0, cv_folds=requested.cv_folds,
                                   groups=self.groups_)
        if requested.split == "random":
            self.split_.warnings.append(RANDOM_SPLIT_WARNING)
        run = train_once(self.family_, self.provider_, ids, every_row, every_row[:0], self.settings_,
                         self.legend_,
                         FitProgress(reporter, start + (95.0 - start) * 0.8, 99.0, "final model: "))
        return test_rows, predicted, run

    def _collect_warnings(self, reporter: Reporter) -> None:
        """Polygons per class and part, and the warnings about what limits the figures."""
        codes, split = self.table_.codes, self.split_
        parts = {"all": split.train} if split.cv_folds else {
            "train": split.train, "validation": split.validation, "test": split.test}
        self.polygon_counts_ = {part: polygons_per_class(codes, self.groups_, rows)
                                for part, rows in parts.items()}
        unit = "polygons" if self.groups_ is not None else "samples"
        n_test_groups = self.metrics_["intervals"]["n_groups"]
        self.warnings_ = (list(split.warnings)
                          + few_polygon_warnings(self.polygon_counts_, self.legend_, unit)
                          + absent_class_note(self.metrics_, self.legend_)
                          + interval_notes(self.metrics_["intervals"], n_test_groups, split.cv_folds))
        for warning in self.warnings_:
            reporter.log(f"Warning: {warning}")

    def save(self, path: str) -> str:
        """Write the model file (atomic); returns ``path``."""
        from .model_file import save_model_file

        return save_model_file(path, self.model_, self.metadata_)

    def result(self, model_path: str | None = None) -> dict[str, Any]:
        """The train job's result dict (JSON-ready)."""
        return job_result(self, model_path)

    def example_figure(self) -> bytes | None:
        """The family's picture of the training inputs for the report (None: the family has none)."""
        return self.family_.example_figure(self.table_, np.asarray(self.split_.train), self.legend_,
                                           self.settings_)


def split_for(table: SampleTable, legend: ClassLegend, protocol: str = "group", test_fraction: float = 0.2,
              validation_fraction: float = 0.2, seed: int = 42) -> SplitIndices:
    """The split :meth:`LandcoverTrainer.fit` makes for ``table`` (for benchmarks and comparisons)."""
    return split_samples(legend.ids_from_codes(table.codes), table.groups, protocol, test_fraction,
                         validation_fraction, seed, table.group_column)
