"""Prediction engines: what runs a model's prediction graph (ENGINE of ``classifyimage``).

* ``tensorflow``: the family's own graph runner (``ModelFamily.graph_runner``) on the network
  loaded from the model file; needs TensorFlow and Keras.
* ``onnxruntime``: ONNX Runtime on the prediction graph stored in the model file (format 3,
  ``model.onnx``); needs only ``onnxruntime`` besides NumPy and GDAL. TensorFlow is never imported.
* ``auto``: ONNX Runtime when it is installed and the model file holds the graph, else TensorFlow.
  ``benchmarks/bench_engine.py`` measures both on every family; ONNX Runtime used less CPU time
  per pixel than TensorFlow on every family in the measurements made for issue 16, which is why it
  comes first.

Both engines take the same inputs (``LoadedModel.network_inputs``: derived channels, z-score, nodata
0), so everything around the graph (gathering valid pixels, strips, argmax, outputs) is shared; an
engine is a :class:`GraphRunner`. A new engine goes here: its name in :data:`ENGINES`, its packages
in :data:`ENGINE_PACKAGES`, a function returning a :class:`GraphRunner`, its case in
``model_file.load_model_file``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import MissingDependencyError, UserInputError

AUTO_ENGINE = "auto"
TENSORFLOW = "tensorflow"
ONNXRUNTIME = "onnxruntime"
#: The choices, in the order of the Processing enum (saved workflows store the index).
ENGINES = (AUTO_ENGINE, TENSORFLOW, ONNXRUNTIME)
#: What "auto" tries, fastest first (see the module docstring).
AUTO_PREFERENCE = (ONNXRUNTIME, TENSORFLOW)
#: Python modules an engine needs (besides NumPy and GDAL), and what installs them.
ENGINE_PACKAGES = {TENSORFLOW: ("tensorflow", "keras"), ONNXRUNTIME: ("onnxruntime",)}
PIP_NAMES = {TENSORFLOW: "tensorflow-cpu keras", ONNXRUNTIME: "onnxruntime"}
#: Rows per call of a per-pixel graph: TensorFlow (about 60 MiB of study_mlp activations) and ONNX
#: Runtime (4096 keeps them in the caches; larger calls were slower in issue 16's measurements).
TENSORFLOW_BATCH_ROWS, ONNX_BATCH_ROWS = 16_384, 4096
#: Output pixels per call of a fully convolutional graph under ONNX Runtime (about 64 MiB of
#: activations; TensorFlow takes ``models.patch.MAX_PIXELS``).
ONNX_STRIP_PIXELS = 65_536
#: Maximum difference of class probabilities between the two engines (checked when a model file is
#: saved, and by the tests).
ENGINE_TOLERANCE = 1e-5


@dataclass(frozen=True)
class GraphRunner:
    """A prediction graph ready to run, and how to call it efficiently.

    Attributes
    ----------
    run : callable
        Scaled inputs -> probabilities, in the layout of ``PredictionGraph`` (per pixel
        ``(n, n_inputs) -> (n, n_classes)``; fully convolutional ``(1, r + 2h, c + 2h, n_inputs) ->
        (1, r, c, n_classes)``). Safe to call from several threads at once.
    per_pixel : bool
    halo : int
    engine : str
        :data:`TENSORFLOW` or :data:`ONNXRUNTIME`.
    batch_rows : int
        Rows per call of a per-pixel graph.
    strip_pixels : int
        Output pixels per call of a fully convolutional graph.
    threads : int
        Blocks to predict at the same time (classification runs this many predictor threads):
        1 where the engine spreads one call over the cores itself.
    """

    run: Callable[[np.ndarray], np.ndarray]
    per_pixel: bool
    halo: int
    engine: str
    batch_rows: int
    strip_pixels: int
    threads: int


def cpu_cores() -> int:
    """Cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def package_version(module: str, distribution: str | None = None) -> str | None:
    """Installed version of the package providing ``module`` (its distribution may be named
    otherwise, e.g. "scikit-learn" for sklearn), or None when the module is missing; imports nothing."""
    try:
        if importlib.util.find_spec(module) is None:
            return None
    except (ImportError, ValueError):  # a broken installation, or an import hook refusing it
        return None
    for name in (distribution or module, f"{module}-cpu"):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


def installed_engines() -> dict[str, str]:
    """The engines whose packages are installed: name -> version of its main package."""
    found = {}
    for engine, packages in ENGINE_PACKAGES.items():
        versions = [package_version(package) for package in packages]
        if all(versions):
            found[engine] = str(versions[0])
    return found


