"""Regular points in training polygons: one point per pixel centre, with class code and polygon id."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from qgis.core import (
    QgsProcessing,
    QgsProcessingOutputNumber,
    QgsProcessingParameterDistance,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorDestination,
    QgsProcessingUtils,
)

from ..core.io.grid import Grid
from ..core.io.rasterize import PolygonRasterizer
from ..core.io.rasters import raster_grid
from ..core.io.vectors import csv_points_to_vector
from ..core.progress import ScaledReporter
from ..core.sampling import write_points_csv
from .base import LandcoverAlgorithm
from .data_preparation import (
    FeedbackReporter,
    add_polygon_parameters,
    atomic_files,
    check_polygons_and_grid,
    raster_input,
    read_label_polygons,
    run_core,
    vector_driver,
)


class RegularPointsAlgorithm(LandcoverAlgorithm):
    NAME = "regularpoints"
    DISPLAY_NAME = "Regular points in training polygons"
    GROUP_ID = "datapreparation"
    HELP = (
        "This algorithm places one point at the centre of every pixel that a training polygon "
        "labels, the study's regular sampling grid, and gives each point the polygon's class code "
        "and its feature id as 'polygon_id' (later splits keep the points of one polygon together).\n\n"
        "<b>Training polygons</b>, <b>Class code field</b> (integer), <b>Class name field</b> "
        "(optional text such as 'fclass', copied to the points).\n"
        "<b>Reference raster</b>: points at the pixel centres of this grid (normally the stack), "
        "in its CRS; pixels whose centre lies in a polygon. Or, without a reference raster, "
        "<b>Spacing</b> in map units of the polygons' CRS: a grid aligned to multiples of the spacing.\n"
        "<b>Inset</b>: distance in map units kept from polygon edges (the polygons are shrunk first) "
        "to avoid mixed edge pixels; 0 (default) keeps all.\n"
        "<b>Maximum points per polygon</b>: 0 (default) keeps all, otherwise a random subset of "
        "that many per polygon, drawn with <b>Random seed</b> (default 1): the same seed gives the "
        "same points.\n\n"
        "Overlapping polygons: the smallest polygon wins a pixel (ties: the lower feature id), as "
        "in 'Rasterize training polygons' and 'Extract training samples'. Points are ordered by "
        "polygon_id, then row and column."
    )
    INPUT = "INPUT"
    FIELD = "FIELD"
    CLASS_NAME_FIELD = "CLASS_NAME_FIELD"
    REFERENCE = "REFERENCE"
    SPACING = "SPACING"
    INSET = "INSET"
    MAX_POINTS_PER_POLYGON = "MAX_POINTS_PER_POLYGON"
    SEED = "SEED"
    OUTPUT = "OUTPUT"

    def initAlgorithm(self, config=None):  # noqa: N802
        add_polygon_parameters(self, self.INPUT, self.FIELD, self.CLASS_NAME_FIELD)
        self.addParameter(QgsProcessingParameterRasterLayer(
            self.REFERENCE, self.tr("Reference raster (points at its pixel centres)"), optional=True))
        self.addParameter(QgsProcessingParameterDistance(
            self.SPACING, self.tr("Spacing (without reference raster)"), parentParameterName=self.INPUT,
            optional=True))
        self.addParameter(QgsProcessingParameterDistance(
            self.INSET, self.tr("Inset from polygon edges"), defaultValue=0.0,
            parentParameterName=self.INPUT))
        self.addParameter(QgsProcessingParameterNumber(
            self.MAX_POINTS_PER_POLYGON, self.tr("Maximum points per polygon (0: all)"),
            QgsProcessingParameterNumber.Integer, defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            self.SEED, self.tr("Random seed"), QgsProcessingParameterNumber.Integer, defaultValue=1))
        output = QgsProcessingParameterVectorDestination(
            self.OUTPUT, self.tr("Regular points"), QgsProcessing.TypeVectorPoint)
        output.setSupportsNonFileBasedOutput(False)
        self.addParameter(output)
        self.addOutput(QgsProcessingOutputNumber("POINTS", self.tr("Points written")))
        self.addOutput(QgsProcessingOutputNumber("POLYGONS_USED", self.tr("Polygons with points")))
        self.addOutput(QgsProcessingOutputNumber("POLYGONS_OUTSIDE", self.tr("Polygons outside the grid")))

    def checkParameterValues(self, parameters, context):  # noqa: N802
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        problem = check_polygons_and_grid(self, parameters, context, self.INPUT, self.FIELD,
                                          self.CLASS_NAME_FIELD, self.REFERENCE, self.OUTPUT)
        if problem:
            return False, problem
        has_reference = raster_input(self, parameters, self.REFERENCE, context) is not None
        spacing = self.parameterAsDouble(parameters, self.SPACING, context)
        if not has_reference and not spacing > 0:
            return False, (f"{self.SPACING}: give a reference raster ({self.REFERENCE}) or a positive "
                           f"spacing in map units (got {spacing:g}; e.g. 20 for 20 m).")
        if self.parameterAsDouble(parameters, self.INSET, context) < 0:
            return False, f"{self.INSET}: the inset must be 0 or a positive distance in map units."
        if self.parameterAsInt(parameters, self.MAX_POINTS_PER_POLYGON, context) < 0:
            return False, f"{self.MAX_POINTS_PER_POLYGON}: give 0 (all points) or a positive number."
        return True, ""

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        source = self.parameterAsSource(parameters, self.INPUT, context)
        reference = raster_input(self, parameters, self.REFERENCE, context)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        field = self.parameterAsString(parameters, self.FIELD, context)
        name_field = self.parameterAsString(parameters, self.CLASS_NAME_FIELD, context) or None
        crs = reference.crs() if reference is not None else source.sourceCrs()
        csv_path = os.path.join(QgsProcessingUtils.tempFolder(), f"regular_points_{uuid.uuid4().hex}.csv")

        def work():
            polygons = read_label_polygons(source, field, name_field, crs, context, feedback)
            if reference is not None:
                grid = raster_grid(reference.source(), self.REFERENCE)
            else:
                spacing = self.parameterAsDouble(parameters, self.SPACING, context)
                box = source.sourceExtent()
                grid = Grid.from_spacing((box.xMinimum(), box.yMinimum(), box.xMaximum(), box.yMaximum()),
                                         spacing, crs.toWkt())
            rasterizer = PolygonRasterizer(polygons, grid,
                                           inset=self.parameterAsDouble(parameters, self.INSET, context))
            rasterizer.require_overlap(self.INPUT)
            counts = write_points_csv(
                rasterizer, csv_path, field, name_field,
                self.parameterAsInt(parameters, self.MAX_POINTS_PER_POLYGON, context),
                self.parameterAsInt(parameters, self.SEED, context),
                ScaledReporter(FeedbackReporter(feedback), 10, 70), feedback.isCanceled)
            feedback.pushInfo(f"Writing {counts.written} points.")
            with atomic_files(output) as tmp:
                csv_points_to_vector(csv_path, tmp, crs.toWkt(), Path(output).stem, vector_driver(output),
                                     ScaledReporter(FeedbackReporter(feedback), 70, 100), feedback.isCanceled)
            return counts

        try:
            counts = run_core(work, feedback)
        finally:
            for path in (csv_path, os.path.splitext(csv_path)[0] + ".csvt"):
                if os.path.exists(path):
                    os.remove(path)
        if counts is None:
            return {}
        if counts.polygons_outside:
            feedback.pushWarning(f"{counts.polygons_outside} polygon(s) lie outside the grid.")
        return {self.OUTPUT: output, "POINTS": counts.written, "POLYGONS_USED": counts.polygons_used,
                "POLYGONS_OUTSIDE": counts.polygons_outside}
