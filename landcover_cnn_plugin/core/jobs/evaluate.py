"""``evaluate``: a model file + a samples CSV -> accuracy figures (metrics JSON)."""

from __future__ import annotations

import argparse
from typing import Any

from ..atomic import check_output_folder

NAME = "evaluate"
HELP = ("Measure a model file's accuracy on a samples CSV (use samples the model was not trained on, "
        "e.g. other polygons): overall accuracy, kappa, per-class F1, confusion matrix.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model file (.lcnn)")
    parser.add_argument("--samples", required=True, help="samples CSV with the model's feature columns")
    parser.add_argument("--metrics", default=None, help="metrics JSON to write")
    parser.add_argument("--label", default=None,
                        help="column of class codes (default: the one the model was trained with)")
    parser.add_argument("--raster", default=None,
                        help="stack raster the samples come from (patch models cut their patches there)")


def run(args: argparse.Namespace, reporter) -> dict[str, Any]:
    import numpy as np

    from ..csv_format import detect_csv_format
    from ..errors import UserInputError
    from ..io.rasters import match_bands
    from ..legend import class_label
    from ..metrics import compute_metrics, format_metrics
    from ..model_file import load_model_file
    from ..samples import read_samples
    from .train import write_json

    if args.metrics:
        check_output_folder(args.metrics, "METRICS")
    model = load_model_file(args.model)
    reporter.progress(20)
    label = args.label or model.metadata.get("training", {}).get("label") or "code"
    columns = detect_csv_format(args.samples, "SAMPLES").columns
    match_bands(columns, model.feature_names, "SAMPLES", "the samples")
    # class names as labels get the model's codes; names the model does not know are dropped
    table = read_samples(args.samples, label, model.feature_names, group=None, names_field=None,
                         reporter=reporter, min_classes=1, min_per_class=1, legend=model.legend,
                         unknown_labels="drop")
    known = np.isin(table.codes, model.legend.codes)
    if not known.all():
        unknown = ", ".join(class_label(code, table.class_names.get(code))
                            for code in sorted(set(table.codes[~known].tolist())))
        reporter.log(f"Ignoring {int((~known).sum())} samples of classes the model does not know: {unknown}")
    if not known.any():
        classes = ", ".join(model.legend.label_of(code) for code in model.legend.codes)
        raise UserInputError(f"no sample belongs to a class of the model ({classes}).", "SAMPLES")
    reporter.progress(40)
    xy = table.xy[known] if table.xy is not None else None
    probabilities = model.predict_at(table.features[known], xy, args.raster)
    predicted = model.legend.codes_from_ids(probabilities.argmax(axis=1))
    metrics = compute_metrics(table.codes[known], predicted, model.legend)
    reporter.log(format_metrics(metrics))
    if args.metrics:
        write_json(args.metrics, metrics)
    return {"model": args.model, "overall_accuracy": metrics["overall_accuracy"], "kappa": metrics["kappa"],
            "macro_f1": metrics["macro_f1"], "n_samples": metrics["n_samples"],
            "n_ignored": int((~known).sum()) + table.n_dropped, "metrics": args.metrics}
