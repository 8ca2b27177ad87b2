"""Feature-set comparison: the same model, split and seed on several feature subsets.

This is how a user shows that a new source helps (the study's "S2 only" vs "S2 + Phi"):
rows with a missing value in *any* compared feature are dropped once, before splitting,
so that every subset is trained and tested on exactly the same rows. With model type "auto"
the first set's automatic choice trains every set (the same model for all). Each row carries
the figures' 95 % intervals and, with cross-validation, their mean and spread over the folds.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from .atomic import atomic_output
from .errors import UserInputError
from .progress import NullReporter, Reporter, ScaledReporter
from .settings import TrainingSettings

_FIGURES = ("overall_accuracy", "kappa", "macro_f1")
TABLE_COLUMNS = ("set_name", "features", "n_features", "model_type", *_FIGURES,
                 *(f"{key}_{end}" for key in _FIGURES for end in ("low", "high")),
                 "n_train", "n_validation", "n_test", "epochs_run", "fit_seconds",
                 *(f"cv_{key}_{what}" for key in _FIGURES for what in ("mean", "std")))


def parse_feature_sets(text: str, names: str | None = None) -> tuple[list[list[str]], list[str]]:
    """Parse ``"B03,B04;B03,B04,Phi"`` and optional ``"S2;S2+Phi"``.

    Returns
    -------
    (feature_sets, set_names)
        Lists of feature-name lists and their names (default ``"set 1"``, ...).
    """
    sets = [[name.strip() for name in part.split(",") if name.strip()] for part in text.split(";")]
    sets = [s for s in sets if s]
    if len(sets) < 1:
        raise UserInputError("give at least one feature set, e.g. \"B03,B04,B08;B03,B04,B08,Phi\".",
                             "FEATURE_SETS")
    for index, features in enumerate(sets, start=1):
        if len(set(features)) != len(features):
            raise UserInputError(f"feature set {index} names a feature twice: {features}.", "FEATURE_SETS")
    if names:
        set_names = [n.strip() for n in names.split(";")]
        if len(set_names) != len(sets):
            raise UserInputError(f"{len(set_names)} set names for {len(sets)} feature sets.", "SET_NAMES")
    else:
        set_names = [f"set {i}" for i in range(1, len(sets) + 1)]
    return sets, set_names


def compare_feature_sets(samples: Any, feature_sets: Sequence[Sequence[str]], settings: TrainingSettings,
                         set_names: Sequence[str] | None = None, reporter: Reporter | None = None
                         ) -> list[dict[str, Any]]:
    """Train one model per feature set on the same rows, split and seed.

    Parameters
    ----------
    samples : str, path or pandas.DataFrame
        The samples CSV.
    feature_sets : sequence of sequence of str
        Feature columns of each set.
    settings : TrainingSettings
        How every set is trained (its ``features`` are replaced by each set's).
    set_names : sequence of str, optional
        A name per set (default ``"set 1"``, ...).
    reporter : Reporter, optional

    Returns
    -------
    list of dict
        One row per set with the :data:`TABLE_COLUMNS`.
    """
    from .samples import read_samples
    from .training import LandcoverTrainer

    reporter = reporter or NullReporter()
    set_names = list(set_names or [f"set {i}" for i in range(1, len(feature_sets) + 1)])
    union: list[str] = []
    for features in feature_sets:
        union += [name for name in features if name not in union]
    table = read_samples(samples, settings.label, union, settings.group, settings.names_field, reporter,
                         legend=settings.legend)
    rows = []
    n_sets = len(feature_sets)
    for index, (name, features) in enumerate(zip(set_names, feature_sets, strict=True)):
        reporter.log(f"Feature set {index + 1}/{n_sets} '{name}': {list(features)}")
        part = ScaledReporter(reporter, 100.0 * index / n_sets, 100.0 * (index + 1) / n_sets)
        trainer = LandcoverTrainer(replace(settings, features=tuple(features)), reporter=part)
        trainer.fit(table)
        settings = replace(settings, model_type=trainer.family_.name)  # every set: the first set's model
        result = trainer.result()
        cv = (trainer.cv_results_ or {}).get("summary", {})
        rows.append({"set_name": name, "features": ",".join(features), "n_features": len(features),
                     "model_type": trainer.family_.name,
                     **{key: result[key] for key in (*_FIGURES, "n_train", "n_validation", "n_test",
                                                     "epochs_run", "fit_seconds")},
                     **{f"{key}_{end}": result["intervals"][key][i] for key in _FIGURES
                        for i, end in enumerate(("low", "high"))},
                     **{f"cv_{key}_{what}": cv.get(key, {}).get(what) for key in _FIGURES
                        for what in ("mean", "std")}})
    return rows


def write_table(path: str, rows: Sequence[dict[str, Any]]) -> None:
    """Write the comparison rows as CSV (atomic; empty cells for missing values)."""
    with atomic_output(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(TABLE_COLUMNS))
        writer.writeheader()
        for row in rows:
            writer.writerow({key: ("" if row.get(key) is None else row.get(key)) for key in TABLE_COLUMNS})


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A plain-text table of the comparison."""
    lines = [f"{'set':<16} {'n_feat':>6} {'OA':>6} {'kappa':>6} {'macroF1':>7} {'epochs':>6}"]
    for row in rows:
        kappa = row["kappa"] if row["kappa"] is not None else float("nan")
        lines.append(f"{row['set_name'][:16]:<16} {row['n_features']:>6} {row['overall_accuracy']:>6.3f} "
                     f"{kappa:>6.3f} {row['macro_f1']:>7.3f} {row['epochs_run']:>6}")
    return "\n".join(lines)