def choose_engine(requested: str, graph_problem: str | None, model_path: str,
                  installed: dict[str, str] | None = None) -> str:
    """The engine that runs ``requested`` ("auto" resolved) for a model file.

    Parameters
    ----------
    requested : {"auto", "tensorflow", "onnxruntime"}
    graph_problem : str or None
        Why the model file has no usable ONNX graph (None: it has one).
    model_path : str
        Named in the messages.
    installed : dict, optional
        :func:`installed_engines` (asked when not given).

    Raises
    ------
    UserInputError
        (``ENGINE``) an unknown engine, a missing package, or ONNX Runtime for a model file
        without its graph; each message says what to do.
    """
    if requested not in ENGINES:
        raise UserInputError(f"unknown engine {requested!r}; choose one of {', '.join(ENGINES)}.", "ENGINE")
    installed = installed_engines() if installed is None else installed
    if requested == AUTO_ENGINE:
        usable = [engine for engine in AUTO_PREFERENCE
                  if engine in installed and not (engine == ONNXRUNTIME and graph_problem)]
        if usable:
            return usable[0]
        if ONNXRUNTIME in installed:  # only ONNX Runtime, and the file has no graph
            requested = ONNXRUNTIME
        else:
            # the interpreter, not ENGINE, is at fault: the plugin names it, why, and the installer
            raise MissingDependencyError(
                f"The Python interpreter {sys.executable} has neither tensorflow (training and "
                "classification) nor onnxruntime (classification only).")
    if requested not in installed:
        packages = " and ".join(ENGINE_PACKAGES[requested])
        raise UserInputError(
            f"ENGINE {requested} needs {packages}, which the worker's Python lacks: install it "
            f"(pip install {PIP_NAMES[requested]}), or choose ENGINE "
            f"{'tensorflow' if requested == ONNXRUNTIME else 'onnxruntime'} or auto.", "ENGINE")
    if requested == ONNXRUNTIME and graph_problem:
        raise UserInputError(
            f"ENGINE onnxruntime needs the ONNX graph that model files of format 3 carry, but "
            f"{model_path} {graph_problem}. Choose ENGINE tensorflow (or auto, which falls back to "
            "it) in an environment with TensorFlow, or train the model again with this version of "
            "the plugin.", "ENGINE")
    return requested


def tensorflow_runner(family: Any, network: Any, patch_size: int) -> GraphRunner:
    """The family's prediction graph run by its own runner (TensorFlow spreads a call over the cores)."""
    from .models.patch import MAX_PIXELS

    graph = family.prediction_graph(network, patch_size)
    return GraphRunner(family.graph_runner(graph), graph.per_pixel, graph.halo, TENSORFLOW,
                       batch_rows=TENSORFLOW_BATCH_ROWS, strip_pixels=MAX_PIXELS, threads=1)


def onnx_session(graph: bytes, threads: int = 1) -> Any:
    """An ONNX Runtime CPU session of a serialized graph.

    ``threads`` intra-op threads that do not spin while idle (spinning threads burn the cores the
    reader, the writer and the other predictor threads need); sequential execution (the graphs are
    chains); every graph optimisation (the NCHWc convolutions gain 15-20 % on patch graphs).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: warnings would interleave with the worker's lines
    return ort.InferenceSession(graph, sess_options=options, providers=["CPUExecutionProvider"])


def graph_io_shapes(session: Any) -> tuple[list, list]:
    """Input and output shapes of a session's first input and output (symbolic dimensions as names)."""
    return list(session.get_inputs()[0].shape), list(session.get_outputs()[0].shape)


def onnxruntime_runner(session: Any, per_pixel: bool, halo: int, threads: int | None = None) -> GraphRunner:
    """ONNX Runtime on a prediction graph: one session (:func:`onnx_session`, one intra-op thread)
    shared by ``threads`` predictor threads (default: one per core), each call on one core
    (``InferenceSession.run`` is thread-safe).

    :data:`ONNX_BATCH_ROWS` rows per call of per-pixel graphs, strips of :data:`ONNX_STRIP_PIXELS`.
    """
    from .models.base import ONNX_OUTPUT

    input_name = session.get_inputs()[0].name

    def run(inputs: np.ndarray) -> np.ndarray:
        return session.run([ONNX_OUTPUT], {input_name: np.ascontiguousarray(inputs, dtype=np.float32)})[0]

    return GraphRunner(run, per_pixel, halo, ONNXRUNTIME, batch_rows=ONNX_BATCH_ROWS,
                       strip_pixels=ONNX_STRIP_PIXELS,
                       threads=cpu_cores() if threads is None else max(1, int(threads)))
