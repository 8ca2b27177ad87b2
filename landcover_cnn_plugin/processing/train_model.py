"""Train land cover model: samples CSV -> model file, HTML report, accuracy figures (worker)."""

from __future__ import annotations

from qgis.core import QgsProcessingOutputString, QgsProcessingParameterFileDestination

from ..core.errors import UserInputError
from .base import LandcoverAlgorithm
from .training_parameters import TRAINING_HELP, TrainingParameters


class TrainModelAlgorithm(TrainingParameters, LandcoverAlgorithm):
    NAME = "trainmodel"
    DISPLAY_NAME = "Train land cover model"
    GROUP_ID = "training"
    HELP = (
        "This algorithm trains a land cover classifier on labelled samples and writes a model file "
        "(.lcnn) for 'Classify image', an HTML report, and the accuracy on polygons the model did not "
        "see (overall accuracy, kappa, macro F1, each with its 95 % interval) as outputs that the "
        "Modeler and qgis_process can read.\n\n" + TRAINING_HELP + "\n\n"
        "<b>Model file</b>: the model with its band names, scaling, legend, parameters and figures. "
        "<b>Report</b>: warnings about what limits the figures, the figures with their intervals, the "
        "automatic choice's comparison, the folds, classes with their polygons, per-class accuracy, "
        "confusion matrix, training curves. <b>Metrics JSON</b> (optional): the figures for scripts. "
        "Outputs <b>..._LOW</b> / <b>..._HIGH</b>: the 95 % interval; <b>..._STD</b>: the spread over "
        "the folds (cross-validation only); <b>MODEL_TYPE_USED</b>: the model trained."
    )
    OUTPUT_MODEL = "OUTPUT_MODEL"
    OUTPUT_REPORT = "OUTPUT_REPORT"
    OUTPUT_METRICS = "OUTPUT_METRICS"
    FILE_OUTPUTS = (OUTPUT_MODEL, OUTPUT_REPORT, OUTPUT_METRICS)
    MODEL_TYPE_USED = "MODEL_TYPE_USED"
    #: Interval bounds and spreads over folds of the accuracy outputs: output -> (label, figure, item).
    SPREAD_OUTPUTS = {f"{output}_{end}": (f"{label}: {words}", figure, end)
                      for output, (label, figure) in LandcoverAlgorithm.ACCURACY_OUTPUTS.items()
                      for end, words in (("LOW", "95 % interval, lower bound"),
                                         ("HIGH", "95 % interval, upper bound"),
                                         ("STD", "spread (standard deviation) over the folds"))}

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
        self.add_number_outputs({name: label for name, (label, _, _) in self.SPREAD_OUTPUTS.items()})
        self.addOutput(QgsProcessingOutputString(self.MODEL_TYPE_USED, self.tr("Model type trained")))

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
        feedback.pushInfo(f"Accuracy on held-out polygons ({result.get('model_type')}): overall "
                          f"{result.get('overall_accuracy')}, kappa {result.get('kappa')}, macro F1 "
                          f"{result.get('macro_f1')}; 95 % intervals {result.get('intervals')}")
        for warning in result.get("warnings", []):
            feedback.pushWarning(f"Warning: {warning}")
        return {**{name: path for name, path in paths.items() if path}, **self.accuracy_outputs(result),
                **{name: self.spread(result, figure, end)
                   for name, (_, figure, end) in self.SPREAD_OUTPUTS.items()},
                self.MODEL_TYPE_USED: result.get("model_type")}

    @staticmethod
    def spread(result: dict, figure: str, end: str) -> float | None:
        """An interval bound (``LOW``, ``HIGH``) or the spread over folds (``STD``) of a figure."""
        if end == "STD":
            return (result.get("cross_validation") or {}).get(figure, {}).get("std")
        return result["intervals"][figure][0 if end == "LOW" else 1]
