"""Helpers shared by the data preparation algorithms (QGIS side; the work is in core.sampling).

Field and CRS checks with messages that name the parameter, reading training polygons
into :class:`~landcover_cnn_plugin.core.io.rasterize.LabelPolygons` (reprojected by QGIS),
and handing a point layer to OGR without a Python loop over the points.
"""

from __future__ import annotations

import glob
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeatureRequest,
    QgsFeatureSource,
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeatureSourceDefinition,
    QgsProcessingFeedback,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingUtils,
    QgsProperty,
    QgsProviderRegistry,
    QgsRasterLayer,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QVariant

from ..core.atomic import PARTIAL_MARK, partial_path, remove_partial_files
from ..core.errors import JobCanceled, UserInputError
from ..core.io.rasterize import LabelPolygons
from .base import processing_error

INTEGER_TYPES = (QVariant.Int, QVariant.UInt, QVariant.LongLong, QVariant.ULongLong)
INTEGER_HINT = ("Class codes and group ids must be integer fields (Integer or Integer64); convert a text or "
                "decimal field with Vector table > Refactor fields.")


def add_polygon_parameters(algorithm, polygons: str, field: str, name_field: str | None = None) -> None:
    """Declare the training polygons, their integer class code field and an optional name field."""
    algorithm.addParameter(QgsProcessingParameterFeatureSource(
        polygons, algorithm.tr("Training polygons"), [QgsProcessing.TypeVectorPolygon]))
    algorithm.addParameter(QgsProcessingParameterField(
        field, algorithm.tr("Class code field (integer)"), parentLayerParameterName=polygons,
        type=QgsProcessingParameterField.Numeric))
    if name_field:
        algorithm.addParameter(QgsProcessingParameterField(
            name_field, algorithm.tr("Class name field"), parentLayerParameterName=polygons, optional=True))


class FeedbackReporter:
    """core ``Reporter`` on a Processing feedback (progress in percent, log lines)."""

    def __init__(self, feedback: QgsProcessingFeedback) -> None:
        self.feedback = feedback

    def progress(self, percent: float) -> None:
        self.feedback.setProgress(percent)

    def log(self, message: str) -> None:
        self.feedback.pushInfo(message)


class RasterInput:
    """A raster parameter read through GDAL, with the QgsRasterLayer methods the algorithms use.

    A file path is opened with GDAL only (no renderer, no statistics pass over a large
    raster); a project layer is used as it is.
    """

    def __init__(self, path: str, crs: QgsCoordinateReferenceSystem, extent: QgsRectangle,
                 band_count: int) -> None:
        self._path, self._crs, self._extent, self._band_count = path, crs, extent, band_count

    @classmethod
    def from_value(cls, value: Any, algorithm=None, parameters=None, name: str = "",
                   context: QgsProcessingContext | None = None) -> RasterInput | None:
        if isinstance(value, str) and value and os.path.isfile(value):
            from osgeo import gdal

            try:  # GDAL raises (core.io switches its exceptions on) or returns None
                dataset = gdal.OpenEx(value, gdal.OF_RASTER | gdal.OF_READONLY)
            except RuntimeError:
                dataset = None
            if dataset is None:
                return None
            wkt = dataset.GetProjection()
            crs = QgsCoordinateReferenceSystem.fromWkt(wkt) if wkt else QgsCoordinateReferenceSystem()
            gt = dataset.GetGeoTransform()
            xs = (gt[0], gt[0] + gt[1] * dataset.RasterXSize)
            ys = (gt[3], gt[3] + gt[5] * dataset.RasterYSize)
            extent = QgsRectangle(min(xs), min(ys), max(xs), max(ys))
            return cls(value, crs, extent, dataset.RasterCount)
        layer = (QgsProcessingUtils.mapLayerFromString(value, context) if isinstance(value, str) and context
                 else value)
        if layer is None and algorithm is not None:
            layer = algorithm.parameterAsRasterLayer(parameters, name, context)
        if not isinstance(layer, QgsRasterLayer):
            return None
        return cls(layer.source(), layer.crs(), layer.extent(), layer.bandCount())

    def source(self) -> str:
        return self._path

    def crs(self) -> QgsCoordinateReferenceSystem:
        return self._crs

    def extent(self) -> QgsRectangle:
        return self._extent

    def bandCount(self) -> int:  # noqa: N802  (QgsRasterLayer's name)
        return self._band_count


