"""``pixel_mlp``: a dense network of one pixel's bands, the per-pixel default.

Dense 256 and 128 ReLU units and a softmax: the shape of scikit-learn's ``MLPClassifier((256, 128))``,
which beat RandomForest-200 on both benchmark scenes. Trained like every network of the plugin
on the cosine schedule over every training polygon (``FamilyDefaults``: 30 epochs, at least 2,000
steps of 256 pixels, no class weights).

Chosen on five polygon-grouped folds of the Sentinel-2 scene and the Berlin HyMap scene, at full
size and with 25 % and 10 % of the training polygons (README, "Benchmark"); there this schedule
lifted a network of this shape from 0.528 to 0.632 overall accuracy on a Berlin fold where early
stopping on validation polygons had stopped it early, and wider or deeper networks (512-256-128),
dropout, weight decay, label smoothing, class weights (also their square root) and normalized
differences of the band pairs did not score higher.
"""

from __future__ import annotations

from typing import Any

from .keras_family import KerasFamily
from .per_pixel import PerPixelFamily

HIDDEN_UNITS = (256, 128)


class PixelMlp(PerPixelFamily, KerasFamily):
    name = "pixel_mlp"
    description = "a dense network (256 and 128 units) of one pixel's bands"
    position = 4
    auto_candidate = True

    def build_network(self, n_inputs: int, n_classes: int, patch_size: int = 1) -> Any:
        """Input ``(n_inputs,)`` z-scored values; output ``(n_classes,)`` probabilities."""
        import keras

        inputs = keras.Input(shape=(n_inputs,), name="features")
        x = inputs
        for units in HIDDEN_UNITS:
            x = keras.layers.Dense(units, activation="relu")(x)
        outputs = keras.layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
        return keras.Model(inputs, outputs, name="pixel_mlp")


FAMILY = PixelMlp()
