"""A model file as a stand-alone ``.onnx`` file (``landcovercnn:exportmodel``): plain ONNX or Deepness.

Both formats carry, in the ONNX metadata properties, everything needed to use the model without
this plugin (:func:`model_properties`): band names in order, the derived-input rule, the z-score
statistics, the nodata rule, patch size, class codes, names and colours, training figures and
versions. Every value is JSON text (``json.loads`` reads each; Deepness requires it).

* ``onnx`` (plain): the model file's prediction graph as it is: NHWC, taking the network inputs
  (``input_rule``): per pixel ``(batch, n_inputs) -> (batch, n_classes)``; patch models fully
  convolutional with any height and width ``(batch, rows + 2h, cols + 2h, n_inputs) -> (batch,
  rows, cols, n_classes)``.
* ``deepness``: the Segmentor layout of the QGIS plugin Deepness (``core.onnx_graphs``) and its
  keys: ``model_type`` "Segmentor", ``class_names`` {"0": ...}, ``resolution`` (cm per pixel),
  ``tile_size`` (read by Deepness's code) and ``tiles_size`` (named in its documentation),
  ``tiles_overlap`` (percent of the tile, enough to hide the halo), ``standardization_mean`` and
  ``standardization_std`` (Deepness divides the raw values by 255 first, so the statistics are
  divided by 255 too), ``seg_thresh`` 0 and ``seg_small_segment`` 0 (Deepness's post-processing off).

Needs the ``onnx`` package; TensorFlow (and tf2onnx) only for model files written before format 3,
whose graph is made from the Keras network on export.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from typing import Any

from .atomic import atomic_output, check_output_folder
from .engines import TENSORFLOW, package_version
from .errors import UserInputError
from .indices import NO_DERIVED, input_names
from .model_file import (
    export_prediction_graph,
    load_model_file,
    onnx_graph_problem,
    plugin_version,
    read_model_metadata,
    read_onnx_graph,
)
from .models import FAMILIES
from .onnx_graphs import DEEPNESS_INPUT, deepness_graph
from .progress import NullReporter, Reporter

PLAIN, DEEPNESS = "onnx", "deepness"
#: The formats, in the order of the Processing enum.
FORMATS = (PLAIN, DEEPNESS)
DEFAULT_TILE = 256
MIN_TILE, MAX_TILE = 16, 4096
ONNX_FORMAT_NAME = "landcover-cnn-onnx"
DERIVED_RULE = ("ND(i, j) = (b_i - b_j) / (b_i + b_j) of the raw bands i < j in band order, 0 where the "
                "sum is 0, clipped to [-1, 1]; appended after the bands")
INPUT_RULE = ("inputs = (x - scaler_mean) / scaler_std, x = the raw band values in band_names order "
              "followed by the derived channels (derived_rule); 0 for every input of a nodata pixel")
NODATA_RULE = ("a pixel that is nodata (or not finite) in any band gets no class; for patch models a "
               "nodata neighbour enters as 0 (the training mean) and the image edge is replicated "
               "(numpy 'edge' padding) to give the border pixels their halo")


def deepness_overlap_percent(tile: int, halo: int) -> int:
    """Smallest ``tiles_overlap`` (percent) whose overlap hides a halo of ``halo`` pixels.

    Deepness overlaps tiles by ``int(T * percent / 100 * 2) // 2`` pixels and cuts half of that on
    each inner tile side, which must cover the edge-replicated halo.
    """
    if halo <= 0:
        return 0
    percent = max(1, math.ceil(100 * 2 * halo / tile))
    while (int(tile * percent / 100 * 2) // 2) // 2 < halo:
        percent += 1
    return percent


def model_properties(metadata: dict[str, Any], graph_entry: dict[str, Any], layout: str) -> dict[str, Any]:
    """The metadata properties both formats carry (values not yet JSON-encoded)."""
    legend = metadata["legend"]
    derived = metadata.get("derived_features", NO_DERIVED)
    training = metadata.get("training") or {}
    metrics = metadata.get("metrics") or {}
    split = metadata.get("split") or {}
    return {
        "landcover_cnn_format": ONNX_FORMAT_NAME, "landcover_cnn_format_version": 1,
        "plugin_version": plugin_version(), "model_plugin_version": (metadata.get("versions") or {}).get(
            "landcover_cnn", "unknown"),
        "model_created": metadata.get("created", ""),
        "exported": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "model_type": metadata["model_type"], "landcover_cnn_model_type": metadata["model_type"],
        "description": FAMILIES[metadata["model_type"]].description,
        "band_names": list(metadata["feature_names"]),
        "input_names": input_names(metadata["feature_names"], derived),
        "derived_features": derived, "derived_rule": "none" if derived == NO_DERIVED else DERIVED_RULE,
        "scaler_mean": list(metadata["scaler"]["mean"]), "scaler_std": list(metadata["scaler"]["std"]),
        "input_rule": INPUT_RULE, "nodata_rule": NODATA_RULE,
        "patch_size": int(metadata["patch_size"]), "halo": int(graph_entry["halo"]),
        "per_pixel": bool(graph_entry["per_pixel"]), "layout": layout,
        "class_codes": [int(code) for code in legend["codes"]],
        "class_names": {str(i): name for i, name in enumerate(legend.get("names") or
                                                              [f"class {c}" for c in legend["codes"]])},
        "class_colors": list(legend.get("colors") or []),
        "training": {key: training.get(key) for key in (
            "model_type", "epochs", "epochs_run", "best_epoch", "batch_size", "learning_rate", "balance",
            "seed", "patch_size", "label", "split", "test_fraction") if key in training},
        "split": {"protocol": split.get("protocol"), "group_column": split.get("group_column"),
                  "counts": split.get("counts")},
        "metrics": {key: metrics.get(key) for key in ("overall_accuracy", "kappa", "macro_f1", "n_samples")}
        | {"f1_per_class": {str(row["code"]): row["f1"] for row in metrics.get("per_class", [])}},
        "versions": {**(metadata.get("versions") or {}), "onnx_export": package_version("onnx") or ""},
    }


def deepness_properties(metadata: dict[str, Any], tile: int, halo: int, resolution_m: float | None
                        ) -> dict[str, Any]:
    """The keys Deepness reads (see the module docstring)."""
    n_bands = len(metadata["feature_names"])
    keys = {"model_type": "Segmentor", "tile_size": tile, "tiles_size": tile,
            "tiles_overlap": deepness_overlap_percent(tile, halo),
            "standardization_mean": [m / 255.0 for m in metadata["scaler"]["mean"][:n_bands]],
            "standardization_std": [s / 255.0 for s in metadata["scaler"]["std"][:n_bands]],
            "seg_thresh": 0.0, "seg_small_segment": 0}
    if resolution_m:
        keys["resolution"] = round(resolution_m * 100.0, 6)
    return keys


def training_pixel_size_m(metadata: dict[str, Any]) -> float | None:
    """Pixel size (m) of the stack raster the model was trained on (patch models record it), if it
    is still there and has a projected CRS; else None."""
    from .io.grid import metres_per_unit
    from .io.rasters import raster_grid

    raster = (metadata.get("training") or {}).get("raster")
    if not raster or not os.path.isfile(raster):
        return None
    try:
        grid = raster_grid(raster)
    except UserInputError:
        return None
    metres = metres_per_unit(grid.crs_wkt)
    return grid.pixel_width * metres if metres else None


def _prediction_graph(model_path: str, metadata: dict[str, Any], reporter: Reporter) -> tuple[bytes, dict]:
    """The model file's ONNX graph and its metadata entry; made from the Keras network for files
    without one (needs TensorFlow and tf2onnx)."""
    problem = onnx_graph_problem(metadata)
    if problem is None:
        return read_onnx_graph(model_path, metadata), metadata["onnx"]
    reporter.log(f"The model file {problem}: converting its network now (TensorFlow).")
    loaded = load_model_file(model_path, TENSORFLOW)
    graph, entry = export_prediction_graph(loaded.family, loaded.network, metadata)
    if graph is None:
        raise UserInputError(f"the network of {model_path} could not be exported to ONNX ({entry['error']}).",
                             "MODEL")
    return graph, entry


def export_model(model_path: str, output: str, export_format: str = PLAIN, tile: int = DEFAULT_TILE,
                 resolution_m: float | None = None, reporter: Reporter | None = None) -> dict[str, Any]:
    """Write the model file ``model_path`` as a stand-alone ONNX file ``output`` (atomically).

    Parameters
    ----------
    model_path : str
        The ``.lcnn`` file.
    output : str
        The ``.onnx`` file to write.
    export_format : {"onnx", "deepness"}
    tile : int
        Deepness only: the fixed tile size T in pixels.
    resolution_m : float, optional
        Deepness only: pixel size of the imagery the model was trained on, metres (written as
        ``resolution`` in cm); None: the key is left out.
    reporter : Reporter, optional

    Returns
    -------
    dict
        ``output``, ``format``, ``input`` and ``output_shape`` (names and dimensions), ``properties``
        (the keys written).
    """
    import onnx
    from onnx import helper

    reporter = reporter or NullReporter()
    if export_format not in FORMATS:
        raise UserInputError(f"unknown format {export_format!r}; choose one of {', '.join(FORMATS)}.",
                             "FORMAT")
    if not str(output).lower().endswith(".onnx"):
        raise UserInputError(f"{output} must end in .onnx.", "OUTPUT")
    check_output_folder(output, "OUTPUT")
    metadata = read_model_metadata(model_path)
    graph, entry = _prediction_graph(model_path, metadata, reporter)
    reporter.progress(50)
    if export_format == DEEPNESS and FAMILIES[metadata["model_type"]].network_is_onnx:
        # Deepness divides the tile by 255 before standardising: the float32 rounding that a
        # network absorbs moves band values across a tree's split thresholds (measured on the
        # sample stack: up to 0.14 off the plugin's probabilities), so no tile model is made.
        raise UserInputError(f"{metadata['model_type']} models are not exported for Deepness (its "
                             "rescaling of the tile changes a forest's decisions); choose FORMAT onnx "
                             "for ONNX Runtime, or train a network for Deepness.", "FORMAT")
    if export_format == DEEPNESS:
        halo = int(entry["halo"])
        if not (MIN_TILE <= tile <= MAX_TILE) or tile <= 2 * halo:
            raise UserInputError(f"the tile size must be {max(MIN_TILE, 2 * halo + 1)} to {MAX_TILE} "
                                 f"pixels, got {tile}.", "TILE_SIZE")
        model = deepness_graph(graph, entry["per_pixel"], halo, tile, len(metadata["feature_names"]),
                               metadata.get("derived_features", NO_DERIVED), metadata["scaler"]["mean"],
                               metadata["scaler"]["std"])
        properties = model_properties(metadata, entry, "NCHW") | deepness_properties(
            metadata, tile, halo, resolution_m)
    else:
        model = onnx.load_from_string(graph)
        properties = model_properties(metadata, entry, "NHWC")
    del model.metadata_props[:]
    helper.set_model_props(model, {key: json.dumps(value, allow_nan=False)
                                   for key, value in properties.items()})
    model.doc_string = (f"landcover-cnn {metadata['model_type']} model: {len(metadata['feature_names'])} "
                        f"bands {metadata['feature_names']} -> {len(metadata['legend']['codes'])} class "
                        "probabilities. Metadata properties (JSON values) say how to prepare the input.")
    onnx.checker.check_model(model)
    with atomic_output(output) as tmp, open(tmp, "wb") as handle:
        handle.write(model.SerializeToString())
    reporter.progress(100)
    shapes = {value.name: [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
              for value in (*model.graph.input, *model.graph.output)}
    input_name = DEEPNESS_INPUT if export_format == DEEPNESS else model.graph.input[0].name
    result = {"output": os.fspath(output), "format": export_format, "input": {input_name: shapes[input_name]},
              "output_shape": shapes[model.graph.output[0].name], "properties": sorted(properties)}
    reporter.log(f"Wrote {output}: input {result['input']}, output {result['output_shape']}, "
                 f"{len(properties)} metadata properties.")
    if export_format == DEEPNESS and resolution_m is None:
        reporter.log("No pixel size known: set Deepness's resolution to the imagery's own pixel size.")
    return result