def raster_input(algorithm, parameters: dict[str, Any], name: str,
                 context: QgsProcessingContext) -> RasterInput | None:
    """The raster of parameter ``name`` (None when empty or unreadable)."""
    value = parameters.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, QgsProperty):
        value = algorithm.parameterAsString(parameters, name, context)
    return RasterInput.from_value(value, algorithm, parameters, name, context)


def raster_inputs(algorithm, parameters: dict[str, Any], name: str,
                  context: QgsProcessingContext) -> list[RasterInput | None]:
    """The rasters of a multiple-layer parameter, in order (None for unreadable ones)."""
    values = parameters.get(name) or []
    values = values if isinstance(values, list | tuple) else [values]
    if not all(isinstance(value, str) for value in values):
        layers = algorithm.parameterAsLayerList(parameters, name, context)
        return [RasterInput.from_value(layer) for layer in layers]
    return [RasterInput.from_value(value, context=context) for value in values]


def integer_field_problem(source: QgsFeatureSource | None, field_name: str, parameter: str,
                          layer_parameter: str) -> str | None:
    """Message when ``field_name`` is missing from ``source`` or not an integer field, else None."""
    if source is None:
        return None
    if not field_name:
        return f"{parameter}: choose the integer class code field of {layer_parameter}."
    index = source.fields().lookupField(field_name)
    if index < 0:
        names = ", ".join(source.fields().names())
        return (f"{parameter}: {layer_parameter} has no field '{field_name}' (its fields: {names}). "
                "Choose the integer class code field.")
    field = source.fields().at(index)
    if field.type() not in INTEGER_TYPES:
        return (f"{parameter}: the field '{field_name}' is of type {field.typeName()}, not integer. "
                + INTEGER_HINT)
    return None


def field_exists_problem(source: QgsFeatureSource | None, field_name: str, parameter: str,
                         layer_parameter: str) -> str | None:
    if source is None or not field_name:
        return None
    if source.fields().lookupField(field_name) < 0:
        names = ", ".join(source.fields().names())
        return f"{parameter}: {layer_parameter} has no field '{field_name}' (its fields: {names})."
    return None


def crs_problem(crs: QgsCoordinateReferenceSystem, what: str, parameter: str) -> str | None:
    if not crs.isValid():
        return (f"{parameter}: {what} has no coordinate reference system; assign one "
                "(Raster > Projections > Assign Projection, or the layer's properties) and run again.")
    return None


def output_folder_problem(path: str, parameter: str) -> str | None:
    from ..core.atomic import check_output_folder

    if not path or path.startswith(("memory:", "postgres:", "ogr:")):
        return None
    try:
        check_output_folder(path, parameter)
    except UserInputError as exc:
        return str(exc)
    return None


