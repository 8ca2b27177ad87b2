"""Export model to ONNX: a .lcnn model file -> a stand-alone .onnx file, plain or for Deepness (worker)."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
)

from ..core.errors import UserInputError
from ..core.model_file import read_model_metadata
from ..core.onnx_export import DEEPNESS, DEFAULT_TILE, FORMATS, MAX_TILE, MIN_TILE
from .base import LandcoverAlgorithm


class ExportModelAlgorithm(LandcoverAlgorithm):
    NAME = "exportmodel"
    DISPLAY_NAME = "Export model to ONNX"
    GROUP_ID = "training"
    HELP = (
        "This algorithm writes a trained model file (.lcnn) as an ONNX file that other programs "
        "can run without this plugin and without TensorFlow (ONNX Runtime, the QGIS plugin Deepness, "
        "OTB, your own scripts). Its metadata properties (each value JSON text) carry everything "
        "needed to use it: the band names in input order, the derived-input rule, the scaler mean "
        "and standard deviation, the nodata rule, the patch size, the class codes, names and "
        "colours (output channel order), the training settings and test figures, and the plugin "
        "version.\n\n"
        "<b>Model file</b>: the .lcnn file from 'Train land cover model'.\n"
        "<b>Format</b>: <i>ONNX</i> (plain): the model's prediction graph, taking the scaled inputs "
        "(input_rule in the metadata: z-score of the bands and derived channels, 0 for nodata); "
        "per-pixel models take (N, inputs) and return (N, classes) probabilities; patch models are "
        "fully convolutional: (N, rows + 2 halo, cols + 2 halo, inputs) -> (N, rows, cols, "
        "classes), any rows and columns, so a whole block goes through at once. <i>Deepness</i>: "
        "the segmentation layout of the Deepness plugin: a fixed square tile (N, bands, T, T) of "
        "raw band values in, (N, classes, T, T) probabilities out, with Deepness's metadata "
        "(model type Segmentor, class names, resolution, tile size, tile overlap covering the "
        "patch, standardization for its division by 255, threshold and small-segment filter off). "
        "In Deepness: choose the raster with the model's bands, map the model inputs to the bands "
        "in the order of band_names (input 1 = the first name), press 'Load default parameters', "
        "keep the resolution at the imagery's own pixel size and the probability threshold at 0. "
        "Deepness knows no nodata: pixels without data get a class too.\n"
        "<b>Tile size</b> (Deepness): T in pixels (default 256).\n"
        "<b>Pixel size</b> (Deepness, metres): of the imagery the model was trained on, written as "
        "Deepness's resolution; 0 (default) reads it from the training raster, when the model file "
        "names one that still exists.\n\n"
        "Model files from earlier versions (without an ONNX graph) are converted from their Keras "
        "network, which needs TensorFlow in the worker's Python."
    )
    MODEL = "MODEL"
    FORMAT = "FORMAT"
    TILE_SIZE = "TILE_SIZE"
    RESOLUTION = "RESOLUTION"
    OUTPUT = "OUTPUT"
    FORMAT_LABELS = {"onnx": "ONNX (plain)", "deepness": "Deepness (QGIS plugin)"}

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFile(self.MODEL, self.tr("Model file"), extension="lcnn"))
        self.addParameter(QgsProcessingParameterEnum(
            self.FORMAT, self.tr("Format"), options=[self.FORMAT_LABELS[name] for name in FORMATS],
            defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            self.TILE_SIZE, self.tr("Tile size (Deepness, pixels)"), QgsProcessingParameterNumber.Integer,
            DEFAULT_TILE, minValue=MIN_TILE, maxValue=MAX_TILE))
        resolution = QgsProcessingParameterNumber(
            self.RESOLUTION, self.tr("Pixel size of the training imagery (Deepness, m; 0 = from the "
                                     "training raster)"),
            QgsProcessingParameterNumber.Double, 0.0, minValue=0.0)
        resolution.setFlags(resolution.flags() | resolution.FlagAdvanced)
        self.addParameter(resolution)
        self.add_product_output(QgsProcessingParameterFileDestination(
            self.OUTPUT, self.tr("ONNX file"), "ONNX files (*.onnx)"))

    def check_parameters(self, parameters, context):
        metadata = read_model_metadata(self.parameterAsFile(parameters, self.MODEL, context))
        halo = int(metadata["patch_size"]) // 2
        tile = self.parameterAsInt(parameters, self.TILE_SIZE, context)
        if FORMATS[self.parameterAsEnum(parameters, self.FORMAT, context)] == DEEPNESS and tile <= 2 * halo:
            return (f"{self.TILE_SIZE}: a tile of {tile} pixels holds nothing inside the model's halo of "
                    f"{halo} pixels on each side; choose at least {2 * halo + 1} (256 is usual).")
        return None

    def process(self, parameters, context, feedback):
        model = self.parameterAsFile(parameters, self.MODEL, context)
        read_model_metadata(model)
        output = self.output_paths(parameters, context, (self.OUTPUT,))[self.OUTPUT]
        if not output.lower().endswith(".onnx"):
            raise UserInputError(f"{output} must end in .onnx.", self.OUTPUT)
        args = ["--model", model, "--output", output,
                "--format", FORMATS[self.parameterAsEnum(parameters, self.FORMAT, context)],
                "--tile-size", str(self.parameterAsInt(parameters, self.TILE_SIZE, context)),
                "--resolution", repr(self.parameterAsDouble(parameters, self.RESOLUTION, context))]
        result = self.run_worker("export", args, feedback, outputs=[output])
        feedback.pushInfo(f"Input {result.get('input')}, output {result.get('output_shape')}.")
        return {self.OUTPUT: output}
