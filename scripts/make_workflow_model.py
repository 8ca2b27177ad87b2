"""Write resources/models/landcover_workflow.model3: the study workflow as a Graphical Modeler model.

stack -> rasterize -> regular points -> sample -> train -> classify, built with
QgsProcessingModelAlgorithm and saved as .model3 (regenerate after renaming a parameter)::

    PYTHONPATH=build/plugins:/usr/share/qgis/python/plugins /usr/bin/python3 scripts/make_workflow_model.py

Runs under QGIS's Python (Debian's system Python), headless.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "resources" / "models" / "landcover_workflow.model3"
#: The provider lists the model as ``landcovercnn:<MODEL_NAME>`` in this Toolbox group.
MODEL_NAME = "Land cover workflow"
MODEL_GROUP = "Workflow"


def build_model():
    from qgis.core import (
        QgsProcessing,
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildAlgorithm,
        QgsProcessingModelChildParameterSource,
        QgsProcessingModelOutput,
        QgsProcessingModelParameter,
        QgsProcessingParameterFeatureSource,
        QgsProcessingParameterField,
        QgsProcessingParameterMultipleLayers,
        QgsProcessingParameterNumber,
    )
    from qgis.PyQt.QtCore import QPointF

    from landcover_cnn_plugin.core.settings import training_options
    from landcover_cnn_plugin.processing.training_parameters import setting_parameter

    model = QgsProcessingModelAlgorithm(MODEL_NAME, MODEL_GROUP, "landcovercnn")
    model.setHelpContent({"ALG_DESC": (
        "This algorithm runs the whole study workflow as one Graphical Modeler model: stack and "
        "resample the bands, rasterize the training polygons, put points at the pixel centres "
        "inside them, sample the stack to a CSV, train a model (grouped by polygon) and classify "
        "the stack into a styled class map with a confidence layer. Inputs: the band files, the "
        "pixel size in map units (e.g. 20), the training polygons with their integer class code "
        "field and optional class name field, the model type (Automatic: the patch CNN, which "
        "gets the stack) and the maximum number of epochs; nothing else needs a value. Outputs "
        "without a path go to temporary files (stack, class code raster, samples, model, class map; "
        "the paths are listed in the results) or are skipped (training report, confidence): give "
        "paths to keep them. Every part of a multi-part polygon is its own group in the split. To "
        "change a step, open resources/models/landcover_workflow.model3 of the plugin in the "
        "Graphical Modeler.")})

    def parameter(definition, x, y):
        component = QgsProcessingModelParameter(definition.name())
        component.setPosition(QPointF(x, y))
        model.addModelParameter(definition, component)

    parameter(QgsProcessingParameterMultipleLayers("BANDS", "Band rasters", QgsProcessing.TypeRaster),
              120, 60)
    parameter(QgsProcessingParameterNumber("PIXEL_SIZE", "Pixel size (map units)",
                                           QgsProcessingParameterNumber.Double, 20.0, minValue=0.0), 120, 120)
    parameter(QgsProcessingParameterFeatureSource("POLYGONS", "Training polygons",
                                                  [QgsProcessing.TypeVectorPolygon]), 120, 180)
    parameter(QgsProcessingParameterField("FIELD", "Class code field", "code", "POLYGONS",
                                          QgsProcessingParameterField.Numeric), 120, 240)
    parameter(QgsProcessingParameterField("NAMES_FIELD", "Class name field", None, "POLYGONS",
                                          optional=True), 120, 300)
    # trainmodel's own MODEL_TYPE parameter: the chosen index is passed on unchanged
    model_type = next(spec for spec in training_options() if spec.name == "model_type")
    parameter(setting_parameter(model_type, str), 120, 360)
    parameter(QgsProcessingParameterNumber("EPOCHS", "Maximum epochs",
                                           QgsProcessingParameterNumber.Integer, 200, minValue=1), 120, 420)

    src = QgsProcessingModelChildParameterSource

    def child(child_id, algorithm, description, sources, outputs, x, y):
        step = QgsProcessingModelChildAlgorithm(algorithm)
        step.setChildId(child_id)
        step.setDescription(description)
        step.setPosition(QPointF(x, y))
        for name, value in sources.items():
            step.addParameterSources(name, [value])
        model_outputs = {}
        for output_name, (child_output, label) in outputs.items():
            out = QgsProcessingModelOutput(output_name, label)
            out.setChildId(child_id)
            out.setChildOutputName(child_output)
            out.setPosition(QPointF(x + 220, y + 40))
            model_outputs[output_name] = out
        step.setModelOutputs(model_outputs)
        model.addChildAlgorithm(step)

    child("stack", "landcovercnn:stackrasters", "Stack and resample rasters",
          {"INPUT": src.fromModelParameter("BANDS"), "PIXEL_SIZE": src.fromModelParameter("PIXEL_SIZE"),
           "RESAMPLING": src.fromStaticValue(0)},
          {"Stack": ("OUTPUT", "Band stack")}, 420, 60)
    child("rasterize", "landcovercnn:rasterizepolygons", "Rasterize training polygons",
          {"INPUT": src.fromModelParameter("POLYGONS"), "FIELD": src.fromModelParameter("FIELD"),
           "REFERENCE": src.fromChildOutput("stack", "OUTPUT"), "ALL_TOUCHED": src.fromStaticValue(False)},
          {"Labels": ("OUTPUT", "Class code raster")}, 420, 180)
    child("points", "landcovercnn:regularpoints", "Regular points in training polygons",
          {"INPUT": src.fromModelParameter("POLYGONS"), "FIELD": src.fromModelParameter("FIELD"),
           "NAMES_FIELD": src.fromModelParameter("NAMES_FIELD"),
           "REFERENCE": src.fromChildOutput("stack", "OUTPUT")},
          {}, 420, 300)
    child("sample", "landcovercnn:samplepoints", "Sample rasters to CSV",
          {"POINTS": src.fromChildOutput("points", "OUTPUT"),
           "RASTER": src.fromChildOutput("stack", "OUTPUT"),
           "LABEL": src.fromModelParameter("FIELD"), "GROUP": src.fromStaticValue("polygon_id"),
           "NAMES_FIELD": src.fromModelParameter("NAMES_FIELD")},
          {"Samples": ("OUTPUT", "Samples CSV")}, 420, 420)
    child("train", "landcovercnn:trainmodel", "Train land cover model",
          {"INPUT": src.fromChildOutput("sample", "OUTPUT"), "LABEL": src.fromModelParameter("FIELD"),
           "GROUP": src.fromStaticValue("polygon_id"),
           "NAMES_FIELD": src.fromModelParameter("NAMES_FIELD"),
           "MODEL_TYPE": src.fromModelParameter("MODEL_TYPE"), "EPOCHS": src.fromModelParameter("EPOCHS"),
           "RASTER": src.fromChildOutput("stack", "OUTPUT")},  # the patch model cuts patches from it
          {"Model": ("OUTPUT_MODEL", "Model file"), "Report": ("OUTPUT_REPORT", "Training report")},
          720, 420)
    child("classify", "landcovercnn:classifyimage", "Classify image",
          {"INPUT": src.fromChildOutput("stack", "OUTPUT"),
           "MODEL": src.fromChildOutput("train", "OUTPUT_MODEL")},
          {"ClassMap": ("OUTPUT", "Class map"), "Confidence": ("OUTPUT_CONFIDENCE", "Confidence")},
          720, 180)
    return model


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    from landcover_cnn_plugin.processing.provider import LandcoverCnnProvider

    provider = LandcoverCnnProvider()
    QgsApplication.processingRegistry().addProvider(provider)
    model = build_model()
    missing = [c.algorithmId() for c in model.childAlgorithms().values() if c.algorithm() is None]
    if missing:
        print(f"unknown algorithms {missing}", file=sys.stderr)
        return 1
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    tmp = TARGET.with_suffix(".model3.part")
    if not model.toFile(str(tmp)):
        print("could not write the model", file=sys.stderr)
        return 1
    os.replace(tmp, TARGET)
    print(f"wrote {TARGET}")
    app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main())
