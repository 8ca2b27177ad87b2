"""Train land cover model: samples CSV -> model file, HTML report, accuracy figures (worker)."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingParameterFileDestination,
)

from ..core.atomic import check_output_folder
from ..core.errors import UserInputError
from .base import LandcoverAlgorithm, processing_error
from .training_parameters import TRAINING_HELP, TrainingParameters


class TrainModelAlgorithm(TrainingParameters, LandcoverAlgorithm):
    NAME = "trainmodel"
    DISPLAY_NAME = "Train land cover model"
    GROUP_ID = "training"
    HELP = (
        "This algorithm trains a land cover classifier (Keras/TensorFlow) on labelled samples and "
        "writes a model file (.lcnn) for 'Classify image', an HTML report and the accuracy on the "
        "held-out test samples (overall accuracy, kappa, macro F1) as outputs that the Modeler and "
        "qgis_process can read.\n\n" + TRAINING_HELP + "\n\n"
        "<b>Model file</b>: the network with its band names, scaling, legend, parameters and test "
        "metrics. <b>Report</b>: classes, per-class accuracy, confusion matrix, training curves and "
        "the split protocol. <b>Metrics JSON</b> (optional): the figures for scripts."
    )
    OUTPUT_MODEL = "OUTPUT_MODEL"
    OUTPUT_REPORT = "OUTPUT_REPORT"
    OUTPUT_METRICS = "OUTPUT_METRICS"

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add_training_parameters()
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_MODEL, self.tr("Model file"), "Land cover model (*.lcnn)"))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_REPORT, self.tr("Training report"), "HTML files (*.html)", optional=True))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_METRICS, self.tr("Metrics (JSON)"), "JSON files (*.json)", optional=True,
            createByDefault=False))
        self.add_accuracy_outputs()

    def checkParameterValues(self, parameters, context):  # noqa: N802
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        return self.check_training_values(parameters, context)

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        model = self.parameterAsFileOutput(parameters, self.OUTPUT_MODEL, context)
        report = self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context)
        metrics = self.parameterAsFileOutput(parameters, self.OUTPUT_METRICS, context)
        try:
            if not model.lower().endswith(".lcnn"):
                raise UserInputError(f"{model} must end in .lcnn.", self.OUTPUT_MODEL)
            for path, name in ((model, self.OUTPUT_MODEL), (report, self.OUTPUT_REPORT),
                               (metrics, self.OUTPUT_METRICS)):
                if path:
                    check_output_folder(path, name)
            samples = self.samples_csv(parameters, context, feedback)
            args = self.training_arguments(parameters, context, samples)
        except UserInputError as exc:
            raise processing_error(exc) from None
        features = self.split_list(self.parameterAsString(parameters, self.FEATURES, context))
        if features:
            args += ["--features", ",".join(features)]
        args += ["--model", model]
        if report:
            args += ["--report", report]
        if metrics:
            args += ["--metrics", metrics]
        result = self.run_worker("train", args, feedback, outputs=[model, report, metrics])
        if not result:
            return {}
        outputs = {self.OUTPUT_MODEL: model, **self.accuracy_outputs(result)}
        if report:
            outputs[self.OUTPUT_REPORT] = report
        if metrics:
            outputs[self.OUTPUT_METRICS] = metrics
        feedback.pushInfo(f"Test accuracy: overall {result.get('overall_accuracy')}, kappa "
                          f"{result.get('kappa')}, macro F1 {result.get('macro_f1')}")
        return outputs
