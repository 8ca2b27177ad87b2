"""Check TensorFlow environment: the first thing to run when something is wrong."""

from __future__ import annotations

from qgis.core import QgsProcessingOutputBoolean, QgsProcessingOutputString

from .base import LandcoverAlgorithm


class CheckEnvironmentAlgorithm(LandcoverAlgorithm):
    NAME = "checkenvironment"
    DISPLAY_NAME = "Check TensorFlow environment"
    GROUP_ID = "training"
    HELP = (
        "This algorithm starts the worker process that trains and applies models and reports "
        "which Python interpreter it uses, the prediction engines it has (TensorFlow with Keras "
        "trains and classifies; ONNX Runtime classifies, and is enough on a machine that only "
        "applies models), which one 'Classify image' takes when its engine is 'auto', the versions "
        "of Python, TensorFlow, Keras, ONNX Runtime, scikit-learn and NumPy, and the devices (CPU, "
        "GPU).\n\n"
        "TensorFlow never runs inside QGIS itself. The interpreter is taken from Processing > "
        "Options > Providers > Land cover CNN > 'Python interpreter with TensorFlow' (which "
        "'Install TensorFlow environment' sets), else from the environment variable "
        "LANDCOVER_CNN_PYTHON, else from the environment 'Install TensorFlow environment' builds in "
        "the QGIS profile, else from the .venv made by 'make setup', else python3. Run this first "
        "when training or classification fails to start; without TensorFlow, run 'Install "
        "TensorFlow environment'."
    )
    OUTPUTS = {
        "PYTHON_EXECUTABLE": "Python interpreter",
        "PYTHON_VERSION": "Python version",
        "ENGINES": "Prediction engines",
        "AUTO_ENGINE": "Engine 'auto' takes",
        "TENSORFLOW_VERSION": "TensorFlow version",
        "ONNXRUNTIME_VERSION": "ONNX Runtime version",
        "KERAS_VERSION": "Keras version",
        "SKLEARN_VERSION": "scikit-learn version",
        "NUMPY_VERSION": "NumPy version",
        "DEVICES": "Devices",
    }

    def initAlgorithm(self, config=None):  # noqa: N802
        for name, description in self.OUTPUTS.items():
            self.addOutput(QgsProcessingOutputString(name, self.tr(description)))
        self.addOutput(QgsProcessingOutputBoolean("GPU_AVAILABLE", self.tr("GPU available")))

    def process(self, parameters, context, feedback):
        result = self.run_worker("check", [], feedback)
        outputs = {name: result.get(name.lower(), "") for name in self.OUTPUTS}
        outputs["GPU_AVAILABLE"] = bool(result.get("gpu_available", False))
        return outputs
