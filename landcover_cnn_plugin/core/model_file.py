"""The model file (``.lcnn``): a zip of ``metadata.json`` and the network. Never pickle.

The network's member and format belong to the model family (``core.models``): ``model.keras``
(Keras' native format, loaded with ``safe_mode=True``, so no Python code runs from the file) for
the Keras families. :func:`read_model_metadata` needs only the standard library and NumPy (the
QGIS process uses it to match raster bands to the model's features); :func:`load_model_file`
gives a :class:`LoadedModel`, which predicts raw band values through its family. See
docs/DESIGN.md for the metadata layout.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_output
from .errors import UserInputError
from .indices import DERIVED_FEATURES, NO_DERIVED, add_derived, n_inputs
from .legend import ClassLegend
from .models import FAMILIES
from .models.base import ModelFamily, PredictionGraph
from .scaling import ZScoreScaler

FORMAT_NAME = "landcover-cnn-model"
FORMAT_VERSION = 2  # 2: optional derived_features (1 still reads: none)
METADATA_MEMBER = "metadata.json"
MODEL_EXTENSION = ".lcnn"
PREDICT_BATCH = 16384  # pixels per forward pass (study_mlp: ~60 MiB of activations)


WHAT_TO_DO = ("Choose a .lcnn file written by 'Train land cover model' (copied whole), or train the "
              "model again.")


def _refuse(path: str | os.PathLike, problem: str) -> UserInputError:
    """A refusal naming the file and the problem, with what to do (unless the problem says it)."""
    advice = "" if "update the" in problem else " " + WHAT_TO_DO
    return UserInputError(f"{path} is not a usable landcover-cnn model file: {problem}{advice}", "MODEL")


def plugin_version() -> str:
    """The plugin's version from its metadata.txt ("unknown" in a bare checkout)."""
    for folder in (Path(__file__).resolve().parents[1], Path(__file__).resolve().parents[2]):
        candidate = folder / "metadata.txt"
        if candidate.is_file():
            for line in candidate.read_text(encoding="utf-8").splitlines():
                if line.startswith("version="):
                    return line.split("=", 1)[1].strip()
    return "unknown"


def validate_metadata(metadata: Any, path: str | os.PathLike = "the model file") -> dict[str, Any]:
    """Check the metadata's structure and consistency; return it.

    Raises
    ------
    UserInputError
        (``MODEL``) saying which entry is missing or wrong.
    """
    if not isinstance(metadata, dict):
        raise _refuse(path, "its metadata is not a JSON object.")
    if metadata.get("format") != FORMAT_NAME:
        raise _refuse(path, f"its metadata does not name the format {FORMAT_NAME!r}.")
    version = metadata.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _refuse(path, f"its format version {version!r} is not valid.")
    if version > FORMAT_VERSION:
        raise _refuse(path, f"it has format version {version}, newer than this plugin reads "
                            f"({FORMAT_VERSION}); update the landcover-cnn plugin.")
    missing = [key for key in ("model_type", "feature_names", "patch_size", "scaler", "legend")
               if key not in metadata]
    if missing:
        raise _refuse(path, f"its metadata lacks {', '.join(missing)}.")
    model_type = metadata["model_type"]
    if model_type not in FAMILIES:
        raise _refuse(path, f"unknown model type {model_type!r} (this plugin knows "
                            f"{', '.join(FAMILIES)}).")
    names = metadata["feature_names"]
    if (not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names)
            or len(set(names)) != len(names)):
        raise _refuse(path, "its feature names are not a list of unique, non-empty names.")
    patch_size = metadata["patch_size"]
    if not isinstance(patch_size, int) or patch_size < 1 or patch_size % 2 == 0:
        raise _refuse(path, f"its patch size {patch_size!r} is not a positive odd integer.")
    problem = FAMILIES[model_type].metadata_problem(metadata)
    if problem:
        raise _refuse(path, problem)
    try:
        scaler = ZScoreScaler.from_dict(metadata["scaler"])
        ClassLegend.from_dict(metadata["legend"])
    except UserInputError as exc:
        raise _refuse(path, exc.message) from exc
    derived = metadata.get("derived_features", NO_DERIVED)
    if derived not in DERIVED_FEATURES:
        raise _refuse(path, f"unknown derived features {derived!r} (this plugin knows "
                            f"{', '.join(DERIVED_FEATURES)}).")
    expected = n_inputs(len(names), derived)
    if scaler.n_features != expected:
        raise _refuse(path, f"it names {len(names)} features (derived: {derived}, {expected} network "
                            f"inputs) but its scaler has {scaler.n_features}.")
    return metadata


