"""Base class of every landcover-cnn algorithm: identity and help, parameter checks, output paths,
feedback, and running core code or a worker job."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingDestinationParameter,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputLayerDefinition,
    QgsProcessingOutputNumber,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterFileDestination,
    QgsProperty,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from ..core.atomic import check_output_folder
from ..core.errors import JobCanceled, UserInputError
from ..core.worker_process import WorkerCanceled, WorkerError, WorkerProcess, resolve_python
from ..resources import resource_path
from .checks import number_range_problem
from .provider_settings import private_environment_dir, python_setting

#: Metadata key marking a product output (:meth:`LandcoverAlgorithm.add_product_output`).
PRODUCT_KEY = "landcovercnn_product"

GROUPS = {
    "datapreparation": "Data preparation",
    "training": "Training",
    "classification": "Classification",
    "accuracy": "Accuracy",
}


class FeedbackReporter:
    """core ``Reporter`` on a Processing feedback (progress in percent, log lines)."""

    def __init__(self, feedback: QgsProcessingFeedback) -> None:
        self.feedback = feedback

    def progress(self, percent: float) -> None:
        self.feedback.setProgress(percent)

    def log(self, message: str) -> None:
        self.feedback.pushInfo(message)


class LandcoverAlgorithm(QgsProcessingAlgorithm):
    """Subclasses set ``NAME``, ``DISPLAY_NAME``, ``GROUP_ID`` and ``HELP``, declare their
    parameters in ``initAlgorithm``, check them in :meth:`check_parameters` and work in
    :meth:`process`."""

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

    def tr(self, text: str) -> str:
        return QCoreApplication.translate("LandcoverCnn", text)

    # --- checks -------------------------------------------------------------------------------
    def checkParameterValues(self, parameters, context):  # noqa: N802
        """Numbers outside their range get a message with the range (QGIS's own names only the
        parameter); then QGIS's checks; then the algorithm's :meth:`check_parameters`."""
        problem = number_range_problem(self, parameters)
        if problem:
            return False, problem
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        try:
            problem = self.check_parameters(parameters, context)
        except UserInputError as exc:
            problem = str(exc)
        return (False, problem) if problem else (True, "")

    def check_parameters(self, parameters: dict[str, Any], context: QgsProcessingContext) -> str | None:
        """The algorithm's own checks: the first problem (a message naming the parameter), or None.

        Shared checks are in ``checks.py``; a :class:`UserInputError` raised here is shown alike.
        """
        return None

    # --- outputs ------------------------------------------------------------------------------
    def add_number_outputs(self, outputs: Mapping[str, str]) -> None:
        """Declare numeric outputs: name -> label."""
        for name, label in outputs.items():
            self.addOutput(QgsProcessingOutputNumber(name, self.tr(label)))

    def add_accuracy_outputs(self) -> None:
        self.add_number_outputs({name: label for name, (label, _) in self.ACCURACY_OUTPUTS.items()})

    def accuracy_outputs(self, result: dict[str, Any]) -> dict[str, Any]:
        """The accuracy figures of a worker result, keyed by output name."""
        return {name: result.get(key) for name, (_, key) in self.ACCURACY_OUTPUTS.items()}

    def add_product_output(self, definition: QgsProcessingDestinationParameter) -> None:
        """Declare the output the algorithm exists for (the stack, the samples, the model, the map).

        Processing sees it as optional, so that a model exposing it as a final output runs with its
        inputs alone (qgis_process and the model dialog refuse a mandatory output without a value);
        it is never skipped: given nothing, it goes to a temporary file (:meth:`output_paths`).
        """
        definition.setFlags(definition.flags() | QgsProcessingParameterDefinition.FlagOptional)
        definition.setCreateByDefault(True)
        definition.setMetadata({**definition.metadata(), PRODUCT_KEY: True})
        self.addParameter(definition)

    def output_paths(self, parameters: dict[str, Any], context: QgsProcessingContext,
                     names: Sequence[str]) -> dict[str, str]:
        """The paths of file, raster or vector destinations, each read once; folders checked.

        What QGIS passes for an output is accepted as its own algorithms accept it: a path,
        ``TEMPORARY_OUTPUT`` (a new file in the Processing temporary folder), or nothing (absent,
        None, '', as a model passes a final output left empty). Nothing skips an optional output
        ('' in the result) and sends a mandatory one or a product (:meth:`add_product_output`) to a
        temporary file. Call it once per run: every call for ``TEMPORARY_OUTPUT`` makes another
        temporary name. ``UserInputError`` names the parameter of a folder that is missing or not
        writable.
        """
        paths = {}
        for name in names:
            definition = self.parameterDefinition(name)
            value = parameters.get(name)
            if (isinstance(value, QgsProcessingOutputLayerDefinition)
                    and value.sink.propertyType() == QgsProperty.StaticProperty
                    and value.sink.staticValue() in (None, "")):
                value = None
            if value in (None, ""):
                optional = bool(definition.flags() & QgsProcessingParameterDefinition.FlagOptional)
                if optional and not definition.metadata().get(PRODUCT_KEY):
                    paths[name] = ""
                    continue
                value = QgsProcessing.TEMPORARY_OUTPUT
            given = {**parameters, name: value}
            if isinstance(definition, QgsProcessingParameterFileDestination):
                paths[name] = self.parameterAsFileOutput(given, name, context)
            else:
                paths[name] = self.parameterAsOutputLayer(given, name, context)
            if paths[name]:
                check_output_folder(paths[name], name)
        return paths

    @staticmethod
    def option_arguments(options: Mapping[str, str]) -> list[str]:
        """Command-line options of a worker job for the values given: ``{"--report": path}`` ->
        ``["--report", path]``; empty values are left out."""
        return [part for option, value in options.items() if value for part in (option, value)]

    # --- running ------------------------------------------------------------------------------
    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        """Run :meth:`process`. Core's input errors become Processing errors (a message, no
        traceback); a cancel, of core code or of the worker, ends with a message and no output."""
        try:
            return self.process(parameters, context, feedback)
        except UserInputError as exc:  # Processing shows the message without a traceback
            raise QgsProcessingException(str(exc)) from None
        except JobCanceled:
            feedback.reportError(self.tr("Canceled: no output was written."))
        except WorkerCanceled:
            feedback.reportError(self.tr("Canceled: the worker was stopped and no output was written."))
        return {}

    def process(self, parameters: dict[str, Any], context: QgsProcessingContext,
                feedback: QgsProcessingFeedback) -> dict[str, Any]:
        """The algorithm's work (QGIS's ``processAlgorithm``): read the parameters, call core or
        :meth:`run_worker`, return the outputs. Core code raises ``UserInputError`` for bad input
        and ``JobCanceled`` when ``feedback.isCanceled()``; partial files are core's to remove."""
        raise NotImplementedError

    def run_worker(self, job: str, args: Sequence[str], feedback: QgsProcessingFeedback,
                   outputs: Sequence[str] = (), python: tuple[str, str] | None = None) -> dict[str, Any]:
        """Run a worker job in a child process, streaming progress and log to ``feedback``.

        A failed job becomes a :class:`QgsProcessingException` carrying the worker's message;
        a canceled one (``WorkerCanceled``, handled by :meth:`processAlgorithm`) leaves no
        partial file of ``outputs``. ``python``: (interpreter, where it comes from), instead of
        the one ``resolve_python`` chooses.
        """
        python, source = python or resolve_python(python_setting(), private_environment_dir())
        feedback.pushDebugInfo(f"Worker interpreter: {python} (from {source})")
        worker = WorkerProcess(job, list(args), python, outputs=list(outputs), python_source=source)

        def on_log(message: str, level: str) -> None:
            if level == "debug":
                feedback.pushDebugInfo(message)
            else:
                feedback.pushInfo(message)

        try:
            return worker.run(feedback.setProgress, on_log, feedback.isCanceled)
        except WorkerError as exc:
            text = f"{exc.parameter}: {exc.message}" if exc.parameter else exc.message
            if exc.summary:  # a long explanation once, as a warning; QGIS repeats the exception's text
                feedback.pushWarning(text)
                text = f"{exc.parameter}: {exc.summary}" if exc.parameter else exc.summary
            raise QgsProcessingException(text) from None
