"""Assess map accuracy: class map + reference polygons or points -> OA, kappa, F1, matrix, report."""

from __future__ import annotations

import os

from qgis.core import (
    QgsCoordinateTransform,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingUtils,
    QgsWkbTypes,
)

from ..core.accuracy import count_pairs_points, count_pairs_rasters, write_pairs_csv
from ..core.errors import UserInputError
from ..core.io.rasterize import rasterize_reference
from .base import LandcoverAlgorithm
from .qgis_io import export_reference_polygons, read_reference_points


class AssessAccuracyAlgorithm(LandcoverAlgorithm):
    NAME = "assessaccuracy"
    DISPLAY_NAME = "Assess map accuracy"
    GROUP_ID = "accuracy"
    HELP = (
        "This algorithm compares a class map with reference data and reports its accuracy: "
        "overall accuracy, Cohen's kappa, macro F1, and per class the user's accuracy "
        "(precision), producer's accuracy (recall) and F1, with the confusion matrix as a CSV "
        "table and an HTML report with a heat-map.\n\n"
        "<b>Class map</b>: a map of class codes (from 'Classify image'; 0 = nodata).\n"
        "<b>Reference</b>: polygons or points with the true class code (reprojected to the map's "
        "CRS when needed). Polygons are rasterized on the map's grid (pixel centre inside; where "
        "polygons overlap the smallest wins), points take the map pixel they fall in.\n"
        "<b>Code field</b>: the integer field holding the class codes (the same codes as the "
        "map, e.g. OSM 7201). Reference pixels where the map has no value are left out and "
        "counted in the report.\n\n"
        "Use reference data the model was not trained on: accuracy measured on training polygons "
        "is optimistic. The metrics are computed in the worker process (scikit-learn)."
    )
    INPUT = "INPUT"
    REFERENCE = "REFERENCE"
    FIELD = "FIELD"
    OUTPUT_MATRIX = "OUTPUT_MATRIX"
    OUTPUT_REPORT = "OUTPUT_REPORT"
    FILE_OUTPUTS = (OUTPUT_MATRIX, OUTPUT_REPORT)

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Class map")))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.REFERENCE, self.tr("Reference polygons or points"),
            [QgsProcessing.TypeVectorPolygon, QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterField(
            self.FIELD, self.tr("Code field"), "code", self.REFERENCE,
            QgsProcessingParameterField.Numeric))
        self.add_product_output(QgsProcessingParameterFileDestination(
            self.OUTPUT_MATRIX, self.tr("Confusion matrix"), "CSV files (*.csv)"))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_REPORT, self.tr("Accuracy report"), "HTML files (*.html)", optional=True))
        self.add_accuracy_outputs()

    def check_parameters(self, parameters, context):
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        if layer is not None and layer.bandCount() != 1:
            return (f"{self.INPUT}: the class map must have one band of class codes; "
                    f"{layer.name()} has {layer.bandCount()}. Choose the map from 'Classify image'.")
        source = self.parameterAsSource(parameters, self.REFERENCE, context)
        field = self.parameterAsString(parameters, self.FIELD, context)
        if source is not None and source.fields().lookupField(field) < 0:
            return (f"{self.FIELD}: the reference layer has no field {field!r}; its fields "
                    f"are {source.fields().names()}.")
        return None

    def process(self, parameters, context, feedback):
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        source = self.parameterAsSource(parameters, self.REFERENCE, context)
        if layer is None:
            raise QgsProcessingException(self.invalidRasterError(parameters, self.INPUT))
        if source is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, self.REFERENCE))
        field = self.parameterAsString(parameters, self.FIELD, context)
        paths = self.output_paths(parameters, context, self.FILE_OUTPUTS)
        folder = QgsProcessingUtils.tempFolder()
        tag = f"{os.getpid()}_{id(self)}"
        transform = QgsCoordinateTransform(source.sourceCrs(), layer.crs(), context.transformContext())
        outside = 0
        if QgsWkbTypes.geometryType(source.wkbType()) == QgsWkbTypes.PointGeometry:
            xs, ys, codes = read_reference_points(source, field, transform, feedback)
            pairs, outside = count_pairs_points(layer.source(), xs, ys, codes)
            feedback.setProgress(50)
        else:
            polygons = export_reference_polygons(source, field, transform, layer.crs(),
                                                 os.path.join(folder, f"reference_{tag}.gpkg"), feedback)
            feedback.pushInfo("Rasterizing the reference polygons on the map's grid")
            burned = rasterize_reference(polygons, "reference", "code", "area", layer.source(),
                                         os.path.join(folder, f"reference_{tag}.tif"))
            pairs = count_pairs_rasters(
                layer.source(), burned, progress=lambda p: feedback.setProgress(10 + 0.4 * p),
                is_canceled=feedback.isCanceled)
        if not any(reference > 0 for reference, _ in pairs):
            raise UserInputError("no reference feature overlaps the class map; check the layers' "
                                 "extents and CRSs.", self.REFERENCE)
        pairs_csv = write_pairs_csv(os.path.join(folder, f"pairs_{tag}.csv"), pairs)
        args = ["--pairs", pairs_csv, "--map", layer.source(), "--reference-name", source.sourceName(),
                "--field", field, "--points-outside", str(outside)]
        args += self.option_arguments({"--matrix": paths[self.OUTPUT_MATRIX],
                                       "--report": paths[self.OUTPUT_REPORT]})
        result = self.run_worker("assess", args, feedback, outputs=list(paths.values()))
        for entry in result.get("per_class", []):
            feedback.pushInfo(f"{entry['code']} {entry['name']}: user's {entry['precision']}, "
                              f"producer's {entry['recall']}, F1 {entry['f1']} ({entry['support']} px)")
        return {**{name: path for name, path in paths.items() if path}, **self.accuracy_outputs(result)}
