"""Assess map accuracy: class map + reference polygons or points -> OA, kappa, F1, matrix, report."""

from __future__ import annotations

import os

import numpy as np
from qgis.core import (
    QgsCoordinateTransform,
    QgsFeatureRequest,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingUtils,
    QgsWkbTypes,
)

from ..core.accuracy import count_pairs_points, count_pairs_rasters, rasterize_reference, write_pairs_csv
from ..core.atomic import check_output_folder
from ..core.errors import JobCanceled, UserInputError
from .base import LandcoverAlgorithm, processing_error
from .probability_design import (
    NO_ESTIMATE_REASON,
    PROBABILITY_DESIGNS,
    chosen_design,
    design_parameter,
    design_problem,
    probability_sample_args,
)


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
        "<b>Sampling design</b>: with a probability sample of points (from 'Stratified random "
        "points', labelled in a 'reference' field: choose that field as the code field; or points "
        "drawn at random over the whole map) the algorithm estimates, as good practice asks "
        "(Olofsson et al. 2014), the error matrix in area proportions, overall, user's and producer's "
        "accuracy with 95 % confidence intervals, and each class's area in hectares with its "
        "interval beside the mapped area (<b>Estimates</b> CSV: code, name, mapped_area_ha, "
        "estimated_area_ha, area_ci95_ha, users_accuracy, users_ci95, producers_accuracy, "
        "producers_ci95; accuracies as fractions, each _ci95 the half-width of the interval). "
        "Automatic (default) uses the stratified design for points from 'Stratified random points'; "
        "polygons and other points are not a probability sample: then no area is estimated and the "
        "report says why. A probability sample needs a map with a nodata value in a projected CRS "
        "(geographic CRSs are refused: their pixel areas vary), every point on a mapped pixel and "
        "at least 2 labelled points per class; points with an empty reference are left out.\n\n"
        "Use reference data the model was not trained on: accuracy measured on training polygons "
        "is optimistic. The metrics are computed in the worker process (scikit-learn)."
    )
    INPUT = "INPUT"
    REFERENCE = "REFERENCE"
    FIELD = "FIELD"
    OUTPUT_MATRIX = "OUTPUT_MATRIX"
    OUTPUT_REPORT = "OUTPUT_REPORT"
    OUTPUT_ESTIMATES = "OUTPUT_ESTIMATES"
    OVERALL_ACCURACY_CI95 = "OVERALL_ACCURACY_CI95"

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Class map")))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.REFERENCE, self.tr("Reference polygons or points"),
            [QgsProcessing.TypeVectorPolygon, QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterField(
            self.FIELD, self.tr("Code field"), "code", self.REFERENCE,
            QgsProcessingParameterField.Numeric))
        self.addParameter(design_parameter(self))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_MATRIX, self.tr("Confusion matrix"), "CSV files (*.csv)"))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_REPORT, self.tr("Accuracy report"), "HTML files (*.html)", optional=True))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_ESTIMATES, self.tr("Estimates (accuracy and area per class)"), "CSV files (*.csv)",
            optional=True))
        self.add_accuracy_outputs()
        self.addOutput(QgsProcessingOutputNumber(self.OVERALL_ACCURACY_CI95,
                                                 self.tr("Overall accuracy: 95 % interval half-width")))

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
        problem = design_problem(self, parameters, context, source, layer.source() if layer else None)
        return (False, problem) if problem else (True, "")

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
        estimates = self.parameterAsFileOutput(parameters, self.OUTPUT_ESTIMATES, context)
        design = chosen_design(self, parameters, context, source)
        if estimates and design not in PROBABILITY_DESIGNS:
            feedback.pushWarning(f"{self.OUTPUT_ESTIMATES} is not written: area estimates "
                                 f"{NO_ESTIMATE_REASON}")
            estimates = ""
        try:
            for path, name in ((matrix, self.OUTPUT_MATRIX), (report, self.OUTPUT_REPORT),
                               (estimates, self.OUTPUT_ESTIMATES)):
                if path:
                    check_output_folder(path, name)
            folder = QgsProcessingUtils.tempFolder()
            tag = f"{os.getpid()}_{id(self)}"
            if design in PROBABILITY_DESIGNS:
                args = probability_sample_args(self, parameters, context, feedback, layer, field, design,
                                               folder, tag)
                return self._run_assess(args, layer, source, field, matrix, report, estimates, feedback)
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
        args = ["--pairs", pairs_csv, "--points-outside", str(outside),
                "--no-estimate-reason", NO_ESTIMATE_REASON]
        return self._run_assess(args, layer, source, field, matrix, report, "", feedback)

    def _run_assess(self, args, layer, source, field, matrix, report, estimates, feedback):
        args = args + ["--map", layer.source(), "--reference-name", source.sourceName(), "--field", field]
        for option, path in (("--matrix", matrix), ("--report", report), ("--estimates", estimates)):
            if path:
                args += [option, path]
        result = self.run_worker("assess", args, feedback, outputs=[matrix, report, estimates])
        if not result:
            return {}
        for entry in result.get("per_class", []):
            feedback.pushInfo(f"{entry['code']} {entry['name']}: user's {entry['precision']}, "
                              f"producer's {entry['recall']}, F1 {entry['f1']} ({entry['support']} px)")
        for row in result.get("estimates", []):
            feedback.pushInfo(f"{row['code']} {row['name']}: mapped {row['mapped_area_ha']:.1f} ha, "
                              f"estimated {row['estimated_area_ha']:.1f} +- {row['area_ci95_ha']:.1f} ha; "
                              f"user's {row['users_accuracy']}, producer's {row['producers_accuracy']}")
        outputs = {self.OUTPUT_MATRIX: matrix, **self.accuracy_outputs(result),
                   self.OVERALL_ACCURACY_CI95: result.get("overall_accuracy_ci95")}
        for name, path in ((self.OUTPUT_REPORT, report), (self.OUTPUT_ESTIMATES, estimates)):
            if path:
                outputs[name] = path
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
