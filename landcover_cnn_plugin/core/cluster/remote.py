"""What runs on the Dask workers: the model cache, the block task and the start-up checks.

A worker needs the plugin's Python environment only: the client uploads the plugin's code (a zip
on the workers' ``sys.path``) and the model file's bytes (:class:`ModelFile`, a worker plugin, so
that a worker that joins or restarts mid-run gets them too). Each worker loads a model once, with
the plugin's own loader (``core.model_file.load_model_file``; a model file is data, never a
pickle), and keeps it in a cache keyed by the file's SHA-256.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import tempfile
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

from distributed import WorkerPlugin, get_worker

from ..classify import BlockJob, BlockOutputs, BlockResult, classify_block
from ..errors import UserInputError
from ..io.rasters import RasterBands, gdal_version, open_raster
from ..model_file import LoadedModel, load_model_file

#: Libraries whose versions must be the same on the client and on every worker (distribution
#: names, first installed one counts): they decide what a block's pixels become.
CHECKED_DISTRIBUTIONS = {
    "numpy": ("numpy",),
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-gpu"),
    "keras": ("keras",),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
}
#: Models a worker keeps loaded (most recently used).
CACHED_MODELS = 2


class ModelFile(WorkerPlugin):
    """Carries a model file's bytes to every worker, present and future (loaded on first use).

    Parameters
    ----------
    data : bytes
        The ``.lcnn`` file.
    run : str
        Token of the classification run (the plugin's name holds it, so that runs of the same
        model on one cluster do not remove each other's plugin).
    """

    def __init__(self, data: bytes, run: str) -> None:
        self.data = data
        self.key = hashlib.sha256(data).hexdigest()
        self.name = f"landcover-cnn-model-{self.key[:16]}-{run}"


_models: OrderedDict[str, LoadedModel] = OrderedDict()
_models_lock = threading.Lock()


def worker_model(plugin_name: str) -> LoadedModel:
    """The model of the :class:`ModelFile` plugin ``plugin_name``, loaded once per worker process."""
    worker = get_worker()
    plugin: ModelFile = worker.plugins[plugin_name]
    with _models_lock:
        model = _models.get(plugin.key)
        if model is None:
            with tempfile.TemporaryDirectory(prefix="lcnn-model-", dir=worker.local_directory) as folder:
                path = os.path.join(folder, "model.lcnn")
                Path(path).write_bytes(plugin.data)
                model = load_model_file(path)
            _models[plugin.key] = model
            while len(_models) > CACHED_MODELS:
                _models.popitem(last=False)
        _models.move_to_end(plugin.key)
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


def classify_block_task(raster: str, plugin_name: str, job: BlockJob, outputs: BlockOutputs) -> BlockResult:
    """One block on a worker: open the input, take the cached model, :func:`classify_block`."""
    model = worker_model(plugin_name)
    dataset = open_input(raster, get_worker().address)
    return classify_block(dataset, RasterBands.of(dataset, model.feature_names, "INPUT"), model, job,
                          outputs)


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
