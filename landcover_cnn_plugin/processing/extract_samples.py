"""Extract training samples: polygons + stack -> samples CSV in one fast step."""

from __future__ import annotations

from qgis.core import QgsProcessingParameterFileDestination, QgsProcessingParameterRasterLayer

from ..core.atomic import atomic_output
from ..core.errors import UserInputError
from ..core.io.rasterize import PolygonRasterizer
from ..core.io.rasters import raster_grid
from ..core.progress import ScaledReporter
from ..core.sampling import extract_samples_to_csv
from .base import FeedbackReporter, LandcoverAlgorithm
from .checks import check_polygons_and_grid, pixel_selection_problem
from .parameters import PixelSelectionParameters, add_polygon_parameters, names_field
from .qgis_io import raster_input, read_label_polygons


class ExtractSamplesAlgorithm(PixelSelectionParameters, LandcoverAlgorithm):
    NAME = "extractsamples"
    DISPLAY_NAME = "Extract training samples"
    GROUP_ID = "datapreparation"
    HELP = (
        "This algorithm writes the samples CSV straight from training polygons and the stack, the "
        "fast one-step path for large areas: the same rows as 'Regular points in training "
        "polygons' (on the stack's grid) followed by 'Sample rasters to CSV' would give.\n\n"
        "<b>Raster</b>: the stack (its grid decides the pixels).\n<b>Training polygons</b>: any CRS "
        "(reprojected to the raster's); one feature per polygon, or one multi-part feature per "
        "class as many layers drawn in a GIS have.\n<b>Class code field</b>: integer, becomes the "
        "label column under its own name.\n<b>Class name field</b> (NAMES_FIELD): optional text "
        "field (e.g. 'fclass'), copied after the label so that reports and maps name the classes.\n"
        "<b>Inset</b>: distance in map units kept from polygon edges (0: none).\n"
        "<b>Maximum points per polygon</b> and <b>Random seed</b>: as in 'Regular points in "
        "training polygons' (0: every pixel).\n\n"
        "Each pixel whose centre lies in a polygon gives one row: X, Y (pixel centre), the band "
        "values, label, class name, polygon_id (the feature id), polygon_part (the part of a "
        "multi-part feature, 0 for a single polygon), Latitude, Longitude. Each part is a polygon "
        "of its own for training: the split keeps its pixels together, and the log counts the "
        "polygons of each class. Where polygons overlap the smallest wins (ties: lower feature "
        "id). Pixels on nodata in any band are skipped and counted. Rows are ordered by "
        "polygon_id, then row and column."
    )
    RASTER = "RASTER"
    POLYGONS = "POLYGONS"
    FIELD = "FIELD"
    OUTPUT = "OUTPUT"
    NUMBER_OUTPUTS = {"SAMPLES": "Samples written", "NODATA": "Pixels on nodata",
                      "POLYGONS_USED": "Polygons with samples",
                      "POLYGONS_OUTSIDE": "Polygons outside the raster"}

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer(self.RASTER, self.tr("Raster (stack)")))
        add_polygon_parameters(self, self.POLYGONS, self.FIELD, with_names=True)
        self.add_pixel_selection_parameters(self.RASTER)
        self.add_product_output(QgsProcessingParameterFileDestination(
            self.OUTPUT, self.tr("Samples CSV"), self.tr("CSV files (*.csv)")))
        self.add_number_outputs(self.NUMBER_OUTPUTS)

    def check_parameters(self, parameters, context):
        return (check_polygons_and_grid(self, parameters, context, self.POLYGONS, self.FIELD,
                                        True, self.RASTER, self.OUTPUT)
                or pixel_selection_problem(self, parameters, context, "pixels"))

    def process(self, parameters, context, feedback):
        raster = raster_input(self, parameters, self.RASTER, context)
        source = self.parameterAsSource(parameters, self.POLYGONS, context)
        output = self.output_paths(parameters, context, [self.OUTPUT])[self.OUTPUT]
        field = self.parameterAsString(parameters, self.FIELD, context)
        name_field = names_field(self, parameters, context)
        inset, max_points, seed = self.pixel_selection(parameters, context)
        polygons = read_label_polygons(source, field, name_field, raster.crs(), context, feedback,
                                       parameter=self.POLYGONS)
        rasterizer = PolygonRasterizer(polygons, raster_grid(raster.source(), self.RASTER), inset=inset)
        rasterizer.require_overlap(self.POLYGONS)
        with atomic_output(output) as tmp:
            counts = extract_samples_to_csv(rasterizer, raster.source(), tmp, field, name_field, max_points,
                                            seed, ScaledReporter(FeedbackReporter(feedback), 10, 100),
                                            feedback.isCanceled)
            if counts.written == 0:  # a header-only CSV would only fail later, in training
                raise UserInputError(
                    f"no sample: all {counts.nodata} pixels under the polygons are nodata in the "
                    "raster; choose a raster with data under the polygons (check its nodata "
                    "value).", self.RASTER)
        feedback.pushInfo(f"{counts.written} samples from {counts.polygons_used} features; skipped "
                          f"{counts.nodata} nodata pixels; {counts.polygons_outside} features outside.")
        feedback.pushInfo(f"Samples per class (a polygon = a part of a multi-part feature, a group of "
                          f"the splits): {counts.class_summary()}.")
        return {self.OUTPUT: output, "SAMPLES": counts.written, "NODATA": counts.nodata,
                "POLYGONS_USED": counts.polygons_used, "POLYGONS_OUTSIDE": counts.polygons_outside}
