"""``assess``: metrics of a class map from (reference, mapped) pixel-pair counts."""

from __future__ import annotations

import argparse
from typing import Any

NAME = "assess"
HELP = ("Accuracy of a class map: read a reference,mapped,count CSV (written by 'Assess map "
        "accuracy'), write the confusion matrix CSV and an HTML report.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pairs", required=True, help="CSV reference,mapped,count")
    parser.add_argument("--map", required=True, help="the class map (its legend names the classes)")
    parser.add_argument("--matrix", default="", help="confusion matrix CSV to write")
    parser.add_argument("--report", default="", help="HTML report to write")
    parser.add_argument("--reference-name", default="", help="reference layer, for the report")
    parser.add_argument("--field", default="", help="reference code field, for the report")
    parser.add_argument("--points-outside", type=int, default=0,
                        help="reference points outside the map, for the report")
    parser.add_argument("--strata", default="",
                        help="CSV code,pixels of the map classes: the pairs are a probability sample "
                             "(area estimates, core.area_report)")
    parser.add_argument("--design", default="stratified", choices=("stratified", "simple_random"),
                        help="sampling design of a probability sample")
    parser.add_argument("--estimates", default="", help="estimates CSV to write (probability sample)")
    parser.add_argument("--no-estimate-reason", default="",
                        help="why there is no area estimate, for the report")


def run(args: argparse.Namespace, reporter) -> dict[str, Any]:
    from ..accuracy import assess_pairs, read_pairs_csv
    from ..atomic import check_output_folder
    from ..io.outputs import read_map_legend

    for path, parameter in ((args.matrix, "OUTPUT_MATRIX"), (args.report, "OUTPUT_REPORT"),
                            (args.estimates, "OUTPUT_ESTIMATES")):
        if path:
            check_output_folder(path, parameter)
    reporter.progress(10)
    info = {"Class map": args.map, "Reference data": args.reference_name,
            "Reference code field": args.field}
    pairs, legend = read_pairs_csv(args.pairs), read_map_legend(args.map)
    if args.strata:
        return _estimate(args, pairs, legend, info, reporter)
    if args.no_estimate_reason:
        info["Area estimate"] = args.no_estimate_reason
    if args.points_outside:
        info["Reference points outside the map (left out)"] = args.points_outside
    metrics = assess_pairs(pairs, legend, args.matrix or None, args.report or None, info)
    reporter.log(f"Overall accuracy {metrics['overall_accuracy']:.3f}, kappa {metrics['kappa']:.3f}, "
                 f"macro F1 {metrics['macro_f1']:.3f} on {metrics['n_samples']} reference pixels")
    return metrics


def _estimate(args: argparse.Namespace, pairs: dict[tuple[int, int], int], legend: dict[str, list] | None,
              info: dict[str, Any], reporter) -> dict[str, Any]:
    """Accuracy and area estimates of a probability sample (Olofsson et al. 2014)."""
    from ..area_report import assess_probability_sample
    from ..io.class_maps import open_class_map
    from ..sample_design import read_strata_csv

    result = assess_probability_sample(
        pairs, read_strata_csv(args.strata), open_class_map(args.map, "INPUT"), legend, args.design,
        args.estimates or None, args.matrix or None, args.report or None, info)
    reporter.log(f"Overall accuracy {result['overall_accuracy']:.3f} "
                 f"+- {result['overall_accuracy_ci95']:.3f} (95 %) from {result['n_samples']} labelled "
                 f"sample points ({args.design} design)")
    return result
