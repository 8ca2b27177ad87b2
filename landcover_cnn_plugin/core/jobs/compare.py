"""``compare``: the same model, split and seed on several feature subsets -> one table."""

from __future__ import annotations

import argparse
from typing import Any

from ..atomic import check_output_folder
from ..settings import add_arguments as add_training_arguments

NAME = "compare"
HELP = ("Compare feature sets (e.g. Sentinel-2 bands alone vs with a SAR band): train the same "
        "model with the same split and seed on each set and write one accuracy table.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", required=True, help="samples CSV")
    parser.add_argument("--feature-sets", required=True,
                        help="feature sets separated by ';', features by ',', e.g. "
                             "\"B03,B04,B08;B03,B04,B08,Phi\"")
    parser.add_argument("--set-names", default=None,
                        help="a name per set separated by ';', e.g. \"S2;S2+Phi\"")
    parser.add_argument("--output-table", required=True, help="CSV table to write")
    parser.add_argument("--report", default=None, help="HTML report to write")
    add_training_arguments(parser, exclude=("features",))  # each set names its features


def run(args: argparse.Namespace, reporter) -> dict[str, Any]:
    from ..feature_sets import compare_feature_sets, format_table, parse_feature_sets, write_table
    from ..progress import ScaledReporter
    from ..settings import TrainingSettings

    check_output_folder(args.output_table, "OUTPUT_TABLE")
    if args.report:
        check_output_folder(args.report, "REPORT")
    feature_sets, set_names = parse_feature_sets(args.feature_sets, args.set_names)
    settings = TrainingSettings.from_arguments(args)
    rows = compare_feature_sets(args.samples, feature_sets, settings, set_names,
                                ScaledReporter(reporter, 0, 95))
    write_table(args.output_table, rows)
    reporter.log(format_table(rows))
    if args.report:
        from ..training_report import write_comparison_report

        info = {"samples": args.samples, "model_type": rows[0]["model_type"],
                **{k: v for k, v in settings.to_dict().items() if k != "model_type"}}
        write_comparison_report(args.report, rows, info)
    return {"output_table": args.output_table, "report": args.report, "rows": rows}