def check_polygons_and_grid(algorithm, parameters: dict[str, Any], context: QgsProcessingContext,
                            polygons: str, field: str, name_field: str | None, raster: str | None,
                            output: str | None, kind: str = "polygon") -> str | None:
    """Shared ``checkParameterValues`` of the data preparation algorithms: the first problem found, or None.

    Checks the polygon layer (present, not empty, has a CRS), its integer class field and
    optional name field, the raster's CRS, that the polygons' extent meets the raster's
    (after reprojection) and that the output folder is writable.
    """
    source = algorithm.parameterAsSource(parameters, polygons, context)
    if source is None:
        return f"{polygons}: choose a {kind} layer."
    if source.featureCount() == 0:
        return f"{polygons}: the {kind} layer has no features; choose a layer with training {kind}s."
    problem = (crs_problem(source.sourceCrs(), f"the {kind} layer", polygons)
               or integer_field_problem(source, algorithm.parameterAsString(parameters, field, context),
                                        field, polygons))
    if not problem and name_field:
        problem = field_exists_problem(source, algorithm.parameterAsString(parameters, name_field, context),
                                       name_field, polygons)
    if not problem and raster and parameters.get(raster) not in (None, ""):
        layer = raster_input(algorithm, parameters, raster, context)
        if layer is None:
            return (f"{raster}: cannot open the raster {parameters.get(raster)}; "
                    "choose a raster layer or file.")
        problem = crs_problem(layer.crs(), "the raster", raster)
        if not problem:
            problem = extent_overlap_problem(source, layer, context, polygons, raster, kind)
    if not problem and output:
        path = (algorithm.parameterAsOutputLayer(parameters, output, context)
                or algorithm.parameterAsFileOutput(parameters, output, context))
        problem = output_folder_problem(path, output)
    return problem


def extent_overlap_problem(source: QgsFeatureSource, raster: RasterInput, context: QgsProcessingContext,
                           polygons: str, raster_parameter: str, kind: str = "polygon") -> str | None:
    """Message when the polygons' extent (reprojected) misses the raster's extent."""
    from qgis.core import QgsCoordinateTransform

    try:
        transform = QgsCoordinateTransform(source.sourceCrs(), raster.crs(), context.transformContext())
        extent = transform.transformBoundingBox(source.sourceExtent())
    except Exception:  # a failed transform is reported by the feature reader later
        return None
    if not extent.intersects(raster.extent()):
        return (f"{polygons}: no {kind} overlaps the raster {raster_parameter} ({kind}s "
                f"{extent.toString(0)} vs raster {raster.extent().toString(0)} in {raster.crs().authid()}); "
                f"choose {kind}s and a raster of the same area.")
    return None


def read_label_polygons(source: QgsFeatureSource, field_name: str, name_field: str | None,
                        crs: QgsCoordinateReferenceSystem, context: QgsProcessingContext,
                        feedback: QgsProcessingFeedback, parameter: str = "INPUT",
                        field_parameter: str = "FIELD") -> LabelPolygons:
    """Training polygons reprojected to ``crs`` (one Python step per polygon, not per pixel).

    Features without a code or geometry are skipped (and counted in the log); a code
    below 1 is refused because 0 means unlabelled.
    """
    fields = source.fields()
    code_index = fields.lookupField(field_name)
    wanted = [code_index] + ([fields.lookupField(name_field)] if name_field else [])
    request = QgsFeatureRequest().setSubsetOfAttributes(wanted)
    request.setDestinationCrs(crs, context.transformContext())
    fids, codes, wkbs, names = [], [], [], []
    skipped_null = skipped_geometry = 0
    total = source.featureCount()
    for number, feature in enumerate(source.getFeatures(request)):
        if feedback.isCanceled():
            raise JobCanceled("canceled")
        if total > 0:
            feedback.setProgress(10.0 * number / total)
        code = feature.attribute(code_index)
        if code is None or (isinstance(code, QVariant) and code.isNull()):
            skipped_null += 1
            continue
        if int(code) < 1:
            raise QgsProcessingException(
                f"{field_parameter}: feature {feature.id()} has class code {int(code)}; class codes must be "
                "positive integers (0 means unlabelled). Fix or remove that feature.")
        geometry = feature.geometry()
        if geometry.isNull() or geometry.isEmpty():
            skipped_geometry += 1
            continue
        fids.append(feature.id())
        codes.append(int(code))
        wkbs.append(bytes(geometry.asWkb()))
        if name_field:
            value = feature.attribute(name_field)
            names.append("" if value is None or (isinstance(value, QVariant) and value.isNull())
                         else str(value))
    if skipped_null:
        feedback.pushWarning(f"{skipped_null} polygon(s) without a value in '{field_name}' were skipped.")
    if skipped_geometry:
        feedback.pushWarning(f"{skipped_geometry} polygon(s) without geometry were skipped.")
    if not fids:
        raise QgsProcessingException(
            f"{parameter}: no polygon has both a geometry and a class code in '{field_name}'; "
            "choose a polygon layer with labelled features.")
    return LabelPolygons(np.array(fids, dtype=np.int64), np.array(codes, dtype=np.int64), wkbs,
                         names if name_field else None)


