"""``check``: report the interpreter, library versions and devices."""

from __future__ import annotations

import argparse
import platform
import sys
from typing import Any

NAME = "check"
HELP = "Report the Python interpreter, TensorFlow, Keras and scikit-learn versions and devices."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace, reporter) -> dict[str, Any]:
    reporter.log(f"Python interpreter: {sys.executable}")
    reporter.progress(10)
    import numpy  # noqa: F401  (a missing package ends here with a clear message)
    import tensorflow as tf

    reporter.progress(60)
    import keras
    import sklearn

    devices = [f"{d.device_type}:{d.name}" for d in tf.config.list_physical_devices()]
    result = {
        "python_executable": sys.executable,
        "python_version": platform.python_version(),
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "sklearn_version": sklearn.__version__,
        "numpy_version": numpy.__version__,
        "devices": ", ".join(devices),
        "gpu_available": any(d.startswith("GPU") for d in devices),
    }
    for key, value in result.items():
        reporter.log(f"{key}: {value}")
    return result
