"""Keras 3 network builders and the registry of model types.

The registry (:data:`MODEL_TYPES`, :data:`DEFAULT_MODEL`) is importable without Keras, so
that the Processing algorithms and the worker's ``--help`` can list the choices cheaply;
Keras is imported inside the builders.

Model types
-----------
``study_mlp``
    The reference study's network: Dense 512-256-128-64, ReLU, ``lecun_uniform``
    initialisation, max-norm 2 on the kernels. Its sigmoid output is replaced by a
    softmax, so that the class probabilities sum to 1 (the classes are exclusive).
``spectral_cnn``
    A 1-D convolutional network along the band axis of one pixel, after Hu, Huang, Wei,
    Zhang and Li (2015), "Deep convolutional neural networks for hyperspectral image
    classification", Journal of Sensors 2015, 258619: the pixel's spectrum is a 1-D
    signal; convolution along it, then fully connected layers and a softmax. Hu et al.
    size one kernel to ~1/9 of 200+ hyperspectral bands; for 9-13 multispectral bands we
    use kernel 3 (neighbouring bands), two convolution blocks with batch normalisation,
    and keep the raw spectrum beside the convolution features ahead of the dense head.
``patch_cnn``
    A 2-D CNN over a k x k patch around the pixel; built by :func:`core.patch_cnn.build_patch_cnn`
    (its own module). Hook contract: ``build_patch_cnn(n_features, n_classes, patch_size)
    -> keras.Model`` taking input ``(patch_size, patch_size, n_features)`` float32 and
    returning softmax probabilities ``(n_classes,)``; it is compiled here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelType:
    """One entry of the registry."""

    name: str
    description: str
    per_pixel: bool  # True: input (n_features,) per pixel; False: (k, k, n_features) patches
    default_balance: str = "class_weights"  # what balancing "auto" means for this model
    # Label smoothing of the cross-entropy (Szegedy et al. 2016): the targets become
    # 1 - s + s/n_classes and s/n_classes, which keeps a network that fits its training polygons
    # within a few epochs from growing over-confident; benchmarked for patch_cnn.
    label_smoothing: float = 0.0
    # What derived inputs "auto" means for this model (core.indices): normalized differences of
    # every band pair are an option; with patch_cnn on the sample fold, three paired runs moved
    # macro F1 by -0.021 to +0.014 and OA by -0.008 to -0.022 while tripling training time, so no
    # model type uses them by default.
    default_derived: str = "none"
    # Mixup (core.mixup; Zhang et al. 2018): train on Beta(alpha, alpha) mixes of pairs of training
    # samples and their targets; 0 = off. patch_cnn, alpha 0.2, on the sample fold with label
    # smoothing, OA / kappa / macro F1 over seeds 42, 7, 11: 0.670 / 0.575 / 0.532, 0.666 / 0.566 / 0.526,
    # 0.662 / 0.564 / 0.518 -> 0.676 / 0.582 / 0.537, 0.675 / 0.579 / 0.538, 0.679 / 0.586 / 0.529 (mean
    # +0.011 / +0.015 / +0.010); alpha 0.4 gained less; it trains ~30 epochs instead of ~18.
    mixup_alpha: float = 0.0


MODEL_TYPES: dict[str, ModelType] = {
    "spectral_cnn": ModelType("spectral_cnn", "1-D CNN along the spectral axis of each pixel "
                              "(Hu et al. 2015)", per_pixel=True),
    "study_mlp": ModelType("study_mlp", "the study's Dense 512-256-128-64 network, softmax output",
                           per_pixel=True),
    "patch_cnn": ModelType("patch_cnn", "2-D CNN over a k x k patch around each pixel", per_pixel=False,
                           default_balance="none", label_smoothing=0.1, mixup_alpha=0.2),
}
# Chosen by benchmarks/bench_models.py on the sample scene's polygon-grouped split: with the default
# class-weight balancing (balancing.DEFAULT_BALANCE) spectral_cnn beat RandomForest-200 on overall
# accuracy, kappa and macro F1 (0.548 / 0.448 / 0.476 vs 0.524 / 0.397 / 0.466 in one run) and
# study_mlp on kappa and macro F1. It stays the default where no stack raster is given (AUTO_MODEL).
DEFAULT_MODEL = "spectral_cnn"
#: "auto" (the default of the train job and of trainmodel): patch_cnn when the stack raster is given,
#: else DEFAULT_MODEL. patch_cnn won benchmarks/bench_patch_cnn.py on the grouped fold against every
#: per-pixel model on all three figures (k=7, no balancing, label smoothing, mixup: 0.676 / 0.582 /
#: 0.537; the best per-pixel figures 0.622 / 0.506 / 0.492, each from another model), but it needs
#: the raster to cut patches from.
AUTO_MODEL = "auto"
PATCH_MODEL = "patch_cnn"


def resolve_model_type(model_type: str, raster: str | None) -> str:
    """The concrete model type for ``model_type`` (``"auto"`` picks by the raster's presence)."""
    if model_type == AUTO_MODEL:
        return PATCH_MODEL if raster else DEFAULT_MODEL
    return model_type


def check_model_type(model_type: str) -> ModelType:
    """Return the registry entry or raise ``UserInputError`` listing the choices."""
    from .errors import UserInputError

    if model_type not in MODEL_TYPES:
        raise UserInputError(f"unknown model type {model_type!r}; choose one of "
                             f"{', '.join(MODEL_TYPES)}.", "MODEL_TYPE")
    return MODEL_TYPES[model_type]


def build_study_mlp(n_features: int, n_classes: int) -> Any:
    """The study's network (uncompiled).

    Parameters
    ----------
    n_features : int
        Inputs per pixel (bands), z-scored.
    n_classes : int
        Softmax outputs.
    """
    import keras

    inputs = keras.Input(shape=(n_features,), name="features")
    x = inputs
    for units in (512, 256, 128, 64):
        x = keras.layers.Dense(units, activation="relu", kernel_initializer="lecun_uniform",
                               kernel_constraint=keras.constraints.MaxNorm(2.0))(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", kernel_initializer="lecun_uniform",
                                 name="probabilities")(x)
    return keras.Model(inputs, outputs, name="study_mlp")


def build_spectral_cnn(n_features: int, n_classes: int) -> Any:
    """1-D CNN along the band axis (uncompiled); see the module docstring for the design.

    Input ``(n_features,)`` z-scored band values; output ``(n_classes,)`` probabilities.
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=(n_features,), name="features")
    x = layers.Reshape((n_features, 1))(inputs)
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


def _build_patch_cnn(n_features: int, n_classes: int, patch_size: int) -> Any:
    from .patch_cnn import build_patch_cnn  # another module: the hook for the patch model

    return build_patch_cnn(n_features=n_features, n_classes=n_classes, patch_size=patch_size)


def build_model(model_type: str, n_features: int, n_classes: int, patch_size: int = 1,
                learning_rate: float = 0.001, steps_per_execution: int = 1) -> Any:
    """Build and compile a network (Adam, categorical cross-entropy with the model type's label
    smoothing, accuracy).

    Parameters
    ----------
    model_type : str
        A key of :data:`MODEL_TYPES`.
    n_features : int
        Bands per pixel.
    n_classes : int
        Classes of the legend (one-hot targets of this width).
    patch_size : int
        Patch side in pixels for ``patch_cnn`` (odd); ignored by per-pixel models.
    learning_rate : float
        Adam's learning rate.
    steps_per_execution : int
        Batches run per compiled call (fewer Python round trips; the same updates).
    """
    import keras

    check_model_type(model_type)
    if model_type == "study_mlp":
        model = build_study_mlp(n_features, n_classes)
    elif model_type == "spectral_cnn":
        model = build_spectral_cnn(n_features, n_classes)
    else:
        model = _build_patch_cnn(n_features, n_classes, patch_size)
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=MODEL_TYPES[model_type].label_smoothing)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss=loss, metrics=["accuracy"],
                  steps_per_execution=steps_per_execution)
    return model
