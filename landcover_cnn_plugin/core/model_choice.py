"""The automatic model choice: the candidate models compared by cross-validation on the user's samples.

Model type "auto" stands for several families (``TrainingSettings.candidates``: the per-pixel
network, the random forest, and the patch CNN when the stack raster is given). Which one maps a
user's classes best depends on the data: on the Sentinel-2 benchmark scene the patch CNN wins by
0.1 overall accuracy, on the Berlin HyMap scene it loses to the per-pixel network, and with few
training polygons the forest wins some folds (README, "Benchmark"). So the candidates are trained
alike on the same polygon-grouped folds of the training samples and the best mean of overall
accuracy, kappa and macro F1 of the pooled out-of-fold predictions wins (ties: the cheaper,
listed first). A model that over-fits few polygons scores low on the held-out ones: small data
sets get the model that generalises on them.

Time: the folds run in rounds (fold 1 of every candidate, then fold 2, ...); a round starts only
if the candidates' mean fold times say it ends within ``settings.choice_minutes``, and the choice
is made on the rounds every candidate finished. A candidate whose first fold cannot start in time
is left out (they are ordered cheapest first). 0 minutes: no comparison, the static default
(``core.models.auto_model_type``). Fewer than :data:`MIN_CHOICE_POLYGONS` training polygons: no
comparison either (folds of a handful of polygons cannot rank models), the random forest
(``core.models.SMALL_DATA_MODEL``), which does not over-fit few polygons.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .cross_validation import CrossValidation, make_folds
from .legend import ClassLegend
from .metrics import FIGURES, compute_metrics
from .models import FAMILIES, SMALL_DATA_MODEL
from .models.base import FitProgress
from .polygon_support import class_label
from .progress import Reporter

#: Folds of the comparison when the user asked for no cross-validation (CV_FOLDS 0): folds of the
#: training part, the test part staying untouched for the figures of the chosen model.
CHOICE_FOLDS = 3
#: Scores equal to this many decimals are ties (the cheaper candidate wins).
SCORE_DECIMALS = 4
#: Fewer training polygons (samples, without groups) than this: no comparison.
MIN_CHOICE_POLYGONS = 30
#: A class with fewer polygons than this in a fold's test part makes that fold's ranking shaky.
MIN_FOLD_POLYGONS = 2


@dataclass
class ModelChoice:
    """What the comparison found.

    Attributes
    ----------
    chosen : str
        The winning model type.
    rows : list of dict
        Per candidate: ``model_type``, ``description``, ``status`` ("chosen", "compared", or why
        not compared), ``folds`` compared, ``overall_accuracy``, ``kappa``, ``macro_f1`` and
        ``score`` of its pooled out-of-fold predictions, ``seconds_per_fold``.
    validations : dict[str, CrossValidation]
        The candidates' folds (the chosen one's serve the cross-validation report when the
        comparison ran on the user's CV_FOLDS).
    rounds : int
        Folds every compared candidate finished.
    seconds : float
    notes : list of str
        What limits the comparison (few polygons of a class in a fold, no comparison at all).
    """

    chosen: str
    rows: list[dict[str, Any]]
    validations: dict[str, CrossValidation] = field(default_factory=dict)
    rounds: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (model file ``model_choice``, report)."""
        return {"chosen": self.chosen, "rounds": self.rounds, "seconds": round(self.seconds, 1),
                "candidates": self.rows, "notes": self.notes}


def _candidate_row(name: str, status: str, validation: CrossValidation | None = None,
                   seconds: list[float] | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"model_type": name, "description": FAMILIES[name].description, "status": status,
                           "folds": 0, "score": None, "seconds_per_fold": None,
                           **{key: None for key in FIGURES}}
    if validation is not None and validation.runs:
        metrics = compute_metrics(*_pooled_codes(validation), validation.legend)
        row.update(folds=len(validation.runs), score=round(validation.score(), 6),
                   seconds_per_fold=round(float(np.mean(seconds)), 1),
                   **{key: metrics[key] for key in FIGURES})
    return row


def _pooled_codes(validation: CrossValidation) -> tuple[np.ndarray, np.ndarray]:
    rows, predicted = validation.pooled()
    return validation.table.codes[rows], validation.legend.codes_from_ids(predicted)


