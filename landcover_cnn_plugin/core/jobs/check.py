"""``check``: report the interpreter, both prediction engines, library versions and devices."""

from __future__ import annotations

import argparse
import platform
import sys
from typing import Any

NAME = "check"
HELP = ("Report the Python interpreter, the prediction engines it has (TensorFlow with Keras for "
        "training and classification, ONNX Runtime for classification), library versions and devices.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace, reporter) -> dict[str, Any]:
    from ..engines import AUTO_PREFERENCE, ONNXRUNTIME, TENSORFLOW, installed_engines, package_version
    from ..errors import MissingDependencyError
    from ..worker_process import HOW_TO_CHOOSE

    reporter.log(f"Python interpreter: {sys.executable}")
    reporter.progress(10)
    import numpy  # noqa: F401  (a missing package ends here with a clear message)

    engines = installed_engines()
    if not engines:
        raise MissingDependencyError(
            f"The Python interpreter {sys.executable} has neither tensorflow (training and "
            "classification) nor onnxruntime (classification only): install tensorflow-cpu and keras, "
            "or onnxruntime. " + HOW_TO_CHOOSE)
    reporter.progress(30)
    devices = []
    if TENSORFLOW in engines:
        import tensorflow as tf

        devices = [f"{d.device_type}:{d.name}" for d in tf.config.list_physical_devices()]
    if ONNXRUNTIME in engines:
        import onnxruntime

        devices += [f"onnxruntime:{name}" for name in onnxruntime.get_available_providers()
                    if name != "AzureExecutionProvider"]
    reporter.progress(80)
    result = {
        "python_executable": sys.executable,
        "python_version": platform.python_version(),
        "engines": ", ".join(engines),
        "auto_engine": next(engine for engine in AUTO_PREFERENCE if engine in engines),
        "tensorflow_version": engines.get(TENSORFLOW, ""),
        "keras_version": package_version("keras") or "",
        "onnxruntime_version": engines.get(ONNXRUNTIME, ""),
        "sklearn_version": package_version("sklearn", "scikit-learn") or "",
        "numpy_version": numpy.__version__,
        "devices": ", ".join(devices),
        "gpu_available": any(d.startswith("GPU") or "CUDA" in d for d in devices),
    }
    if TENSORFLOW not in engines:
        reporter.log("TensorFlow is not installed: this interpreter can classify (ENGINE onnxruntime, "
                     "model files of format 3) but not train.")
    for key, value in result.items():
        reporter.log(f"{key}: {value}")
    return result