def read_model_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate the metadata of a model file, without TensorFlow.

    Parameters
    ----------
    path : str or path
        The ``.lcnn`` file.

    Returns
    -------
    dict
        The metadata (see docs/DESIGN.md).

    Raises
    ------
    UserInputError
        (``MODEL``) the file is missing, not a zip (e.g. a renamed GeoTIFF), truncated,
        lacks a part, holds malformed or inconsistent JSON, or has a newer format version.
    """
    if not os.path.isfile(path):
        raise UserInputError(f"the model file {path} does not exist.", "MODEL")
    try:
        with zipfile.ZipFile(path) as archive:
            members = set(archive.namelist())
            if METADATA_MEMBER not in members:
                raise _refuse(path, f"it lacks {METADATA_MEMBER}.")
            raw = archive.read(METADATA_MEMBER)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise _refuse(path, f"it is not a complete zip archive ({exc}); was it truncated, or is it "
                            "another kind of file with the .lcnn extension?") from exc
    except OSError as exc:
        raise UserInputError(f"cannot read the model file {path}: {exc}.", "MODEL") from exc
    try:
        metadata = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _refuse(path, f"its metadata.json is not valid JSON ({exc}).") from exc
    validate_metadata(metadata, path)
    network_member = FAMILIES[metadata["model_type"]].network_member
    if network_member not in members:
        raise _refuse(path, f"it lacks {network_member}.")
    return metadata


def save_model_file(path: str | os.PathLike, network: Any, metadata: dict[str, Any]) -> str:
    """Write ``network`` (of the family ``metadata["model_type"]``) and ``metadata``, atomically.

    ``format``, ``format_version``, ``versions`` and ``created`` are filled in when absent.
    Returns the path written.
    """
    import sklearn

    metadata = dict(metadata)
    metadata["format"] = FORMAT_NAME
    metadata["format_version"] = FORMAT_VERSION
    validate_metadata(metadata, path)
    family = FAMILIES[metadata["model_type"]]
    metadata.setdefault("versions", {**family.library_versions(), "sklearn": sklearn.__version__,
                                     "numpy": np.__version__, "landcover_cnn": plugin_version()})
    metadata.setdefault("created", _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    text = json.dumps(metadata, indent=1, allow_nan=False)
    with tempfile.TemporaryDirectory(prefix="lcnn-save-") as folder:
        network_path = os.path.join(folder, family.network_member)
        family.save_network(network, network_path)
        with atomic_output(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(METADATA_MEMBER, text)
            archive.write(network_path, family.network_member)
    return os.fspath(path)


class LoadedModel:
    """A trained network with its metadata, ready to predict raw band values.

    What depends on the model type is asked of :attr:`family`; this class only applies the
    metadata's rules (band order, derived inputs, scaling, legend) that every family shares.

    Attributes
    ----------
    family : core.models.base.ModelFamily
    network : object
        The trained network as the family stores it (a ``keras.Model`` for Keras families).
    metadata : dict
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

    def __init__(self, family: ModelFamily, network: Any, metadata: dict[str, Any]) -> None:
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
        self._graph: PredictionGraph | None = None
        self._runner = None

    @property
    def n_classes(self) -> int:
        return self.legend.n_classes

    @property
    def prediction_graph(self) -> PredictionGraph:
        """The family's prediction graph of the network (built on first use)."""
        if self._graph is None:
            self._graph = self.family.prediction_graph(self.network, self.patch_size)
        return self._graph

    def run_graph(self, inputs: np.ndarray) -> np.ndarray:
        """The prediction graph on one batch of scaled inputs (its layout: :class:`PredictionGraph`)."""
        if self._runner is None:
            self._runner = self.family.graph_runner(self.prediction_graph)
        return self._runner(inputs)

    def network_inputs(self, values: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        """Raw band values -> what the network takes: derived channels added, then z-scored.

        ``values`` is channels-last ``(..., n_bands)`` (feature rows or patches); where ``valid``
        (shape ``values.shape[:-1]``) is False the inputs are 0 (the training mean). The one rule
        for every prediction path, as in training (``PixelInputs``, ``PatchInputs``).
        """
        return self.scaler.transform(add_derived(values, self.derived_features), valid)

    def predict_proba(self, features: np.ndarray, batch_size: int = PREDICT_BATCH) -> np.ndarray:
        """Class probabilities of per-pixel feature vectors (per-pixel prediction graphs only).

        Parameters
        ----------
        features : ndarray, shape (n, n_features)
            Raw values in the units of the training data, columns in ``feature_names`` order;
            NaN counts as nodata (filled with the training mean).
        batch_size : int
            Pixels per forward pass (memory: ``batch_size * n_features * 4`` bytes of input).

        Returns
        -------
        ndarray, shape (n, n_classes), float32
            Columns in legend (class id) order.
        """
        if not self.prediction_graph.per_pixel:
            raise ValueError("a patch model predicts blocks (predict_block), not feature rows")
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != len(self.feature_names):
            raise ValueError(f"expected (n, {len(self.feature_names)}) features, got {features.shape}")
        scaled = self.network_inputs(features)
        out = np.empty((len(scaled), self.n_classes), dtype=np.float32)
        for start in range(0, len(scaled), batch_size):
            stop = min(len(scaled), start + batch_size)
            out[start:stop] = self.run_graph(scaled[start:stop])
        return out

    def predict_codes(self, features: np.ndarray) -> np.ndarray:
        """Most probable class code per row of ``features`` (n, n_features) -> (n,) int64."""
        return self.legend.codes_from_ids(np.argmax(self.predict_proba(features), axis=1))

    def predict_block(self, values: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Class probabilities of a raster block.

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


def load_model_file(path: str | os.PathLike) -> LoadedModel:
    """Load a model file: metadata checks, then the network through its family.

    Raises
    ------
    UserInputError
        (``MODEL``) as :func:`read_model_metadata`, or when the network cannot be loaded
        or its input/output shapes disagree with the metadata.
    """
    metadata = read_model_metadata(path)
    family = FAMILIES[metadata["model_type"]]
    with tempfile.TemporaryDirectory(prefix="lcnn-load-") as folder:
        try:
            with zipfile.ZipFile(path) as archive:
                archive.extract(family.network_member, folder)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise _refuse(path, f"its network cannot be extracted ({exc}).") from exc
        try:
            network = family.load_network(os.path.join(folder, family.network_member))
        except ModuleNotFoundError:  # the interpreter lacks Keras or TensorFlow, not the file's fault
            raise
        except Exception as exc:  # the libraries raise many types for a damaged file
            raise _refuse(path, f"its network cannot be loaded ({type(exc).__name__}: {exc}).") from exc
    loaded = LoadedModel(family, network, metadata)
    input_shape, output_shape = family.network_shapes(network)
    expected_input = family.input_shape(loaded.n_inputs, loaded.patch_size)
    if input_shape != expected_input or output_shape[-1:] != (loaded.n_classes,):
        raise _refuse(path, f"its network takes {input_shape} and returns {output_shape}, but the "
                            f"metadata describes {expected_input} -> {loaded.n_classes} classes.")
    return loaded