def choose_model(settings: Any, table: Any, class_ids: np.ndarray, legend: ClassLegend, rows: np.ndarray,
                 folds: list[tuple[np.ndarray, np.ndarray]] | None, progress: FitProgress,
                 clock: Callable[[], float] = time.monotonic) -> ModelChoice:
    """Compare ``settings.candidates()`` on folds of ``rows`` within ``settings.choice_minutes``.

    Parameters
    ----------
    settings : core.settings.TrainingSettings
        Model type "auto" (checked, not resolved); each candidate trains with
        ``settings.resolved(candidate)``.
    table : core.samples.SampleTable
    class_ids : ndarray, shape (n_rows,)
    legend : ClassLegend
    rows : ndarray
        The rows to compare on (the training part, or every row under cross-validation).
    folds : list of (train_rows, test_rows), optional
        Folds of ``rows`` (the user's cross-validation); None: :data:`CHOICE_FOLDS` grouped folds
        (seed ``settings.seed + 2``).
    progress : FitProgress
        Range and reporter of the whole comparison.
    clock : callable
        Seconds (monotonic); tests pass a fake one.
    """
    groups = table.groups if settings.split == "group" else None
    n_polygons = len(np.unique(groups[rows])) if groups is not None else len(rows)
    if n_polygons < MIN_CHOICE_POLYGONS:
        note = (f"only {n_polygons} {'polygons' if groups is not None else 'samples'} to compare on (fewer "
                f"than {MIN_CHOICE_POLYGONS}): no comparison; {SMALL_DATA_MODEL}, which does not over-fit "
                "few polygons, is trained")
        progress.reporter.log(f"{progress.label}{note}.")
        return ModelChoice(SMALL_DATA_MODEL, [_candidate_row(name, "chosen" if name == SMALL_DATA_MODEL
                                                             else "not compared: too few polygons")
                                              for name in settings.candidates()], notes=[note])
    if folds is None:
        folds = make_folds(class_ids, groups, settings.split, CHOICE_FOLDS, settings.seed + 2, rows)
    reporter: Reporter = progress.reporter
    started, budget = clock(), 60.0 * settings.choice_minutes
    setups: dict[str, CrossValidation] = {}
    rows: dict[str, dict[str, Any]] = {}
    for name in settings.candidates():
        resolved = settings.resolved(name)
        problem = resolved.family.settings_problem(resolved)
        if problem:
            rows[name] = _candidate_row(name, f"not compared: {problem.message}")
            continue
        provider = resolved.family.input_provider(table, resolved)
        setups[name] = CrossValidation(resolved.family, provider, table, class_ids, legend, resolved, folds)
    planned = max(1, len(setups) * len(folds))
    span = (progress.stop - progress.start) / planned
    seconds: dict[str, list[float]] = {name: [] for name in setups}
    rounds = 0
    for fold in range(len(folds)):
        active = list(setups)
        if fold and (len(active) < 2 or clock() - started + sum(float(np.mean(seconds[n])) for n in active)
                     > budget):
            break
        for name in active:
            if fold == 0 and name != active[0] and clock() - started > budget:  # the first always runs
                rows[name] = _candidate_row(name, "not compared: no time left in the budget")
                del setups[name]
                continue
            done = fold * len(active) + active.index(name)
            begun = clock()
            setups[name].run_fold(FitProgress(reporter, progress.start + done * span,
                                              progress.start + (done + 1) * span,
                                              f"{progress.label}{name}, fold {fold + 1}/{len(folds)}: "))
            seconds[name].append(clock() - begun)
        rounds = fold + 1
    for name, validation in setups.items():
        rows[name] = _candidate_row(name, "compared", validation, seconds[name])
    ranked = sorted(setups, key=lambda n: (-round(rows[n]["score"], SCORE_DECIMALS), list(setups).index(n)))
    chosen = ranked[0]
    rows[chosen]["status"] = "chosen"
    ordered = [rows[name] for name in settings.candidates()]
    reporter.log(f"{progress.label}automatic model choice on {rounds} fold(s): "
                 + ", ".join(f"{r['model_type']} {r['score']:.3f}" for r in ordered if r["score"] is not None)
                 + f" (mean of OA, kappa, macro F1) -> {chosen}")
    return ModelChoice(chosen, ordered, setups, rounds, clock() - started,
                       _thin_fold_notes(folds[:rounds], table, groups, legend))


def _thin_fold_notes(folds: list[tuple[np.ndarray, np.ndarray]], table: Any, groups: np.ndarray | None,
                     legend: ClassLegend) -> list[str]:
    """A note naming the classes with fewer than :data:`MIN_FOLD_POLYGONS` polygons in a fold's test part."""
    thin: dict[int, int] = {}
    for _, test in folds:
        units = groups[test] if groups is not None else test
        for code in legend.codes:
            found = len(np.unique(units[table.codes[test] == code]))
            if found < MIN_FOLD_POLYGONS:
                thin[code] = min(found, thin.get(code, found))
    if not thin:
        return []
    listed = ", ".join(f"{class_label(legend, code)}: {n}" for code, n in thin.items())
    return [f"some folds of the comparison test fewer than {MIN_FOLD_POLYGONS} polygons of a class (fewest: "
            f"{listed}); the ranking rests on the other classes there"]
