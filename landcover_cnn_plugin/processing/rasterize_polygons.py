"""Rasterize training polygons onto a reference grid (class codes, smallest polygon wins)."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingParameterBoolean,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ..core.atomic import atomic_output
from ..core.io.rasterize import PolygonRasterizer, rasterize_codes
from ..core.io.rasters import raster_grid
from ..core.progress import ScaledReporter
from .base import FeedbackReporter, LandcoverAlgorithm
from .checks import check_polygons_and_grid
from .parameters import add_polygon_parameters
from .qgis_io import raster_input, read_label_polygons


class RasterizePolygonsAlgorithm(LandcoverAlgorithm):
    NAME = "rasterizepolygons"
    DISPLAY_NAME = "Rasterize training polygons"
    GROUP_ID = "datapreparation"
    HELP = (
        "This algorithm burns the class codes of training polygons into a raster on exactly the "
        "grid of a reference raster (same CRS, origin, pixel size and size).\n\n"
        "<b>Training polygons</b>: polygons in any CRS (they are reprojected to the reference "
        "raster's CRS).\n<b>Class code field</b>: an integer field (e.g. ASLC 51 or OSM 7201); codes "
        "are written as they are, 0 means unlabelled (and is the output's nodata).\n"
        "<b>Reference raster</b>: the grid, normally the band stack.\n"
        "<b>All touched</b>: off (default) labels a pixel when its centre lies in a polygon; on "
        "labels every pixel a polygon touches.\n\n"
        "Where polygons overlap, the smallest polygon wins (it is the more specific one, e.g. a "
        "wetland inside a forest); of two polygons of equal area the one with the lower feature id "
        "wins. The output is the smallest unsigned integer type that holds the codes."
    )
    INPUT = "INPUT"
    FIELD = "FIELD"
    REFERENCE = "REFERENCE"
    ALL_TOUCHED = "ALL_TOUCHED"
    OUTPUT = "OUTPUT"

    def initAlgorithm(self, config=None):  # noqa: N802
        add_polygon_parameters(self, self.INPUT, self.FIELD)
        self.addParameter(QgsProcessingParameterRasterLayer(
            self.REFERENCE, self.tr("Reference raster (grid)")))
        self.addParameter(QgsProcessingParameterBoolean(
            self.ALL_TOUCHED, self.tr("All touched pixels (instead of pixel centres)"), defaultValue=False))
        self.add_product_output(QgsProcessingParameterRasterDestination(
            self.OUTPUT, self.tr("Class code raster")))
        self.add_number_outputs({"LABELLED_PIXELS": "Labelled pixels",
                                 "POLYGONS_OUTSIDE": "Polygons outside the grid"})

    def check_parameters(self, parameters, context):
        return check_polygons_and_grid(self, parameters, context, self.INPUT, self.FIELD, False,
                                       self.REFERENCE, self.OUTPUT)

    def process(self, parameters, context, feedback):
        source = self.parameterAsSource(parameters, self.INPUT, context)
        reference = raster_input(self, parameters, self.REFERENCE, context)
        output = self.output_paths(parameters, context, [self.OUTPUT])[self.OUTPUT]
        field = self.parameterAsString(parameters, self.FIELD, context)
        grid = raster_grid(reference.source(), self.REFERENCE)
        polygons = read_label_polygons(source, field, None, reference.crs(), context, feedback)
        all_touched = self.parameterAsBoolean(parameters, self.ALL_TOUCHED, context)
        rasterizer = PolygonRasterizer(polygons, grid, all_touched=all_touched)
        rasterizer.require_overlap(self.INPUT)
        with atomic_output(output) as tmp:
            reporter = ScaledReporter(FeedbackReporter(feedback), 10, 100)
            per_code = rasterize_codes(rasterizer, tmp, reporter, feedback.isCanceled)
        outside = rasterizer.polygons_outside
        counts = ", ".join(f"{code}: {n}" for code, n in sorted(per_code.items()))
        feedback.pushInfo(f"Labelled pixels per code: {counts}")
        if outside:
            feedback.pushWarning(f"{outside} polygon(s) lie outside the reference grid.")
        return {self.OUTPUT: output, "LABELLED_PIXELS": sum(per_code.values()), "POLYGONS_OUTSIDE": outside}
