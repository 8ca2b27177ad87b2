"""``classify``: apply a model file to a band stack, block by block (see ``core.classify``), with the
engine asked for (``core.engines``; ``onnxruntime`` never imports TensorFlow)."""

from __future__ import annotations

import argparse
from typing import Any

from ..engines import AUTO_ENGINE, ENGINES

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
                        help="memory budget of the blocks predicted at once, MiB (default 256)")
    parser.add_argument("--engine", default=AUTO_ENGINE,
                        help=f"what runs the network: {', '.join(ENGINES)} (default {AUTO_ENGINE}: "
                             "ONNX Runtime when installed and the model file carries its graph, else "
                             "TensorFlow)")


def run(args: argparse.Namespace, reporter) -> dict[str, Any]:
    from ..classify import classify_raster
    from ..engines import choose_engine
    from ..io.rasters import set_cache_mb
    from ..model_file import load_model_file, onnx_graph_problem, read_model_metadata
    from ..progress import ScaledReporter

    set_cache_mb(GDAL_CACHE_MB)
    metadata = read_model_metadata(args.model)
    engine = choose_engine(args.engine, onnx_graph_problem(metadata), args.model)
    reporter.log(f"Loading the model {args.model} for {engine}"
                 f"{' (ENGINE auto)' if args.engine == AUTO_ENGINE else ''}")
    reporter.progress(1)
    model = load_model_file(args.model, engine)
    reporter.progress(5)
    result = classify_raster(args.raster, model, args.output, confidence=args.confidence or None,
                             probabilities=args.probabilities or None, mask=args.mask or None,
                             memory_mb=args.memory_mb, reporter=ScaledReporter(reporter, 5, 100))
    return {**result, "engine": engine}
