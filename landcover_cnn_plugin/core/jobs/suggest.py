"""``suggest``: points to label next where a model is least sure (see ``core.suggestions``).

The class probabilities come from the model applied to the stack block by block (the block
walker, validity rule and band matching of ``core.io``, and ``LoadedModel.predict_block`` as in
classification; no probability raster is written), or from a probability raster written by
'Classify image'. Pixels inside the exclusion polygons (the
existing training polygons) are never suggested. Writes a points CSV (pixel centres) that
the plugin turns into a point layer.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from typing import Any

NAME = "suggest"
HELP = ("Suggest points to label next: where the model is least sure (margin or entropy), spread "
        "apart, balanced over the predicted classes, outside the training polygons.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..suggestions import DEFAULT_MEASURE, MEASURES

    parser.add_argument("--model", required=True, help="model file (.lcnn): its legend names the classes")
    parser.add_argument("--raster", default="", help="band stack to predict (or --probabilities)")
    parser.add_argument("--probabilities", default="",
                        help="probability raster from classify (one band per class, legend order)")
    parser.add_argument("--exclude", default="", help="polygon layer (raster CRS) never to suggest in")
    parser.add_argument("--number", type=int, default=100, help="points to suggest")
    parser.add_argument("--measure", default=DEFAULT_MEASURE, choices=MEASURES)
    parser.add_argument("--min-distance", type=float, default=0.0, help="map units between points")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--class-field", default="code", help="the empty class field to fill")
    parser.add_argument("--output", required=True, help="points CSV to write")
    parser.add_argument("--memory-mb", type=float, default=256.0)


def run(args: argparse.Namespace, reporter) -> dict[str, Any]:
    import numpy as np

    from ..classify import bytes_per_pixel
    from ..errors import UserInputError
    from ..io.blocks import block_size_for_budget, iter_blocks, read_block, read_valid_block
    from ..io.grid import Grid
    from ..io.rasterize import mask_on_grid
    from ..io.rasters import RasterBands, open_raster
    from ..legend import ClassLegend
    from ..model_file import load_model_file, read_model_metadata
    from ..suggestions import SuggestionPool

    legend = ClassLegend.from_dict(read_model_metadata(args.model)["legend"])
    model = None
    if args.probabilities:
        dataset = open_raster(args.probabilities, "PROBABILITIES")
        if dataset.RasterCount != legend.n_classes:
            raise UserInputError(f"the probability raster has {dataset.RasterCount} bands but the model "
                                 f"has {legend.n_classes} classes; choose the probabilities written with "
                                 "this model.", "PROBABILITIES")
        bands = RasterBands.of(dataset)
    else:
        model = load_model_file(args.model)
        dataset = open_raster(args.raster, "INPUT")
        bands = RasterBands.of(dataset, model.feature_names, "INPUT")
    halo = model.halo if model is not None else 0
    n_inputs = model.n_inputs if model is not None else len(bands.numbers)
    grid = Grid.from_dataset(dataset, "INPUT")
    block_w, block_h = block_size_for_budget(
        grid.width, grid.height, bytes_per_pixel(n_inputs, legend.n_classes, 2 * halo + 1),
        args.memory_mb, tuple(dataset.GetRasterBand(bands.numbers[0]).GetBlockSize()), halo)
    pool = SuggestionPool(legend.n_classes, grid.width, args.measure,
                          pool_size=max(1000, 20 * args.number), seed=args.seed)
    workdir = tempfile.mkdtemp(prefix="lcnn-suggest-")
    try:
        try:
            mask = mask_on_grid(args.exclude, dataset, workdir) if args.exclude else None
        except UserInputError as exc:
            raise UserInputError(exc.message, "TRAINING") from None
        for block in iter_blocks(grid.width, grid.height, block_w, block_h, halo):
            values, valid = read_valid_block(dataset, block, bands)
            interior = (slice(halo, halo + block.height), slice(halo, halo + block.width))
            if model is None:
                probabilities = values[(slice(None), *interior)]
            else:
                probabilities = model.predict_block(values, valid)
            valid = valid[interior]
            if mask is not None:  # pixels inside the training polygons are never suggested
                valid &= read_block(mask, block, [1])[0][interior] == 0
            pool.add(probabilities, valid, block.y_off, block.x_off)
            reporter.progress(95.0 * (block.index + 1) / max(1, block.count))
    finally:
        mask = None
        shutil.rmtree(workdir, ignore_errors=True)
    chosen = pool.select(args.number, args.min_distance, grid.pixel_width, grid.pixel_height)
    if not len(chosen):
        raise UserInputError("no pixel can be suggested: every pixel is nodata or inside the training "
                             "polygons.", "INPUT")
    write_suggestions_csv(args.output, chosen, grid, legend, args.class_field)
    counts = np.bincount(chosen.predicted, minlength=legend.n_classes)
    per_class = {str(code): int(n) for code, n in zip(legend.codes, counts, strict=True)}
    reporter.log(f"{len(chosen)} points suggested ({args.measure}); per predicted class: {per_class}")
    return {"output": args.output, "points": len(chosen), "per_class": per_class, "measure": args.measure}


def write_suggestions_csv(path: str, chosen, grid, legend, class_field: str) -> str:
    """Points CSV (with a ``.csvt``) for ``io.vectors.csv_points_to_vector``.

    ``polygon_id`` is minus (pixel index + 1): unique per pixel, never a polygon's feature id,
    so that labelled suggestions merged with regular points keep their own group in splits.
    """
    import numpy as np

    from ..samples_writer import quote_csv, text_column, text_names, write_rows

    codes = np.asarray(legend.codes, dtype=np.int64)
    names = np.asarray(legend.names, dtype=object)
    x, y = grid.pixel_centres(chosen.rows, chosen.cols)
    n = len(chosen)
    header = ["X", "Y", "predicted", "predicted_name", "runner_up", "runner_up_name", "confidence",
              "margin", "entropy", "rank", "polygon_id", class_field]
    columns = [text_column(x), text_column(y), text_column(codes[chosen.predicted]),
               text_names(names[chosen.predicted]), text_column(codes[chosen.runner_up]),
               text_names(names[chosen.runner_up]), [f"{v:.4f}" for v in chosen.confidence],
               [f"{v:.6f}" for v in chosen.margin], [f"{v:.4f}" for v in chosen.entropy],
               [str(i + 1) for i in range(n)],
               text_column(-(chosen.rows * grid.width + chosen.cols + 1)), [""] * n]
    with open(path, "w", newline="", encoding="utf-8") as stream:
        stream.write(",".join(quote_csv(header)) + "\n")
        write_rows(stream, columns)
    types = ["Real", "Real", "Integer64", "String", "Integer64", "String", "Real", "Real", "Real",
             "Integer", "Integer64", "Integer64"]
    with open(os.path.splitext(path)[0] + ".csvt", "w", encoding="utf-8") as stream:
        stream.write(",".join(f'"{t}"' for t in types) + "\n")
    return path
