"""Graph surgery on a model file's prediction graph (``model.onnx``) with the ``onnx`` package only.

:func:`deepness_graph` wraps the stored graph (NHWC, taking the network inputs) into what the QGIS
plugin Deepness runs as a "Segmentor": one fixed square tile ``(batch, bands, T, T)`` in (NCHW;
Deepness reads the tile size from the input shape and needs it to be a number), class
probabilities ``(batch, n_classes, T, T)`` out. Deepness z-scores the bands itself (from the
metadata), so the wrapper adds only what it cannot do: the derived channels (recomputed from the
un-scaled bands, then z-scored), the edge replication of a patch model's halo (so that the output
tile is as large as the input tile; Deepness's tile overlap hides the tile borders), and, for
per-pixel graphs, the pixels of the tile as rows. No TensorFlow: the stored graph is reused as it is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .indices import NO_DERIVED, band_pairs
from .models.base import ONNX_INPUT, ONNX_OUTPUT

#: Name of the Deepness graph's input.
DEEPNESS_INPUT = "image"
_PREFIX = "deepness_"


def _constant(graph: Any, name: str, values: Any, dtype: Any = np.float32) -> str:
    from onnx import numpy_helper

    graph.initializer.append(numpy_helper.from_array(np.asarray(values, dtype=dtype), _PREFIX + name))
    return _PREFIX + name


def _derived_nodes(graph: Any, source: str, target: str, n_bands: int, mean: np.ndarray, std: np.ndarray
                   ) -> list[Any]:
    """Nodes turning z-scored bands ``source`` (N, bands, H, W) into all network inputs ``target``:
    the bands, then the normalized difference of every band pair computed from the un-scaled bands
    (``core.indices.add_derived``: 0 where the sum is 0, clipped to [-1, 1]), z-scored."""
    from onnx import helper

    pairs = band_pairs(n_bands)
    shape = (1, -1, 1, 1)
    band_std = _constant(graph, "band_std", std[:n_bands].reshape(shape))
    band_mean = _constant(graph, "band_mean", mean[:n_bands].reshape(shape))
    first = _constant(graph, "pair_first", [i for i, _ in pairs], np.int64)
    second = _constant(graph, "pair_second", [j for _, j in pairs], np.int64)
    zero, low, high = (_constant(graph, name, value) for name, value in (("zero", 0.0), ("low", -1.0),
                                                                       ("high", 1.0)))
    nd_mean = _constant(graph, "nd_mean", mean[n_bands:].reshape(shape))
    nd_std = _constant(graph, "nd_std", std[n_bands:].reshape(shape))
    p = _PREFIX
    return [
        helper.make_node("Mul", [source, band_std], [p + "unscaled_times_std"]),
        helper.make_node("Add", [p + "unscaled_times_std", band_mean], [p + "raw"]),
        helper.make_node("Gather", [p + "raw", first], [p + "a"], axis=1),
        helper.make_node("Gather", [p + "raw", second], [p + "b"], axis=1),
        helper.make_node("Sub", [p + "a", p + "b"], [p + "difference"]),
        helper.make_node("Add", [p + "a", p + "b"], [p + "sum"]),
        helper.make_node("Div", [p + "difference", p + "sum"], [p + "ratio"]),
        helper.make_node("Equal", [p + "sum", zero], [p + "sum_is_zero"]),
        helper.make_node("Where", [p + "sum_is_zero", zero, p + "ratio"], [p + "ratio_or_zero"]),
        helper.make_node("Clip", [p + "ratio_or_zero", low, high], [p + "nd"]),
        helper.make_node("Sub", [p + "nd", nd_mean], [p + "nd_centred"]),
        helper.make_node("Div", [p + "nd_centred", nd_std], [p + "nd_scaled"]),
        helper.make_node("Concat", [source, p + "nd_scaled"], [target], axis=1),
    ]


def deepness_graph(stored: bytes, per_pixel: bool, halo: int, tile: int, n_bands: int,
                   derived_features: str, scaler_mean: Any, scaler_std: Any) -> Any:
    """The stored prediction graph as a Deepness segmentation model.

    Parameters
    ----------
    stored : bytes
        The model file's ``model.onnx`` (NHWC; input :data:`~.models.base.ONNX_INPUT`, output
        :data:`~.models.base.ONNX_OUTPUT`).
    per_pixel : bool
        Layout of ``stored`` (``PredictionGraph``).
    halo : int
        Pixels of context a fully convolutional graph needs on each side.
    tile : int
        T, the tile size in pixels (larger than 2 halo).
    n_bands : int
        Raster bands the model reads (Deepness's channels).
    derived_features : str
        ``core.indices``: channels the wrapper computes from the bands.
    scaler_mean, scaler_std : sequence of float
        The model's z-score statistics per network input (bands, then derived channels).

    Returns
    -------
    onnx.ModelProto
        Input ``image (batch, n_bands, T, T)`` z-scored bands, output ``probabilities (batch,
        n_classes, T, T)``; shapes inferred strictly and checked.
    """
    import onnx
    from onnx import helper

    if tile <= 2 * halo:
        raise ValueError(f"a tile of {tile} pixels holds nothing inside a halo of {halo}")
    model = onnx.load_from_string(stored)
    graph = model.graph
    n_classes = graph.output[0].type.tensor_type.shape.dim[-1].dim_value
    inner_output = _PREFIX + "probabilities_nhwc"
    for node in graph.node:
        node.output[:] = [inner_output if name == ONNX_OUTPUT else name for name in node.output]
    p = _PREFIX
    prologue, bands = [], DEEPNESS_INPUT
    if derived_features != NO_DERIVED:
        prologue += _derived_nodes(graph, bands, p + "all_inputs", n_bands,
                                   np.asarray(scaler_mean, np.float64), np.asarray(scaler_std, np.float64))
        bands = p + "all_inputs"
    if per_pixel:
        rows = _constant(graph, "rows_shape", [-1, len(scaler_mean)], np.int64)
        tile_shape = _constant(graph, "tile_shape", [-1, tile, tile, n_classes], np.int64)
        prologue += [helper.make_node("Transpose", [bands], [p + "nhwc"], perm=[0, 2, 3, 1]),
                     helper.make_node("Reshape", [p + "nhwc", rows], [ONNX_INPUT])]
        epilogue = [helper.make_node("Reshape", [inner_output, tile_shape], [p + "tile_nhwc"]),
                    helper.make_node("Transpose", [p + "tile_nhwc"], [ONNX_OUTPUT], perm=[0, 3, 1, 2])]
    else:
        pads = _constant(graph, "halo_pads", [0, 0, halo, halo, 0, 0, halo, halo], np.int64)
        prologue += [helper.make_node("Pad", [bands, pads], [p + "padded"], mode="edge"),
                     helper.make_node("Transpose", [p + "padded"], [ONNX_INPUT], perm=[0, 2, 3, 1])]
        epilogue = [helper.make_node("Transpose", [inner_output], [ONNX_OUTPUT], perm=[0, 3, 1, 2])]
    nodes = [*prologue, *graph.node, *epilogue]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.input[:], graph.output[:], graph.value_info[:]
    graph.input.append(helper.make_tensor_value_info(DEEPNESS_INPUT, onnx.TensorProto.FLOAT,
                                                     ["batch", n_bands, tile, tile]))
    graph.output.append(helper.make_tensor_value_info(ONNX_OUTPUT, onnx.TensorProto.FLOAT,
                                                      ["batch", n_classes, tile, tile]))
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    onnx.checker.check_model(model)
    return model
