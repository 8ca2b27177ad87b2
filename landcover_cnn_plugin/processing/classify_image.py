"""Classify image: apply a trained model file to a band stack (runs in the worker)."""

from __future__ import annotations

import os

from qgis.core import (
    QgsCoordinateTransform,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingParameterFile,
    QgsProcessingParameterMapLayer,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingUtils,
    QgsRasterLayer,
    QgsVectorFileWriter,
)

from ..core.atomic import check_output_folder
from ..core.errors import UserInputError
from ..core.io.rasters import band_names, match_bands, open_raster
from ..core.model_file import read_model_metadata
from ..core.styles import qml_path_for
from .base import LandcoverAlgorithm, processing_error


def raster_band_names(layer: QgsRasterLayer) -> list[str]:
    """Band names of a raster layer's file as classification matches them (``core.io.rasters``)."""
    try:
        return band_names(open_raster(layer.source()))
    except UserInputError:  # not a file GDAL opens (a provider QGIS reads itself)
        return [layer.bandName(i) for i in range(1, layer.bandCount() + 1)]


class ApplyClassStyle(QgsProcessingLayerPostProcessorInterface):
    """Loads the class map's .qml (code, name, colour) onto the layer added to the project."""

    instances: list[ApplyClassStyle] = []  # keep a reference until Processing has used it

    def __init__(self, qml: str) -> None:
        super().__init__()
        self.qml = qml

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802
        if isinstance(layer, QgsRasterLayer) and os.path.exists(self.qml):
            message, ok = layer.loadNamedStyle(self.qml)
            if not ok:
                feedback.reportError(f"Could not apply the style {self.qml}: {message}")
            layer.triggerRepaint()


