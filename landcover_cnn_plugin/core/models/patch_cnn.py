"""``patch_cnn``: a 2-D CNN over a k x k patch around each pixel (needs the stack raster).

Design
------
A small VGG-style stack of 3x3 convolutions, each followed by batch normalisation and ReLU
(Simonyan & Zisserman 2015, "Very deep convolutional networks for large-scale image
recognition", ICLR: stacks of 3x3 convolutions instead of larger kernels), applied to a
k x k patch of the multispectral image centred on the pixel to classify: the patch-based
CNN scheme for land-cover mapping reviewed by Kattenborn et al. 2021 ("Review on
Convolutional Neural Networks (CNN) in vegetation remote sensing", ISPRS J. Photogramm.
Remote Sens. 173, 24-49).

Every convolution is *valid* (no padding) with stride 1, so the receptive field is exactly
the patch: ``(k - 1) / 2 - p`` convolutions shrink k x k to a ``(2p+1) x (2p+1)`` map, which an
optional global pooling (``final_pool``; p = 1) reduces to 1 x 1; then a dense head and a softmax.

Default (architecture chosen on one polygon-grouped fold of the sample scene by the former one-fold
benchmark; training schedule on the five folds of ``benchmarks/bench_folds.py``): ``(k - 3) / 2``
convolutions (64, 64, 128 ... filters), BN, ReLU, global *average* pooling over the last 3 x 3 map,
the centre pixel's own bands concatenated (``centre_skip``: a 1 x 1 crop of the input, which is
position-free too), dropout 0.5, dense 128, dropout 0.5, softmax; L2 1e-4 on the kernels. On that
fold, with k = 7: pooling instead of a flatten of the last map, and the centre-pixel skip each
improved all three test figures; larger patches (9 without pooling, 11 with 7 x 7 pooling)
over-fitted more and scored lower. Train it without class weights (``balance="none"``; class weights
lowered OA and kappa without raising macro F1 on that fold) and with label smoothing 0.1
(``FamilyDefaults.label_smoothing``: macro F1 +0.004 to +0.029, mean +0.017, and OA -0.003 to +0.022
over three seeds) and mixup (``FamilyDefaults.mixup_alpha`` 0.2, ``core.mixup``: on top of label
smoothing, OA +0.006 to +0.017 and macro F1 +0.005 to +0.012 over three seeds), on the cosine
schedule over every training patch (30 epochs of 256; a fold of the sample scene: 0.672 / 0.575 /
0.534, 0.10 overall accuracy above scikit-learn's MLP, but below it on the Berlin scene, so "auto"
compares it). The normalized difference of every band pair can be added as input channels
(``derived_features``, ``core.indices``), computed from the raw values before scaling. Figures: the
README. L2 1e-3 instead of 1e-4 was not better over three seeds.
Because nothing in the network depends on where the patch sits, its fully convolutional twin
(``core.models.fully_convolutional``) predicts whole blocks: the family's prediction graph.

Augmentation: :class:`DihedralAugment` applies one of the 8 flips/rotations of the square to
each training patch (a layer active only while training, so any ``fit`` loop gets it; it is
an identity at prediction and absent from the fully convolutional twin).

Keras is imported inside functions (core modules stay cheap to import); the layer class is
created on first use and registered for ``keras.saving`` (``safe_mode=True`` loads it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..patches import check_patch_size
from .base import FamilyDefaults, PredictionGraph
from .keras_family import KerasFamily
from .patch import PatchFamily

DEFAULT_PATCH_SIZE = 7
REGISTERED_PACKAGE = "landcover_cnn"

_LAYER_CLASSES: dict[str, Any] = {}


def dihedral_layer_class():
    """The :class:`DihedralAugment` Keras layer class (created once, registered for loading)."""
    if "DihedralAugment" in _LAYER_CLASSES:
        return _LAYER_CLASSES["DihedralAugment"]
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package=REGISTERED_PACKAGE)
    class DihedralAugment(keras.layers.Layer):
        """Random flip/rotation of square patches ``(batch, k, k, bands)`` while training.

        Each patch gets one of the 8 symmetries of the square (transpose, flip rows, flip
        columns: 2 x 2 x 2), drawn from a seeded generator. Identity when not training.
        """

        def __init__(self, seed: int | None = None, **kwargs):
            super().__init__(**kwargs)
            self.seed = seed
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, inputs, training=None):
            if not training:
                return inputs
            batch = ops.shape(inputs)[0]
            bits = keras.random.randint((batch,), 0, 8, seed=self.seed_generator)
            x = inputs

            def pick(mask_bit, transformed, x):
                mask = ops.reshape(ops.equal(ops.bitwise_and(bits, mask_bit), mask_bit), (-1, 1, 1, 1))
                return ops.where(mask, transformed, x)

            x = pick(4, ops.transpose(x, (0, 2, 1, 3)), x)
            x = pick(2, ops.flip(x, axis=1), x)
            x = pick(1, ops.flip(x, axis=2), x)
            return x

        def compute_output_shape(self, input_shape):
            return input_shape

        def get_config(self):
            config = super().get_config()
            config.update({"seed": self.seed})
            return config

    _LAYER_CLASSES["DihedralAugment"] = DihedralAugment
    return DihedralAugment


def custom_objects() -> dict[str, Any]:
    """Objects to pass to ``keras.saving.load_model`` for a patch model (safe mode stays on)."""
    cls = dihedral_layer_class()
    return {"DihedralAugment": cls, f"{REGISTERED_PACKAGE}>DihedralAugment": cls}


def default_filters(patch_size: int, final_pool: str = "avg") -> list[int]:
    """Filters per 3x3 convolution for a k x k patch: 64, 64, 128, 128, ...

    The count is ``(k - 1) / 2`` without pooling, one less with a final pooling (which then
    covers the last 3 x 3 map; at least one convolution), so the receptive field is exactly
    the patch.
    """
    n = (patch_size - 1) // 2 - (0 if final_pool == "none" else 1)
    return [64 if i < 2 else 128 for i in range(max(1, n))]


def build_patch_cnn(n_features: int, n_classes: int, patch_size: int = DEFAULT_PATCH_SIZE,
                    seed: int | None = None,
                    filters: Sequence[int] | None = None, dense_units: int = 128,
                    dropout: float = 0.5, final_pool: str = "avg", augment: bool = True,
                    l2: float = 1e-4, centre_skip: bool = True):
    """Build (not compile) the patch CNN.

    Parameters
    ----------
    n_features : int
        Bands of the input patch (the model's features, e.g. 9 Sentinel-2 bands).
    n_classes : int
        Classes of the softmax output.
    patch_size : int
        k, odd: input patches are ``(k, k, n_features)``, z-scored, nodata filled with 0.
    seed : int, optional
        Seeds the initialisers, dropout and augmentation. ``None``: they draw from Keras'
        global generator, which the training loop seeds (``keras.utils.set_random_seed``).
    filters : sequence of int, optional
        Filters of each valid 3x3 convolution; their count c must be ``(k - 1) / 2`` without
        final pooling; with ``final_pool`` the pooling covers the remaining
        ``(k - 2c) x (k - 2c)`` map. Default :func:`default_filters`.
    dense_units : int
        Units of the hidden dense layer (0: none, the softmax follows the convolutions).
    dropout : float
        Dropout rate before each dense layer (0 disables it).
    final_pool : {"none", "avg", "max"}
        Global pooling over the last feature map (by default 3 x 3: one convolution fewer).
    augment : bool
        Prepend :class:`DihedralAugment` (random flips/rotations while training).
    l2 : float
        L2 penalty on every kernel (weight decay; 0 disables it).
    centre_skip : bool
        Also feed the centre pixel's z-scored bands (a 1 x 1 crop of the patch) to the dense
        head, beside the convolution features.

    Returns
    -------
    keras.Model
        Input ``(batch, k, k, n_features)`` float32 -> probabilities ``(batch, n_classes)``.
    """
    import keras

    k = check_patch_size(patch_size)
    if final_pool not in ("none", "avg", "max"):
        raise ValueError(f"final_pool must be none, avg or max, not {final_pool!r}")
    filters = list(filters) if filters is not None else default_filters(k, final_pool)
    most = (k - 1) // 2
    if not 1 <= len(filters) <= most or (final_pool == "none" and len(filters) != most):
        raise ValueError(f"a {k} x {k} patch takes {most} valid 3x3 convolutions, or 1 to {most} "
                         f"followed by a global pooling (final_pool={final_pool!r}), not {len(filters)}")
    def sub(offset: int) -> int | None:
        return None if seed is None else seed + offset

    init = keras.initializers.HeNormal
    reg = keras.regularizers.L2(l2) if l2 else None
    inputs = keras.Input(shape=(k, k, n_features), name="patch")
    x = inputs
    if augment:
        x = dihedral_layer_class()(seed=seed, name="dihedral_augment")(x)
    augmented = x
    for i, f in enumerate(filters):
        x = keras.layers.Conv2D(f, 3, padding="valid", use_bias=False,
                                kernel_initializer=init(seed=sub(i)), kernel_regularizer=reg,
                                name=f"conv{i + 1}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i + 1}")(x)
        x = keras.layers.Activation("relu", name=f"relu{i + 1}")(x)
    if final_pool == "avg":
        x = keras.layers.GlobalAveragePooling2D(keepdims=True, name="pool")(x)
    elif final_pool == "max":
        x = keras.layers.GlobalMaxPooling2D(keepdims=True, name="pool")(x)
    if centre_skip:  # the centre pixel's own spectrum beside the spatial features (1 x 1 both)
        centre = keras.layers.Cropping2D(k // 2, name="centre_pixel")(augmented)
        x = keras.layers.Concatenate(name="with_centre")([x, centre])
    x = keras.layers.Flatten(name="flatten")(x)
    if dense_units:
        if dropout:
            x = keras.layers.Dropout(dropout, seed=sub(300), name="dropout1")(x)
        x = keras.layers.Dense(dense_units, activation="relu", kernel_initializer=init(seed=sub(100)),
                               kernel_regularizer=reg, name="dense1")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, seed=sub(301), name="dropout2")(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax",
                                 kernel_initializer=keras.initializers.GlorotUniform(seed=sub(200)),
                                 kernel_regularizer=reg, name="softmax")(x)
    return keras.Model(inputs, outputs, name=f"patch_cnn_{k}x{k}")


class PatchCnn(PatchFamily, KerasFamily):
    name = "patch_cnn"
    description = "a 2-D convolutional network that looks at a square patch around each pixel"
    position = 2
    # No balancing ("auto"), label smoothing 0.1 and mixup alpha 0.2: see the module docstring.
    # Mixup, on the sample fold with label smoothing, OA / kappa / macro F1 over seeds 42, 7, 11:
    # 0.670 / 0.575 / 0.532, 0.666 / 0.566 / 0.526, 0.662 / 0.564 / 0.518 -> 0.676 / 0.582 / 0.537,
    # 0.675 / 0.579 / 0.538, 0.679 / 0.586 / 0.529 (mean +0.011 / +0.015 / +0.010); alpha 0.4 gained
    # less; it trains ~30 epochs instead of ~18.
    defaults = FamilyDefaults(balance="none", label_smoothing=0.1, mixup_alpha=0.2)
    auto_candidate = True

    def build_network(self, n_inputs: int, n_classes: int, patch_size: int) -> Any:
        return build_patch_cnn(n_features=n_inputs, n_classes=n_classes, patch_size=patch_size)

    def custom_objects(self) -> dict[str, Any]:
        return custom_objects()

    def prediction_graph(self, network: Any, patch_size: int) -> PredictionGraph:
        """The fully convolutional twin (``fully_convolutional``) with a halo of k // 2."""
        from .fully_convolutional import fully_convolutional

        return PredictionGraph(fully_convolutional(network), per_pixel=False, halo=patch_size // 2)


FAMILY = PatchCnn()
