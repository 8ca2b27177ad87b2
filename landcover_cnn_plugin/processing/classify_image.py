"""Classify image: apply a trained model file to a band stack (runs in the worker)."""

from __future__ import annotations

import os

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterMapLayer,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsRasterLayer,
)

from ..core.engines import ENGINES, ONNXRUNTIME
from ..core.errors import UserInputError
from ..core.io.rasters import match_bands
from ..core.legend import ClassLegend
from ..core.model_file import onnx_graph_problem, read_model_metadata
from ..core.styles import qml_path_for
from .base import LandcoverAlgorithm
from .qgis_io import export_mask, raster_band_names


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
        "this sets the block size (default 256 MB). Memory use does not grow with raster size.\n"
        "<b>Engine</b>: what runs the network. <i>ONNX Runtime</i> runs the ONNX graph that model "
        "files of this plugin version carry; it needs only the onnxruntime package (no TensorFlow), "
        "and was the faster engine in the plugin's benchmark. <i>TensorFlow</i> runs the Keras "
        "network (any model file). <i>auto</i> (default) takes ONNX Runtime when the worker's Python "
        "has it and the model file carries its graph, else TensorFlow. Both give the same classes "
        "(probabilities within 0.00001). Reading, predicting and writing overlap.\n\n"
        "<b>Class map</b>: GeoTIFF holding the model's class codes (e.g. OSM 7201, ASLC 51), the "
        "smallest unsigned integer type that fits, 0 = nodata, tiled and DEFLATE-compressed, with "
        "a colour table and the class names inside; a .qml style with the same name is written "
        "beside it and applied when the map is loaded.\n"
        "<b>Confidence</b> (optional): float32, the highest class probability (0 to 1), -1 = nodata.\n"
        "<b>Probabilities</b> (optional): float32, one band per class (band names = class names), "
        "-1 = nodata.\n"
        "Pixels that are nodata in any used band, or outside the mask, are nodata in every output.\n\n"
        "The model runs in the worker process (the Python interpreter chosen in the provider's "
        "settings, see 'Check TensorFlow environment', which lists its engines). Cancel stops it "
        "and leaves no output file."
    )
    INPUT = "INPUT"
    MODEL = "MODEL"
    MASK = "MASK"
    MEMORY_MB = "MEMORY_MB"
    ENGINE = "ENGINE"
    ENGINE_LABELS = {"auto": "auto (fastest installed)", "tensorflow": "TensorFlow",
                     "onnxruntime": "ONNX Runtime"}
    OUTPUT = "OUTPUT"
    OUTPUT_CONFIDENCE = "OUTPUT_CONFIDENCE"
    OUTPUT_PROBABILITIES = "OUTPUT_PROBABILITIES"
    FILE_OUTPUTS = (OUTPUT, OUTPUT_CONFIDENCE, OUTPUT_PROBABILITIES)

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
        engine = QgsProcessingParameterEnum(
            self.ENGINE, self.tr("Engine"), options=[self.ENGINE_LABELS[name] for name in ENGINES],
            defaultValue=0)
        engine.setFlags(engine.flags() | engine.FlagAdvanced)
        self.addParameter(engine)
        self.add_product_output(QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Class map")))
        self.addParameter(QgsProcessingParameterRasterDestination(
            self.OUTPUT_CONFIDENCE, self.tr("Confidence"), optional=True, createByDefault=False))
        self.addParameter(QgsProcessingParameterRasterDestination(
            self.OUTPUT_PROBABILITIES, self.tr("Class probabilities"), optional=True,
            createByDefault=False))

    def check_parameters(self, parameters, context):
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        metadata = read_model_metadata(self.parameterAsFile(parameters, self.MODEL, context))
        if layer is not None:
            match_bands(raster_band_names(layer), metadata["feature_names"], self.INPUT)
        return self.engine_problem(parameters, context, metadata)

    def engine_problem(self, parameters, context, metadata) -> str | None:
        """ONNX Runtime asked for a model file without its ONNX graph (the worker checks the rest)."""
        engine = ENGINES[self.parameterAsEnum(parameters, self.ENGINE, context)]
        problem = onnx_graph_problem(metadata)
        if engine == ONNXRUNTIME and problem:
            return (f"{self.ENGINE}: ONNX Runtime runs the ONNX graph that model files of format 3 "
                    f"carry, but the model file {problem}. Choose the engine TensorFlow (or auto), or "
                    "train the model again with this version of the plugin.")
        return None

    def process(self, parameters, context, feedback):
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        if layer is None:
            raise QgsProcessingException(self.invalidRasterError(parameters, self.INPUT))
        model_path = self.parameterAsFile(parameters, self.MODEL, context)
        metadata = read_model_metadata(model_path)
        match_bands(raster_band_names(layer), metadata["feature_names"], self.INPUT)
        paths = self.output_paths(parameters, context, self.FILE_OUTPUTS)
        for name, path in paths.items():
            if path and not path.lower().endswith((".tif", ".tiff")):
                raise UserInputError(f"{path} must be a GeoTIFF (.tif).", name)
        output = paths[self.OUTPUT]
        mask_layer = self.parameterAsLayer(parameters, self.MASK, context)
        args = ["--raster", layer.source(), "--model", model_path, "--output", output,
                "--memory-mb", str(self.parameterAsInt(parameters, self.MEMORY_MB, context)),
                "--engine", ENGINES[self.parameterAsEnum(parameters, self.ENGINE, context)]]
        args += self.option_arguments({"--confidence": paths[self.OUTPUT_CONFIDENCE],
                                       "--probabilities": paths[self.OUTPUT_PROBABILITIES]})
        if mask_layer is not None:
            args += ["--mask", export_mask(mask_layer, layer, context, feedback)]
        result = self.run_worker("classify", args, feedback, outputs=[*paths.values(), qml_path_for(output)])
        legend = ClassLegend.from_dict(metadata["legend"])
        feedback.pushInfo(f"Engine: {result.get('engine')}. Pixels per class: " + ", ".join(
            f"{legend.label_of(int(code))}: {n}" for code, n in (result.get("class_pixels") or {}).items()))
        if context.willLoadLayerOnCompletion(output):
            details = context.layerToLoadOnCompletionDetails(output)
            processor = ApplyClassStyle(result.get("style") or qml_path_for(output))
            ApplyClassStyle.instances.append(processor)
            details.setPostProcessor(processor)
        return {name: path for name, path in paths.items() if path}
