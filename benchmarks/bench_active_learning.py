"""Benchmark: active learning on the sample scene, uncertainty versus random suggestions at equal budget.

The OSM polygons of the sample scene (the study's nine bands at 20 m, 8 classes) are the
labeller: a suggested pixel gets the code of the polygon it falls in (smallest polygon wins, as
everywhere); a pixel outside every polygon stays unlabelled, and its label is spent anyway.
A polygon-grouped 30 % of the polygons (``core.splits.holdout_split``, stratified by class) is the
test set: its pixels are never suggested nor trained on, and every round is measured on all of
them (overall accuracy, kappa, macro F1, ``core.metrics``).

Start: 10 pixels per class drawn at random from the other polygons. Then three rounds; each
suggests ``--per-round`` pixels (default 250) with one strategy among the pixels not yet asked and
outside the test polygons, labels them, and retrains from scratch:

* ``margin``, ``entropy``, ``random``: ``core.suggestions.SuggestionPool`` exactly as
  ``suggestpoints`` uses it (balanced over the predicted classes, at least 100 m apart), scored
  by the margin of the two most probable classes, the entropy, or a seeded random number;
* ``uniform``: pixels drawn uniformly at random (no balancing, no distance): the naive baseline.

Model: the per-pixel ``study_mlp`` trained by ``LandcoverTrainer`` with its defaults (each labelled
pixel its own group; 10 % of the labels held out by the trainer for its own test part, 20 % of the
rest for early stopping), predicting the scene through ``LoadedModel.predict_proba``. Not the
per-pixel default ``spectral_cnn``: on 80 and 240 random labels (10 and 30 per class, seed 42) it
reached held-out OA 0.285 and 0.178 against study_mlp's 0.337 and 0.405 (its batch normalisation
sees too few steps on a few hundred samples), so its noise would hide the strategies' differences.
Seeds 42, 7, 11, 3 and 5 (initial set, splits, training); the table gives the median over seeds
(a small training set now and then trains into a poor model; the median is not swayed by it), the
mean and the standard deviation. CPU only, 2 threads. Not a test: nothing is asserted.

Run: ``make bench`` (all benchmarks) or, with the Makefile's module path,
``PYTHONPATH=build/plugins:tests .venv/bin/python -m benchmarks.bench_active_learning [--seeds 42 7 11 3 5]
[--per-round 250] [--json PATH]`` (``--json``: a path outside the checkout).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

STRATEGIES = ("margin", "entropy", "random", "uniform")
ROUNDS = 3
INITIAL_PER_CLASS = 10
TEST_FRACTION = 0.3
MIN_DISTANCE_M = 100.0
PIXEL_M = 20.0
MODEL_TYPE = "study_mlp"


class _Quiet:
    def progress(self, percent: float) -> None:
        pass

    def log(self, message: str) -> None:
        pass


def load_scene() -> dict[str, Any]:
    """Stack (pixels x bands), OSM codes and polygon ids of every pixel (0 = no polygon)."""
    from osgeo import gdal

    from lcnn_testing import STUDY_BANDS, reference_labels, reference_polygon_ids, reference_stack

    stack = gdal.Open(str(reference_stack())).ReadAsArray().astype(np.float32)
    codes = gdal.Open(str(reference_labels())).ReadAsArray().astype(np.int64)
    polygons = gdal.Open(str(reference_polygon_ids())).ReadAsArray().astype(np.int64)
    return {"features": stack.reshape(stack.shape[0], -1).T, "codes": codes.reshape(-1),
            "polygons": polygons.reshape(-1), "shape": codes.shape, "bands": list(STUDY_BANDS)}


def test_pixels(scene: dict[str, Any], seed: int) -> np.ndarray:
    """Boolean mask of the pixels of a polygon-grouped, class-stratified 30 % of the polygons."""
    from landcover_cnn_plugin.core.splits import holdout_split

    labelled = np.flatnonzero(scene["codes"] > 0)
    _, held = holdout_split(scene["codes"][labelled], scene["polygons"][labelled], TEST_FRACTION, seed,
                            "TEST_FRACTION")
    mask = np.zeros(len(scene["codes"]), dtype=bool)
    mask[labelled[held]] = True
    return mask


def train(scene: dict[str, Any], pixels: np.ndarray, seed: int):
    """The per-pixel model trained on the labelled ``pixels``; returns a LoadedModel."""
    from landcover_cnn_plugin.core.model_file import LoadedModel
    from landcover_cnn_plugin.core.samples import SampleTable
    from landcover_cnn_plugin.core.settings import TrainingSettings
    from landcover_cnn_plugin.core.training import LandcoverTrainer

    table = SampleTable(scene["features"][pixels], scene["bands"], scene["codes"][pixels], pixels.copy(),
                        {}, None, 0, "code", "polygon_id")
    settings = TrainingSettings(model_type=MODEL_TYPE, test_fraction=0.1, seed=seed)
    trainer = LandcoverTrainer(settings, reporter=_Quiet()).fit(table)
    return LoadedModel(trainer.family_, trainer.model_, trainer.metadata_)


def evaluate(model, scene: dict[str, Any], proba: np.ndarray, test: np.ndarray) -> dict[str, float]:
    from landcover_cnn_plugin.core.metrics import compute_metrics

    predicted = model.legend.codes_from_ids(proba[:, test].argmax(axis=0))
    metrics = compute_metrics(scene["codes"][test], predicted, model.legend)
    return {key: float(metrics[key]) for key in ("overall_accuracy", "kappa", "macro_f1")}


def suggest(strategy: str, proba: np.ndarray, candidates: np.ndarray, shape: tuple[int, int], n: int,
            seed: int) -> np.ndarray:
    """Flat pixel indices of ``n`` suggestions among ``candidates`` (bool, flat)."""
    from landcover_cnn_plugin.core.suggestions import SuggestionPool

    if strategy == "uniform":
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(np.flatnonzero(candidates), size=n, replace=False))
    height, width = shape
    pool = SuggestionPool(proba.shape[0], width, strategy, pool_size=20 * n, seed=seed)
    pool.add(proba.reshape(-1, height, width), candidates.reshape(height, width), 0, 0)
    chosen = pool.select(n, MIN_DISTANCE_M, PIXEL_M, PIXEL_M)
    return chosen.rows * width + chosen.cols


def run_seed(scene: dict[str, Any], seed: int, per_round: int) -> list[dict[str, Any]]:
    codes = scene["codes"]
    test = test_pixels(scene, seed)
    rng = np.random.default_rng(seed)
    pool = (codes > 0) & ~test
    initial = np.sort(np.concatenate([rng.choice(np.flatnonzero(pool & (codes == c)), INITIAL_PER_CLASS,
                                                 replace=False) for c in np.unique(codes[codes > 0])]))
    model = train(scene, initial, seed)
    proba0 = model.predict_proba(scene["features"]).T  # (classes, pixels)
    start = evaluate(model, scene, proba0, test)
    rows = [{"seed": seed, "strategy": s, "round": 0, "budget": len(initial), "labelled": len(initial),
             **start} for s in STRATEGIES]
    print(f"  seed {seed} start: {len(initial)} labels, OA {start['overall_accuracy']:.3f} kappa "
          f"{start['kappa']:.3f} macro F1 {start['macro_f1']:.3f}", flush=True)
    for strategy in STRATEGIES:
        labelled, asked, proba = initial.copy(), np.zeros(len(codes), bool), proba0
        asked[initial] = True
        for round_number in range(1, ROUNDS + 1):
            chosen = suggest(strategy, proba, ~asked & ~test, scene["shape"], per_round, seed + round_number)
            asked[chosen] = True
            labelled = np.sort(np.concatenate([labelled, chosen[codes[chosen] > 0]]))
            model = train(scene, labelled, seed)
            proba = model.predict_proba(scene["features"]).T
            rows.append({"seed": seed, "strategy": strategy, "round": round_number,
                         "budget": len(initial) + round_number * per_round, "labelled": len(labelled),
                         **evaluate(model, scene, proba, test)})
            print(f"  seed {seed} {strategy:8s} round {round_number}: {rows[-1]['labelled']} labels, "
                  f"OA {rows[-1]['overall_accuracy']:.3f} kappa {rows[-1]['kappa']:.3f} "
                  f"macro F1 {rows[-1]['macro_f1']:.3f}", flush=True)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| strategy | round | budget | labelled (mean) | OA median (mean ± sd) | kappa | macro F1 |",
             "|---|---|---|---|---|---|---|"]
    for strategy in STRATEGIES:
        for round_number in range(ROUNDS + 1):
            part = [r for r in rows if r["strategy"] == strategy and r["round"] == round_number]
            if not part:
                continue
            values = [[r[k] for r in part] for k in ("overall_accuracy", "kappa", "macro_f1")]
            cells = [f"{np.median(v):.3f} ({np.mean(v):.3f} ± {np.std(v):.3f})" for v in values]
            lines.append(f"| {strategy} | {round_number} | {part[0]['budget']} | "
                         f"{np.mean([r['labelled'] for r in part]):.0f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7, 11, 3, 5])
    parser.add_argument("--per-round", type=int, default=250)
    parser.add_argument("--json", default="", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(2)
    scene = load_scene()
    rows = []
    for seed in args.seeds:
        rows += run_seed(scene, seed, args.per_round)
    print(f"\nActive learning, {ROUNDS} rounds of {args.per_round} suggestions after {INITIAL_PER_CLASS} "
          f"labels per class; held-out polygons (30 %), median (mean ± sd) over seeds {args.seeds}:\n")
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
