"""Patch-based 2-D CNN (``patch_cnn``) and its fully convolutional twin for fast inference.

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

Default (chosen on one polygon-grouped fold of the sample scene, see
``benchmarks/bench_patch_cnn.py``): ``(k - 3) / 2`` convolutions (64, 64, 128 ... filters), BN,
ReLU, global *average* pooling over the last 3 x 3 map, the centre pixel's own bands concatenated
(``centre_skip``: a 1 x 1 crop of the input, which is position-free too), dropout 0.5, dense 128,
dropout 0.5, softmax; L2 1e-4 on the kernels. On that fold, with k = 7: pooling instead of a
flatten of the last map, and the centre-pixel skip each improved all three test figures; larger
patches (9 without pooling, 11 with 7 x 7 pooling) over-fitted more and scored lower.
Train it without class weights (``balance="none"``; class weights lowered OA and kappa without
raising macro F1 on that fold) and with label smoothing 0.1 (``ModelType.label_smoothing``: macro
F1 +0.004 to +0.029, mean +0.017, and OA -0.003 to +0.022 over three seeds) and mixup
(``ModelType.mixup_alpha`` 0.2, ``core.mixup``: on top of label smoothing, OA +0.006 to +0.017 and
macro F1 +0.005 to +0.012 over three seeds). The normalized
difference of every band pair can be added as input channels (``derived_features``,
``core.indices``), computed from the raw values before scaling. Figures:
``benchmarks/bench_patch_cnn.py`` and the README. L2 1e-3 instead of 1e-4 was not better over
three seeds.
Because nothing in the network depends on where the patch sits, the same layers applied
to a whole block plus a halo of k//2 pixels give, for every pixel, exactly what the
per-patch model gives for the patch centred on it (:func:`fully_convolutional`):
valid convolutions slide over the block, the global pooling over the last
``(2p+1) x (2p+1)`` map becomes a stride-1 pooling of that size, and each dense layer becomes a
1x1 convolution holding the same weights. A pixel then costs a few convolutions instead of a
whole k x k patch through the network.

Augmentation: :class:`DihedralAugment` applies one of the 8 flips/rotations of the square to
each training patch (a layer active only while training, so any ``fit`` loop gets it; it is
an identity at prediction and absent from the fully convolutional twin).

Keras is imported inside functions (core modules stay cheap to import); the layer class is
created on first use and registered for ``keras.saving`` (``safe_mode=True`` loads it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .indices import NO_DERIVED, add_derived, check_derived, n_inputs

MODEL_TYPE = "patch_cnn"
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

    from .patches import check_patch_size

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


def patch_size_of(model) -> int:
    """k of a patch model (its input is ``(batch, k, k, bands)``)."""
    shape = model.inputs[0].shape
    return int(shape[1])


def fully_convolutional(model):
    """The fully convolutional twin of a per-patch model built by :func:`build_patch_cnn`.

    Convolution, batch-normalisation and activation layers are *shared* with ``model`` (same
    weights, inference mode); global pooling over the last s x s map becomes a stride-1
    pooling of size s; each dense layer becomes a 1x1 convolution with the dense weights
    copied; dropout and augmentation (identities at inference) are left out.

    Returns
    -------
    keras.Model
        Input ``(batch, rows + 2h, cols + 2h, bands)`` (any size >= k) -> probabilities
        ``(batch, rows, cols, n_classes)`` with h = k // 2; output pixel (i, j) equals the
        per-patch prediction for the patch centred on input pixel (i + h, j + h).
    """
    import keras

    k = patch_size_of(model)
    n_bands = int(model.inputs[0].shape[-1])
    inputs = keras.Input(shape=(None, None, n_bands), name="block")
    x = inputs
    centre = None
    size = k
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer | keras.layers.Dropout) \
                or type(layer).__name__ == "DihedralAugment":
            continue
        if isinstance(layer, keras.layers.Conv2D):
            if layer.padding != "valid" or tuple(layer.strides) != (1, 1) \
                    or tuple(layer.dilation_rate) != (1, 1):
                raise ValueError(f"layer {layer.name}: only valid, stride-1 convolutions are position-free")
            size -= layer.kernel_size[0] - 1
            x = layer(x)
        elif isinstance(layer, keras.layers.BatchNormalization | keras.layers.Activation
                        | keras.layers.ReLU):
            x = layer(x)
        elif isinstance(layer, keras.layers.Cropping2D):
            # a crop of the (augmented = at inference, raw) input to its centre: the same crop of
            # the block leaves each output pixel's own input pixel
            if tuple(map(tuple, layer.cropping)) != ((k // 2, k // 2), (k // 2, k // 2)):
                raise ValueError(f"layer {layer.name}: only a crop to the centre pixel is supported")
            centre = layer(inputs)
        elif isinstance(layer, keras.layers.Concatenate):
            if centre is None or size != 1:
                raise ValueError(f"layer {layer.name}: expected [features (1 x 1), centre pixel]")
            x = keras.layers.Concatenate(axis=-1, name=f"fcn_{layer.name}")([x, centre])
        elif isinstance(layer, keras.layers.GlobalAveragePooling2D):
            x = keras.layers.AveragePooling2D(pool_size=size, strides=1, padding="valid",
                                              name=f"fcn_{layer.name}")(x)
            size = 1
        elif isinstance(layer, keras.layers.GlobalMaxPooling2D):
            x = keras.layers.MaxPooling2D(pool_size=size, strides=1, padding="valid",
                                          name=f"fcn_{layer.name}")(x)
            size = 1
        elif isinstance(layer, keras.layers.Flatten):
            if size != 1:
                raise ValueError(f"Flatten over a {size} x {size} map has no position-free twin")
        elif isinstance(layer, keras.layers.Dense):
            kernel, bias = layer.get_weights()
            conv = keras.layers.Conv2D(kernel.shape[1], 1, activation=layer.activation,
                                       name=f"fcn_{layer.name}")
            x = conv(x)
            conv.set_weights([kernel.reshape(1, 1, *kernel.shape), bias])
        else:
            raise ValueError(f"layer {layer.name} ({type(layer).__name__}) has no fully convolutional twin")
    if size != 1:
        raise ValueError(f"the network ends on a {size} x {size} map; its receptive field is not the patch")
    fcn = keras.Model(inputs, x, name=f"{model.name}_fcn")
    fcn._lcnn_patch_size = k
    return fcn


def predict_block_patch(keras_fcn, values_scaled_filled: np.ndarray, max_pixels: int = 262_144
                        ) -> np.ndarray:
    """Class probabilities for the interior of a block, fully convolutionally.

    Parameters
    ----------
    keras_fcn : keras.Model
        From :func:`fully_convolutional`.
    values_scaled_filled : numpy.ndarray
        float32 ``(bands, rows + 2h, cols + 2h)``: the block plus its halo (h = k // 2), image
        edges replicated, z-scored with the training statistics and nodata set to 0
        (``ZScoreScaler.transform(values, valid)``).
    max_pixels : int
        Output pixels per network call (bounds memory: about ``max_pixels x 128 x 4`` bytes
        per layer); the block is cut into row strips overlapping by 2h.

    Returns
    -------
    numpy.ndarray
        float32 ``(n_classes, rows, cols)``, each pixel's probabilities summing to 1.
    """
    from keras import ops

    k = patch_size_of_fcn(keras_fcn)
    h = k // 2
    bands, rows_h, cols_h = values_scaled_filled.shape
    rows, cols = rows_h - 2 * h, cols_h - 2 * h
    if rows <= 0 or cols <= 0:
        raise ValueError(f"a block of {rows_h} x {cols_h} holds no pixel inside a halo of {h}")
    image = np.ascontiguousarray(np.moveaxis(values_scaled_filled, 0, -1), dtype=np.float32)
    step = max(1, int(max_pixels) // max(1, cols))
    pieces = []
    for r0 in range(0, rows, step):
        r1 = min(rows, r0 + step)
        chunk = image[None, r0:r1 + 2 * h]
        pieces.append(ops.convert_to_numpy(keras_fcn(chunk, training=False))[0])
    out = np.concatenate(pieces, axis=0)
    return np.ascontiguousarray(np.moveaxis(out, -1, 0), dtype=np.float32)


def predict_patch_block(loaded, values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``LoadedModel.predict_block`` for patch models (the hook ``core/model_file.py`` calls).

    Parameters
    ----------
    loaded : core.model_file.LoadedModel
        A ``patch_cnn`` model (``halo = patch_size // 2``); its fully convolutional twin is
        built on first use and kept on the object.
    values : numpy.ndarray
        float32 ``(bands, rows + 2h, cols + 2h)`` raw band values in ``feature_names`` order,
        the block plus its halo, image edges replicated (``core/io/blocks.py``).
    valid : numpy.ndarray
        bool ``(rows + 2h, cols + 2h)``, False where any band is nodata.

    Returns
    -------
    numpy.ndarray
        float32 ``(n_classes, rows, cols)``; 0 for every class where the pixel itself is
        invalid (nodata stays nodata). Invalid *neighbours* are filled with the training mean
        (0 after z-scoring), as when the training patches were cut.
    """
    h = loaded.halo
    bands = values.shape[0]
    if bands != len(loaded.feature_names):
        raise ValueError(f"expected {len(loaded.feature_names)} bands, got {bands}")
    fcn = getattr(loaded, "_patch_fcn", None)
    if fcn is None:
        fcn = fully_convolutional(loaded.keras_model)
        loaded._patch_fcn = fcn
    valid = np.asarray(valid, dtype=bool)
    scaled = loaded.network_inputs(np.moveaxis(np.asarray(values, dtype=np.float32), 0, -1), valid)
    out = predict_block_patch(fcn, np.moveaxis(scaled, -1, 0))
    interior = valid[h:valid.shape[0] - h, h:valid.shape[1] - h]
    out[:, ~interior] = 0.0
    return out


def patch_size_of_fcn(keras_fcn) -> int:
    """k of a fully convolutional twin (set by :func:`fully_convolutional`)."""
    k = getattr(keras_fcn, "_lcnn_patch_size", None)
    if k is None:
        raise ValueError("not a model made by fully_convolutional()")
    return int(k)


class PatchInputs:
    """Input provider of ``patch_cnn`` for ``core.training`` (k x k patches at the sample points).

    The patches are cut once, at every sample row's ``X``, ``Y`` from the stack raster
    (bands matched to the features by description). Which rows become training inputs is
    decided by the trainer's split: :meth:`inputs` returns the patches of exactly the rows
    it is given, so a training patch's *label* always comes from a training row (never from
    a test polygon), while its neighbourhood may show pixels of any polygon, as at
    prediction time.

    Parameters
    ----------
    table : core.samples.SampleTable
        Needs ``xy`` (the CSV's X, Y in the raster's CRS) and ``feature_names``.
    raster : str
        The stack the samples were extracted from.
    patch_size : int
        k (odd).
    derived_features : str
        Channels added to the bands before scaling (``core.indices``; default none).

    Raises
    ------
    UserInputError
        No raster (``RASTER``), no X/Y columns (``INPUT``), bands missing from the raster,
        points outside it or on nodata, or a raster whose values at the points differ from
        the samples' band values (another stack).
    """

    def __init__(self, table: Any, raster: str | None, patch_size: int = DEFAULT_PATCH_SIZE,
                 derived_features: str = NO_DERIVED) -> None:
        from .errors import UserInputError
        from .patches import check_patch_size, cut_patches_at

        self.patch_size = check_patch_size(patch_size)
        self.derived_features = check_derived(derived_features)
        self.n_inputs = n_inputs(len(table.feature_names), self.derived_features)
        if not raster:
            raise UserInputError("the patch model cuts k x k patches from the stack raster: give the "
                                 "raster the samples were extracted from.", "RASTER")
        if table.xy is None:
            raise UserInputError("the patch model needs the samples' X and Y columns (pixel centres in "
                                 "the raster's CRS) to find the patches; the samples have none.", "INPUT")
        self.table = table
        self.patches = cut_patches_at(raster, table.xy, self.patch_size, table.feature_names)
        bad_centre = ~self.patches.centre_valid
        if bad_centre.any():
            raise UserInputError(f"{int(bad_centre.sum())} sample points lie on nodata pixels of the "
                                 f"raster {raster}: use the stack the samples were extracted from.", "RASTER")
        h = self.patch_size // 2
        centre = self.patches.values[:, h, h, :]
        tolerance = 1e-4 * np.maximum(1.0, np.abs(table.features))
        differ = (np.abs(centre - table.features) > tolerance).any(axis=1)
        if differ.mean() > 0.01:
            raise UserInputError(
                f"at {int(differ.sum())} of {len(differ)} sample points the raster {raster} holds other "
                "band values than the samples: the samples were extracted from another raster. Give "
                "the stack they came from.", "RASTER")

    def fit_scaler(self, rows: np.ndarray):
        """Per-input z-score statistics of the *training rows'* pixels (the patch centres)."""
        from .scaling import ZScoreScaler

        return ZScoreScaler().fit(add_derived(self.table.features[rows], self.derived_features))

    def inputs(self, rows: np.ndarray, scaler) -> np.ndarray:
        """Scaled patches of ``rows``: float32 ``(len(rows), k, k, n_inputs)``, nodata filled with 0.

        The derived channels are computed here, per call, so that only the bands of every
        sample's patch are kept in memory.
        """
        rows = np.asarray(rows, dtype=np.int64)
        values = add_derived(self.patches.values[rows], self.derived_features)
        return scaler.transform(values, self.patches.valid[rows])


def example_patches_png(values: np.ndarray, codes: np.ndarray, legend: Any, band_names: Sequence[str],
                        per_class: int = 4, seed: int = 0, dpi: int = 80) -> bytes:
    """A small picture of a few training patches per class, for the training report.

    Parameters
    ----------
    values : numpy.ndarray
        float ``(n, k, k, bands)`` raw patch values (e.g. ``PatchInputs.patches.values[rows]``
        of training rows).
    codes : numpy.ndarray
        int ``(n,)`` class code of each patch.
    legend : core.legend.ClassLegend
        Class order, names and colours (row labels).
    band_names : sequence of str
        Names of the last axis; false colour NIR-red-green (B08 or B8A, B04, B03) when present,
        else the first three bands; stretched to the 2-98 % range of the patches shown.
    per_class : int
        Patches per class (fewer when a class has fewer), drawn with ``seed``.

    Returns
    -------
    bytes
        PNG image: one row per class, the centre pixel marked.
    """
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    names = list(band_names)

    def pick(*candidates: str) -> int | None:
        return next((names.index(c) for c in candidates if c in names), None)

    rgb = [pick("B08", "B8A"), pick("B04"), pick("B03")]
    if None in rgb:
        rgb = [min(i, len(names) - 1) for i in range(3)]
    rng = np.random.default_rng(seed)
    chosen: list[tuple[int, np.ndarray]] = []
    for code in legend.codes:
        where = np.flatnonzero(np.asarray(codes) == code)
        take = rng.choice(where, size=min(per_class, len(where)), replace=False) if len(where) else where
        chosen.append((code, np.sort(take)))
    shown = np.concatenate([t for _, t in chosen]) if chosen else np.zeros(0, dtype=int)
    k = values.shape[1]
    fig = Figure(figsize=(1.1 * per_class + 1.8, 1.0 * len(chosen) + 0.3), dpi=dpi)
    if len(shown):
        picture = values[shown][..., rgb].astype(np.float64)
        low, high = np.percentile(picture, [2, 98], axis=(0, 1, 2))
    for r, (code, take) in enumerate(chosen):
        for c in range(per_class):
            ax = fig.add_subplot(len(chosen), per_class, r * per_class + c + 1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(take):
                image = (values[take[c]][..., rgb] - low) / np.maximum(high - low, 1e-9)
                ax.imshow(np.clip(image, 0, 1), interpolation="nearest")
                ax.add_patch(matplotlib.patches.Rectangle((k // 2 - 0.5, k // 2 - 0.5), 1, 1, fill=False,
                                                          edgecolor="yellow", linewidth=1))
            else:
                ax.axis("off")
            if c == 0:
                ax.set_ylabel(f"{code} {legend.name_of(code)}", rotation=0, ha="right", va="center",
                              fontsize=8)
    fig.suptitle(f"Training patches, {k} x {k} pixels (false colour {', '.join(names[i] for i in rgb)})",
                 fontsize=9)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def training_examples_png(trainer: Any, per_class: int = 4) -> bytes | None:
    """:func:`example_patches_png` of a fitted ``LandcoverTrainer``'s training rows (None if per-pixel).

    Cuts only the patches shown (``per_class`` per class, seeded by the trainer's seed).
    """
    from .patches import cut_patches_at

    if getattr(trainer, "patch_size_", 1) <= 1 or not trainer.raster:
        return None
    table, rows = trainer.table_, np.asarray(trainer.split_.train)
    rng = np.random.default_rng(trainer.seed)
    chosen = []
    for code in trainer.legend_.codes:
        where = rows[table.codes[rows] == code]
        chosen.append(rng.choice(where, size=min(per_class, len(where)), replace=False))
    chosen = np.sort(np.concatenate(chosen))
    patches = cut_patches_at(trainer.raster, table.xy[chosen], trainer.patch_size_, table.feature_names)
    return example_patches_png(patches.values, table.codes[chosen], trainer.legend_, table.feature_names,
                               per_class=per_class, seed=trainer.seed)


def predict_proba_at(loaded: Any, raster: str | None, xy: np.ndarray | None,
                     batch_size: int = 4096) -> np.ndarray:
    """Probabilities of a patch model at sample points (the ``evaluate`` job's path).

    Parameters
    ----------
    loaded : core.model_file.LoadedModel
        A patch model.
    raster : str
        The stack the points lie on (bands matched by description).
    xy : numpy.ndarray
        float ``(n, 2)`` X, Y in the raster's CRS (the samples CSV's pixel centres).

    Returns
    -------
    numpy.ndarray
        float32 ``(n, n_classes)``.
    """
    from .errors import UserInputError
    from .patches import cut_patches_at

    if not raster:
        raise UserInputError("a patch model needs the stack raster to cut patches at the samples.",
                             "RASTER")
    if xy is None:
        raise UserInputError("a patch model needs the samples' X and Y columns.", "SAMPLES")
    patches = cut_patches_at(raster, xy, loaded.patch_size, loaded.feature_names)
    inputs = loaded.network_inputs(patches.values, patches.valid)
    return np.asarray(loaded.keras_model.predict(inputs, batch_size=batch_size, verbose=0), dtype=np.float32)
