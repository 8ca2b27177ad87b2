"""Assess map accuracy: class map + reference polygons or points -> OA, kappa, F1, matrix, report;
with a probability sample of points, also each class's area and the accuracies with 95 % intervals."""

from __future__ import annotations

import os

from qgis.core import (
    QgsCoordinateTransform,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingUtils,
    QgsWkbTypes,
)

from ..core.accuracy import count_pairs_points, count_pairs_rasters, write_pairs_csv
from ..core.errors import UserInputError
from ..core.io.class_maps import open_class_map
from ..core.io.outputs import read_map_legend
from ..core.io.rasterize import rasterize_reference
from ..core.probability_sample import DESIGNS, STRATUM_FIELDS, read_probability_sample, resolve_design
from ..core.progress import ScaledReporter
from ..core.sample_design import write_strata_csv
from .base import FeedbackReporter, LandcoverAlgorithm
from .qgis_io import export_reference_polygons, point_layer_for_ogr, read_reference_points

DESIGN_LABELS = ["Automatic: stratified for points from 'Stratified random points', else not a "
                 "probability sample", "Stratified random, the map classes as strata", "Simple random",
                 "Not a probability sample (polygons, points placed by hand)"]
PROBABILITY_DESIGNS = ("stratified", "simple_random")
NO_ESTIMATE_REASON = (
    "not computed: the reference data is not a probability sample of the map (polygons, or points "
    "not drawn at random), so its counts cannot be weighted up to the map's area and the figures "
    "describe agreement on these sites only. Draw points with 'Stratified random points', label "
    "them and assess with them to get each class's area and the accuracies with 95 % confidence "
    "intervals.")


def is_point_layer(source) -> bool:
    return QgsWkbTypes.geometryType(source.wkbType()) == QgsWkbTypes.PointGeometry


