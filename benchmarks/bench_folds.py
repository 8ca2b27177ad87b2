"""Benchmark: every model and peer on five polygon-grouped folds of two real scenes, three training sizes.

Data
----
* ``s2``: the Sentinel-2 sample scene (nine bands at 20 m, OSM ``code``, 8 classes, 544 polygons,
  ~91,000 pixels; ``tests/lcnn_testing.reference_samples_csv``) and its stack.
* ``berlin``: the Berlin HyMap scene (4 bands at 3.6 m, ``class_id``, 6 urban classes, 1,920 polygons
  holding a pixel centre, 57,064 pixels; ``tests/lcnn_testing.berlin_samples_csv``) and its image.

Protocol
--------
* Folds: ``StratifiedGroupKFold(5, shuffle=True, random_state=0)`` on the class ids with the polygons
  as groups, the same for every model: every polygon is tested once.
* Training-set size (the small-data user): a fold's training polygons cut per class to
  ``max(1, round(f * n_c))`` polygons, f = 25 % or 10 % (drawn with a generator seeded by fold and
  size); the test part is always the whole held-out fold.
* The plugin's models train through ``LandcoverTrainer.fit_rows`` on the (cut) training rows exactly
  as ``trainmodel`` trains on its training part: "auto" runs the automatic choice on folds of those
  rows (``auto+stack`` with the stack raster, so that patch_cnn is a candidate), a family that
  stops early carves its validation polygons out of them, defaults everywhere else.
* Peers: RandomForest-200 (scikit-learn defaults, raw bands) and scikit-learn's MLP ((256, 128),
  standard scaling, early stopping), on the same rows.
* Figures on the test fold: overall accuracy, kappa, macro F1 over the classes present
  (``core.metrics``). Fit seconds: wall clock and CPU of this process (threads included).
* Interval check: each fold's test part taken as "the single split" of the product: does the
  report's 95 % interval (``core.metrics.polygon_bootstrap_intervals``) contain the model's
  five-fold mean? (counted per figure over the five folds).

Output: one CSV row per (data set, size, fold, model) in ``--out`` (appended; rows already there are
skipped, so a run resumes) and the test predictions beside it (npz), then the table of means and
standard deviations over the folds, the interval check and the issue-17 targets.

Run: ``make bench`` or, after ``make package``,
``PYTHONPATH=build/plugins:tests .venv/bin/python -m benchmarks.bench_folds [--datasets ...] [--sizes ...]
[--models ...] [--folds ...] [--out CSV]``. Not a test: nothing is asserted. On a shared machine only the
accuracy figures are final.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "bench_output" / "folds"
SIZES = {"full": 1.0, "25": 0.25, "10": 0.10}
N_FOLDS = 5
FOLD_SEED = 0
FIGURES = ("overall_accuracy", "kappa", "macro_f1")
FIELDS = ["dataset", "size", "fold", "model", *FIGURES, "n_train", "n_train_polygons", "n_test",
          "n_test_polygons", "fit_s", "fit_cpu_s", "trained", "epochs", "oa_low", "oa_high", "kappa_low",
          "kappa_high", "f1_low", "f1_high"]
#: The plugin's models: name -> training settings (besides label, names, seed).
PRODUCT = {"auto": {}, "auto+stack": {"raster": True}, "pixel_mlp": {"model_type": "pixel_mlp"},
           "random_forest": {"model_type": "random_forest"}, "spectral_cnn": {"model_type": "spectral_cnn"},
           "study_mlp": {"model_type": "study_mlp"}, "patch_cnn": {"model_type": "patch_cnn", "raster": True}}
PEERS = ("RandomForest-200", "sklearn MLP")


@dataclass
class Data:
    """One data set: the samples table, its legend and class ids, the raster the samples come from."""

    name: str
    table: Any
    legend: Any
    class_ids: np.ndarray
    raster: str
    label: str
    names_field: str

    @property
    def groups(self) -> np.ndarray:
        return np.asarray(self.table.groups)


def load(name: str) -> Data:
    """The data set ``name`` read with the plugin's samples reader."""
    import lcnn_testing as testing
    from landcover_cnn_plugin.core.samples import read_samples
    from landcover_cnn_plugin.core.training import build_legend

    csv_path, raster, label, names = {
        "s2": (testing.reference_samples_csv(), testing.reference_stack(), "code", "fclass"),
        "berlin": (testing.berlin_samples_csv(), testing.berlin_dir() / testing.BERLIN_IMAGE_NAME,
                   "class_id", "class_name")}[name]
    table = read_samples(str(csv_path), label, group="polygon_id", names_field=names)
    legend = build_legend(table)
    return Data(name, table, legend, legend.ids_from_codes(table.codes), str(raster), label, names)


