"""Parameter checks used by more than one algorithm: each returns a message for the user, or None.

Messages start with the parameter name, give the value found and say what to do, in the
form ``checkParameterValues`` returns; ``LandcoverAlgorithm.checkParameterValues`` runs
:func:`number_range_problem` for every algorithm, then the algorithm's ``check_parameters``,
which calls the checks here and adds its own.
"""

from __future__ import annotations

import math
from typing import Any

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeatureSource,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingParameterNumber,
)
from qgis.PyQt.QtCore import QVariant

from ..core.atomic import check_output_folder
from ..core.errors import UserInputError
from .parameters import NAMES_FIELD, names_field
from .qgis_io import RasterInput, raster_input

INTEGER_TYPES = (QVariant.Int, QVariant.UInt, QVariant.LongLong, QVariant.ULongLong)
INTEGER_HINT = ("Class codes and group ids must be integer fields (Integer or Integer64); convert a text or "
                "decimal field with Vector table > Refactor fields.")


def _format_number(value: float, integer: bool) -> str:
    return str(int(value)) if integer else f"{value:g}"


def number_range_problem(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any]) -> str | None:
    """The first numeric parameter whose value is not a number or lies outside its range, or None.

    QGIS itself only says "Incorrect parameter value for EPOCHS"; this names the allowed
    range, the value given and the parameter's label, e.g. ``EPOCHS (Maximum epochs): 0 is
    below the minimum 1; give a value of at least 1.`` Empty values of optional parameters
    and absent parameters (defaults) are left to QGIS.
    """
    for definition in algorithm.parameterDefinitions():
        if not isinstance(definition, QgsProcessingParameterNumber):
            continue
        name = definition.name()
        raw = parameters.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        integer = definition.dataType() == QgsProcessingParameterNumber.Integer
        label = f"{name} ({definition.description()})"
        low, high = definition.minimum(), definition.maximum()
        bounds = _range_text(low, high, integer)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            if not isinstance(raw, str):
                continue  # an expression or a property: QGIS evaluates it
            return f"{label}: {raw!r} is not a number; give {bounds}."
        if math.isnan(value) or math.isinf(value):
            return f"{label}: {raw!r} is not a number; give {bounds}."
        if integer and value != int(value):
            return f"{label}: {raw!r} is not a whole number; give {bounds}."
        shown = _format_number(value, integer)
        if value < low:
            return f"{label}: {shown} is below the minimum {_format_number(low, integer)}; give {bounds}."
        if value > high:
            return f"{label}: {shown} is above the maximum {_format_number(high, integer)}; give {bounds}."
    return None


def _range_text(low: float, high: float, integer: bool) -> str:
    kind = "a whole number" if integer else "a number"
    has_low, has_high = low > -1e300, high < 1e300
    if has_low and has_high:
        return f"{kind} from {_format_number(low, integer)} to {_format_number(high, integer)}"
    if has_low:
        return f"{kind} of at least {_format_number(low, integer)}"
    if has_high:
        return f"{kind} of at most {_format_number(high, integer)}"
    return kind


def integer_field_problem(source: QgsFeatureSource | None, field_name: str, parameter: str,
                          layer_parameter: str, text_allowed: bool = False) -> str | None:
    """Message when ``field_name`` is missing from ``source`` or not an integer field (nor a text
    field, when ``text_allowed``: class names as labels), else None."""
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
    if text_allowed and field.type() == QVariant.String:
        return None
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
    if not path or path.startswith(("memory:", "postgres:", "ogr:")):
        return None
    try:
        check_output_folder(path, parameter)
    except UserInputError as exc:
        return str(exc)
    return None


def check_polygons_and_grid(algorithm, parameters: dict[str, Any], context: QgsProcessingContext,
                            polygons: str, field: str, with_names: bool, raster: str | None,
                            output: str | None, kind: str = "polygon") -> str | None:
    """Shared checks of the data preparation algorithms: the first problem found, or None.

    Checks the polygon layer (present, not empty, has a CRS), its integer class field (points: an
    integer or text field) and
    (``with_names``) the class-name field NAMES_FIELD, the raster's CRS, that the polygons' extent
    meets the raster's (after reprojection) and that the output folder is writable.
    """
    source = algorithm.parameterAsSource(parameters, polygons, context)
    if source is None:
        return f"{polygons}: choose a {kind} layer."
    text_allowed = kind == "point"  # sampled points keep their labels; polygons are burnt by code
    if source.featureCount() == 0:
        return f"{polygons}: the {kind} layer has no features; choose a layer with training {kind}s."
    problem = (crs_problem(source.sourceCrs(), f"the {kind} layer", polygons)
               or integer_field_problem(source, algorithm.parameterAsString(parameters, field, context),
                                        field, polygons, text_allowed))
    if not problem and with_names:
        problem = field_exists_problem(source, names_field(algorithm, parameters, context), NAMES_FIELD,
                                       polygons)
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


def pixel_selection_problem(algorithm, parameters: dict[str, Any], context: QgsProcessingContext,
                            unit: str) -> str | None:
    """INSET and MAX_POINTS_PER_POLYGON of a ``PixelSelectionParameters`` algorithm (``unit``: what
    0 keeps, "pixels" or "points")."""
    if algorithm.parameterAsDouble(parameters, algorithm.INSET, context) < 0:
        return f"{algorithm.INSET}: the inset must be 0 or a positive distance in map units."
    if algorithm.parameterAsInt(parameters, algorithm.MAX_POINTS_PER_POLYGON, context) < 0:
        return f"{algorithm.MAX_POINTS_PER_POLYGON}: give 0 (all {unit}) or a positive number."
    return None
