"""``study_mlp``: the reference study's network, per pixel.

Dense 512-256-128-64, ReLU, ``lecun_uniform`` initialisation, max-norm 2 on the kernels. The
study's sigmoid output is replaced by a softmax, so that the class probabilities sum to 1 (the
classes are exclusive).
"""

from __future__ import annotations

from typing import Any

from .keras_family import KerasFamily
from .per_pixel import PerPixelFamily


class StudyMlp(PerPixelFamily, KerasFamily):
    name = "study_mlp"
    description = "the study's dense network (512-256-128-64 units, softmax output), one pixel at a time"
    position = 1

    def build_network(self, n_inputs: int, n_classes: int, patch_size: int = 1) -> Any:
        """Input ``(n_inputs,)`` z-scored values; output ``(n_classes,)`` probabilities."""
        import keras

        inputs = keras.Input(shape=(n_inputs,), name="features")
        x = inputs
        for units in (512, 256, 128, 64):
            x = keras.layers.Dense(units, activation="relu", kernel_initializer="lecun_uniform",
                                   kernel_constraint=keras.constraints.MaxNorm(2.0))(x)
        outputs = keras.layers.Dense(n_classes, activation="softmax", kernel_initializer="lecun_uniform",
                                     name="probabilities")(x)
        return keras.Model(inputs, outputs, name="study_mlp")


FAMILY = StudyMlp()