def folds(data: Data) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train_rows, test_rows) of the five polygon-grouped, class-stratified folds."""
    from sklearn.model_selection import StratifiedGroupKFold

    splitter = StratifiedGroupKFold(n_splits=N_FOLDS, shuffle=True, random_state=FOLD_SEED)
    return [(np.sort(a), np.sort(b)) for a, b in
            splitter.split(np.zeros((len(data.class_ids), 1)), data.class_ids, data.groups)]


def cut_training(data: Data, rows: np.ndarray, fraction: float, fold: int) -> np.ndarray:
    """Rows of ``max(1, round(fraction * n_c))`` of the training polygons of each class (seeded)."""
    if fraction >= 1.0:
        return rows
    polygons, first = np.unique(data.groups[rows], return_index=True)
    classes = data.class_ids[rows][first]
    rng = np.random.default_rng([FOLD_SEED, fold, int(round(100 * fraction))])
    keep = [rng.choice(polygons[classes == c], size=max(1, int(round(fraction * np.sum(classes == c)))),
                       replace=False) for c in np.unique(classes)]
    return np.sort(rows[np.isin(data.groups[rows], np.concatenate(keep))])


class _Quiet:
    def progress(self, percent: float) -> None:
        pass

    def log(self, message: str) -> None:
        if "automatic model choice" in message or "too few polygons" in message:
            print(f"      {message}", flush=True)


def fit_product(data: Data, name: str, train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, dict]:
    """A plugin model trained like ``trainmodel`` on ``train``; its predicted class ids of ``test``."""
    from landcover_cnn_plugin.core.settings import TrainingSettings
    from landcover_cnn_plugin.core.training import LandcoverTrainer

    options = dict(PRODUCT[name])
    options["raster"] = data.raster if options.get("raster") else None
    settings = TrainingSettings(label=data.label, names_field=data.names_field, **options)
    trainer = LandcoverTrainer(settings, reporter=_Quiet()).fit_rows(data.table, train)
    info = {"trained": trainer.family_.name, "epochs": trainer.run_.fitted.epochs_run}
    return trainer.predict_rows(test), info


def fit_peer(data: Data, name: str, train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, dict]:
    """RandomForest-200 or scikit-learn's MLP on ``train``; predicted class ids of ``test``."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if name == "RandomForest-200":
        model = RandomForestClassifier(n_estimators=200, n_jobs=-1, random_state=FOLD_SEED)
    else:
        mlp = MLPClassifier(hidden_layer_sizes=(256, 128), early_stopping=True, max_iter=200,
                            random_state=FOLD_SEED)
        model = make_pipeline(StandardScaler(), mlp)
    features = data.table.features
    model.fit(features[train], data.class_ids[train])
    return model.predict(features[test]).astype(np.int64), {"trained": name, "epochs": ""}


def run_one(data: Data, size: str, fold: int, name: str, parts: tuple[np.ndarray, np.ndarray],
            out: Path) -> dict[str, Any]:
    from landcover_cnn_plugin.core.metrics import compute_metrics, polygon_bootstrap_intervals

    train, test = parts
    train = cut_training(data, train, SIZES[size], fold)
    fit: Callable = fit_peer if name in PEERS else fit_product
    started, cpu = time.perf_counter(), time.process_time()
    predicted, info = fit(data, name, train, test)
    fit_s, fit_cpu = time.perf_counter() - started, time.process_time() - cpu
    np.savez_compressed(out.parent / f"{data.name}_{size}_{fold}_{name.replace(' ', '_')}.npz",
                        test=test, predicted=predicted)
    metrics = compute_metrics(data.table.codes[test], data.legend.codes_from_ids(predicted), data.legend)
    intervals = polygon_bootstrap_intervals(data.class_ids[test], predicted, data.groups[test],
                                            data.legend.n_classes, seed=fold)
    bounds = {f"{short}_{end}": round(intervals[key][i], 4) for key, short in zip(
        FIGURES, ("oa", "kappa", "f1"), strict=True) for i, end in enumerate(("low", "high"))}
    return {"dataset": data.name, "size": size, "fold": fold, "model": name,
            **{key: round(metrics[key], 4) for key in FIGURES}, "n_train": len(train),
            "n_train_polygons": len(np.unique(data.groups[train])), "n_test": len(test),
            "n_test_polygons": intervals["n_groups"], "fit_s": round(fit_s, 1),
            "fit_cpu_s": round(fit_cpu, 1),
            **info, **bounds}


