"""Training: samples -> validated table -> split -> the family's inputs -> fit -> test metrics.

:class:`LandcoverTrainer` is estimator-like: settings in ``__init__`` (a
``core.settings.TrainingSettings``), work in :meth:`LandcoverTrainer.fit`, results in attributes
ending in ``_``, :meth:`LandcoverTrainer.save` writes the model file. What depends on the model
type is asked of its family (``core.models``): its training inputs (an ``InputProvider``), its
fit and its prediction, so that split, balancing, scaling, metrics and the model file are shared
by every family. One fit: ``core.training_run``; cross-validation: ``core.cross_validation``;
metadata and job result: ``core.training_record``.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from .cross_validation import cross_validate
from .errors import UserInputError
from .indices import NO_DERIVED
from .legend import ClassLegend
from .metrics import compute_metrics, summary_line
from .models.base import FitProgress
from .progress import NullReporter, Reporter
from .samples import SampleTable, read_samples
from .settings import TrainingSettings
from .splits import SplitIndices, check_split, class_summary, split_samples
from .training_record import job_result, training_metadata
from .training_run import predict_ids, train_once


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
        :meth:`fit` (``TrainingSettings.resolved``).
    reporter : Reporter, optional
        Receives progress (0-100) and log lines.

    Attributes
    ----------
    settings_ : TrainingSettings
        The resolved settings (no "auto").
    family_ : core.models.base.ModelFamily
    table_ : SampleTable
    legend_ : ClassLegend
    split_ : SplitIndices
    patch_size_ : int
    derived_features_ : str
    scaler_ : ZScoreScaler
    model_ : object
        The family's fitted network (a ``keras.Model`` for Keras families).
    history_ : dict[str, list[float]]
    epochs_run_, best_epoch_ : int
    fit_seconds_ : float
    test_predictions_ : numpy.ndarray
        Class ids predicted for ``split_.test``.
    metrics_ : dict
        Test-part metrics (``core.metrics`` layout).
    cv_results_ : dict or None
    metadata_ : dict
        The model file's metadata.
    """

    def __init__(self, settings: TrainingSettings | None = None, reporter: Reporter | None = None) -> None:
        self.settings = settings if settings is not None else TrainingSettings()
        self.reporter = reporter

    def fit(self, samples: Any) -> LandcoverTrainer:
        """Read, split, balance, scale, train, and measure on the test part.

        Parameters
        ----------
        samples : str, path, pandas.DataFrame or SampleTable
            The samples. A SampleTable is used as it is (``settings.features`` then must be None
            or a subset of its features).
        """
        started = time.monotonic()
        reporter = self.reporter or NullReporter()
        settings = self.settings.resolved()
        family = settings.family
        problem = family.settings_problem(settings)
        if problem:
            raise problem
        table = _read_table(samples, settings, reporter)
        if settings.split == "group" and table.groups is None:
            raise UserInputError(f"the group split needs the group column {settings.group!r}, which the "
                                 "samples lack; name the group column or choose the random split.", "GROUP")
        legend = build_legend(table, settings.legend)
        class_ids = legend.ids_from_codes(table.codes)
        reporter.log(f"{len(table)} samples, {len(table.feature_names)} features "
                     f"{table.feature_names}, {legend.n_classes} classes: "
                     f"{class_summary(class_ids, table.groups, legend)}.")
        split = split_samples(class_ids, table.groups, settings.split, settings.test_fraction,
                              settings.validation_fraction, settings.seed, table.group_column)
        check_split(split, class_ids, legend)  # refuses a class without training samples
        for warning in split.warnings:
            reporter.log(f"Warning: {warning}")
        reporter.log(f"{settings.split} split: {len(split.train)} training, "
                     f"{len(split.validation)} validation, {len(split.test)} test samples.")
        provider = family.input_provider(table, settings)
        if provider.derived_features != NO_DERIVED:
            reporter.log(f"Network inputs: the {len(table.feature_names)} bands and "
                         f"{provider.n_inputs - len(table.feature_names)} derived channels "
                         f"({provider.derived_features.replace('_', ' ')} of the band pairs).")
        self.settings_, self.family_, self.table_, self.legend_, self.split_ = \
            settings, family, table, legend, split
        self.patch_size_, self.derived_features_ = int(provider.patch_size), provider.derived_features

        n_runs = 1 + (settings.cv_folds if settings.cv_folds >= 2 else 0)
        self.cv_results_ = None
        if settings.cv_folds >= 2:
            self.cv_results_ = cross_validate(family, provider, table, class_ids, legend, settings, reporter,
                                              n_runs)
        run = train_once(family, provider, class_ids, split.train, split.validation, settings, legend,
                         FitProgress(reporter, 100.0 * (n_runs - 1) / n_runs, 99.0))
        fitted = run.fitted
        self.model_, self.scaler_, self.history_ = fitted.network, run.scaler, fitted.history
        self.epochs_run_, self.best_epoch_, self.fit_seconds_ = fitted.epochs_run, fitted.best_epoch, \
            fitted.fit_seconds
        self.test_predictions_ = predict_ids(family, run, provider, split.test)
        self.metrics_ = compute_metrics(table.codes[split.test],
                                        legend.codes_from_ids(self.test_predictions_), legend)
        reporter.log(f"Test part ({settings.split} split): {summary_line(self.metrics_)}")
        self.metadata_ = training_metadata(settings, family, table, legend, split, provider, run,
                                           self.metrics_, self.cv_results_, time.monotonic() - started)
        reporter.progress(100.0)
        return self

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
