"""A Keras prediction graph as ONNX (tf2onnx), for :meth:`KerasFamily.onnx_graph`.

The graph is traced as ``network(x, training=False)`` (batch normalisation in inference mode,
folded into the convolutions by tf2onnx; dropout and augmentation vanish) and converted with
opset :data:`~.base.ONNX_OPSET`. Its input and output get the contract's names and their
symbolic dimensions readable names (tf2onnx writes ``unk__N`` and ``Identity:0``). TensorFlow,
tf2onnx and onnx are imported inside the function (the training environment has them).
"""

from __future__ import annotations

from typing import Any

from .base import ONNX_INPUT, ONNX_OPSET, ONNX_OUTPUT, PredictionGraph

#: Names of the symbolic dimensions: per pixel, and fully convolutional (NHWC).
PER_PIXEL_DIMS = (("batch", None), ("batch", None))
FULLY_CONVOLUTIONAL_DIMS = (("batch", "rows_with_halo", "cols_with_halo", None),
                            ("batch", "rows", "cols", None))


def _name_dimensions(value: Any, names: tuple[str | None, ...]) -> None:
    for dim, name in zip(value.type.tensor_type.shape.dim, names, strict=True):
        if name and not dim.HasField("dim_value"):
            dim.dim_param = name


def keras_graph_to_onnx(graph: PredictionGraph) -> bytes:
    """Convert a Keras :class:`~.base.PredictionGraph` to a serialized ONNX model.

    Returns
    -------
    bytes
        Input :data:`~.base.ONNX_INPUT` ``(batch, n_inputs)`` or ``(batch, rows + 2h, cols + 2h,
        n_inputs)``, output :data:`~.base.ONNX_OUTPUT` ``(batch, n_classes)`` or ``(batch, rows, cols,
        n_classes)``, float32; checked by ``onnx.checker``.
    """
    import onnx
    import tensorflow as tf
    import tf2onnx

    network = graph.network
    spec = tf.TensorSpec((None, *network.inputs[0].shape[1:]), tf.float32, name=ONNX_INPUT)
    function = tf.function(lambda x: network(x, training=False), input_signature=[spec])
    model, _ = tf2onnx.convert.from_function(function, input_signature=[spec], opset=ONNX_OPSET)
    onnx_graph = model.graph
    if len(onnx_graph.input) != 1 or len(onnx_graph.output) != 1:
        raise ValueError(f"expected one input and one output, got {len(onnx_graph.input)} and "
                         f"{len(onnx_graph.output)}")
    old_output = onnx_graph.output[0].name
    for node in onnx_graph.node:
        node.output[:] = [ONNX_OUTPUT if name == old_output else name for name in node.output]
    onnx_graph.output[0].name = ONNX_OUTPUT
    input_dims, output_dims = PER_PIXEL_DIMS if graph.per_pixel else FULLY_CONVOLUTIONAL_DIMS
    _name_dimensions(onnx_graph.input[0], input_dims)
    _name_dimensions(onnx_graph.output[0], output_dims)
    model.producer_name = "landcover-cnn"
    onnx.checker.check_model(model)
    return model.SerializeToString()