def run(datasets: list[str], sizes: list[str], fold_list: list[int], models: list[str], out: Path) -> None:
    """Every model on every (data set, size, fold) not yet in ``out``; rows appended as they finish."""
    out.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if out.exists():
        with open(out, newline="") as handle:
            done = {(r["dataset"], r["size"], int(r["fold"]), r["model"]) for r in csv.DictReader(handle)}
    new = not out.exists()
    with open(out, "a", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        if new:
            writer.writeheader()
        for dataset in datasets:
            data = load(dataset)
            data_folds = folds(data)
            for size in sizes:
                for fold in fold_list:
                    for name in models:
                        if (dataset, size, fold, name) in done:
                            continue
                        print(f"  {dataset} {size} fold {fold}: {name} ...", flush=True)
                        row = run_one(data, size, fold, name, data_folds[fold], out)
                        writer.writerow(row)
                        handle.flush()
                        print("    " + ", ".join(f"{k} {row[k]}" for k in (*FIGURES, "trained", "fit_s",
                                                                              "fit_cpu_s")), flush=True)


def summary(out: Path) -> str:
    """Markdown tables: means and spreads over the folds, the interval check, the issue-17 targets."""
    import pandas as pd

    frame = pd.read_csv(out)
    lines = ["| data | size | model | folds | OA | kappa | macro F1 | fit s | fit CPU s | trained | "
             "interval covers the mean (OA/kappa/F1) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    means = {}
    for (dataset, size, model), part in frame.groupby(["dataset", "size", "model"], sort=False):
        mean = part[list(FIGURES)].mean()
        means[(dataset, size, model)] = mean
        cells = [f"{mean[key]:.3f} ± {part[key].std(ddof=0):.3f}" for key in FIGURES]
        covered = [int(((part[f"{s}_low"] <= mean[k]) & (mean[k] <= part[f"{s}_high"])).sum())
                   for k, s in zip(FIGURES, ("oa", "kappa", "f1"), strict=True)]
        trained = ", ".join(f"{k} {v}" for k, v in part["trained"].value_counts().items()) \
            if model.startswith("auto") else ""
        lines.append(f"| {dataset} | {size} | {model} | {len(part)} | {' | '.join(cells)} | "
                     f"{part['fit_s'].mean():.0f} | {part['fit_cpu_s'].mean():.0f} | {trained} | "
                     f"{', '.join(f'{c}/{len(part)}' for c in covered)} |")
    lines += ["", "Targets (five-fold means): " + "; ".join(_targets(means)) or "no complete rows"]
    return "\n".join(lines)


def _targets(means: dict[tuple[str, str, str], Any]) -> list[str]:
    """The issue-17 targets that the rows allow checking: 'met' or where they are missed."""
    checks = []
    for (dataset, size, model), mean in means.items():
        peers = {p: means.get((dataset, size, p)) for p in PEERS}
        if model in ("auto", "pixel_mlp", "auto+stack"):
            needed = ("RandomForest-200",) if model.startswith("auto") else PEERS
            for peer in needed:
                if peers[peer] is not None:
                    missed = [k for k in FIGURES if mean[k] < peers[peer][k]]
                    checks.append(f"{dataset} {size} {model} >= {peer}: " + (
                        "met" if not missed else "missed on " + ", ".join(missed)))
        if model == "auto+stack" and size == "full":
            pixel = [means[(dataset, size, p)] for p in (*PEERS, "pixel_mlp") if (dataset, size, p) in means]
            if pixel:
                margin = {"overall_accuracy": 0.05, "kappa": 0.05, "macro_f1": 0.04}
                missed = [k for k in FIGURES if mean[k] < max(m[k] for m in pixel) + margin[k]]
                checks.append(f"{dataset} full auto+stack >= best per-pixel +0.05/0.05/0.04: " + (
                    "met" if not missed else "missed on " + ", ".join(missed)))
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_folds",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="*", default=["s2", "berlin"], choices=["s2", "berlin"])
    parser.add_argument("--sizes", nargs="*", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--folds", nargs="*", type=int, default=list(range(N_FOLDS)))
    parser.add_argument("--models", nargs="*", default=["auto", "auto+stack", "pixel_mlp", "random_forest",
                                                        "patch_cnn", "spectral_cnn", "study_mlp", *PEERS],
                        choices=[*PRODUCT, *PEERS])
    parser.add_argument("--out", type=Path, default=OUT / "folds.csv", help="CSV of the rows (resumed)")
    parser.add_argument("--summary", action="store_true", help="print the tables of --out and stop")
    args = parser.parse_args([] if argv is None else argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not args.summary:
        print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}", flush=True)
        run(args.datasets, args.sizes, args.folds, args.models, args.out)
        print(f"load average at the end: {os.getloadavg()[0]:.1f} (shared machine: timings are indicative)")
    print(summary(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
