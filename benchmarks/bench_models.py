"""Benchmark: per-pixel models on one polygon-grouped split, and the study's leaky protocol.

Data: the sample scene (the study's nine bands at 20 m, OSM ``code`` labels, 8 classes, every
labelled pixel, ~91,000 rows; ``tests/lcnn_testing.reference_samples_csv``).

Grouped protocol (honest): one polygon-grouped split (``core.training.split_for``, seed 42,
test 20 % of the polygons, validation 20 % of the remaining ones), the same for every model.
Keras models train on the training part with early stopping on the validation part; the
scikit-learn models need no early stopping and train on training + validation. Figures on the
test part.

Study protocol (leaky): every class resampled to 500 rows (up with replacement, down without)
on the whole table, then a stratified random 80:20 split: copies of one pixel and neighbours
of one polygon sit in train and test.

Columns: overall accuracy, kappa, macro F1, fit seconds (wall clock, early stopping included)
and fit CPU seconds of this process, predict pixels/s in memory on all ~91,000 rows (Keras:
``LoadedModel.predict_proba`` after a save and load of the model file, i.e. the product's
path) and pixels per CPU second. On a shared machine the wall-clock figures depend on the
other load; CPU seconds / 2 estimate the time on 2 otherwise idle cores.

Run: ``make bench`` or ``.venv/bin/python -m benchmarks.bench_models [--models ...] [--quick]``.
Prints a table; ``--json PATH`` also writes the rows. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT / "build" / "plugins", ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

#: name -> (kind, settings). Keras entries use the trainer; the rest scikit-learn.
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "study_mlp": ("keras", {"model_type": "study_mlp", "balance": "none"}),
    "spectral_cnn": ("keras", {"model_type": "spectral_cnn", "balance": "none"}),
    "spectral_cnn+cw": ("keras", {"model_type": "spectral_cnn", "balance": "class_weights"}),
    "RandomForest-200": ("sklearn", {}),
    "sklearn MLP": ("sklearn", {}),
}
KERAS_DEFAULTS = {"epochs": 200, "batch_size": 60, "patience": 20, "seed": 42, "learning_rate": 0.001}


class _Quiet:
    def progress(self, percent: float) -> None:
        pass

    def log(self, message: str) -> None:
        if message.startswith("stopped after"):
            print(f"    {message}", flush=True)


def _sklearn_estimator(name: str, seed: int) -> Any:
    if name.startswith("RandomForest"):
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=200, n_jobs=-1, random_state=seed)
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=(256, 128), early_stopping=True, max_iter=200,
                         random_state=seed)


def _pixels_per_second(predict, features: np.ndarray, min_seconds: float = 1.0) -> tuple[float, float]:
    """(pixels per wall-clock second, pixels per CPU second of this process)."""
    predict(features[:1000])  # warm up (graph tracing)
    done, started, cpu_started = 0, time.perf_counter(), time.process_time()
    while True:
        predict(features)
        done += len(features)
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return done / elapsed, done / max(1e-9, time.process_time() - cpu_started)


def _run_keras(name: str, settings: dict[str, Any], table: Any, protocol: str, all_features: np.ndarray,
               folder: str) -> dict[str, Any]:
    from landcover_cnn_plugin.core.model_file import load_model_file
    from landcover_cnn_plugin.core.settings import TrainingSettings
    from landcover_cnn_plugin.core.training import LandcoverTrainer

    options = dict(KERAS_DEFAULTS, **settings)
    cpu_started = time.process_time()
    group = "polygon_id" if protocol == "group" else None
    settings = TrainingSettings(split=protocol, group=group, **options)
    trainer = LandcoverTrainer(settings, reporter=_Quiet()).fit(table)
    fit_cpu = time.process_time() - cpu_started
    path = os.path.join(folder, f"{name}-{protocol}.lcnn".replace("+", "_"))
    trainer.save(path)
    loaded = load_model_file(path)
    metrics = trainer.metrics_
    return {"overall_accuracy": metrics["overall_accuracy"], "kappa": metrics["kappa"],
            "macro_f1": metrics["macro_f1"], "fit_seconds": trainer.fit_seconds_,
            "epochs_run": trainer.epochs_run_, "n_train": len(trainer.split_.train),
            "n_test": len(trainer.split_.test), "fit_cpu_seconds": fit_cpu,
            **_speeds(_pixels_per_second(loaded.predict_proba, all_features))}


def _speeds(speeds: tuple[float, float]) -> dict[str, float]:
    return {"predict_pixels_per_s": speeds[0], "predict_pixels_per_cpu_s": speeds[1]}


def _run_sklearn(name: str, table: Any, split: Any, legend: Any, all_features: np.ndarray,
                 seed: int) -> dict[str, Any]:
    from landcover_cnn_plugin.core.metrics import compute_metrics
    from landcover_cnn_plugin.core.scaling import ZScoreScaler

    train = np.concatenate([split.train, split.validation])
    scaler = ZScoreScaler().fit(table.features[train])
    estimator = _sklearn_estimator(name, seed)
    started, cpu_started = time.perf_counter(), time.process_time()
    estimator.fit(scaler.transform(table.features[train]), legend.ids_from_codes(table.codes[train]))
    fit_seconds, fit_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    predicted = legend.codes_from_ids(estimator.predict(scaler.transform(table.features[split.test])))
    metrics = compute_metrics(table.codes[split.test], predicted, legend)
    return {"overall_accuracy": metrics["overall_accuracy"], "kappa": metrics["kappa"],
            "macro_f1": metrics["macro_f1"], "fit_seconds": fit_seconds, "epochs_run": None,
            "n_train": len(train), "n_test": len(split.test), "fit_cpu_seconds": fit_cpu,
            **_speeds(_pixels_per_second(lambda x: estimator.predict_proba(scaler.transform(x)),
                                         all_features))}


def _study_table(table: Any, seed: int) -> Any:
    """The study's data: every class resampled to 500 rows on the whole table (before splitting)."""
    from landcover_cnn_plugin.core.balancing import balance_training_rows
    from landcover_cnn_plugin.core.samples import SampleTable

    balanced = balance_training_rows(table.codes, "to_n", 500, seed)
    rows = balanced.rows
    return SampleTable(table.features[rows], list(table.feature_names), table.codes[rows], None,
                       table.class_names, None, 0, table.label_column, None)


