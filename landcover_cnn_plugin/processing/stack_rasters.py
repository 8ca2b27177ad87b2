"""Stack and resample rasters: the study's first step (bands of several sensors on one grid)."""

from __future__ import annotations

from qgis.core import (
    QgsProcessing,
    QgsProcessingOutputString,
    QgsProcessingParameterCrs,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from ..core.atomic import atomic_output
from ..core.io.rasters import raster_grid
from ..core.io.stacking import RESAMPLING_METHODS, StackSource, grid_from_pixel_size, stack_rasters
from .base import FeedbackReporter, LandcoverAlgorithm
from .checks import crs_problem, output_folder_problem
from .qgis_io import raster_input, raster_inputs


class StackRastersAlgorithm(LandcoverAlgorithm):
    NAME = "stackrasters"
    DISPLAY_NAME = "Stack and resample rasters"
    GROUP_ID = "datapreparation"
    HELP = (
        "This algorithm puts every band of several rasters (single- or multi-band, of different "
        "sensors, resolutions, CRSs and data types) onto one pixel grid and writes them as one "
        "multi-band GeoTIFF, the feature stack the models learn from.\n\n"
        "<b>Input rasters</b>: the rasters in stack order; all their bands are used.\n"
        "<b>Reference raster</b>: the grid (CRS, origin, pixel size, extent) to resample onto. "
        "Leave it empty to use a pixel size instead.\n"
        "<b>Pixel size</b>: in map units of the target CRS (metres for UTM), used when there is no "
        "reference raster. <b>Extent</b> (optional) and <b>CRS</b> (optional) complete that grid: "
        "default CRS is the first input's, default extent the union of the inputs; the edges are "
        "snapped to multiples of the pixel size.\n"
        "<b>Resampling</b>: automatic (default) uses average when a band is coarsened (or kept), "
        "which is what 10 m Sentinel-2 bands need to become 20 m pixels, and bilinear when it is "
        "refined; nearest, bilinear, cubic and average force one method for all bands.\n"
        "<b>Band names</b>: optional, comma-separated, one per output band. By default a band is "
        "named by its band description or, failing that, by its file name (a Sentinel-2 file "
        "'..._B8A.jp2' gives 'B8A'). Models find their features by these names.\n\n"
        "The output is a tiled, DEFLATE-compressed GeoTIFF (BigTIFF when needed) with one nodata "
        "value (0 for unsigned integers, the type's minimum for signed ones, -9999 for float32); "
        "it is float32 unless all inputs are integer. GDAL warps every band; nothing is "
        "resampled by hand."
    )
    INPUT = "INPUT"
    REFERENCE = "REFERENCE"
    PIXEL_SIZE = "PIXEL_SIZE"
    EXTENT = "EXTENT"
    CRS = "CRS"
    RESAMPLING = "RESAMPLING"
    BAND_NAMES = "BAND_NAMES"
    OUTPUT = "OUTPUT"

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.INPUT, self.tr("Input rasters"), QgsProcessing.TypeRaster))
        self.addParameter(QgsProcessingParameterRasterLayer(
            self.REFERENCE, self.tr("Reference raster (grid)"), optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            self.PIXEL_SIZE, self.tr("Pixel size (map units, without reference raster)"),
            QgsProcessingParameterNumber.Double, optional=True))
        self.addParameter(QgsProcessingParameterExtent(self.EXTENT, self.tr("Extent"), optional=True))
        self.addParameter(QgsProcessingParameterCrs(self.CRS, self.tr("CRS"), optional=True))
        self.addParameter(QgsProcessingParameterEnum(
            self.RESAMPLING, self.tr("Resampling"), RESAMPLING_METHODS, defaultValue=0))
        self.addParameter(QgsProcessingParameterString(
            self.BAND_NAMES, self.tr("Band names (comma-separated)"), optional=True))
        self.add_product_output(QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Stack")))
        self.addOutput(QgsProcessingOutputString("BAND_NAME_LIST", self.tr("Band names")))
        self.add_number_outputs({"BAND_COUNT": "Number of bands"})

    def _band_names(self, parameters, context) -> list[str]:
        text = self.parameterAsString(parameters, self.BAND_NAMES, context) or ""
        return [name.strip() for name in text.split(",")] if text.strip() else []

    def check_parameters(self, parameters, context):
        layers = raster_inputs(self, parameters, self.INPUT, context)
        if not layers:
            return f"{self.INPUT}: choose at least one raster to stack."
        for number, layer in enumerate(layers, start=1):
            if layer is None:
                return (f"{self.INPUT}: raster {number} cannot be opened; "
                        "choose raster files or layers.")
            problem = crs_problem(layer.crs(), f"the raster {layer.source()}", self.INPUT)
            if problem:
                return problem
        reference = raster_input(self, parameters, self.REFERENCE, context)
        has_size = parameters.get(self.PIXEL_SIZE) not in (None, "")
        pixel_size = self.parameterAsDouble(parameters, self.PIXEL_SIZE, context)
        crs = self.parameterAsCrs(parameters, self.CRS, context)
        if reference is not None:
            problem = crs_problem(reference.crs(), "the reference raster", self.REFERENCE)
            if problem:
                return problem
            if crs.isValid() and crs != reference.crs():
                return (f"{self.CRS}: {crs.authid() or 'the CRS given'} differs from the reference "
                        f"raster's {reference.crs().authid()}; the reference raster sets the grid, "
                        "so leave CRS empty or choose no reference raster.")
        elif not has_size:
            return (f"{self.PIXEL_SIZE}: give a reference raster ({self.REFERENCE}) or a pixel size "
                    "in map units (e.g. 20 for 20 m Sentinel-2 pixels).")
        if has_size and reference is None and pixel_size <= 0:
            return (f"{self.PIXEL_SIZE}: the pixel size is {pixel_size:g}; it must be a positive "
                    "number of map units (e.g. 20 for 20 m).")
        names = self._band_names(parameters, context)
        if names:
            total = sum(layer.bandCount() for layer in layers)
            if len(names) != total:
                return (f"{self.BAND_NAMES}: {len(names)} names given for {total} bands; give one "
                        "name per band, comma-separated, or leave it empty.")
            if "" in names or len(set(names)) != len(names):
                return (f"{self.BAND_NAMES}: band names must be non-empty and unique "
                        f"({', '.join(names)}).")
        return output_folder_problem(self.parameterAsOutputLayer(parameters, self.OUTPUT, context),
                                     self.OUTPUT)

    def process(self, parameters, context, feedback):
        layers = raster_inputs(self, parameters, self.INPUT, context)
        output = self.output_paths(parameters, context, [self.OUTPUT])[self.OUTPUT]
        reference = raster_input(self, parameters, self.REFERENCE, context)
        method = RESAMPLING_METHODS[self.parameterAsEnum(parameters, self.RESAMPLING, context)]
        sources = [StackSource.open(layer.source(), self.INPUT) for layer in layers]
        if reference is not None:
            grid = raster_grid(reference.source(), self.REFERENCE)
        else:
            crs = self.parameterAsCrs(parameters, self.CRS, context)
            crs = crs if crs.isValid() else layers[0].crs()
            extent = None
            if parameters.get(self.EXTENT) not in (None, ""):
                rect = self.parameterAsExtent(parameters, self.EXTENT, context, crs)
                extent = (rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum())
            pixel_size = self.parameterAsDouble(parameters, self.PIXEL_SIZE, context)
            grid = grid_from_pixel_size(sources, pixel_size, crs.toWkt(), extent)
        feedback.pushInfo(f"Grid: {grid.width} x {grid.height} pixels of {grid.pixel_width:g} map units.")
        with atomic_output(output) as tmp:
            info = stack_rasters(sources, grid, tmp, method, self._band_names(parameters, context) or None,
                                 FeedbackReporter(feedback), feedback.isCanceled)
        feedback.pushInfo(f"Bands: {', '.join(info['band_names'])} ({info['data_type']}, "
                          f"nodata {info['nodata']}).")
        return {self.OUTPUT: output, "BAND_NAME_LIST": ",".join(info["band_names"]),
                "BAND_COUNT": len(info["band_names"])}
