"""A model file's network and metadata, ready to predict raw band values (``load_model_file`` makes it).

What depends on the model type is asked of the family; how the prediction graph runs is the
engine's (:class:`~.engines.GraphRunner`): TensorFlow on the network, or ONNX Runtime on the graph
stored in the model file. Everything else (band order, derived inputs, scaling, nodata, legend,
batches and strips) is shared, so both engines see identical inputs.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from .engines import GraphRunner, tensorflow_runner
from .indices import NO_DERIVED, add_derived, n_inputs
from .legend import ClassLegend
from .models.base import ModelFamily
from .scaling import ZScoreScaler


class LoadedModel:
    """A trained model with its metadata, ready to predict raw band values.

    Parameters
    ----------
    family : core.models.base.ModelFamily
    network : object or None
        The trained network as the family stores it (a ``keras.Model`` for Keras families); None
        when only the ONNX graph was loaded (``runner`` then is ONNX Runtime's).
    metadata : dict
        The model file's metadata (docs/DESIGN.md).
    runner : GraphRunner, optional
        The engine. Default: the family's TensorFlow runner of ``network``, built on first use.

    Attributes
    ----------
    family, network, metadata
    legend : ClassLegend
    feature_names : list of str
    model_type : str
    patch_size : int
        1 for per-pixel models.
    derived_features : str
        Channels the network gets beside the bands (``core.indices``), computed from the raw
        band values before scaling.
    n_inputs : int
        Network input channels (bands + derived); the scaler has one entry per input.
    halo : int
        ``patch_size // 2``: extra pixels a block needs on each side.
    scaler : ZScoreScaler
    """

    def __init__(self, family: ModelFamily, network: Any, metadata: dict[str, Any],
                 runner: GraphRunner | None = None) -> None:
        self.family = family
        self.network = network
        self.metadata = metadata
        self.legend = ClassLegend.from_dict(metadata["legend"])
        self.feature_names: list[str] = list(metadata["feature_names"])
        self.model_type: str = metadata["model_type"]
        self.patch_size: int = int(metadata["patch_size"])
        self.derived_features: str = metadata.get("derived_features", NO_DERIVED)
        self.n_inputs: int = n_inputs(len(self.feature_names), self.derived_features)
        self.halo: int = self.patch_size // 2
        self.scaler = ZScoreScaler.from_dict(metadata["scaler"])
        self._runner = runner
        self._runner_lock = threading.Lock()  # predictor threads may ask for it at once

    @property
    def n_classes(self) -> int:
        return self.legend.n_classes

    @property
    def runner(self) -> GraphRunner:
        """The engine running the prediction graph (TensorFlow's built on first use)."""
        if self._runner is None:
            with self._runner_lock:
                if self._runner is None:
                    self._runner = tensorflow_runner(self.family, self.network, self.patch_size)
        return self._runner

    @property
    def engine(self) -> str:
        """``"tensorflow"`` or ``"onnxruntime"``."""
        return self.runner.engine

    @property
    def prediction_threads(self) -> int:
        """Blocks to predict at once (the engine's ``GraphRunner.threads``)."""
        return self.runner.threads

    def run_graph(self, inputs: np.ndarray) -> np.ndarray:
        """The prediction graph on one batch of scaled inputs (layout: ``PredictionGraph``)."""
        return self.runner.run(inputs)

    def network_inputs(self, values: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        """Raw band values -> what the network takes: derived channels added, then z-scored.

        ``values`` is channels-last ``(..., n_bands)`` (feature rows or patches); where ``valid``
        (shape ``values.shape[:-1]``) is False the inputs are 0 (the training mean). The one rule
        for every prediction path, as in training (``PixelInputs``, ``PatchInputs``).
        """
        return self.scaler.transform(add_derived(values, self.derived_features), valid)

    def predict_proba(self, features: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Class probabilities of per-pixel feature vectors (per-pixel prediction graphs only).

        Parameters
        ----------
        features : ndarray, shape (n, n_features)
            Raw values in the units of the training data, columns in ``feature_names`` order;
            NaN counts as nodata (filled with the training mean).
        batch_size : int, optional
            Pixels per call of the graph (default: the engine's ``batch_rows``).

        Returns
        -------
        ndarray, shape (n, n_classes), float32
            Columns in legend (class id) order.
        """
        runner = self.runner
        if not runner.per_pixel:
            raise ValueError("a patch model predicts blocks (predict_block), not feature rows")
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != len(self.feature_names):
            raise ValueError(f"expected (n, {len(self.feature_names)}) features, got {features.shape}")
        scaled = self.network_inputs(features)
        batch_size = batch_size or runner.batch_rows
        out = np.empty((len(scaled), self.n_classes), dtype=np.float32)
        for start in range(0, len(scaled), batch_size):
            stop = min(len(scaled), start + batch_size)
            out[start:stop] = runner.run(scaled[start:stop])
        return out

    def predict_codes(self, features: np.ndarray) -> np.ndarray:
        """Most probable class code per row of ``features`` (n, n_features) -> (n,) int64."""
        return self.legend.codes_from_ids(np.argmax(self.predict_proba(features), axis=1))

    def predict_block(self, values: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Class probabilities of a raster block (safe to call from several threads at once).

        Parameters
        ----------
        values : ndarray, shape (bands, rows + 2*halo, cols + 2*halo), float32
            Raw band values in ``feature_names`` order, the block plus its halo.
        valid : ndarray of bool, shape (rows + 2*halo, cols + 2*halo)
            False where any band is nodata.

        Returns
        -------
        ndarray, shape (n_classes, rows, cols), float32
            Probabilities of the interior pixels; 0 for every class where the pixel is invalid.
        """
        return self.family.predict_block(self, values, valid)

    def predict_at(self, features: np.ndarray, xy: np.ndarray | None = None,
                   raster: str | None = None) -> np.ndarray:
        """Class probabilities float32 ``(n, n_classes)`` at sample points.

        ``features`` (n, n_features) the points' raw band values, ``xy`` (n, 2) their map
        coordinates in the CRS of ``raster``, the stack they lie on (patch models cut their
        patches there; per-pixel models need the features only).
        """
        return self.family.predict_at(self, np.asarray(features, dtype=np.float32), xy, raster)
