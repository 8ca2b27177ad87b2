"""Assess map accuracy: class map + reference polygons or points -> OA, kappa, F1, matrix, report."""

from __future__ import annotations

import os

import numpy as np
from qgis.core import (
    QgsCoordinateTransform,
    QgsFeatureRequest,
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
from ..core.atomic import check_output_folder
from ..core.errors import JobCanceled, UserInputError
from ..core.io.rasterize import rasterize_reference
from .base import LandcoverAlgorithm, processing_error


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

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Class map")))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.REFERENCE, self.tr("Reference polygons or points"),
            [QgsProcessing.TypeVectorPolygon, QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterField(
            self.FIELD, self.tr("Code field"), "code", self.REFERENCE,
            QgsProcessingParameterField.Numeric))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_MATRIX, self.tr("Confusion matrix"), "CSV files (*.csv)"))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_REPORT, self.tr("Accuracy report"), "HTML files (*.html)", optional=True))
        self.add_accuracy_outputs()

    def checkParameterValues(self, parameters, context):  # noqa: N802
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        if layer is not None and layer.bandCount() != 1:
            return False, (f"{self.INPUT}: the class map must have one band of class codes; "
                           f"{layer.name()} has {layer.bandCount()}. Choose the map from 'Classify image'.")
        source = self.parameterAsSource(parameters, self.REFERENCE, context)
        field = self.parameterAsString(parameters, self.FIELD, context)
        if source is not None and source.fields().lookupField(field) < 0:
            return False, (f"{self.FIELD}: the reference layer has no field {field!r}; its fields "
                           f"are {source.fields().names()}.")
        return True, ""

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        source = self.parameterAsSource(parameters, self.REFERENCE, context)
        if layer is None:
            raise QgsProcessingException(self.invalidRasterError(parameters, self.INPUT))
        if source is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, self.REFERENCE))
        field = self.parameterAsString(parameters, self.FIELD, context)
        matrix = self.parameterAsFileOutput(parameters, self.OUTPUT_MATRIX, context)
        report = self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context)
        try:
            for path, name in ((matrix, self.OUTPUT_MATRIX), (report, self.OUTPUT_REPORT)):
                if path:
                    check_output_folder(path, name)
            folder = QgsProcessingUtils.tempFolder()
            tag = f"{os.getpid()}_{id(self)}"
            transform = QgsCoordinateTransform(source.sourceCrs(), layer.crs(), context.transformContext())
            outside = 0
            if QgsWkbTypes.geometryType(source.wkbType()) == QgsWkbTypes.PointGeometry:
                xs, ys, codes = self._points(source, field, transform, feedback)
                pairs, outside = count_pairs_points(layer.source(), xs, ys, codes)
                feedback.setProgress(50)
            else:
                polygons = self._export_polygons(source, field, transform, layer,
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
        except JobCanceled:
            return {}
        except UserInputError as exc:
            raise processing_error(exc) from None
        args = ["--pairs", pairs_csv, "--map", layer.source(), "--reference-name", source.sourceName(),
                "--field", field, "--points-outside", str(outside)]
        if matrix:
            args += ["--matrix", matrix]
        if report:
            args += ["--report", report]
        result = self.run_worker("assess", args, feedback, outputs=[matrix, report])
        if not result:
            return {}
        for entry in result.get("per_class", []):
            feedback.pushInfo(f"{entry['code']} {entry['name']}: user's {entry['precision']}, "
                              f"producer's {entry['recall']}, F1 {entry['f1']} ({entry['support']} px)")
        outputs = {self.OUTPUT_MATRIX: matrix, **self.accuracy_outputs(result)}
        if report:
            outputs[self.OUTPUT_REPORT] = report
        return outputs

    def _points(self, source, field, transform, feedback):
        xs, ys, codes = [], [], []
        total = source.featureCount() or 0
        step = 100.0 / total if total > 0 else 0
        request = QgsFeatureRequest().setSubsetOfAttributes([field], source.fields())
        for index, feature in enumerate(source.getFeatures(request)):
            if feedback.isCanceled():
                raise JobCanceled("canceled")
            value = feature[field]
            geometry = feature.geometry()
            if geometry.isEmpty() or value is None:
                continue
            geometry.transform(transform)
            for point in geometry.asMultiPoint() if geometry.isMultipart() else [geometry.asPoint()]:
                xs.append(point.x())
                ys.append(point.y())
                codes.append(int(value))
            feedback.setProgress(0.1 * index * step)
        return np.asarray(xs), np.asarray(ys), np.asarray(codes, dtype=np.int64)

    def _export_polygons(self, source, field, transform, layer, path, feedback) -> str:
        """Reference polygons in the map's CRS with their code and area, as a GeoPackage (OGR)."""
        from osgeo import ogr, osr

        driver = ogr.GetDriverByName("GPKG")
        if os.path.exists(path):
            driver.DeleteDataSource(path)
        dataset = driver.CreateDataSource(path)
        srs = osr.SpatialReference()
        srs.ImportFromWkt(layer.crs().toWkt())
        out = dataset.CreateLayer("reference", srs, ogr.wkbMultiPolygon)
        out.CreateField(ogr.FieldDefn("code", ogr.OFTInteger64))
        out.CreateField(ogr.FieldDefn("area", ogr.OFTReal))
        total = source.featureCount() or 0
        step = 10.0 / total if total > 0 else 0
        request = QgsFeatureRequest().setSubsetOfAttributes([field], source.fields())
        out.StartTransaction()
        for index, feature in enumerate(source.getFeatures(request)):
            if feedback.isCanceled():
                raise JobCanceled("canceled")
            value = feature[field]
            geometry = feature.geometry()
            if geometry.isEmpty() or value is None or int(value) <= 0:
                continue
            geometry.transform(transform)
            ogr_feature = ogr.Feature(out.GetLayerDefn())
            ogr_feature.SetField("code", int(value))
            ogr_feature.SetField("area", geometry.area())
            ogr_feature.SetGeometry(ogr.CreateGeometryFromWkb(bytes(geometry.asWkb())))
            out.CreateFeature(ogr_feature)
            feedback.setProgress(index * step)
        out.CommitTransaction()
        dataset = None
        return path
