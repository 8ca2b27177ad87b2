"""Benchmark: patch_cnn (each k) against the per-pixel models on one polygon-grouped fold.

The sample scene (study's nine bands at 20 m, OSM ``code``, 8 classes, every labelled pixel);
one split made by ``core.training.split_for`` (polygon-grouped, stratified, seed 42), the same
for every model. Columns: overall accuracy, kappa, macro F1 on the test part, training seconds
(fit, early stopping included), and classification pixels/s of the whole stack through
``core.classify.classify_raster`` (GDAL read, block-wise prediction, GeoTIFF write).

Run: ``make bench`` or ``.venv/bin/python -m benchmarks.bench_patch_cnn [--k 5 7 9] [--quick]``.
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

#: Training settings of every Keras model in this benchmark (the patch model's architecture is
#: the builder's default). Per-pixel Keras models run with both balancings below.
KERAS_SETTINGS = {"epochs": 60, "batch_size": 256, "patience": 8, "learning_rate": 0.001}
PATCH_BALANCE = "none"  # on this fold: higher OA and kappa than class weights (F1 about equal)
PIXEL_BALANCES = ("class_weights", "none")


class _SklearnBlockModel:
    """A ``core.classify.BlockModel`` (feature_names, halo, legend, predict_block) for sklearn."""

    halo = 0
    prediction_threads = 1  # scikit-learn's forest spreads one call over the cores itself

    def __init__(self, estimator: Any, scaler: Any, legend: Any, feature_names: list[str]) -> None:
        self.estimator, self.scaler, self.legend = estimator, scaler, legend
        self.feature_names = feature_names
        self.n_inputs = len(feature_names)

    def predict_block(self, values: np.ndarray, valid: np.ndarray) -> np.ndarray:
        bands, rows, cols = values.shape
        flat = valid.reshape(-1)
        out = np.zeros((rows * cols, self.legend.n_classes), dtype=np.float32)
        pixels = values.reshape(bands, -1)[:, flat].T
        if len(pixels):
            x = self.scaler.transform(pixels) if self.scaler is not None else pixels
            out[flat] = self.estimator.predict_proba(x)
        return np.ascontiguousarray(out.T.reshape(self.legend.n_classes, rows, cols))


def _classify_speed(model: Any, stack: str, folder: str) -> float:
    from landcover_cnn_plugin.core.classify import classify_raster

    out = os.path.join(folder, f"map_{time.monotonic_ns()}.tif")
    result = classify_raster(stack, model, out)
    return float(result["pixels_per_second"])


def _keras_row(name: str, frame: Any, stack: str, folder: str, model_type: str, settings: dict,
               patch_size: int = 1) -> dict[str, Any]:
    from landcover_cnn_plugin.core.model_file import load_model_file
    from landcover_cnn_plugin.core.settings import TrainingSettings
    from landcover_cnn_plugin.core.training import LandcoverTrainer

    trainer = LandcoverTrainer(TrainingSettings(
        label="code", names_field="fclass", model_type=model_type, raster=stack if patch_size > 1 else None,
        patch_size=patch_size if patch_size > 1 else 7, seed=42, **settings))
    trainer.fit(frame)
    path = os.path.join(folder, f"{name}.lcnn")
    trainer.save(path)
    loaded = load_model_file(path)
    metrics = trainer.metrics_
    return {"model": name, "overall_accuracy": metrics["overall_accuracy"], "kappa": metrics["kappa"],
            "macro_f1": metrics["macro_f1"], "train_s": trainer.fit_seconds_,
            "epochs": trainer.epochs_run_, "classify_px_s": _classify_speed(loaded, stack, folder)}


def _sklearn_row(name: str, frame: Any, stack: str, folder: str, estimator: Any,
                 scale: bool) -> dict[str, Any]:
    from landcover_cnn_plugin.core.metrics import compute_metrics
    from landcover_cnn_plugin.core.samples import read_samples
    from landcover_cnn_plugin.core.scaling import ZScoreScaler
    from landcover_cnn_plugin.core.training import build_legend, split_for

    table = read_samples(frame, "code", names_field="fclass")
    legend = build_legend(table)
    split = split_for(table, legend, seed=42)
    train = np.concatenate([split.train, split.validation])  # no early stopping: use both
    scaler = ZScoreScaler().fit(table.features[train]) if scale else None
    x = scaler.transform(table.features) if scaler is not None else table.features
    started = time.monotonic()
    estimator.fit(x[train], legend.ids_from_codes(table.codes[train]))
    train_s = time.monotonic() - started
    predicted = legend.codes_from_ids(estimator.predict(x[split.test]))
    metrics = compute_metrics(table.codes[split.test], predicted, legend)
    model = _SklearnBlockModel(estimator, scaler, legend, table.feature_names)
    return {"model": name, "overall_accuracy": metrics["overall_accuracy"], "kappa": metrics["kappa"],
            "macro_f1": metrics["macro_f1"], "train_s": train_s, "epochs": None,
            "classify_px_s": _classify_speed(model, stack, folder)}


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a fixed-width text table."""
    lines = [f"{'model':<26} {'OA':>6} {'kappa':>6} {'macroF1':>7} {'train s':>8} {'epochs':>6} "
             f"{'classify px/s':>13}"]
    for r in rows:
        epochs = "" if r["epochs"] is None else str(r["epochs"])
        lines.append(f"{r['model']:<26} {r['overall_accuracy']:6.3f} {r['kappa']:6.3f} "
                     f"{r['macro_f1']:7.3f} {r['train_s']:8.0f} {epochs:>6} {r['classify_px_s']:13,.0f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_patch_cnn", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, nargs="+", default=[5, 7, 9], help="patch sizes to try")
    parser.add_argument("--models", nargs="+",
                        default=["patch_cnn", "spectral_cnn", "study_mlp", "rf200", "sklearn_mlp"])
    parser.add_argument("--patch-balance", default=PATCH_BALANCE,
                        help=f"balancing of the patch model (default {PATCH_BALANCE})")
    parser.add_argument("--derived", default="auto",
                        help="derived inputs of the patch model: auto (the model type's default, none), none "
                             "or normalized_differences")
    parser.add_argument("--quick", action="store_true", help="every 4th sample, 3 epochs: a smoke run")
    parser.add_argument("--json", help="also write the rows as JSON to this file")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.neural_network import MLPClassifier

    from lcnn_testing import reference_samples_frame, reference_stack

    frame = reference_samples_frame()
    settings = dict(KERAS_SETTINGS)
    if args.quick:
        frame = frame.iloc[::4].reset_index(drop=True)
        settings.update(epochs=3, patience=1)
    stack = str(reference_stack())
    print(f"Sample scene: {len(frame)} labelled pixels, 9 bands, one polygon-grouped fold (seed 42); "
          f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}.", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-patch-") as folder:
        for model in args.models:
            if model == "patch_cnn":
                for k in args.k:
                    name = f"patch_cnn k={k}" + ("" if args.patch_balance == PATCH_BALANCE
                                                 else f" ({args.patch_balance})") \
                        + ("" if args.derived == "auto" else f" ({args.derived})")
                    rows.append(_keras_row(name, frame, stack, folder, "patch_cnn",
                                           {**settings, "balance": args.patch_balance,
                                            "derived_features": args.derived}, patch_size=k))
                    print(format_table(rows[-1:]), flush=True)
            elif model in ("spectral_cnn", "study_mlp"):
                for balance in PIXEL_BALANCES:
                    short = {"class_weights": "cw", "none": "none"}[balance]
                    rows.append(_keras_row(f"{model} ({short})", frame, stack, folder, model,
                                           {**settings, "balance": balance}))
                    print(format_table(rows[-1:]), flush=True)
                continue
            elif model == "rf200":
                rows.append(_sklearn_row("RF-200", frame, stack, folder,
                                         RandomForestClassifier(200, n_jobs=-1, random_state=42), False))
            elif model == "sklearn_mlp":
                rows.append(_sklearn_row("sklearn MLP", frame, stack, folder,
                                         MLPClassifier((256, 128), early_stopping=True, random_state=42,
                                                       max_iter=200), True))
            else:
                parser.error(f"unknown model {model}")
            if model != "patch_cnn":
                print(format_table(rows[-1:]), flush=True)
    print()
    print(format_table(rows))
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
