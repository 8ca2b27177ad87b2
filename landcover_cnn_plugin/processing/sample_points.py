"""Sample rasters to CSV: the raster values at training points, the table training reads."""

from __future__ import annotations

from qgis.core import (
    QgsProcessing,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterRasterLayer,
)

from ..core.atomic import atomic_output
from ..core.errors import UserInputError
from ..core.sampling import sample_points_to_csv
from .base import FeedbackReporter, LandcoverAlgorithm
from .checks import check_polygons_and_grid, integer_field_problem
from .parameters import add_names_field, names_field
from .qgis_io import point_layer_for_ogr, raster_input


class SamplePointsAlgorithm(LandcoverAlgorithm):
    NAME = "samplepoints"
    DISPLAY_NAME = "Sample rasters to CSV"
    GROUP_ID = "datapreparation"
    HELP = (
        "This algorithm reads every band of a raster (the stack) at each point and writes the "
        "samples CSV that training reads: X, Y (the centre of the sampled pixel, raster CRS), one "
        "column per band named by its band name, the label column (named as the class field, e.g. "
        "'code' or 'ASLC'), the class name column if given, polygon_id, Latitude and Longitude "
        "(WGS84 degrees).\n\n"
        "<b>Points</b>: any point layer; points in another CRS are reprojected to the raster's. "
        "Training points collected in the field or digitised (one point per sample, with a class "
        "field) are training data as they are: sample them here and train on the CSV.\n"
        "<b>Raster</b>: the stack to sample.\n<b>Label field</b>: the class field, integer codes "
        "or class names as text (training numbers names 1, 2, ... alphabetically and keeps them).\n"
        "<b>Group field</b>: optional integer field written as polygon_id (splits keep a group "
        "together); default: the field 'polygon_id' if the points have one (as 'Regular points "
        "in training polygons' writes, with its 'polygon_part'), else the point's feature id: each "
        "point is then a group of its own.\n"
        "<b>Class name field</b> (NAMES_FIELD): optional text field copied after the label.\n\n"
        "Points outside the raster, on nodata in any band or without a label are skipped and "
        "counted (log and outputs). Rows keep the points' order. The raster is read block by "
        "block and the CSV is streamed, so memory stays flat however many points there are."
    )
    POINTS = "POINTS"
    RASTER = "RASTER"
    LABEL = "LABEL"
    GROUP = "GROUP"
    OUTPUT = "OUTPUT"
    NUMBER_OUTPUTS = {"SAMPLES": "Samples written", "OUTSIDE": "Points outside the raster",
                      "NODATA": "Points on nodata", "UNLABELLED": "Points without label"}

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.POINTS, self.tr("Points"), [QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterRasterLayer(self.RASTER, self.tr("Raster (stack)")))
        self.addParameter(QgsProcessingParameterField(
            self.LABEL, self.tr("Label field (class code or class name)"),
            parentLayerParameterName=self.POINTS))
        self.addParameter(QgsProcessingParameterField(
            self.GROUP, self.tr("Group field (polygon_id)"), parentLayerParameterName=self.POINTS,
            type=QgsProcessingParameterField.Numeric, optional=True))
        add_names_field(self, self.POINTS)
        self.add_product_output(QgsProcessingParameterFileDestination(
            self.OUTPUT, self.tr("Samples CSV"), self.tr("CSV files (*.csv)")))
        self.add_number_outputs(self.NUMBER_OUTPUTS)

    def _group_field(self, parameters, context) -> str | None:
        group = self.parameterAsString(parameters, self.GROUP, context)
        if group:
            return group
        source = self.parameterAsSource(parameters, self.POINTS, context)
        return "polygon_id" if source.fields().lookupField("polygon_id") >= 0 else None

    def check_parameters(self, parameters, context):
        problem = check_polygons_and_grid(self, parameters, context, self.POINTS, self.LABEL,
                                          True, self.RASTER, self.OUTPUT, kind="point")
        if not problem and self.parameterAsString(parameters, self.GROUP, context):
            source = self.parameterAsSource(parameters, self.POINTS, context)
            problem = integer_field_problem(source, self.parameterAsString(parameters, self.GROUP, context),
                                            self.GROUP, self.POINTS)
        return problem

    def process(self, parameters, context, feedback):
        raster = raster_input(self, parameters, self.RASTER, context)
        output = self.output_paths(parameters, context, [self.OUTPUT])[self.OUTPUT]
        label = self.parameterAsString(parameters, self.LABEL, context)
        name_field = names_field(self, parameters, context)
        group = self._group_field(parameters, context)
        path, layer = point_layer_for_ogr(self, parameters, self.POINTS, raster.crs(), context, feedback)
        with atomic_output(output) as tmp:
            counts = sample_points_to_csv(path, layer, raster.source(), tmp, label, group, name_field,
                                          FeedbackReporter(feedback), feedback.isCanceled)
            if counts.written == 0:  # a header-only CSV would only fail later, in training
                raise UserInputError(
                    f"no sample: {counts.outside} points lie outside the raster, {counts.nodata} on "
                    f"nodata and {counts.unlabelled} have no label; choose points over the raster's "
                    "data with a class code.", self.POINTS)
        feedback.pushInfo(f"{counts.written} samples written; skipped: {counts.outside} outside the raster, "
                          f"{counts.nodata} on nodata, {counts.unlabelled} without label or group.")
        feedback.pushInfo(f"Samples per class: {counts.class_summary()}.")
        return {self.OUTPUT: output, "SAMPLES": counts.written, "OUTSIDE": counts.outside,
                "NODATA": counts.nodata, "UNLABELLED": counts.unlabelled}
