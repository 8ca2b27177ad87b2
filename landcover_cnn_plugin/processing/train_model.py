"""Train land cover model: samples CSV -> model file, HTML report, accuracy figures (worker)."""

from __future__ import annotations

from qgis.core import QgsProcessingParameterFileDestination

from ..core.errors import UserInputError
from .base import LandcoverAlgorithm
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
    FILE_OUTPUTS = (OUTPUT_MODEL, OUTPUT_REPORT, OUTPUT_METRICS)

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add_training_parameters()
        self.add_product_output(QgsProcessingParameterFileDestination(
            self.OUTPUT_MODEL, self.tr("Model file"), "Land cover model (*.lcnn)"))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_REPORT, self.tr("Training report"), "HTML files (*.html)", optional=True))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_METRICS, self.tr("Metrics (JSON)"), "JSON files (*.json)", optional=True,
            createByDefault=False))
        self.add_accuracy_outputs()

    def check_parameters(self, parameters, context):
        ok, message = self.check_training_values(parameters, context)
        return None if ok else message

    def process(self, parameters, context, feedback):
        paths = self.output_paths(parameters, context, self.FILE_OUTPUTS)
        model = paths[self.OUTPUT_MODEL]
        if not model.lower().endswith(".lcnn"):
            raise UserInputError(f"{model} must end in .lcnn.", self.OUTPUT_MODEL)
        args = self.training_arguments(parameters, context, self.samples_csv(parameters, context, feedback))
        features = self.split_list(self.parameterAsString(parameters, self.FEATURES, context))
        args += self.option_arguments({"--features": ",".join(features), "--model": model,
                                       "--report": paths[self.OUTPUT_REPORT],
                                       "--metrics": paths[self.OUTPUT_METRICS]})
        result = self.run_worker("train", args, feedback, outputs=list(paths.values()))
        feedback.pushInfo(f"Test accuracy: overall {result.get('overall_accuracy')}, kappa "
                          f"{result.get('kappa')}, macro F1 {result.get('macro_f1')}")
        return {**{name: path for name, path in paths.items() if path}, **self.accuracy_outputs(result)}
