"""What runs on the Dask workers: the model cache, the block task and the start-up checks.

A worker needs the plugin's Python environment only: the client uploads the plugin's code (a zip
on the workers' ``sys.path``) and the model file's bytes (Dask ``UploadFile`` worker plugins, so
that a worker that joins or restarts mid-run gets them too; the model file lands in the worker's
local directory as :func:`model_file_name`). Each worker loads a model once, with the plugin's own
loader (``core.model_file.load_model_file`` on the engine the client chose; a model file is data,
never a pickle), and keeps it in a cache keyed by the file's SHA-256 and the engine. A block task
is the single-machine path's read and predict stages (``core.classify.read_classify_inputs`` and
``classify_values``) on the worker's own open input.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from distributed import get_worker

from ..classify import BlockResult, classify_values, read_classify_inputs
from ..errors import UserInputError
from ..io.blocks import Block
from ..io.rasters import RasterBands, gdal_version, open_raster
from ..model_file import LoadedModel, load_model_file

#: Libraries whose versions must be the same on the client and on every worker (distribution
#: names, first installed one counts): they decide what a block's pixels become. Every one
#: installed on the client is checked, so the engine's (the client must have it to choose it:
#: ``core.engines.choose_engine``) always is.
CHECKED_DISTRIBUTIONS = {
    "numpy": ("numpy",),
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-gpu"),
    "keras": ("keras",),
    "scikit-learn": ("scikit-learn",),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
}
#: Models a worker keeps loaded (most recently used).
CACHED_MODELS = 2


def model_file_name(key: str) -> str:
    """Name of the model file on the workers (in their local directory): from its SHA-256 ``key``."""
    return f"landcover-cnn-model-{key[:16]}.lcnn"


_models: OrderedDict[tuple[str, str], LoadedModel] = OrderedDict()
_models_lock = threading.Lock()


def worker_model(key: str, engine: str) -> LoadedModel:
    """The model file whose SHA-256 is ``key`` on ``engine``, loaded once per worker process and kept
    (LRU)."""
    with _models_lock:
        model = _models.get((key, engine))
        if model is None:
            model = load_model_file(os.path.join(get_worker().local_directory, model_file_name(key)), engine)
            _models[(key, engine)] = model
            while len(_models) > CACHED_MODELS:
                _models.popitem(last=False)
        _models.move_to_end((key, engine))
        return model


def unreachable_input(raster: str, where: str, details: str) -> UserInputError:
    """The refusal when workers cannot open the input: names the path, says every worker must reach it."""
    return UserInputError(
        f"the Dask worker(s) {where} cannot open the input raster {raster} ({details}). Every worker "
        "must reach the input at the same path: put it on a file system that every worker mounts "
        "at that path, or give a GDAL virtual path that every worker can read (/vsicurl/https://..., "
        "/vsis3/bucket/...).", "INPUT")


def open_input(raster: str, worker_address: str):
    """The input raster opened on this worker (:func:`unreachable_input` when it cannot be)."""
    try:
        return open_raster(raster, "INPUT")
    except UserInputError as exc:
        raise unreachable_input(raster, worker_address, exc.message) from None


def input_problem(raster: str) -> str | None:
    """Why this worker cannot open ``raster`` (GDAL's message; None: it can). Run on every worker first."""
    try:
        open_raster(raster, "INPUT")
    except UserInputError as exc:
        return exc.message
    return None


def classify_block_task(raster: str, model_key: str, engine: str, block: Block,
                        inside: np.ndarray | None, with_probabilities: bool) -> BlockResult:
    """One block on a worker: the cached model, the worker's own input, then the single-machine
    path's :func:`~..classify.read_classify_inputs` and :func:`~..classify.classify_values`.

    ``inside``: where the client's mask allows classifying (with the halo), or None.
    """
    model = worker_model(model_key, engine)
    dataset = open_input(raster, get_worker().address)
    bands = RasterBands.of(dataset, model.feature_names, "INPUT")
    values, valid = read_classify_inputs(dataset, block, bands, inside)
    return classify_values(model, values, valid, with_probabilities)


def environment() -> dict[str, str]:
    """Python, GDAL, the checked libraries (as installed) and the plugin's code, for comparison.

    The same function runs on the client and on every worker; a library that is not installed
    is "not installed".
    """
    versions = {"python": ".".join(platform.python_version_tuple()[:2]), "gdal": gdal_version()}
    for library, distributions in CHECKED_DISTRIBUTIONS.items():
        versions[library] = next((version for version in map(_installed, distributions) if version),
                                 "not installed")
    versions["landcover_cnn code"] = package_digest()[:12]
    return versions


def _installed(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def package_digest() -> str:
    """SHA-256 of the plugin's Python sources as this process imports them (a folder or an uploaded zip)."""
    digest = hashlib.sha256()
    for relative, data in sorted(_package_sources(Path(__file__).resolve().parents[2])):
        digest.update(relative.encode() + b"\0" + data)
    return digest.hexdigest()


def _package_sources(root: Path) -> Iterator[tuple[str, bytes]]:
    """(path inside the package, bytes) of every .py file of the package at ``root``."""
    if root.is_dir():
        for path in root.rglob("*.py"):
            yield path.relative_to(root).as_posix(), path.read_bytes()
        return
    archive = next(parent for parent in root.parents if parent.is_file())  # imported from a zip
    prefix = root.relative_to(archive).as_posix() + "/"
    with zipfile.ZipFile(archive) as opened:
        for name in opened.namelist():
            if name.startswith(prefix) and name.endswith(".py"):
                yield name[len(prefix):], opened.read(name)
