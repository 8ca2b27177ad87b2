"""Base class of every landcover-cnn algorithm: instance creation, groups, help, worker runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from ..core.errors import UserInputError
from ..core.worker_process import WorkerCanceled, WorkerError, WorkerProcess, resolve_python
from ..resources import resource_path

GROUPS = {
    "datapreparation": "Data preparation",
    "training": "Training",
    "classification": "Classification",
    "accuracy": "Accuracy",
}


class LandcoverAlgorithm(QgsProcessingAlgorithm):
    """Subclasses set ``NAME``, ``DISPLAY_NAME``, ``GROUP_ID`` and ``HELP``."""

    NAME = ""
    DISPLAY_NAME = ""
    GROUP_ID = ""
    HELP = ""
    # Accuracy figures that trainmodel and assessaccuracy return as numbers (for scripts and the
    # Modeler): output name -> (label, key in the worker's result).
    OVERALL_ACCURACY = "OVERALL_ACCURACY"
    KAPPA = "KAPPA"
    MACRO_F1 = "MACRO_F1"
    ACCURACY_OUTPUTS = {OVERALL_ACCURACY: ("Overall accuracy", "overall_accuracy"),
                        KAPPA: ("Kappa", "kappa"), MACRO_F1: ("Macro F1", "macro_f1")}

    def createInstance(self):  # noqa: N802
        return type(self)()

    def name(self) -> str:
        return self.NAME

    def displayName(self) -> str:  # noqa: N802
        return self.tr(self.DISPLAY_NAME)

    def group(self) -> str:
        return self.tr(GROUPS[self.GROUP_ID])

    def groupId(self) -> str:  # noqa: N802
        return self.GROUP_ID

    def shortHelpString(self) -> str:  # noqa: N802
        return self.tr(self.HELP)

    def icon(self) -> QIcon:
        return QIcon(str(resource_path("icon.svg")))

    def checkParameterValues(self, parameters, context):  # noqa: N802
        """Numbers outside their range get a message with the range (QGIS's own names only the
        parameter); then QGIS's checks. Subclasses call this through ``super()`` first."""
        from .validation import number_range_problem

        problem = number_range_problem(self, parameters, context)
        if problem:
            return False, problem
        return super().checkParameterValues(parameters, context)

    def add_accuracy_outputs(self) -> None:
        for name, (label, _) in self.ACCURACY_OUTPUTS.items():
            self.addOutput(QgsProcessingOutputNumber(name, self.tr(label)))

    def accuracy_outputs(self, result: dict[str, Any]) -> dict[str, Any]:
        """The accuracy figures of a worker result, keyed by output name."""
        return {name: result.get(key) for name, (_, key) in self.ACCURACY_OUTPUTS.items()}

    def tr(self, text: str) -> str:
        return QCoreApplication.translate("LandcoverCnn", text)

    def run_worker(self, job: str, args: Sequence[str], feedback: QgsProcessingFeedback,
                   outputs: Sequence[str] = ()) -> dict[str, Any]:
        """Run a worker job in a child process, streaming progress and log to ``feedback``.

        A canceled job leaves no partial output and returns an empty result; a failed
        one becomes a :class:`QgsProcessingException` carrying the worker's message.
        """
        from .provider import python_setting

        python, source = resolve_python(python_setting())
        feedback.pushDebugInfo(f"Worker interpreter: {python} (from {source})")
        worker = WorkerProcess(job, list(args), python, outputs=list(outputs), python_source=source)

        def on_log(message: str, level: str) -> None:
            if level == "debug":
                feedback.pushDebugInfo(message)
            else:
                feedback.pushInfo(message)

        try:
            return worker.run(feedback.setProgress, on_log, feedback.isCanceled)
        except WorkerCanceled:
            feedback.reportError(self.tr("Canceled: the worker was stopped and no output was written."))
            return {}
        except WorkerError as exc:
            text = f"{exc.parameter}: {exc.message}" if exc.parameter else exc.message
            raise QgsProcessingException(text) from None


def processing_error(exc: UserInputError) -> QgsProcessingException:
    """Turn a core input error into the exception Processing shows without a traceback."""
    return QgsProcessingException(str(exc))