class ClassifyImageAlgorithm(LandcoverAlgorithm):
    NAME = "classifyimage"
    DISPLAY_NAME = "Classify image"
    GROUP_ID = "classification"
    HELP = (
        "This algorithm applies a trained land cover model (.lcnn file from 'Train land cover "
        "model') to a raster stack and writes a class map.\n\n"
        "<b>Input raster</b>: the band stack. Its bands are matched to the model's features by "
        "band description (B03, B04, ..., as written by 'Stack and resample rasters'), in the "
        "model's order; bands the model does not use are ignored. A missing band is refused with "
        "both lists of names.\n"
        "<b>Model file</b>: the .lcnn file.\n"
        "<b>Mask</b> (optional): a raster (pixels with a value other than 0 are classified) or a "
        "polygon layer (pixels whose centre lies inside are classified).\n"
        "<b>Memory per block (MB)</b>: the raster is read, classified and written block by block; "
        "this sets the block size (default 256 MB). Memory use does not grow with raster size.\n\n"
        "<b>Class map</b>: GeoTIFF holding the model's class codes (e.g. OSM 7201, ASLC 51), the "
        "smallest unsigned integer type that fits, 0 = nodata, tiled and DEFLATE-compressed, with "
        "a colour table and the class names inside; a .qml style with the same name is written "
        "beside it and applied when the map is loaded.\n"
        "<b>Confidence</b> (optional): float32, the highest class probability (0 to 1), -1 = nodata.\n"
        "<b>Probabilities</b> (optional): float32, one band per class (band names = class names), "
        "-1 = nodata.\n"
        "Pixels that are nodata in any used band, or outside the mask, are nodata in every output.\n\n"
        "The model runs in the worker process (the Python interpreter with TensorFlow, see 'Check "
        "TensorFlow environment'). Cancel stops it and leaves no output file."
    )
    INPUT = "INPUT"
    MODEL = "MODEL"
    MASK = "MASK"
    MEMORY_MB = "MEMORY_MB"
    OUTPUT = "OUTPUT"
    OUTPUT_CONFIDENCE = "OUTPUT_CONFIDENCE"
    OUTPUT_PROBABILITIES = "OUTPUT_PROBABILITIES"

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Input raster (band stack)")))
        self.addParameter(QgsProcessingParameterFile(
            self.MODEL, self.tr("Model file"), extension="lcnn"))
        self.addParameter(QgsProcessingParameterMapLayer(
            self.MASK, self.tr("Mask (raster or polygons)"), optional=True,
            types=[QgsProcessing.TypeRaster, QgsProcessing.TypeVectorPolygon]))
        memory = QgsProcessingParameterNumber(
            self.MEMORY_MB, self.tr("Memory per block (MB)"), QgsProcessingParameterNumber.Integer,
            256, minValue=16, maxValue=65536)
        memory.setFlags(memory.flags() | memory.FlagAdvanced)
        self.addParameter(memory)
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Class map")))
        self.addParameter(QgsProcessingParameterRasterDestination(
            self.OUTPUT_CONFIDENCE, self.tr("Confidence"), optional=True, createByDefault=False))
        self.addParameter(QgsProcessingParameterRasterDestination(
            self.OUTPUT_PROBABILITIES, self.tr("Class probabilities"), optional=True,
            createByDefault=False))

    def checkParameterValues(self, parameters, context):  # noqa: N802
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        model_path = self.parameterAsFile(parameters, self.MODEL, context)
        try:
            metadata = read_model_metadata(model_path)
            if layer is not None:
                match_bands(raster_band_names(layer), metadata["feature_names"], self.INPUT)
        except UserInputError as exc:
            return False, str(exc)
        return True, ""

    @staticmethod
    def mask_file(mask_layer, raster_layer, context, feedback) -> str:
        """A file GDAL can read for the mask: the raster's own file, or polygons exported to a
        temporary GeoPackage in the raster's CRS (any provider, selection ignored)."""
        if isinstance(mask_layer, QgsRasterLayer):
            return mask_layer.source()
        path = os.path.join(QgsProcessingUtils.tempFolder(), f"mask_{os.getpid()}_{id(mask_layer)}.gpkg")
        options = QgsVectorFileWriter.SaveVectorOptions()
        options.driverName = "GPKG"
        options.ct = QgsCoordinateTransform(mask_layer.crs(), raster_layer.crs(),
                                            context.transformContext())
        error, message, _, _ = QgsVectorFileWriter.writeAsVectorFormatV3(
            mask_layer, path, context.transformContext(), options)
        if error != QgsVectorFileWriter.NoError:
            raise QgsProcessingException(f"MASK: cannot export the mask polygons ({message}).")
        feedback.pushDebugInfo(f"Mask polygons exported to {path}")
        return path

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        if layer is None:
            raise QgsProcessingException(self.invalidRasterError(parameters, self.INPUT))
        model_path = self.parameterAsFile(parameters, self.MODEL, context)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        confidence = self.parameterAsOutputLayer(parameters, self.OUTPUT_CONFIDENCE, context)
        probabilities = self.parameterAsOutputLayer(parameters, self.OUTPUT_PROBABILITIES, context)
        mask_layer = self.parameterAsLayer(parameters, self.MASK, context)
        memory_mb = self.parameterAsInt(parameters, self.MEMORY_MB, context)
        try:
            metadata = read_model_metadata(model_path)
            match_bands(raster_band_names(layer), metadata["feature_names"], self.INPUT)
            for path, name in ((output, self.OUTPUT), (confidence, self.OUTPUT_CONFIDENCE),
                               (probabilities, self.OUTPUT_PROBABILITIES)):
                if path:
                    check_output_folder(path, name)
                    if not path.lower().endswith((".tif", ".tiff")):
                        raise UserInputError(f"{path} must be a GeoTIFF (.tif).", name)
        except UserInputError as exc:
            raise processing_error(exc) from None
        args = ["--raster", layer.source(), "--model", model_path, "--output", output,
                "--memory-mb", str(memory_mb)]
        if confidence:
            args += ["--confidence", confidence]
        if probabilities:
            args += ["--probabilities", probabilities]
        if mask_layer is not None:
            args += ["--mask", self.mask_file(mask_layer, layer, context, feedback)]
        finals = [p for p in (output, confidence, probabilities, qml_path_for(output)) if p]
        result = self.run_worker("classify", args, feedback, outputs=finals)
        if not result:  # canceled
            return {}
        feedback.pushInfo(f"Pixels per class (code: pixels): {result.get('class_pixels')}")
        if context.willLoadLayerOnCompletion(output):
            details = context.layerToLoadOnCompletionDetails(output)
            processor = ApplyClassStyle(result.get("style") or qml_path_for(output))
            ApplyClassStyle.instances.append(processor)
            details.setPostProcessor(processor)
        outputs = {self.OUTPUT: output}
        if confidence:
            outputs[self.OUTPUT_CONFIDENCE] = confidence
        if probabilities:
            outputs[self.OUTPUT_PROBABILITIES] = probabilities
        return outputs

