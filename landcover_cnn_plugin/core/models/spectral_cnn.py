"""``spectral_cnn``: a 1-D convolutional network along the band axis of one pixel.

After Hu, Huang, Wei, Zhang and Li (2015), "Deep convolutional neural networks for hyperspectral
image classification", Journal of Sensors 2015, 258619: the pixel's spectrum is a 1-D signal;
convolution along it, then fully connected layers and a softmax. Hu et al. size one kernel to
~1/9 of 200+ hyperspectral bands; for 9-13 multispectral bands we use kernel 3 (neighbouring
bands), two convolution blocks with batch normalisation, and keep the raw spectrum beside the
convolution features ahead of the dense head.

Its prediction graph (what both engines run and an export writes) is :func:`matmul_twin`: each
convolution along the bands with its batch normalisation becomes one matrix product (the same
FLOPs), which ONNX Runtime runs about twice as fast as a batch of tiny convolutions followed by
an unfolded normalisation (tf2onnx cannot fold it across the Conv1D's reshapes).

An option (the per-pixel default is ``pixel_mlp``). Trained on the cosine schedule like every
network, on two folds of each benchmark scene (``benchmarks/bench_folds.py``) it scored like
pixel_mlp on the Berlin scene and 0.02 below it on the Sentinel-2 scene, at about four times
its training time; early stopping on validation polygons (its former default) had held it at
0.54 overall accuracy on the Sentinel-2 scene.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import PredictionGraph
from .keras_family import KerasFamily
from .per_pixel import PerPixelFamily


def _convolution_as_matmul(x: Any, conv: Any, norm: Any) -> Any:
    """``norm(conv(x))`` for a stride-1 'same' Conv1D without bias and its BatchNormalization, as
    zero padding, k shifted crops side by side (im2col) and one Dense with the normalisation folded
    into its kernel and bias."""
    import keras

    k = int(conv.kernel_size[0])
    if conv.padding != "same" or tuple(conv.strides) != (1,) or tuple(conv.dilation_rate) != (1,) \
            or conv.use_bias or k % 2 == 0 or conv.activation is not keras.activations.linear:
        raise ValueError(f"layer {conv.name}: only odd, stride-1 'same' Conv1D without bias or activation")
    if not isinstance(norm, keras.layers.BatchNormalization):
        raise ValueError(f"layer {conv.name} is not followed by a batch normalisation")
    padded = keras.layers.ZeroPadding1D(k // 2, name=f"pad_{conv.name}")(x)
    shifted = [keras.layers.Cropping1D((s, k - 1 - s), name=f"shift{s}_{conv.name}")(padded)
               for s in range(k)]
    columns = keras.layers.Concatenate(axis=-1, name=f"im2col_{conv.name}")(shifted)
    kernel = np.asarray(conv.kernel.numpy(), dtype=np.float64)
    kernel = kernel.reshape(k * kernel.shape[1], kernel.shape[2])  # row s * c_in + c: shift s, channel c
    mean = np.asarray(norm.moving_mean.numpy(), dtype=np.float64)
    gamma = np.asarray(norm.gamma.numpy(), dtype=np.float64) if norm.scale else 1.0
    beta = np.asarray(norm.beta.numpy(), dtype=np.float64) if norm.center else 0.0
    scale = gamma / np.sqrt(np.asarray(norm.moving_variance.numpy(), dtype=np.float64) + norm.epsilon)
    dense = keras.layers.Dense(conv.filters, name=f"matmul_{conv.name}")
    out = dense(columns)
    dense.set_weights([(kernel * scale).astype(np.float32), (beta - mean * scale).astype(np.float32)])
    return out


def matmul_twin(network: Any) -> Any:
    """The network of :meth:`SpectralCnn.build_network` with every Conv1D + BatchNormalization as a
    matrix product (:func:`_convolution_as_matmul`); other layers shared, dropout left out.

    Returns a ``keras.Model`` with the same input and output, equal to ``network(x, training=False)``
    up to float32 rounding.
    """
    import keras

    inputs = keras.Input(shape=tuple(network.inputs[0].shape[1:]), name="features")
    layers = [layer for layer in network.layers
              if not isinstance(layer, keras.layers.InputLayer | keras.layers.Dropout)]
    x, index = inputs, 0
    while index < len(layers):
        layer = layers[index]
        if isinstance(layer, keras.layers.Conv1D):
            x = _convolution_as_matmul(x, layer, layers[index + 1] if index + 1 < len(layers) else None)
            index += 2
            continue
        if isinstance(layer, keras.layers.Concatenate):  # the raw spectrum beside the features
            x = keras.layers.Concatenate(name=layer.name)([x, inputs])
        elif isinstance(layer, keras.layers.Reshape | keras.layers.Activation | keras.layers.Flatten
                        | keras.layers.Dense):
            x = layer(x)
        else:
            raise ValueError(f"layer {layer.name} ({type(layer).__name__}) has no matrix-product twin")
        index += 1
    return keras.Model(inputs, x, name=f"{network.name}_matmul")


class SpectralCnn(PerPixelFamily, KerasFamily):
    name = "spectral_cnn"
    description = "a 1-D convolutional network along the band axis, one pixel at a time"
    position = 0

    def build_network(self, n_inputs: int, n_classes: int, patch_size: int = 1) -> Any:
        """Input ``(n_inputs,)`` z-scored values; output ``(n_classes,)`` probabilities."""
        import keras
        from keras import layers

        inputs = keras.Input(shape=(n_inputs,), name="features")
        x = layers.Reshape((n_inputs, 1))(inputs)
        for filters in (32, 64):
            x = layers.Conv1D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.Activation("relu")(x)
        x = layers.Flatten()(x)
        x = layers.Concatenate()([x, inputs])
        x = layers.Dense(128, activation="relu")(x)
        x = layers.Dropout(0.2)(x)
        x = layers.Dense(64, activation="relu")(x)
        outputs = layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
        return keras.Model(inputs, outputs, name="spectral_cnn")

    def prediction_graph(self, network: Any, patch_size: int) -> PredictionGraph:
        """:func:`matmul_twin` of the network, per pixel."""
        return PredictionGraph(matmul_twin(network), per_pixel=True, halo=0)


FAMILY = SpectralCnn()
