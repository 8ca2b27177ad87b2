"""Layers in and out on the QGIS side: what QGIS must read (project layers, any provider,
reprojection on the fly) before core takes over with GDAL/OGR and NumPy.

Rasters are described without a renderer (:class:`RasterInput`), training polygons and
reference features are read into arrays in the target CRS, and point or polygon layers are
handed to OGR as files (a temporary GeoPackage when the layer is not one already). Point
layers the algorithms write go through a temporary points CSV that OGR converts in C++
(:func:`temporary_points_csv`, :func:`write_point_layer`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeatureRequest,
    QgsFeatureSource,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeatureSourceDefinition,
    QgsProcessingFeedback,
    QgsProcessingUtils,
    QgsProperty,
    QgsProviderRegistry,
    QgsRasterLayer,
    QgsRectangle,
    QgsVectorFileWriter,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QVariant

from ..core.atomic import atomic_files
from ..core.errors import JobCanceled, UserInputError
from ..core.io.rasterize import LabelPolygons
from ..core.io.rasters import band_names, open_raster
from ..core.io.vectors import csv_points_to_vector
from ..core.progress import Reporter


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


def vector_driver(path: str) -> str:
    """The OGR driver QGIS writes for a file name (by extension; GeoPackage when unknown)."""
    return QgsVectorFileWriter.driverForExtension(Path(path).suffix.lstrip(".")) or "GPKG"


@contextmanager
def temporary_points_csv(prefix: str) -> Iterator[str]:
    """A points CSV path in the Processing temporary folder; the CSV and its ``.csvt`` (the
    column types) are removed afterwards."""
    path = os.path.join(QgsProcessingUtils.tempFolder(), f"{prefix}_{uuid.uuid4().hex}.csv")
    try:
        yield path
    finally:
        for name in (path, os.path.splitext(path)[0] + ".csvt"):
            if os.path.exists(name):
                os.remove(name)


def write_point_layer(csv_path: str, output: str, crs_wkt: str, reporter: Reporter,
                      is_canceled: Callable[[], bool]) -> str:
    """A points CSV (``X``, ``Y`` and a ``.csvt``) as the output layer, in the format of its
    extension (:func:`vector_driver`), written atomically with its side-car files."""
    with atomic_files(output) as tmp:
        csv_points_to_vector(csv_path, tmp, crs_wkt, Path(output).stem, vector_driver(output), reporter,
                             is_canceled)
    return output


def raster_band_names(layer: QgsRasterLayer) -> list[str]:
    """Band names of a raster layer's file as classification matches them (``core.io.rasters``)."""
    try:
        return band_names(open_raster(layer.source()))
    except UserInputError:  # not a file GDAL opens (a provider QGIS reads itself)
        return [layer.bandName(i) for i in range(1, layer.bandCount() + 1)]


def export_mask(mask_layer, raster_layer: QgsRasterLayer, context: QgsProcessingContext,
                feedback: QgsProcessingFeedback) -> str:
    """A file GDAL can read for a mask: the raster's own file, or polygons exported to a
    temporary GeoPackage in the raster's CRS (any provider, selection ignored)."""
    if isinstance(mask_layer, QgsRasterLayer):
        return mask_layer.source()
    path = os.path.join(QgsProcessingUtils.tempFolder(), f"mask_{os.getpid()}_{id(mask_layer)}.gpkg")
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    options.ct = QgsCoordinateTransform(mask_layer.crs(), raster_layer.crs(), context.transformContext())
    error, message, _, _ = QgsVectorFileWriter.writeAsVectorFormatV3(
        mask_layer, path, context.transformContext(), options)
    if error != QgsVectorFileWriter.NoError:
        raise QgsProcessingException(f"MASK: cannot export the mask polygons ({message}).")
    feedback.pushDebugInfo(f"Mask polygons exported to {path}")
    return path


def read_reference_points(source: QgsFeatureSource, field: str, transform: QgsCoordinateTransform,
                          feedback: QgsProcessingFeedback) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y (in the transform's destination CRS) and int64 class codes of every point with a code."""
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


def export_reference_polygons(source: QgsFeatureSource, field: str, transform: QgsCoordinateTransform,
                              crs: QgsCoordinateReferenceSystem, path: str,
                              feedback: QgsProcessingFeedback) -> str:
    """Reference polygons with a positive code, in ``crs``, as a GeoPackage layer 'reference'
    with the fields 'code' and 'area' (what ``core.io.rasterize.rasterize_reference`` burns)."""
    from osgeo import ogr, osr

    driver = ogr.GetDriverByName("GPKG")
    if os.path.exists(path):
        driver.DeleteDataSource(path)
    dataset = driver.CreateDataSource(path)
    srs = osr.SpatialReference()
    srs.ImportFromWkt(crs.toWkt())
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
