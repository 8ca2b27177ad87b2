"""Training settings: one frozen type, from which the worker's options and the Processing parameters come.

Each field of :class:`TrainingSettings` carries its default and an :class:`Option` (Processing
parameter name and label, command-line help, range, choices). The worker's ``train`` and
``compare`` jobs add their options with :func:`add_arguments` and read them back with
:meth:`TrainingSettings.from_arguments`; ``processing/training_parameters.py`` makes its
parameters from :func:`training_options`. The "auto" choices (model type, balancing, derived
inputs, schedule, epochs) are resolved in one place, :meth:`TrainingSettings.resolved`; which
model "auto" stands for is measured on the user's samples (``core.model_choice``) among
:meth:`TrainingSettings.candidates` and handed to it.

Importable without TensorFlow, pandas or scikit-learn (the QGIS process reads it).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from .balancing import AUTO_BALANCE, BALANCE_METHODS
from .errors import UserInputError
from .indices import AUTO_DERIVED, DERIVED_FEATURES
from .models import AUTO_MODEL, MODEL_CHOICES, auto_candidates, auto_model_type
from .models import family as model_family
from .models.base import AUTO_SCHEDULE, SCHEDULES, ModelFamily
from .models.patch_cnn import DEFAULT_PATCH_SIZE
from .splits import SPLIT_PROTOCOLS


@dataclass(frozen=True)
class Option:
    """How one training setting is offered to the user.

    Attributes
    ----------
    parameter : str
        Processing parameter name; error messages about the setting name it too.
    label : str
        Processing label (short).
    help : str
        Command-line help (the default is appended).
    kind : {"value", "choice", "list", "file", "raster"}
        "value": a number or text of the default's type; "choice": one of ``choices``; "list":
        comma-separated names; "file", "raster": a path (Processing: a file or raster layer).
    choices, choice_labels : tuple of str
        Values and their Processing labels, in the order of the Processing enum indices (saved
        workflows store indices: append new choices at the end).
    minimum, maximum : float, optional
        Allowed range (inclusive, unless ``above_minimum``).
    above_minimum : bool
        The minimum itself is not allowed (a learning rate > 0).
    optional : bool
        May be empty (None).
    advanced : bool
        Shown among the advanced Processing parameters.
    in_processing : bool
        Offered by the Processing algorithms (False: worker option only).
    """

    parameter: str
    label: str
    help: str
    kind: str = "value"
    choices: tuple[str, ...] = ()
    choice_labels: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    above_minimum: bool = False
    optional: bool = False
    advanced: bool = False
    in_processing: bool = True
    file_filter: str = ""


@dataclass(frozen=True)
class SettingSpec:
    """A field of :class:`TrainingSettings`: its name, default and :class:`Option`."""

    name: str
    default: Any
    option: Option

    @property
    def flag(self) -> str:
        """The command-line option, e.g. ``--names-field``."""
        return "--" + self.name.replace("_", "-")

    @property
    def value_type(self) -> type:
        """int, float or str (lists, paths and choices are text)."""
        return type(self.default) if isinstance(self.default, int | float) else str


def _setting(default: Any, **option: Any) -> Any:
    return field(default=default, metadata={"option": Option(**option)})


_MODEL_LABELS = tuple("Automatic: the best of several models in a cross-validation on your samples"
                      if name == AUTO_MODEL else name for name in MODEL_CHOICES)
#: "auto" epochs: the model's benchmarked number (``FamilyDefaults.epochs`` and ``min_steps``).
AUTO_EPOCHS = 0


@dataclass(frozen=True)
class TrainingSettings:
    """Everything that decides how a model is trained (the samples and outputs aside).

    The defaults are the product's; "auto" values become concrete in :meth:`resolved`.
    See each field's :class:`Option` (``training_options()``) for its meaning and range.
    """

    features: tuple[str, ...] | None = _setting(
        None, parameter="FEATURES", kind="list", optional=True,
        label="Feature columns (comma-separated; empty = all band columns)",
        help="comma-separated feature columns, e.g. B03,B04,B08 (default: every band column)")
    label: str = _setting("code", parameter="LABEL", label="Label column (class codes)",
                          help="column of integer class codes")
    group: str | None = _setting(
        "polygon_id", parameter="GROUP", optional=True, label="Group column",
        help="group column: samples of one group never sit in both training and test part "
             "(--group \"\" for none)")
    names_field: str | None = _setting(
        None, parameter="NAMES_FIELD", optional=True,
        label="Class name column (empty = the text column after the label, or fclass/name)",
        help="column of class names, e.g. fclass (default: the text column right after the label, "
             "or fclass, name, class_name, when it holds one name per code)")
    legend: str | None = _setting(None, parameter="LEGEND", kind="file", optional=True,
                                  label="Legend CSV (code,name,color)", file_filter="CSV files (*.csv)",
                                  help="legend CSV with columns code,name,color")
    model_type: str = _setting(
        AUTO_MODEL, parameter="MODEL_TYPE", kind="choice", label="Model", choices=MODEL_CHOICES,
        choice_labels=_MODEL_LABELS,
        help=f"model; {AUTO_MODEL}: the best of {', '.join(auto_candidates('stack.tif'))} (patch models only "
             "with --raster) in a polygon-grouped cross-validation on the samples, within --choice-minutes")
    raster: str | None = _setting(
        None, parameter="RASTER", kind="raster", optional=True,
        label="Stack raster the samples come from (patch_cnn)",
        help="stack GeoTIFF, needed by patch_cnn (patches are cut at the samples' X, Y)")
    patch_size: int = _setting(DEFAULT_PATCH_SIZE, parameter="PATCH_SIZE", minimum=3, maximum=31,
                               label="Patch size (pixels, odd; patch_cnn only)",
                               help="patch side in pixels for patch_cnn (odd)")
    split: str = _setting(
        "group", parameter="SPLIT", kind="choice", label="Split", choices=SPLIT_PROTOCOLS,
        choice_labels=("Grouped by polygon (no polygon in both training and test)", "Stratified random"),
        help="group: whole polygons to training or test (honest); random: stratified random rows "
             "(optimistic accuracy)")
    test_fraction: float = _setting(
        0.2, parameter="TEST_FRACTION", minimum=0.05, maximum=0.5, label="Test fraction",
        help="share of samples (of polygons, for the group split) held out for testing")
    balance: str = _setting(
        AUTO_BALANCE, parameter="BALANCE", kind="choice", label="Balancing",
        choices=(*BALANCE_METHODS, AUTO_BALANCE),
        choice_labels=("None", "Class weights", "Resample to N per class (the study's way)",
                       "SMOTE (synthetic minority over-sampling)",
                       "Automatic: the model's benchmarked choice (none at present)"),
        help="class balancing of the training part: none, class_weights (loss weights inverse to class "
             "frequency), to_n (resample every class to --samples-per-class), smote; auto: the model's "
             "benchmarked choice (none at present: class weights lowered overall accuracy and kappa)")
    samples_per_class: int = _setting(500, parameter="SAMPLES_PER_CLASS", minimum=2, advanced=True,
                                      label="Samples per class (N)",
                                      help="target per class for --balance to_n")
    schedule: str = _setting(
        AUTO_SCHEDULE, parameter="SCHEDULE", kind="choice", advanced=True, label="Training schedule",
        choices=(AUTO_SCHEDULE, *SCHEDULES),
        choice_labels=("Automatic: the model's benchmarked schedule (cosine)",
                       "Cosine: every training polygon, a fixed number of epochs, decaying learning rate",
                       "Early stopping on validation polygons held out of the training part"),
        help="cosine: fit every training polygon for a fixed number of epochs while the learning rate "
             "decays; early_stopping: hold out validation polygons and stop when their loss stops "
             "improving (--patience); auto: the model's benchmarked schedule (cosine)")
    epochs: int = _setting(AUTO_EPOCHS, parameter="EPOCHS", minimum=0, advanced=True,
                           label="Epochs (0 = the model's benchmarked number)",
                           help="epochs of the cosine schedule, or the most epochs of early stopping; 0: "
                                "the model's benchmarked number (30 for the networks, more on small "
                                "training sets: at least 2,000 steps)")
    batch_size: int = _setting(256, parameter="BATCH_SIZE", minimum=1, advanced=True, label="Batch size",
                               help="samples per step")
    # Keras' early stopping stops at the first epoch without improvement for patience 0 and 1 alike.
    patience: int = _setting(20, parameter="PATIENCE", minimum=1, advanced=True,
                             label="Patience (epochs, early stopping only)",
                             help="epochs without validation-loss improvement before early stopping "
                                  "stops; the best weights are kept")
    # NumPy takes seeds 0 .. 2**32 - 1; Processing's integers end at 2**31 - 1.
    seed: int = _setting(42, parameter="SEED", minimum=0, maximum=2**31 - 1, advanced=True,
                         label="Random seed", help="random seed: same seed, same model")
    derived_features: str = _setting(
        AUTO_DERIVED, parameter="DERIVED_FEATURES", kind="choice", advanced=True, label="Derived inputs",
        choices=(AUTO_DERIVED, *DERIVED_FEATURES),
        choice_labels=("Automatic: the model's benchmarked choice (none at present)", "None (the bands only)",
                       "Normalized differences of every band pair"),
        help="input channels computed from the bands before scaling: normalized differences of every "
             "band pair, or none; auto: the model type's benchmarked choice (none at present)")
    validation_fraction: float = _setting(
        0.2, parameter="VALIDATION_FRACTION", minimum=0.05, maximum=0.5, in_processing=False,
        label="Validation fraction", help="share of the training part held out for early stopping "
                                          "(--schedule early_stopping only)")
    min_steps: int = _setting(0, parameter="MIN_STEPS", minimum=0, in_processing=False,
                              label="Minimum gradient steps",
                              help="cosine schedule: at least this many steps (more epochs on small "
                                   "training sets); --epochs 0 uses the model's benchmarked minimum")
    learning_rate: float = _setting(0.001, parameter="LEARNING_RATE", minimum=0.0, maximum=1.0,
                                    above_minimum=True, in_processing=False, label="Learning rate",
                                    help="Adam learning rate")
    cv_folds: int = _setting(0, parameter="CV_FOLDS", minimum=0, maximum=20,
                             label="Cross-validation folds (0 = one test split)",
                             help="k >= 2: k-fold cross-validation grouped by polygon (every polygon "
                                  "tested once, accuracy as mean, spread and pooled confusion matrix), "
                                  "then the model trained on all samples; 0: one split into training "
                                  "and test part")
    choice_minutes: float = _setting(
        10.0, parameter="CHOICE_MINUTES", minimum=0.0, maximum=1440.0,
        label="Time for the automatic model choice (minutes)",
        help="model type auto: the time the cross-validated comparison of the candidate models may "
             "take (whole rounds of folds; at least one fold of each model that starts); 0: no "
             "comparison, the per-pixel default (the patch model with --raster)")

    def __post_init__(self) -> None:
        # Plain values from any caller: a feature list becomes a tuple, an empty optional text None.
        if self.features is not None:
            object.__setattr__(self, "features", tuple(self.features) or None)
        for spec in training_options():
            if spec.option.optional and getattr(self, spec.name) == "":
                object.__setattr__(self, spec.name, None)

    # --- checks and "auto" --------------------------------------------------------------------
    def check(self) -> TrainingSettings:
        """Return self if every value lies in its range and choices, else raise ``UserInputError``."""
        for spec in training_options():
            value, option = getattr(self, spec.name), spec.option
            if value is None and option.optional:
                continue
            if option.kind == "choice" and value not in option.choices:
                raise UserInputError(f"unknown {option.label.lower()} {value!r}; use one of "
                                     f"{', '.join(option.choices)}.", option.parameter)
            if option.minimum is not None and (value <= option.minimum if option.above_minimum
                                               else value < option.minimum):
                bound = "above" if option.above_minimum else "at least"
                raise UserInputError(f"must be {bound} {option.minimum} (got {value}).", option.parameter)
            if option.maximum is not None and value > option.maximum:
                raise UserInputError(f"must be at most {option.maximum} (got {value}).", option.parameter)
        if self.cv_folds == 1:
            raise UserInputError("use 0 (no cross-validation) or at least 2 folds.", "CV_FOLDS")
        return self

    def candidates(self) -> tuple[str, ...]:
        """The model types the model type stands for: "auto" compares
        :func:`core.models.auto_candidates` (patch models only with the stack raster)."""
        return auto_candidates(self.raster) if self.model_type == AUTO_MODEL else (self.model_type,)

    def resolved(self, choice: str | None = None) -> TrainingSettings:
        """The settings with every "auto" made concrete (the one place that decides them).

        Parameters
        ----------
        choice : str, optional
            For model type "auto": the candidate the comparison chose (``core.model_choice``);
            without one, "auto" means :func:`core.models.auto_model_type` (the patch model when
            the stack raster is given), what it trains when there is no time to compare.

        Balancing, derived inputs, schedule and epochs ("auto" = 0) become the family's
        benchmarked defaults; with "auto" epochs the family's minimum of gradient steps applies too.
        """
        self.check()
        if choice is not None and choice not in self.candidates():
            raise ValueError(f"{choice!r} is not among the candidates {self.candidates()}")
        model_type = self.model_type
        if model_type == AUTO_MODEL:
            model_type = choice or auto_model_type(self.raster)
        defaults = model_family(model_type).defaults
        auto_epochs = self.epochs == AUTO_EPOCHS
        return replace(
            self, model_type=model_type,
            balance=defaults.balance if self.balance == AUTO_BALANCE else self.balance,
            derived_features=(defaults.derived_features if self.derived_features == AUTO_DERIVED
                              else self.derived_features),
            schedule=defaults.schedule if self.schedule == AUTO_SCHEDULE else self.schedule,
            epochs=defaults.epochs if auto_epochs else self.epochs,
            min_steps=max(self.min_steps, defaults.min_steps) if auto_epochs else self.min_steps)

    @property
    def family(self) -> ModelFamily:
        """The model family of a resolved :attr:`model_type`."""
        return model_family(self.model_type)

    # --- conversions ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values by field name (the model file's ``training`` entry)."""
        values = asdict(self)
        values["features"] = list(self.features) if self.features is not None else None
        return values

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> TrainingSettings:
        """The settings given on the command line (options made by :func:`add_arguments`; the
        ones a job left out keep their defaults)."""
        values = {}
        for spec in training_options():
            if not hasattr(args, spec.name):
                continue
            value = getattr(args, spec.name)
            if spec.option.kind == "list":
                value = tuple(item.strip() for item in (value or "").split(",") if item.strip())
            values[spec.name] = value
        return cls(**values)


def training_options() -> list[SettingSpec]:
    """Every training setting with its default and :class:`Option`, in field order."""
    return [SettingSpec(f.name, f.default, f.metadata["option"]) for f in fields(TrainingSettings)]


def add_arguments(parser: argparse.ArgumentParser, exclude: tuple[str, ...] = ()) -> None:
    """Add a command-line option per training setting (``--epochs``, ...) except those in ``exclude``."""
    for spec in training_options():
        if spec.name in exclude:
            continue
        option = spec.option
        text = option.help if spec.default is None else f"{option.help} (default: {spec.default})"
        parser.add_argument(spec.flag, dest=spec.name, default=spec.default, type=spec.value_type,
                            choices=option.choices or None, help=text)
