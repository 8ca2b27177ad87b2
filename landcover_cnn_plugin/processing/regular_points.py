"""Regular points in training polygons: one point per pixel centre, with class code and polygon id."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from qgis.core import (
    QgsProcessing,
    QgsProcessingParameterDistance,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorDestination,
    QgsProcessingUtils,
)

from ..core.atomic import atomic_files
from ..core.io.grid import Grid
from ..core.io.rasterize import PolygonRasterizer
from ..core.io.rasters import raster_grid
from ..core.io.vectors import csv_points_to_vector
from ..core.progress import ScaledReporter
from ..core.sampling import write_points_csv
from .base import FeedbackReporter, LandcoverAlgorithm
from .checks import check_polygons_and_grid, pixel_selection_problem
from .parameters import PixelSelectionParameters, add_polygon_parameters, names_field
from .qgis_io import raster_input, read_label_polygons, vector_driver


class RegularPointsAlgorithm(PixelSelectionParameters, LandcoverAlgorithm):
    NAME = "regularpoints"
    DISPLAY_NAME = "Regular points in training polygons"
    GROUP_ID = "datapreparation"
    HELP = (
        "This algorithm places one point at the centre of every pixel that a training polygon "
        "labels, the study's regular sampling grid, and gives each point the polygon's class code, "
        "its feature id as 'polygon_id' and, for a multi-part feature, the part as 'polygon_part' "
        "(later splits keep the points of one polygon, one part, together).\n\n"
        "<b>Training polygons</b>, <b>Class code field</b> (integer), <b>Class name field</b> "
        "(NAMES_FIELD, optional text such as 'fclass', copied to the points).\n"
        "<b>Reference raster</b>: points at the pixel centres of this grid (normally the stack), "
        "in its CRS; pixels whose centre lies in a polygon. Or, without a reference raster, "
        "<b>Spacing</b> in map units of the polygons' CRS: a grid aligned to multiples of the spacing.\n"
        "<b>Inset</b>: distance in map units kept from polygon edges (the polygons are shrunk first) "
        "to avoid mixed edge pixels; 0 (default) keeps all.\n"
        "<b>Maximum points per polygon</b>: 0 (default) keeps all, otherwise a random subset of "
        "that many per polygon (per part of a multi-part feature), drawn with <b>Random seed</b> "
        "(default 1): the same seed gives the same points.\n\n"
        "Overlapping polygons: the smallest polygon wins a pixel (ties: the lower feature id), as "
        "in 'Rasterize training polygons' and 'Extract training samples'. Points are ordered by "
        "polygon_id, then row and column."
    )
    INPUT = "INPUT"
    FIELD = "FIELD"
    REFERENCE = "REFERENCE"
    SPACING = "SPACING"
    OUTPUT = "OUTPUT"
    NUMBER_OUTPUTS = {"POINTS": "Points written", "POLYGONS_USED": "Polygons with points",
                      "POLYGONS_OUTSIDE": "Polygons outside the grid"}

    def initAlgorithm(self, config=None):  # noqa: N802
        add_polygon_parameters(self, self.INPUT, self.FIELD, with_names=True)
        self.addParameter(QgsProcessingParameterRasterLayer(
            self.REFERENCE, self.tr("Reference raster (points at its pixel centres)"), optional=True))
        self.addParameter(QgsProcessingParameterDistance(
            self.SPACING, self.tr("Spacing (without reference raster)"), parentParameterName=self.INPUT,
            optional=True))
        self.add_pixel_selection_parameters(self.INPUT)
        output = QgsProcessingParameterVectorDestination(
            self.OUTPUT, self.tr("Regular points"), QgsProcessing.TypeVectorPoint)
        output.setSupportsNonFileBasedOutput(False)
        self.add_product_output(output)
        self.add_number_outputs(self.NUMBER_OUTPUTS)

    def check_parameters(self, parameters, context):
        problem = check_polygons_and_grid(self, parameters, context, self.INPUT, self.FIELD,
                                          True, self.REFERENCE, self.OUTPUT)
        if problem:
            return problem
        has_reference = raster_input(self, parameters, self.REFERENCE, context) is not None
        spacing = self.parameterAsDouble(parameters, self.SPACING, context)
        if not has_reference and not spacing > 0:
            return (f"{self.SPACING}: give a reference raster ({self.REFERENCE}) or a positive "
                    f"spacing in map units (got {spacing:g}; e.g. 20 for 20 m).")
        return pixel_selection_problem(self, parameters, context, "points")

    def process(self, parameters, context, feedback):
        source = self.parameterAsSource(parameters, self.INPUT, context)
        reference = raster_input(self, parameters, self.REFERENCE, context)
        output = self.output_paths(parameters, context, [self.OUTPUT])[self.OUTPUT]
        field = self.parameterAsString(parameters, self.FIELD, context)
        name_field = names_field(self, parameters, context)
        inset, max_points, seed = self.pixel_selection(parameters, context)
        crs = reference.crs() if reference is not None else source.sourceCrs()
        polygons = read_label_polygons(source, field, name_field, crs, context, feedback)
        if reference is not None:
            grid = raster_grid(reference.source(), self.REFERENCE)
        else:
            box = source.sourceExtent()
            grid = Grid.from_spacing((box.xMinimum(), box.yMinimum(), box.xMaximum(), box.yMaximum()),
                                     self.parameterAsDouble(parameters, self.SPACING, context), crs.toWkt())
        rasterizer = PolygonRasterizer(polygons, grid, inset=inset)
        rasterizer.require_overlap(self.INPUT)
        csv_path = os.path.join(QgsProcessingUtils.tempFolder(), f"regular_points_{uuid.uuid4().hex}.csv")
        try:
            counts = write_points_csv(rasterizer, csv_path, field, name_field, max_points, seed,
                                      ScaledReporter(FeedbackReporter(feedback), 10, 70), feedback.isCanceled)
            feedback.pushInfo(f"Writing {counts.written} points; per class: {counts.class_summary()}.")
            with atomic_files(output) as tmp:
                csv_points_to_vector(csv_path, tmp, crs.toWkt(), Path(output).stem, vector_driver(output),
                                     ScaledReporter(FeedbackReporter(feedback), 70, 100), feedback.isCanceled)
        finally:
            for path in (csv_path, os.path.splitext(csv_path)[0] + ".csvt"):
                if os.path.exists(path):
                    os.remove(path)
        if counts.polygons_outside:
            feedback.pushWarning(f"{counts.polygons_outside} polygon(s) lie outside the grid.")
        return {self.OUTPUT: output, "POINTS": counts.written, "POLYGONS_USED": counts.polygons_used,
                "POLYGONS_OUTSIDE": counts.polygons_outside}