class AssessAccuracyAlgorithm(LandcoverAlgorithm):
    NAME = "assessaccuracy"
    DISPLAY_NAME = "Assess map accuracy"
    GROUP_ID = "accuracy"
    HELP = (
        "This algorithm compares a class map with reference data and reports its accuracy: "
        "overall accuracy, Cohen's kappa, macro F1, and per class the user's accuracy "
        "(precision), producer's accuracy (recall) and F1, with the confusion matrix as a CSV "
        "table and an HTML report with a heat-map.\n\n"
        "<b>Class map</b>: a map of class codes (from 'Classify image'; 0 = nodata).\n"
        "<b>Reference</b>: polygons or points with the true class code (reprojected to the map's "
        "CRS when needed). Polygons are rasterized on the map's grid (pixel centre inside; where "
        "polygons overlap the smallest wins), points take the map pixel they fall in.\n"
        "<b>Code field</b>: the integer field holding the class codes (the same codes as the "
        "map, e.g. OSM 7201). Reference pixels where the map has no value are left out and "
        "counted in the report.\n\n"
        "<b>Sampling design</b>: with a probability sample of points (from 'Stratified random "
        "points', labelled in a 'reference' field: choose that field as the code field; or points "
        "drawn at random over the whole map) the algorithm estimates, as good practice asks "
        "(Olofsson et al. 2014), the error matrix in area proportions, overall, user's and producer's "
        "accuracy with 95 % confidence intervals, and each class's area in hectares with its "
        "interval beside the mapped area (<b>Estimates</b> CSV: code, name, mapped_area_ha, "
        "estimated_area_ha, area_ci95_ha, users_accuracy, users_ci95, producers_accuracy, "
        "producers_ci95; accuracies as fractions, each _ci95 the half-width of the interval). "
        "Automatic (default) uses the stratified design for points from 'Stratified random points'; "
        "polygons and other points are not a probability sample: then no area is estimated and the "
        "report says why. A probability sample needs a map with a nodata value in a projected CRS "
        "(geographic CRSs are refused: their pixel areas vary), every point on a mapped pixel and "
        "at least 2 labelled points per class; points with an empty reference are left out.\n\n"
        "Use reference data the model was not trained on: accuracy measured on training polygons "
        "is optimistic. The metrics are computed in the worker process (scikit-learn)."
    )
    INPUT = "INPUT"
    REFERENCE = "REFERENCE"
    FIELD = "FIELD"
    SAMPLING_DESIGN = "SAMPLING_DESIGN"
    OUTPUT_MATRIX = "OUTPUT_MATRIX"
    OUTPUT_REPORT = "OUTPUT_REPORT"
    OUTPUT_ESTIMATES = "OUTPUT_ESTIMATES"
    FILE_OUTPUTS = (OUTPUT_MATRIX, OUTPUT_REPORT, OUTPUT_ESTIMATES)
    OVERALL_ACCURACY_CI95 = "OVERALL_ACCURACY_CI95"

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Class map")))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.REFERENCE, self.tr("Reference polygons or points"),
            [QgsProcessing.TypeVectorPolygon, QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterField(
            self.FIELD, self.tr("Code field"), "code", self.REFERENCE,
            QgsProcessingParameterField.Numeric))
        self.addParameter(QgsProcessingParameterEnum(
            self.SAMPLING_DESIGN, self.tr("Sampling design of the reference"), DESIGN_LABELS, defaultValue=0))
        self.add_product_output(QgsProcessingParameterFileDestination(
            self.OUTPUT_MATRIX, self.tr("Confusion matrix"), "CSV files (*.csv)"))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_REPORT, self.tr("Accuracy report"), "HTML files (*.html)", optional=True))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_ESTIMATES, self.tr("Estimates (accuracy and area per class)"), "CSV files (*.csv)",
            optional=True))
        self.add_accuracy_outputs()
        self.add_number_outputs({self.OVERALL_ACCURACY_CI95: "Overall accuracy: 95 % interval half-width"})

    def check_parameters(self, parameters, context):
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        if layer is not None and layer.bandCount() != 1:
            return (f"{self.INPUT}: the class map must have one band of class codes; "
                    f"{layer.name()} has {layer.bandCount()}. Choose the map from 'Classify image'.")
        source = self.parameterAsSource(parameters, self.REFERENCE, context)
        field = self.parameterAsString(parameters, self.FIELD, context)
        if source is not None and source.fields().lookupField(field) < 0:
            return (f"{self.FIELD}: the reference layer has no field {field!r}; its fields "
                    f"are {source.fields().names()}.")
        design = self.design(parameters, context, source) if source is not None else "none"
        if design not in PROBABILITY_DESIGNS:
            return None
        if not is_point_layer(source):
            return (f"{self.SAMPLING_DESIGN}: reference polygons are not a probability sample of the map's "
                    "pixels; choose 'Not a probability sample' (agreement without area estimates), or draw "
                    "points with 'Stratified random points', label them and assess with those.")
        missing = [name for name in STRATUM_FIELDS if source.fields().lookupField(name) < 0]
        if design == "stratified" and missing:
            return (f"{self.REFERENCE}: a stratified sample needs the fields {', '.join(STRATUM_FIELDS)} "
                    f"that 'Stratified random points' writes; these points lack {', '.join(missing)}. Draw "
                    "the points with that algorithm, or choose the design 'Simple random' if they were "
                    "drawn at random over the whole map.")
        if layer is not None:
            open_class_map(layer.source(), self.INPUT)  # refused with a UserInputError: the message
        return None

    def design(self, parameters, context, source) -> str:
        """The sampling design; automatic resolved by the reference layer's geometry and fields."""
        return resolve_design(DESIGNS[self.parameterAsEnum(parameters, self.SAMPLING_DESIGN, context)],
                              source.fields().names(), is_point_layer(source))

    def process(self, parameters, context, feedback):
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        source = self.parameterAsSource(parameters, self.REFERENCE, context)
        if layer is None:
            raise QgsProcessingException(self.invalidRasterError(parameters, self.INPUT))
        if source is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, self.REFERENCE))
        field = self.parameterAsString(parameters, self.FIELD, context)
        paths = self.output_paths(parameters, context, self.FILE_OUTPUTS)
        design = self.design(parameters, context, source)
        if paths[self.OUTPUT_ESTIMATES] and design not in PROBABILITY_DESIGNS:
            feedback.pushWarning(f"{self.OUTPUT_ESTIMATES} is not written: area estimates "
                                 f"{NO_ESTIMATE_REASON}")
            paths[self.OUTPUT_ESTIMATES] = ""
        folder = QgsProcessingUtils.tempFolder()
        tag = f"{os.getpid()}_{id(self)}"
        if design in PROBABILITY_DESIGNS:
            args = self.probability_sample_args(parameters, context, feedback, layer, field, design,
                                                folder, tag)
        else:
            args = self.agreement_args(context, feedback, layer, source, field, folder, tag)
        args += ["--map", layer.source(), "--reference-name", source.sourceName(), "--field", field]
        args += self.option_arguments({"--matrix": paths[self.OUTPUT_MATRIX],
                                       "--report": paths[self.OUTPUT_REPORT],
                                       "--estimates": paths[self.OUTPUT_ESTIMATES]})
        result = self.run_worker("assess", args, feedback, outputs=list(paths.values()))
        for entry in result.get("per_class", []):
            feedback.pushInfo(f"{entry['code']} {entry['name']}: user's {entry['precision']}, "
                              f"producer's {entry['recall']}, F1 {entry['f1']} ({entry['support']} px)")
        for row in result.get("estimates", []):
            feedback.pushInfo(f"{row['code']} {row['name']}: mapped {row['mapped_area_ha']:.1f} ha, "
                              f"estimated {row['estimated_area_ha']:.1f} +- {row['area_ci95_ha']:.1f} ha; "
                              f"user's {row['users_accuracy']}, producer's {row['producers_accuracy']}")
        return {**{name: path for name, path in paths.items() if path}, **self.accuracy_outputs(result),
                self.OVERALL_ACCURACY_CI95: result.get("overall_accuracy_ci95")}

    def agreement_args(self, context, feedback, layer, source, field: str, folder: str,
                       tag: str) -> list[str]:
        """Pixel-pair counts of reference polygons or points that are not a probability sample: the
        worker's arguments (no area estimate, and the report says why)."""
        transform = QgsCoordinateTransform(source.sourceCrs(), layer.crs(), context.transformContext())
        outside = 0
        if is_point_layer(source):
            xs, ys, codes = read_reference_points(source, field, transform, feedback)
            pairs, outside = count_pairs_points(layer.source(), xs, ys, codes)
            feedback.setProgress(50)
        else:
            polygons = export_reference_polygons(source, field, transform, layer.crs(),
                                                 os.path.join(folder, f"reference_{tag}.gpkg"), feedback)
            feedback.pushInfo("Rasterizing the reference polygons on the map's grid")
            burned = rasterize_reference(polygons, "reference", "code", "area", layer.source(),
                                         os.path.join(folder, f"reference_{tag}.tif"))
            pairs = count_pairs_rasters(
                layer.source(), burned, progress=lambda p: feedback.setProgress(10 + 0.4 * p),
                is_canceled=feedback.isCanceled)
        if not any(reference > 0 for reference, _ in pairs):
            raise UserInputError("no reference feature overlaps the class map; check the layers' "
                                 "extents and CRSs.", self.REFERENCE)
        pairs_csv = write_pairs_csv(os.path.join(folder, f"pairs_{tag}.csv"), pairs)
        return ["--pairs", pairs_csv, "--points-outside", str(outside), "--no-estimate-reason",
                NO_ESTIMATE_REASON]

    def probability_sample_args(self, parameters, context, feedback, layer, field: str, design: str,
                                folder: str, tag: str) -> list[str]:
        """Read and check the labelled sample (``core.probability_sample``); write its pairs and the
        strata's sizes; the worker's arguments. A sample that does not fit the map is refused
        (``UserInputError`` naming the parameter)."""
        class_map = open_class_map(layer.source(), self.INPUT)
        path, layer_name = point_layer_for_ogr(self, parameters, self.REFERENCE, layer.crs(), context,
                                               feedback)
        legend = read_map_legend(class_map.path) or {}
        if design == "simple_random":
            feedback.pushInfo("Counting the pixels of each map class (the post-strata)")
        sample = read_probability_sample(path, layer_name, field, class_map, design, legend.get("codes", []),
                                         ScaledReporter(FeedbackReporter(feedback), 5, 45),
                                         feedback.isCanceled)
        if sample.unlabelled:
            feedback.pushWarning(f"{sample.unlabelled} of {sample.points} points have no reference code in "
                                 f"'{field}' and are left out (non-response).")
        pairs_csv = write_pairs_csv(os.path.join(folder, f"pairs_{tag}.csv"), sample.pairs)
        strata_csv = write_strata_csv(os.path.join(folder, f"strata_{tag}.csv"), sample.stratum_pixels)
        return ["--pairs", pairs_csv, "--strata", strata_csv, "--design", design]
