"""``train``: samples CSV -> model file (+ metrics JSON, + HTML report)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..atomic import atomic_output, check_output_folder
from ..balancing import AUTO_BALANCE, BALANCE_METHODS, resolve_balance
from ..indices import AUTO_DERIVED, DERIVED_FEATURES
from ..models import AUTO_MODEL, DEFAULT_MODEL, MODEL_TYPES, PATCH_MODEL, resolve_model_type
from ..splits import SPLIT_PROTOCOLS

NAME = "train"
HELP = ("Train a land-cover model on a samples CSV (one row per labelled pixel) and write a model "
        "file (.lcnn), with accuracy measured on a held-out test part split by polygon.")


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``train`` and ``compare`` (everything except inputs and outputs)."""
    parser.add_argument("--label", default="code", help="column of integer class codes (default: code)")
    parser.add_argument("--group", default="polygon_id",
                        help="group column: samples of one group never sit in both training and test "
                             "part (default: polygon_id; --group \"\" for none)")
    parser.add_argument("--names-field", default=None, help="column of class names, e.g. fclass")
    parser.add_argument("--legend", default=None, help="legend CSV with columns code,name,color")
    parser.add_argument("--model-type", default=AUTO_MODEL, choices=[AUTO_MODEL, *MODEL_TYPES],
                        help=f"network; {AUTO_MODEL} (default): {PATCH_MODEL} when --raster is given, "
                             f"else {DEFAULT_MODEL}")
    parser.add_argument("--split", default="group", choices=SPLIT_PROTOCOLS,
                        help="group: whole polygons to training or test (honest); random: stratified "
                             "random rows (optimistic accuracy). Default: group")
    parser.add_argument("--test-fraction", type=float, default=0.2,
                        help="share of samples (of polygons, for the group split) held out for testing "
                             "(default: 0.2)")
    parser.add_argument("--validation-fraction", type=float, default=0.2,
                        help="share of the training part held out for early stopping (default: 0.2)")
    parser.add_argument("--balance", default=AUTO_BALANCE, choices=[AUTO_BALANCE, *BALANCE_METHODS],
                        help="class balancing of the training part: none, class_weights (loss "
                             "weights inverse to class frequency), to_n (resample every class to "
                             f"--samples-per-class), smote; {AUTO_BALANCE} (default): the model's "
                             "benchmarked choice (class_weights for per-pixel models, none for "
                             f"{PATCH_MODEL})")
    parser.add_argument("--samples-per-class", type=int, default=500,
                        help="target per class for --balance to_n (default: 500)")
    parser.add_argument("--epochs", type=int, default=200, help="maximum epochs (default: 200)")
    parser.add_argument("--batch-size", type=int, default=60, help="samples per step (default: 60)")
    parser.add_argument("--patience", type=int, default=20,
                        help="epochs without validation-loss improvement before stopping; the best "
                             "weights are kept (default: 20)")
    parser.add_argument("--seed", type=int, default=42,
                        help="random seed: same seed, same model (default 42)")
    parser.add_argument("--learning-rate", type=float, default=0.001,
                        help="Adam learning rate (default 0.001)")
    parser.add_argument("--cv-folds", type=int, default=0,
                        help="k >= 2: also estimate accuracy by k-fold (spatial) cross-validation "
                             "(k extra trainings); 0: off (default)")
    parser.add_argument("--raster", default=None, help="stack GeoTIFF, needed by patch_cnn (patches "
                        "are cut at the samples' X, Y)")
    parser.add_argument("--patch-size", type=int, default=7, help="patch side in pixels for patch_cnn (odd)")
    parser.add_argument("--derived-features", default=AUTO_DERIVED, choices=[AUTO_DERIVED, *DERIVED_FEATURES],
                        help="input channels computed from the bands before scaling: normalized "
                             "differences of every band pair, or none; auto (default): the model "
                             "type's benchmarked choice (none at present)")


def trainer_settings(args: argparse.Namespace) -> dict[str, Any]:
    """LandcoverTrainer keyword arguments from the parsed options ("auto" choices resolved)."""
    model_type = resolve_model_type(args.model_type, args.raster)
    return {"label": args.label, "group": args.group or None, "names_field": args.names_field or None,
            "legend": args.legend or None, "model_type": model_type, "split": args.split,
            "test_fraction": args.test_fraction, "validation_fraction": args.validation_fraction,
            "balance": resolve_balance(args.balance, model_type),
            "samples_per_class": args.samples_per_class, "epochs": args.epochs,
            "batch_size": args.batch_size, "patience": args.patience, "seed": args.seed,
            "learning_rate": args.learning_rate, "cv_folds": args.cv_folds, "raster": args.raster or None,
            "patch_size": args.patch_size, "derived_features": args.derived_features}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", required=True, help="samples CSV (X,Y,bands...,label,polygon_id,...)")
    parser.add_argument("--model", required=True, help="model file to write (.lcnn)")
    parser.add_argument("--metrics", default=None, help="metrics JSON to write (test part)")
    parser.add_argument("--report", default=None, help="HTML report to write")
    parser.add_argument("--features", default=None,
                        help="comma-separated feature columns, e.g. B03,B04,B08 (default: every band column)")
    add_training_arguments(parser)


def write_json(path: str, data: dict[str, Any]) -> None:
    """Write JSON atomically."""
    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, allow_nan=False)


def run(args: argparse.Namespace, reporter) -> dict[str, Any]:
    from ..metrics import format_metrics
    from ..model_file import read_model_metadata
    from ..progress import ScaledReporter
    from ..training import LandcoverTrainer

    check_output_folder(args.model, "MODEL")
    for path, parameter in ((args.metrics, "METRICS"), (args.report, "REPORT")):
        if path:
            check_output_folder(path, parameter)
    features = [f.strip() for f in args.features.split(",") if f.strip()] if args.features else None
    trainer = LandcoverTrainer(**trainer_settings(args), features=features,
                               reporter=ScaledReporter(reporter, 0, 95))
    trainer.fit(args.samples)
    trainer.save(args.model)
    reporter.log(format_metrics(trainer.metrics_))
    reporter.log(f"Model written to {args.model}")
    if args.metrics:
        write_json(args.metrics, {**trainer.metrics_, "split_protocol": trainer.split_.protocol,
                                  "model_type": trainer.model_type,
                                  "cross_validation": trainer.cv_results_})
    if args.report:
        from ..patch_cnn import training_examples_png
        from ..report import write_training_report

        write_training_report(args.report, read_model_metadata(args.model),
                              example_patches_png=training_examples_png(trainer))
        reporter.log(f"Report written to {args.report}")
    result = trainer.result(args.model)
    result.update({"metrics": args.metrics, "report": args.report})
    return result