def point_layer_for_ogr(algorithm, parameters: dict[str, Any], name: str, crs: QgsCoordinateReferenceSystem,
                        context: QgsProcessingContext, feedback: QgsProcessingFeedback,
                        ) -> tuple[str, str | int | None]:
    """An OGR path and layer holding the points of parameter ``name`` in ``crs``.

    A file layer read completely in the right CRS is used as it is; anything else (another
    CRS, a selection, a filter, a memory layer) is first written to a temporary GeoPackage by
    QGIS's own ``native:reprojectlayer`` (C++), so that no Python loop runs over the points.
    """
    definition = parameters.get(name)
    selected = (isinstance(definition, QgsProcessingFeatureSourceDefinition)
                and definition.selectedFeaturesOnly)
    layer = algorithm.parameterAsVectorLayer(parameters, name, context)
    if (isinstance(layer, QgsVectorLayer) and layer.providerType() == "ogr" and not layer.subsetString()
            and not selected and layer.crs() == crs):
        parts = QgsProviderRegistry.instance().decodeUri("ogr", layer.source())
        if parts.get("path") and os.path.exists(parts["path"]):
            if parts.get("layerName"):
                return parts["path"], parts["layerName"]
            return parts["path"], parts.get("layerId") if parts.get("layerId") is not None else None
    import processing

    feedback.pushInfo("Copying the points into the raster's CRS (native:reprojectlayer) for fast reading.")
    target = os.path.join(QgsProcessingUtils.tempFolder(), f"points_{uuid.uuid4().hex}.gpkg")
    result = processing.run("native:reprojectlayer", {"INPUT": definition, "TARGET_CRS": crs,
                                                      "OUTPUT": target},
                            context=context, feedback=feedback, is_child_algorithm=True)
    return result["OUTPUT"], None


def run_core(function: Callable[[], Any], feedback: QgsProcessingFeedback) -> Any:
    """Call core work: input errors become Processing errors, cancel returns None."""
    try:
        return function()
    except UserInputError as exc:
        raise processing_error(exc) from None
    except JobCanceled:
        feedback.reportError("Canceled: no output was written.")
        return None


@contextmanager
def atomic_files(final_path: str) -> Iterator[str]:
    """Like ``atomic_output`` for formats that write side-car files (Shapefile .dbf, .shx...).

    Every file named like the partial file is renamed to the final name on success and
    deleted on failure.
    """
    tmp = partial_path(final_path)
    tmp_stem = os.path.splitext(tmp)[0]
    final_stem = os.path.splitext(final_path)[0]
    try:
        yield tmp
        for path in sorted(glob.glob(glob.escape(tmp_stem) + ".*")):
            os.replace(path, final_stem + path[len(tmp_stem):])
    except BaseException:
        remove_partial_files(final_path)
        raise


def vector_driver(path: str) -> str:
    from qgis.core import QgsVectorFileWriter

    return QgsVectorFileWriter.driverForExtension(Path(path).suffix.lstrip(".")) or "GPKG"


__all__ = ["PARTIAL_MARK", "FeedbackReporter", "atomic_files", "crs_problem", "field_exists_problem",
           "integer_field_problem", "output_folder_problem", "point_layer_for_ogr",
           "read_label_polygons", "run_core", "vector_driver"]
