"""Suggest points to label: where the model is least sure (active learning); runs in the worker."""

from __future__ import annotations

from qgis.core import (
    QgsProcessing,
    QgsProcessingParameterDistance,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from ..core.errors import UserInputError
from ..core.io.rasters import match_bands
from ..core.model_file import read_model_metadata
from ..core.suggestions import DEFAULT_MEASURE, MEASURES
from .base import FeedbackReporter, LandcoverAlgorithm
from .checks import output_folder_problem
from .parameters import point_layer_destination
from .qgis_io import export_mask, raster_band_names, temporary_points_csv, write_point_layer


class SuggestPointsAlgorithm(LandcoverAlgorithm):
    NAME = "suggestpoints"
    DISPLAY_NAME = "Suggest points to label"
    GROUP_ID = "training"
    HELP = (
        "This algorithm suggests where to label next (active learning): points spread apart and "
        "balanced over the classes a trained model predicts, outside the existing training "
        "polygons, chosen where the model is least sure of the class (margin or entropy) or at "
        "random (the default, see Uncertainty).\n\n"
        "<b>Model file</b>: the .lcnn file (its legend names the classes).\n"
        "<b>Input raster</b>: the band stack the model was trained on (the model runs on it in the "
        "worker, block by block); or <b>Class probabilities</b>: the probability raster 'Classify "
        "image' wrote with this model (then the model is not run).\n"
        "<b>Training polygons</b> (optional): no point is suggested inside them.\n"
        "<b>Number of points</b> (default 100). <b>Uncertainty</b>: margin (1 minus the gap between "
        "the two most probable classes), entropy of the probabilities, or random points (default): "
        "in the learning-curve benchmark on the sample scene (README), random points balanced over "
        "the predicted classes taught a model that started from 80 labels more than the least sure "
        "ones did. <b>Minimum distance</b> between points, map units of the raster (default 100). "
        "<b>Random seed</b>: breaks ties (and draws the random points); the same seed gives the same "
        "points.\n\n"
        "Fields: predicted and predicted_name (the most probable class), runner_up and "
        "runner_up_name (the second), confidence, margin, entropy, rank (1 = least sure, or first drawn), "
        "polygon_id (unique per point, negative so that it never equals a polygon's id) and the "
        "empty <b>Class field</b> (default 'code') to fill with the class seen on reference data. "
        "Then 'Sample rasters to CSV' turns the labelled points into training samples (points left "
        "empty are skipped); merge them first with the points of 'Regular points in training "
        "polygons' (Vector > Data Management > Merge vector layers) to train on both."
    )
    MODEL = "MODEL"
    INPUT = "INPUT"
    PROBABILITIES = "PROBABILITIES"
    TRAINING = "TRAINING"
    NUMBER = "NUMBER"
    MEASURE = "MEASURE"
    MEASURE_LABELS = ("Margin between the two most probable classes", "Entropy of the class probabilities",
                      "Random, balanced over the predicted classes")
    MIN_DISTANCE = "MIN_DISTANCE"
    SEED = "SEED"
    CLASS_FIELD = "CLASS_FIELD"
    OUTPUT = "OUTPUT"

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFile(self.MODEL, self.tr("Model file"), extension="lcnn"))
        self.addParameter(QgsProcessingParameterRasterLayer(
            self.INPUT, self.tr("Input raster (band stack)"), optional=True))
        self.addParameter(QgsProcessingParameterRasterLayer(
            self.PROBABILITIES, self.tr("Class probabilities (instead of the stack)"), optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.TRAINING, self.tr("Training polygons (no points inside)"), [QgsProcessing.TypeVectorPolygon],
            optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            self.NUMBER, self.tr("Number of points"), QgsProcessingParameterNumber.Integer, defaultValue=100,
            minValue=1, maxValue=100000))
        self.addParameter(QgsProcessingParameterEnum(
            self.MEASURE, self.tr("Uncertainty"), self.MEASURE_LABELS,
            defaultValue=MEASURES.index(DEFAULT_MEASURE)))
        self.addParameter(QgsProcessingParameterDistance(
            self.MIN_DISTANCE, self.tr("Minimum distance between points"), defaultValue=100.0,
            parentParameterName=self.INPUT, minValue=0.0))
        self.addParameter(QgsProcessingParameterNumber(
            self.SEED, self.tr("Random seed"), QgsProcessingParameterNumber.Integer, defaultValue=1,
            minValue=0))
        self.addParameter(QgsProcessingParameterString(
            self.CLASS_FIELD, self.tr("Class field to fill"), defaultValue="code"))
        self.add_product_output(point_layer_destination(self, self.OUTPUT, "Points to label"))
        self.add_number_outputs({"POINTS": "Points suggested"})

    def _raster(self, parameters, context):
        """(parameter name, raster layer) of the stack or the probability raster."""
        stack = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        probabilities = self.parameterAsRasterLayer(parameters, self.PROBABILITIES, context)
        if (stack is None) == (probabilities is None):
            raise UserInputError("give either the band stack the model was trained on or the class "
                                 f"probabilities written with it ({self.PROBABILITIES}), not both or "
                                 "neither.", self.INPUT)
        return (self.INPUT, stack) if stack is not None else (self.PROBABILITIES, probabilities)

    def check_parameters(self, parameters, context):
        metadata = read_model_metadata(self.parameterAsFile(parameters, self.MODEL, context))
        name, layer = self._raster(parameters, context)
        if name == self.INPUT:
            match_bands(raster_band_names(layer), metadata["feature_names"], self.INPUT)
        elif layer.bandCount() != len(metadata["legend"]["codes"]):
            return (f"{self.PROBABILITIES}: the probability raster has {layer.bandCount()} bands but the "
                    f"model has {len(metadata['legend']['codes'])} classes; choose the probabilities "
                    "'Classify image' wrote with this model.")
        field = self.parameterAsString(parameters, self.CLASS_FIELD, context).strip()
        if not field.isidentifier():
            return (f"{self.CLASS_FIELD}: {field!r} is not a field name; use letters, digits and '_' "
                    "(e.g. 'code', the class field of the training polygons).")
        return output_folder_problem(self.parameterAsOutputLayer(parameters, self.OUTPUT, context),
                                     self.OUTPUT)

    def process(self, parameters, context, feedback):
        problem = self.check_parameters(parameters, context)  # also when run without the dialog's checks
        if problem:
            raise UserInputError(problem)
        name, layer = self._raster(parameters, context)
        output = self.output_paths(parameters, context, [self.OUTPUT])[self.OUTPUT]
        with temporary_points_csv("suggested") as csv_path:
            result = self._suggest(parameters, context, feedback, name, layer, csv_path)
            write_point_layer(csv_path, output, layer.crs().toWkt(), FeedbackReporter(feedback),
                              feedback.isCanceled)
        feedback.pushInfo(f"Points per predicted class (code: points): {result.get('per_class')}")
        return {self.OUTPUT: output, "POINTS": result.get("points")}

    def _suggest(self, parameters, context, feedback, name, layer, csv_path) -> dict:
        """Run the worker's ``suggest`` job into ``csv_path``; its result."""
        args = ["--model", self.parameterAsFile(parameters, self.MODEL, context),
                "--raster" if name == self.INPUT else "--probabilities", layer.source(),
                "--number", str(self.parameterAsInt(parameters, self.NUMBER, context)),
                "--measure", MEASURES[self.parameterAsEnum(parameters, self.MEASURE, context)],
                "--min-distance", str(self.parameterAsDouble(parameters, self.MIN_DISTANCE, context)),
                "--seed", str(self.parameterAsInt(parameters, self.SEED, context)),
                "--class-field", self.parameterAsString(parameters, self.CLASS_FIELD, context).strip(),
                "--output", csv_path]
        training = self.parameterAsVectorLayer(parameters, self.TRAINING, context)
        if training is not None:
            args += ["--exclude", export_mask(training, layer, context, feedback)]
        return self.run_worker("suggest", args, feedback, outputs=[csv_path])
