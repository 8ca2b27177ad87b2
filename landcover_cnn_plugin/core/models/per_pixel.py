"""Per-pixel families: the network sees one pixel's bands (plus derived channels), nothing around it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..indices import add_derived, check_derived, n_inputs
from ..scaling import ZScoreScaler
from .base import ModelFamily, PredictionGraph


class PixelInputs:
    """Input provider of per-pixel families: the feature rows (plus derived channels), scaled.

    Parameters
    ----------
    table : core.samples.SampleTable
    derived_features : str
        Channels added to the bands before scaling (``core.indices``), concrete.
    """

    patch_size = 1

    def __init__(self, table: Any, derived_features: str) -> None:
        self.table = table
        self.derived_features = check_derived(derived_features)
        self.n_inputs = n_inputs(len(table.feature_names), self.derived_features)

    def fit_scaler(self, rows: np.ndarray) -> ZScoreScaler:
        """Z-score statistics of the given (training) rows."""
        return ZScoreScaler().fit(add_derived(self.table.features[rows], self.derived_features))

    def inputs(self, rows: np.ndarray, scaler: ZScoreScaler) -> np.ndarray:
        """Scaled inputs of ``rows``: (len(rows), n_inputs) float32."""
        return scaler.transform(add_derived(self.table.features[rows], self.derived_features))


class PerPixelFamily(ModelFamily):
    """Input geometry of per-pixel families: rows of band values in, one prediction per row out."""

    uses_patches = False

    def input_provider(self, table: Any, settings: Any) -> PixelInputs:
        return PixelInputs(table, settings.derived_features)

    def input_shape(self, n_inputs: int, patch_size: int) -> tuple:
        return (n_inputs,)

    def metadata_problem(self, metadata: Mapping[str, Any]) -> str | None:
        if metadata["patch_size"] != 1:
            return f"a {self.name} model works per pixel but the patch size is {metadata['patch_size']}."
        return None

    def prediction_graph(self, network: Any, patch_size: int) -> PredictionGraph:
        return PredictionGraph(network, per_pixel=True, halo=0)

    def predict_block(self, model: Any, values: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """The block's valid pixels as rows through :meth:`LoadedModel.predict_proba`; the others 0."""
        bands, rows, cols = values.shape
        if bands != len(model.feature_names):
            raise ValueError(f"expected {len(model.feature_names)} bands, got {bands}")
        flat_valid = np.asarray(valid, dtype=bool).reshape(-1)
        pixels = np.asarray(values, dtype=np.float32).reshape(bands, -1)[:, flat_valid].T
        out = np.zeros((rows * cols, model.n_classes), dtype=np.float32)
        if pixels.shape[0]:
            out[flat_valid] = model.predict_proba(pixels)
        return np.ascontiguousarray(out.T.reshape(model.n_classes, rows, cols))

    def predict_at(self, model: Any, features: np.ndarray, xy: np.ndarray | None,
                   raster: str | None) -> np.ndarray:
        """The points' own band values are all a per-pixel model needs (no raster is read)."""
        return model.predict_proba(features)
