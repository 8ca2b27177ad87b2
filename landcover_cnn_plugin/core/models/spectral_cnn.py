"""``spectral_cnn``: a 1-D convolutional network along the band axis of one pixel.

After Hu, Huang, Wei, Zhang and Li (2015), "Deep convolutional neural networks for hyperspectral
image classification", Journal of Sensors 2015, 258619: the pixel's spectrum is a 1-D signal;
convolution along it, then fully connected layers and a softmax. Hu et al. size one kernel to
~1/9 of 200+ hyperspectral bands; for 9-13 multispectral bands we use kernel 3 (neighbouring
bands), two convolution blocks with batch normalisation, and keep the raw spectrum beside the
convolution features ahead of the dense head.

An option (the per-pixel default is ``pixel_mlp``). Trained on the cosine schedule like every
network, on two folds of each benchmark scene (``benchmarks/bench_folds.py``) it scored like
pixel_mlp on the Berlin scene and 0.02 below it on the Sentinel-2 scene, at about four times
its training time; early stopping on validation polygons (its former default) had held it at
0.54 overall accuracy on the Sentinel-2 scene.
"""

from __future__ import annotations

from typing import Any

from .keras_family import KerasFamily
from .per_pixel import PerPixelFamily


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


FAMILY = SpectralCnn()
