"""``classify``: apply a model file to a band stack, block by block (see ``core.classify``)."""

from __future__ import annotations

import argparse
from typing import Any

NAME = "classify"
HELP = ("Classify a raster stack with a .lcnn model file: class map (codes, nodata 0) with a .qml "
        "style beside it, optional confidence and per-class probability rasters.")

#: GDAL block cache of the worker, MiB (the block budget comes on top).
GDAL_CACHE_MB = 64


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--raster", required=True, help="band stack (bands matched by description)")
    parser.add_argument("--model", required=True, help="model file (.lcnn)")
    parser.add_argument("--output", required=True, help="class map GeoTIFF (class codes, nodata 0)")
    parser.add_argument("--confidence", default="", help="optional confidence GeoTIFF (0-1)")
    parser.add_argument("--probabilities", default="",
                        help="optional GeoTIFF with one probability band per class")
    parser.add_argument("--mask", default="",
                        help="optional raster (nonzero = classify) or polygon layer (inside = classify)")
    parser.add_argument("--memory-mb", type=float, default=256.0,
                        help="memory budget of one block in MiB (default 256)")


def run(args: argparse.Namespace, reporter) -> dict[str, Any]:
    from ..classify import classify_raster
    from ..io.rasters import set_cache_mb
    from ..model_file import load_model_file
    from ..progress import ScaledReporter

    set_cache_mb(GDAL_CACHE_MB)
    reporter.log(f"Loading the model {args.model}")
    reporter.progress(1)
    model = load_model_file(args.model)
    reporter.progress(5)
    return classify_raster(args.raster, model, args.output, confidence=args.confidence or None,
                           probabilities=args.probabilities or None, mask=args.mask or None,
                           memory_mb=args.memory_mb, reporter=ScaledReporter(reporter, 5, 100))
