"""``export``: a model file -> a stand-alone ONNX file, plain or for Deepness (see ``core.onnx_export``)."""

from __future__ import annotations

import argparse
from typing import Any

from ..onnx_export import DEFAULT_TILE, FORMATS, PLAIN

NAME = "export"
HELP = ("Export a .lcnn model file as an ONNX file that carries its band names, scaling, legend and "
        "figures in its metadata: plain ONNX, or the Deepness (QGIS plugin) segmentation layout.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model file (.lcnn)")
    parser.add_argument("--output", required=True, help="ONNX file to write (.onnx)")
    parser.add_argument("--format", default=PLAIN, choices=FORMATS,
                        help=f"{PLAIN}: the prediction graph, NHWC, dynamic sizes (default); deepness: "
                             "NCHW with a fixed square tile and Deepness's metadata")
    parser.add_argument("--tile-size", type=int, default=DEFAULT_TILE,
                        help=f"deepness: tile size in pixels (default {DEFAULT_TILE})")
    parser.add_argument("--resolution", type=float, default=0.0,
                        help="deepness: pixel size (m) of the imagery the model was trained on; 0 (default): "
                             "the training raster's, when the model file names one that is still there")


def run(args: argparse.Namespace, reporter) -> dict[str, Any]:
    from ..errors import UserInputError
    from ..model_file import read_model_metadata
    from ..onnx_export import DEEPNESS, export_model, training_pixel_size_m

    resolution = args.resolution or None
    if resolution is not None and resolution < 0:
        raise UserInputError(f"the pixel size must be positive (metres), got {args.resolution}.",
                             "RESOLUTION")
    if args.format == DEEPNESS and resolution is None:
        resolution = training_pixel_size_m(read_model_metadata(args.model))
        if resolution:
            reporter.log(f"Pixel size of the training raster: {resolution:g} m.")
    reporter.progress(5)
    return export_model(args.model, args.output, args.format, args.tile_size, resolution, reporter)
