"""The model file (``.lcnn``): a zip of ``metadata.json``, the network and its prediction graph as
ONNX. Never pickle.

The network's member and format belong to the model family (``core.models``): ``model.keras``
(Keras' native format, loaded with ``safe_mode=True``, so no Python code runs from the file) for
the Keras families. Format 3 adds ``model.onnx``, the family's prediction graph as ONNX, which
ONNX Runtime runs without TensorFlow (``core.engines``); it is checked against the network when
the file is written. A family whose network is itself an ONNX graph (its member ends in
``.onnx``, ``ModelFamily.network_is_onnx``) stores it once: that member is the graph.
:func:`read_model_metadata` needs only the standard library and NumPy (the QGIS process uses it to
match raster bands to the model's features); :func:`load_model_file` gives a ``LoadedModel``
(``core.loaded_model``) on the engine asked for. See docs/DESIGN.md for the layout.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_output
from .engines import (
    ENGINE_TOLERANCE,
    ONNXRUNTIME,
    TENSORFLOW,
    onnx_session,
    onnxruntime_runner,
    package_version,
)
from .errors import JobCanceled, UserInputError
from .indices import DERIVED_FEATURES, NO_DERIVED, n_inputs
from .legend import ClassLegend
from .loaded_model import LoadedModel, ModelSpec
from .models import FAMILIES
from .models.base import ONNX_INPUT, ONNX_MEMBER, ONNX_OPSET, ONNX_OUTPUT, ModelFamily
from .scaling import ZScoreScaler

FORMAT_NAME = "landcover-cnn-model"
#: 3: the prediction graph as ONNX (model.onnx, metadata "onnx"); 2: optional derived_features;
#: 1: neither. All three read.
FORMAT_VERSION = 3
METADATA_MEMBER = "metadata.json"
MODEL_EXTENSION = ".lcnn"
#: Inputs on which a new ONNX graph is compared with the network (rows; patches for patch models).
CHECK_ROWS, CHECK_PATCHES = 2048, 256


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
    if version >= 3:
        problem = _onnx_entry_problem(metadata.get("onnx"), patch_size, FAMILIES[model_type].graph_member)
        if problem:
            raise _refuse(path, f"its ONNX entry {problem}.")
    return metadata


def _onnx_entry_problem(entry: Any, patch_size: int, member: str) -> str | None:
    """What is wrong with metadata["onnx"] of a format-3 file whose graph is ``member`` (None: nothing)."""
    if not isinstance(entry, dict):
        return "is missing or not an object"
    if "error" in entry:
        return None if isinstance(entry["error"], str) else "has an error that is not text"
    if entry.get("member") != member or not isinstance(entry.get("per_pixel"), bool):
        return f"does not name the member {member} and its layout"
    halo = 0 if entry["per_pixel"] else patch_size // 2
    if entry.get("halo") != halo:
        return f"has the halo {entry.get('halo')!r}, not {halo}"
    digest = entry.get("sha256")
    if not isinstance(digest, str) or len(digest) != 64:
        return "has no SHA-256 digest of the graph"
    return None


def onnx_graph_problem(metadata: dict[str, Any]) -> str | None:
    """Why a model file (its validated metadata) has no ONNX graph to run, or None when it has one."""
    if metadata["format_version"] < 3:
        return (f"has format version {metadata['format_version']}, written before model files "
                "carried an ONNX graph")
    if "error" in metadata["onnx"]:
        return f"has no ONNX graph (its export failed when the file was written: {metadata['onnx']['error']})"
    return None


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
    family = FAMILIES[metadata["model_type"]]
    needed = [family.network_member]
    if onnx_graph_problem(metadata) is None:
        needed.append(family.graph_member)
    for member in needed:
        if member not in members:
            raise _refuse(path, f"it lacks {member}.")
    return metadata


def read_model_spec(path: str | os.PathLike) -> ModelSpec:
    """The :class:`~.loaded_model.ModelSpec` of a model file (checked as :func:`read_model_metadata`;
    no engine is loaded)."""
    return ModelSpec(read_model_metadata(path))


def save_model_file(path: str | os.PathLike, network: Any, metadata: dict[str, Any]) -> str:
    """Write ``network`` (of the family ``metadata["model_type"]``), its prediction graph as ONNX and
    ``metadata``, atomically.

    ``format``, ``format_version``, ``versions``, ``created`` and ``onnx`` are filled in. The ONNX
    graph is written only when ONNX Runtime reproduces the network's probabilities within
    ``1e-5`` (:func:`export_prediction_graph`); otherwise the file is written without it and
    ``onnx`` says why (the network, the work of a training, is never lost). Returns the path.
    """
    import sklearn

    metadata = dict(metadata)
    metadata["format"] = FORMAT_NAME
    metadata["format_version"] = FORMAT_VERSION
    metadata["onnx"] = {"error": "not exported yet"}
    validate_metadata(metadata, path)
    family = FAMILIES[metadata["model_type"]]
    metadata.setdefault("versions", {**family.library_versions(), "sklearn": sklearn.__version__,
                                     "numpy": np.__version__, "landcover_cnn": plugin_version()})
    metadata.setdefault("created", _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    with tempfile.TemporaryDirectory(prefix="lcnn-save-") as folder:
        network_path = os.path.join(folder, family.network_member)
        family.save_network(network, network_path)
        stored = Path(network_path).read_bytes() if family.network_is_onnx else None
        graph, metadata["onnx"] = export_prediction_graph(family, network, metadata, stored)
        validate_metadata(metadata, path)
        text = json.dumps(metadata, indent=1, allow_nan=False)
        with atomic_output(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(METADATA_MEMBER, text)
            archive.write(network_path, family.network_member)
            if graph is not None and not family.network_is_onnx:
                archive.writestr(ONNX_MEMBER, graph)
    return os.fspath(path)


def _check_inputs(family: ModelFamily, n_network_inputs: int, patch_size: int) -> np.ndarray:
    """Seeded inputs for the save-time check: standard normal (what z-scored inputs look like), an
    eighth of them 0 (nodata), shaped as in training."""
    shape = family.input_shape(n_network_inputs, patch_size)
    rows = CHECK_ROWS if len(shape) == 1 else CHECK_PATCHES
    inputs = np.random.default_rng(0).standard_normal((rows, *shape)).astype(np.float32)
    inputs[: rows // 8] = 0.0
    return inputs


def export_prediction_graph(family: ModelFamily, network: Any, metadata: dict[str, Any],
                            stored: bytes | None = None) -> tuple[bytes | None, dict[str, Any]]:
    """The family's prediction graph as ONNX and the metadata entry describing it.

    ``stored``: the network's own file when it is an ONNX graph (``family.network_is_onnx``).

    The graph runs in ONNX Runtime on :func:`_check_inputs` and must give the probabilities of
    ``family.predict_inputs`` within :data:`~.engines.ENGINE_TOLERANCE` (patch graphs, fully
    convolutional, turn each k x k patch into a 1 x 1 map). Any failure (a missing package, a
    layer the converter does not know, a difference) gives ``(None, {"error": why})``.
    """
    patch_size = int(metadata["patch_size"])
    try:
        graph = family.prediction_graph(network, patch_size)
        data = stored if stored is not None else family.onnx_graph(graph)
        inputs = _check_inputs(family, n_inputs(len(metadata["feature_names"]),
                                                metadata.get("derived_features", NO_DERIVED)), patch_size)
        session = onnx_session(data)
        got = session.run([ONNX_OUTPUT], {session.get_inputs()[0].name: inputs})[0].reshape(len(inputs), -1)
        difference = float(np.max(np.abs(got - family.predict_inputs(network, inputs))))
        if not difference <= ENGINE_TOLERANCE:
            raise ValueError(f"ONNX Runtime's probabilities differ from the network's by {difference:.2g}, "
                             f"more than {ENGINE_TOLERANCE:g}")
    except JobCanceled:
        raise
    except Exception as exc:  # the converters raise many types; the file is written without graph
        return None, {"error": f"{type(exc).__name__}: {exc}"}
    entry = {"member": family.graph_member, "opset": ONNX_OPSET, "input": ONNX_INPUT, "output": ONNX_OUTPUT,
             "per_pixel": graph.per_pixel, "halo": graph.halo, "layout": "NHWC",
             "takes": "network inputs: derived channels added, z-scored, 0 where nodata",
             "sha256": hashlib.sha256(data).hexdigest(), "max_abs_difference": difference,
             "checked_inputs": len(inputs),
             "versions": {name: package_version(name) or "" for name in ("onnx", "onnxruntime", "tf2onnx")}}
    return data, entry


def load_model_file(path: str | os.PathLike, engine: str = TENSORFLOW) -> LoadedModel:
    """Load a model file: metadata checks, then what ``engine`` runs.

    Parameters
    ----------
    path : str or path
    engine : {"tensorflow", "onnxruntime"}
        ``tensorflow``: the network through its family (``LoadedModel.network`` set);
        ``onnxruntime``: only the ONNX graph (``network`` None; TensorFlow is never imported).
        "auto" is resolved before (``core.engines.choose_engine``).

    Raises
    ------
    UserInputError
        (``MODEL``) as :func:`read_model_metadata`, or when the network or graph cannot be loaded
        or its input/output shapes disagree with the metadata; (``ENGINE``) onnxruntime for a file
        without a graph.
    """
    metadata = read_model_metadata(path)
    family = FAMILIES[metadata["model_type"]]
    if engine == ONNXRUNTIME:
        return _load_onnx_graph(path, family, metadata)
    if engine != TENSORFLOW:
        raise ValueError(f"engine must be {TENSORFLOW} or {ONNXRUNTIME}, not {engine!r}")
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


def read_onnx_graph(path: str | os.PathLike, metadata: dict[str, Any]) -> bytes:
    """The ONNX graph of a format-3 model file, checked against its SHA-256 digest (no TensorFlow).

    Raises
    ------
    UserInputError
        (``ENGINE``) the file has no graph; (``MODEL``) the graph is damaged.
    """
    problem = onnx_graph_problem(metadata)
    if problem:
        raise UserInputError(f"{path} {problem}: run it with ENGINE tensorflow, or train the model again "
                             "with this version of the plugin.", "ENGINE")
    try:
        with zipfile.ZipFile(path) as archive:
            data = archive.read(metadata["onnx"]["member"])
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError) as exc:
        raise _refuse(path, f"its ONNX graph cannot be read ({exc}).") from exc
    if hashlib.sha256(data).hexdigest() != metadata["onnx"]["sha256"]:
        raise _refuse(path, f"its ONNX graph {metadata['onnx']['member']} does not match the digest in its "
                            "metadata (damaged or replaced).")
    return data


def _load_onnx_graph(path: str | os.PathLike, family: ModelFamily, metadata: dict[str, Any]) -> LoadedModel:
    """A ``LoadedModel`` on ONNX Runtime: the graph of the file, no network."""
    data = read_onnx_graph(path, metadata)
    try:
        session = onnx_session(data)
    except Exception as exc:  # onnxruntime raises its own types for a graph it cannot load
        raise _refuse(path, f"its ONNX graph cannot be loaded ({type(exc).__name__}: {exc}).") from exc
    entry = metadata["onnx"]
    runner = onnxruntime_runner(session, entry["per_pixel"], entry["halo"])
    loaded = LoadedModel(family, None, metadata, runner)
    input_shape, output_shape = session.get_inputs()[0].shape, session.get_outputs()[0].shape
    if input_shape[-1] != loaded.n_inputs or output_shape[-1] != loaded.n_classes:
        raise _refuse(path, f"its ONNX graph takes {input_shape} and returns {output_shape}, but the "
                            f"metadata describes {loaded.n_inputs} inputs -> {loaded.n_classes} classes.")
    return loaded