def format_rows(rows: list[dict[str, Any]]) -> str:
    header = (f"{'protocol':<22} {'model':<17} {'OA':>6} {'kappa':>6} {'macroF1':>7} {'fit s':>7} "
              f"{'fit CPU s':>9} {'epochs':>6} {'predict px/s':>13} {'px/CPU-s':>10}")
    lines = [header, "-" * len(header)]
    for row in rows:
        epochs = "" if row["epochs_run"] is None else str(row["epochs_run"])
        lines.append(f"{row['protocol']:<22} {row['model']:<17} {row['overall_accuracy']:>6.3f} "
                     f"{row['kappa']:>6.3f} {row['macro_f1']:>7.3f} {row['fit_seconds']:>7.1f} "
                     f"{row['fit_cpu_seconds']:>9.1f} {epochs:>6} {row['predict_pixels_per_s']:>13,.0f} "
                     f"{row['predict_pixels_per_cpu_s']:>10,.0f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_models", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--protocols", nargs="*", default=["group", "study"], choices=["group", "study"])
    parser.add_argument("--quick", action="store_true", help="5 epochs, patience 2 (a smoke run)")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args([] if argv is None else argv)
    if args.quick:
        KERAS_DEFAULTS.update(epochs=5, patience=2)

    from landcover_cnn_plugin.core.samples import read_samples
    from landcover_cnn_plugin.core.training import build_legend, split_for
    from lcnn_testing import reference_samples_csv

    seed = KERAS_DEFAULTS["seed"]
    table = read_samples(str(reference_samples_csv()), "code", group="polygon_id", names_field="fclass")
    legend = build_legend(table)
    print(f"{len(table)} labelled pixels, {len(table.feature_names)} bands, {legend.n_classes} classes; "
          f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-models-") as folder:
        for protocol in args.protocols:
            data = table if protocol == "group" else _study_table(table, seed)
            split_protocol = "group" if protocol == "group" else "random"
            split = split_for(data, legend, split_protocol, seed=seed)
            label = ("grouped by polygon" if protocol == "group" else "study: 500/class, random")
            for name in args.models:
                kind, settings = MODELS[name]
                print(f"  {label}: {name} ...", flush=True)
                if kind == "keras":
                    row = _run_keras(name, settings, data, split_protocol, table.features, folder)
                else:
                    row = _run_sklearn(name, data, split, legend, table.features, seed)
                row.update(protocol=label, model=name)
                rows.append(row)
                print(format_rows([row]).splitlines()[-1], flush=True)
    print()
    print(format_rows(rows))
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (shared machine: timings are indicative)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
