"""``train``: samples CSV -> model file (+ metrics JSON, + HTML report)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..atomic import atomic_output, check_output_folder
from ..settings import add_arguments as add_training_arguments

NAME = "train"
HELP = ("Train a land-cover model on a samples CSV (one row per labelled pixel) and write a model "
        "file (.lcnn), with accuracy measured on polygons held out of training (a test part, or every "
        "polygon once by cross-validation) and its 95 %% interval.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", required=True, help="samples CSV (X,Y,bands...,label,polygon_id,...)")
    parser.add_argument("--model", required=True, help="model file to write (.lcnn)")
    parser.add_argument("--metrics", default=None, help="metrics JSON to write (test part)")
    parser.add_argument("--report", default=None, help="HTML report to write")
    add_training_arguments(parser)


def write_json(path: str, data: dict[str, Any]) -> None:
    """Write JSON atomically."""
    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, allow_nan=False)


def run(args: argparse.Namespace, reporter) -> dict[str, Any]:
    from ..metrics import format_metrics
    from ..model_file import read_model_metadata
    from ..progress import ScaledReporter
    from ..settings import TrainingSettings
    from ..training import LandcoverTrainer

    check_output_folder(args.model, "MODEL")
    for path, parameter in ((args.metrics, "METRICS"), (args.report, "REPORT")):
        if path:
            check_output_folder(path, parameter)
    trainer = LandcoverTrainer(TrainingSettings.from_arguments(args),
                               reporter=ScaledReporter(reporter, 0, 95))
    trainer.fit(args.samples)
    trainer.save(args.model)
    reporter.log(format_metrics(trainer.metrics_))
    reporter.log(f"Model written to {args.model}")
    if args.metrics:
        write_json(args.metrics, {**trainer.metrics_, "split_protocol": trainer.split_.protocol,
                                  "model_type": trainer.family_.name, "warnings": trainer.warnings_,
                                  "cross_validation": trainer.cv_results_,
                                  "model_choice": trainer.choice_.to_dict() if trainer.choice_ else None})
    if args.report:
        from ..training_report import write_training_report

        write_training_report(args.report, read_model_metadata(args.model),
                              example_patches_png=trainer.example_figure())
        reporter.log(f"Report written to {args.report}")
    result = trainer.result(args.model)
    result.update({"metrics": args.metrics, "report": args.report})
    return result
