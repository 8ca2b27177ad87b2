"""Patch families: the network sees a k x k patch of the stack raster centred on the pixel.

Training patches are cut at the samples' X, Y from the stack the samples were extracted from
(:class:`PatchInputs`); evaluation cuts them at the points (:meth:`PatchFamily.predict_at`);
classification runs the family's fully convolutional prediction graph over whole blocks plus a
halo of k // 2 pixels (:meth:`PatchFamily.predict_block`), which gives every pixel what the
per-patch network gives for the patch centred on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import UserInputError
from ..indices import add_derived, check_derived, n_inputs
from ..patches import check_patch_size, cut_patches_at
from ..scaling import ZScoreScaler
from .base import ModelFamily

#: Output pixels per call of a fully convolutional graph (memory: about ``MAX_PIXELS x 128 x 4``
#: bytes per layer); a block is cut into row strips overlapping by 2 halo.
MAX_PIXELS = 262_144


class PatchInputs:
    """Input provider of patch families (k x k patches at the sample points).

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
        Channels added to the bands before scaling (``core.indices``), concrete.

    Raises
    ------
    UserInputError
        No raster (``RASTER``), no X/Y columns (``INPUT``), bands missing from the raster,
        points outside it or on nodata, or a raster whose values at the points differ from
        the samples' band values (another stack).
    """

    def __init__(self, table: Any, raster: str | None, patch_size: int, derived_features: str) -> None:
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

    def fit_scaler(self, rows: np.ndarray) -> ZScoreScaler:
        """Per-input z-score statistics of the *training rows'* pixels (the patch centres)."""
        return ZScoreScaler().fit(add_derived(self.table.features[rows], self.derived_features))

    def inputs(self, rows: np.ndarray, scaler: ZScoreScaler) -> np.ndarray:
        """Scaled patches of ``rows``: float32 ``(len(rows), k, k, n_inputs)``, nodata filled with 0.

        The derived channels are computed here, per call, so that only the bands of every
        sample's patch are kept in memory.
        """
        rows = np.asarray(rows, dtype=np.int64)
        values = add_derived(self.patches.values[rows], self.derived_features)
        return scaler.transform(values, self.patches.valid[rows])


def predict_in_strips(run: Callable[[np.ndarray], np.ndarray], values_scaled_filled: np.ndarray, halo: int,
                      max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Class probabilities of a block's interior from a fully convolutional graph, strip by strip.

    Parameters
    ----------
    run : callable
        The graph's runner (``ModelFamily.graph_runner``): ``(1, r + 2h, c + 2h, inputs)`` ->
        ``(1, r, c, n_classes)``.
    values_scaled_filled : numpy.ndarray
        float32 ``(inputs, rows + 2h, cols + 2h)``: the block plus its halo, image edges
        replicated, scaled with the training statistics and nodata set to 0.
    halo : int
        h = k // 2.
    max_pixels : int
        Output pixels per call; the block is cut into row strips overlapping by 2h.

    Returns
    -------
    numpy.ndarray
        float32 ``(n_classes, rows, cols)``.
    """
    h = halo
    _, rows_h, cols_h = values_scaled_filled.shape
    rows, cols = rows_h - 2 * h, cols_h - 2 * h
    if rows <= 0 or cols <= 0:
        raise ValueError(f"a block of {rows_h} x {cols_h} holds no pixel inside a halo of {h}")
    image = np.ascontiguousarray(np.moveaxis(values_scaled_filled, 0, -1), dtype=np.float32)
    step = max(1, int(max_pixels) // max(1, cols))
    pieces = [run(image[None, r0:min(rows, r0 + step) + 2 * h])[0] for r0 in range(0, rows, step)]
    return np.ascontiguousarray(np.moveaxis(np.concatenate(pieces, axis=0), -1, 0), dtype=np.float32)


class PatchFamily(ModelFamily):
    """Input geometry of patch families: k x k patches in training, a fully convolutional graph on blocks."""

    uses_patches = True

    def settings_problem(self, settings: Any) -> UserInputError | None:
        if settings.balance == "smote":  # it interpolates feature vectors, not patches
            return UserInputError("SMOTE works with per-pixel models only; use class_weights or to_n.",
                                  "BALANCE")
        return None

    def input_provider(self, table: Any, settings: Any) -> PatchInputs:
        return PatchInputs(table, settings.raster, settings.patch_size, settings.derived_features)

    def input_shape(self, n_inputs: int, patch_size: int) -> tuple:
        return (patch_size, patch_size, n_inputs)

    def predict_block(self, model: Any, values: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Fully convolutionally; invalid *neighbours* are filled with the training mean (0 after
        z-scoring), as when the training patches were cut; invalid pixels themselves get 0."""
        h = model.halo
        if values.shape[0] != len(model.feature_names):
            raise ValueError(f"expected {len(model.feature_names)} bands, got {values.shape[0]}")
        valid = np.asarray(valid, dtype=bool)
        scaled = model.network_inputs(np.moveaxis(np.asarray(values, dtype=np.float32), 0, -1), valid)
        out = predict_in_strips(model.run_graph, np.moveaxis(scaled, -1, 0), h, model.runner.strip_pixels)
        interior = valid[h:valid.shape[0] - h, h:valid.shape[1] - h]
        out[:, ~interior] = 0.0
        return out

    def predict_at(self, model: Any, features: np.ndarray, xy: np.ndarray | None,
                   raster: str | None) -> np.ndarray:
        """Patches cut at ``xy`` from ``raster`` through the trained (per-patch) network."""
        if not raster:
            raise UserInputError("a patch model needs the stack raster to cut patches at the samples.",
                                 "RASTER")
        if xy is None:
            raise UserInputError("a patch model needs the samples' X and Y columns.", "SAMPLES")
        patches = cut_patches_at(raster, xy, model.patch_size, model.feature_names)
        inputs = model.network_inputs(patches.values, patches.valid)
        return self.predict_inputs(model.network, inputs, batch_size=4096)

    def example_figure(self, table: Any, rows: np.ndarray, legend: Any, settings: Any,
                       per_class: int = 4) -> bytes | None:
        """A few training patches per class (drawn with the settings' seed); only those are cut."""
        from .patch_examples import example_patches_png

        rows = np.asarray(rows)
        rng = np.random.default_rng(settings.seed)
        chosen = []
        for code in legend.codes:
            where = rows[table.codes[rows] == code]
            chosen.append(rng.choice(where, size=min(per_class, len(where)), replace=False))
        chosen = np.sort(np.concatenate(chosen))
        patches = cut_patches_at(settings.raster, table.xy[chosen], settings.patch_size,
                                    table.feature_names)
        return example_patches_png(patches.values, table.codes[chosen], legend, table.feature_names,
                                   per_class=per_class, seed=settings.seed)
