"""Extract training samples: polygons + stack -> samples CSV in one fast step."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterDistance,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
)

from ..core.atomic import atomic_output
from ..core.errors import UserInputError
from ..core.io.rasterize import PolygonRasterizer
from ..core.io.rasters import raster_grid
from ..core.progress import ScaledReporter
from ..core.sampling import extract_samples_to_csv
from .base import LandcoverAlgorithm
from .data_preparation import (
    FeedbackReporter,
    add_polygon_parameters,
    check_polygons_and_grid,
    raster_input,
    read_label_polygons,
    run_core,
)


class ExtractSamplesAlgorithm(LandcoverAlgorithm):
    NAME = "extractsamples"
    DISPLAY_NAME = "Extract training samples"
    GROUP_ID = "datapreparation"
    HELP = (
        "This algorithm writes the samples CSV straight from training polygons and the stack, the "
        "fast one-step path for large areas: the same rows as 'Regular points in training "
        "polygons' (on the stack's grid) followed by 'Sample rasters to CSV' would give.\n\n"
        "<b>Raster</b>: the stack (its grid decides the pixels).\n<b>Training polygons</b>: any CRS "
        "(reprojected to the raster's).\n<b>Class code field</b>: integer, becomes the label column "
        "under its own name.\n<b>Class name field</b>: optional text column (e.g. 'fclass').\n"
        "<b>Inset</b>: distance in map units kept from polygon edges (0: none).\n"
        "<b>Maximum points per polygon</b> and <b>Random seed</b>: as in 'Regular points in "
        "training polygons' (0: every pixel).\n\n"
        "Each pixel whose centre lies in a polygon gives one row: X, Y (pixel centre), the band "
        "values, label, class name, polygon_id (the polygon's feature id), Latitude, Longitude. "
        "Where polygons overlap the smallest wins (ties: lower feature id). Pixels on nodata in "
        "any band are skipped and counted. Rows are ordered by polygon_id, then row and column."
    )
    RASTER = "RASTER"
    POLYGONS = "POLYGONS"
    FIELD = "FIELD"
    CLASS_NAME_FIELD = "CLASS_NAME_FIELD"
    INSET = "INSET"
    MAX_POINTS_PER_POLYGON = "MAX_POINTS_PER_POLYGON"
    SEED = "SEED"
    OUTPUT = "OUTPUT"

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer(self.RASTER, self.tr("Raster (stack)")))
        add_polygon_parameters(self, self.POLYGONS, self.FIELD, self.CLASS_NAME_FIELD)
        self.addParameter(QgsProcessingParameterDistance(
            self.INSET, self.tr("Inset from polygon edges"), defaultValue=0.0,
            parentParameterName=self.RASTER))
        self.addParameter(QgsProcessingParameterNumber(
            self.MAX_POINTS_PER_POLYGON, self.tr("Maximum points per polygon (0: all)"),
            QgsProcessingParameterNumber.Integer, defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            self.SEED, self.tr("Random seed"), QgsProcessingParameterNumber.Integer, defaultValue=1))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT, self.tr("Samples CSV"), self.tr("CSV files (*.csv)")))
        for name, description in (("SAMPLES", "Samples written"), ("NODATA", "Pixels on nodata"),
                                  ("POLYGONS_USED", "Polygons with samples"),
                                  ("POLYGONS_OUTSIDE", "Polygons outside the raster")):
            self.addOutput(QgsProcessingOutputNumber(name, self.tr(description)))

    def checkParameterValues(self, parameters, context):  # noqa: N802
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        problem = check_polygons_and_grid(self, parameters, context, self.POLYGONS, self.FIELD,
                                          self.CLASS_NAME_FIELD, self.RASTER, self.OUTPUT)
        if not problem and self.parameterAsDouble(parameters, self.INSET, context) < 0:
            problem = f"{self.INSET}: the inset must be 0 or a positive distance in map units."
        if not problem and self.parameterAsInt(parameters, self.MAX_POINTS_PER_POLYGON, context) < 0:
            problem = f"{self.MAX_POINTS_PER_POLYGON}: give 0 (all pixels) or a positive number."
        return (False, problem) if problem else (True, "")

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        raster = raster_input(self, parameters, self.RASTER, context)
        source = self.parameterAsSource(parameters, self.POLYGONS, context)
        output = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        field = self.parameterAsString(parameters, self.FIELD, context)
        name_field = self.parameterAsString(parameters, self.CLASS_NAME_FIELD, context) or None

        def work():
            polygons = read_label_polygons(source, field, name_field, raster.crs(), context, feedback,
                                           parameter=self.POLYGONS)
            rasterizer = PolygonRasterizer(polygons, raster_grid(raster.source(), self.RASTER),
                                           inset=self.parameterAsDouble(parameters, self.INSET, context))
            rasterizer.require_overlap(self.POLYGONS)
            with atomic_output(output) as tmp:
                counts = extract_samples_to_csv(
                    rasterizer, raster.source(), tmp, field, name_field,
                    self.parameterAsInt(parameters, self.MAX_POINTS_PER_POLYGON, context),
                    self.parameterAsInt(parameters, self.SEED, context),
                    ScaledReporter(FeedbackReporter(feedback), 10, 100),
                    feedback.isCanceled)
                if counts.written == 0:  # a header-only CSV would only fail later, in training
                    raise UserInputError(
                        f"no sample: all {counts.nodata} pixels under the polygons are nodata in the "
                        "raster; choose a raster with data under the polygons (check its nodata "
                        "value).", self.RASTER)
                return counts

        counts = run_core(work, feedback)
        if counts is None:
            return {}
        feedback.pushInfo(f"{counts.written} samples from {counts.polygons_used} polygons; skipped "
                          f"{counts.nodata} nodata pixels; {counts.polygons_outside} polygons outside.")
        return {self.OUTPUT: output, "SAMPLES": counts.written, "NODATA": counts.nodata,
                "POLYGONS_USED": counts.polygons_used, "POLYGONS_OUTSIDE": counts.polygons_outside}
