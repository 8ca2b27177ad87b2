"""Stratified random sample of a class map: the points to label for an accuracy and area assessment."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from ..core.io.class_maps import open_class_map
from ..core.io.outputs import read_map_legend
from ..core.progress import ScaledReporter
from ..core.sample_design import (
    ALLOCATIONS,
    allocate,
    count_classes,
    draw_points,
    expected_accuracies,
    sample_size,
    write_points_csv,
)
from .base import FeedbackReporter, LandcoverAlgorithm
from .checks import output_folder_problem
from .parameters import point_layer_destination
from .qgis_io import raster_input, temporary_points_csv, write_point_layer


class StratifiedPointsAlgorithm(LandcoverAlgorithm):
    NAME = "stratifiedpoints"
    DISPLAY_NAME = "Stratified random points for accuracy and area"
    GROUP_ID = "accuracy"
    HELP = (
        "This algorithm draws a stratified random sample from a class map, the sampling design "
        "that good practice recommends for assessing a map's accuracy and estimating the area of "
        "each class with confidence intervals (Olofsson et al. 2014, Remote Sensing of Environment "
        "148). The map classes are the strata. Label each point on reference data the map was not "
        "made from (field visits, very high resolution imagery) by filling its 'reference' field "
        "with the class code, then run 'Assess map accuracy' on the map and the points.\n\n"
        "<b>Class map</b>: integer class codes with a nodata value (0 for maps from 'Classify "
        "image'), in a projected CRS (areas come from pixel counts).\n"
        "<b>Sample size</b>: the number of points; 0 (default) computes it from the <b>Target "
        "standard error of overall accuracy</b> (default 0.01, one percentage point) and the "
        "user's accuracy expected per class (Olofsson et al. 2014, eq. 13): <b>Expected user's "
        "accuracies</b> as 'code=fraction' pairs (e.g. '7201=0.9, 7203=0.6'), the <b>Default "
        "expected user's accuracy</b> (0.8) for the other classes. Rare classes mapped less well "
        "deserve a lower value.\n"
        "<b>Allocation</b>: proportional to each class's mapped area, equal for every class, or "
        "(default) at least <b>Minimum points per class</b> (default 50, as the guidance suggests for "
        "rare classes) and the rest proportionally. Every class gets at least 2 points (a variance "
        "needs 2), never more than its pixels.\n"
        "<b>Random seed</b>: the same seed and map give the same points.\n\n"
        "Points lie at the centres of valid pixels of their class, one per pixel. Fields: map_code "
        "(the map's class), stratum, class_name, reference (empty: fill it), stratum_px (the "
        "class's pixels in the map) and map_px (all mapped pixels): the stratum sizes travel "
        "with the points, so the assessment needs no second pass over the map. The map is read "
        "block by block (memory stays flat with map size)."
    )
    INPUT = "INPUT"
    SAMPLE_SIZE = "SAMPLE_SIZE"
    TARGET_SE = "TARGET_SE"
    EXPECTED_USERS_ACCURACY = "EXPECTED_USERS_ACCURACY"
    DEFAULT_USERS_ACCURACY = "DEFAULT_USERS_ACCURACY"
    ALLOCATION = "ALLOCATION"
    ALLOCATION_LABELS = ("Proportional to the mapped area", "Equal for every class",
                         "Minimum per class, the rest proportional")
    MIN_PER_CLASS = "MIN_PER_CLASS"
    SEED = "SEED"
    OUTPUT = "OUTPUT"
    NUMBER_OUTPUTS = {"POINTS": "Points drawn",
                      "REQUIRED_SAMPLE_SIZE": "Sample size from the target standard error"}

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Class map")))
        self.addParameter(QgsProcessingParameterNumber(
            self.SAMPLE_SIZE, self.tr("Sample size (0: from the target standard error)"),
            QgsProcessingParameterNumber.Integer, defaultValue=0, minValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            self.TARGET_SE, self.tr("Target standard error of overall accuracy"),
            QgsProcessingParameterNumber.Double, defaultValue=0.01, minValue=0.001, maxValue=0.5))
        self.addParameter(QgsProcessingParameterString(
            self.EXPECTED_USERS_ACCURACY, self.tr("Expected user's accuracies (code=fraction, ...)"),
            optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            self.DEFAULT_USERS_ACCURACY, self.tr("Default expected user's accuracy"),
            QgsProcessingParameterNumber.Double, defaultValue=0.8, minValue=0.01, maxValue=0.99))
        self.addParameter(QgsProcessingParameterEnum(
            self.ALLOCATION, self.tr("Allocation"), self.ALLOCATION_LABELS, defaultValue=2))
        self.addParameter(QgsProcessingParameterNumber(
            self.MIN_PER_CLASS, self.tr("Minimum points per class"), QgsProcessingParameterNumber.Integer,
            defaultValue=50, minValue=2))
        self.addParameter(QgsProcessingParameterNumber(
            self.SEED, self.tr("Random seed"), QgsProcessingParameterNumber.Integer, defaultValue=1,
            minValue=0))
        self.add_product_output(point_layer_destination(self, self.OUTPUT, "Sample points"))
        self.add_number_outputs(self.NUMBER_OUTPUTS)

    def check_parameters(self, parameters, context):
        layer = raster_input(self, parameters, self.INPUT, context)
        if layer is not None:
            open_class_map(layer.source(), self.INPUT)  # refused with a UserInputError: the message
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        return output_folder_problem(output, self.OUTPUT)

    def process(self, parameters, context, feedback):
        layer = raster_input(self, parameters, self.INPUT, context)
        output = self.output_paths(parameters, context, [self.OUTPUT])[self.OUTPUT]
        given_size = self.parameterAsInt(parameters, self.SAMPLE_SIZE, context)
        method = ALLOCATIONS[self.parameterAsEnum(parameters, self.ALLOCATION, context)]
        minimum = self.parameterAsInt(parameters, self.MIN_PER_CLASS, context)
        seed = self.parameterAsInt(parameters, self.SEED, context)
        reporter = FeedbackReporter(feedback)
        class_map = open_class_map(layer.source(), self.INPUT)
        feedback.pushInfo("Counting the pixels of each class (pass 1 of 2)")
        pixels = count_classes(class_map, reporter=ScaledReporter(reporter, 0, 45),
                               is_canceled=feedback.isCanceled, parameter=self.INPUT)
        total_pixels = sum(pixels.values())
        expected = expected_accuracies(
            self.parameterAsString(parameters, self.EXPECTED_USERS_ACCURACY, context), list(pixels),
            self.parameterAsDouble(parameters, self.DEFAULT_USERS_ACCURACY, context))
        required = sample_size([n / total_pixels for n in pixels.values()], list(expected.values()),
                               self.parameterAsDouble(parameters, self.TARGET_SE, context))
        allocation = allocate(given_size or required, pixels, method, minimum)
        names = _class_names(class_map.path)
        self._log_design(feedback, pixels, expected, allocation, names, class_map.hectares_per_pixel,
                         given_size, required)
        feedback.pushInfo("Drawing the points (pass 2 of 2)")
        rows, cols, codes = draw_points(class_map, allocation, pixels, seed,
                                        reporter=ScaledReporter(reporter, 45, 85),
                                        is_canceled=feedback.isCanceled)
        with temporary_points_csv("stratified") as csv_path:
            write_points_csv(csv_path, class_map, rows, cols, codes, pixels, names)
            write_point_layer(csv_path, output, class_map.grid.crs_wkt, ScaledReporter(reporter, 85, 100),
                              feedback.isCanceled)
        return {self.OUTPUT: output, "POINTS": len(rows), "REQUIRED_SAMPLE_SIZE": required}

    @staticmethod
    def _log_design(feedback, pixels, expected, allocation, names, pixel_ha, given, required) -> None:
        total = sum(pixels.values())
        feedback.pushInfo(f"Sample size from eq. 13 of Olofsson et al. (2014): {required} points"
                          + (f"; {given} given" if given else "") + f"; {sum(allocation.values())} drawn.")
        feedback.pushInfo("code  name  pixels  area (ha)  weight  expected UA  points")
        for code, n in pixels.items():
            feedback.pushInfo(f"{code}  {names.get(code, f'class {code}')}  {n}  {n * pixel_ha:.1f}  "
                              f"{n / total:.4f}  {expected[code]:.2f}  {allocation[code]}")


def _class_names(map_path: str) -> dict[int, str]:
    """Class names from the legend a map from 'Classify image' carries (else none)."""
    legend = read_map_legend(map_path) or {}
    return {int(c): str(n) for c, n in zip(legend.get("codes", []), legend.get("names", []), strict=False)}
