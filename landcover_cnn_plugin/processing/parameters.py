"""Parameters that several algorithms declare alike (same labels, defaults, types).

The training parameters of 'Train land cover model' and 'Compare feature sets' are in
``training_parameters.py``.
"""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterDistance,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterNumber,
    QgsProcessingParameterVectorDestination,
)

#: The class-name field, named as trainmodel names it (the column it becomes in the samples CSV).
NAMES_FIELD = "NAMES_FIELD"
#: Its name before 0.x: still read (a hidden parameter) so that saved models and scripts keep their names.
OLD_NAMES_FIELD = "CLASS_NAME_FIELD"


def add_polygon_parameters(algorithm, polygons: str, field: str, with_names: bool = False) -> None:
    """Declare the training polygons, their integer class code field and (``with_names``) the
    optional class-name field (:func:`add_names_field`)."""
    algorithm.addParameter(QgsProcessingParameterFeatureSource(
        polygons, algorithm.tr("Training polygons"), [QgsProcessing.TypeVectorPolygon]))
    algorithm.addParameter(QgsProcessingParameterField(
        field, algorithm.tr("Class code field (integer)"), parentLayerParameterName=polygons,
        type=QgsProcessingParameterField.Numeric))
    if with_names:
        add_names_field(algorithm, polygons)


def add_names_field(algorithm, layer: str) -> None:
    """Declare NAMES_FIELD, the optional class-name field of the layer parameter ``layer``, and its
    old name CLASS_NAME_FIELD hidden (read by :func:`names_field` when NAMES_FIELD is empty)."""
    for name, flags in ((NAMES_FIELD, 0), (OLD_NAMES_FIELD, QgsProcessingParameterDefinition.FlagHidden)):
        parameter = QgsProcessingParameterField(name, algorithm.tr("Class name field"),
                                                parentLayerParameterName=layer, optional=True)
        parameter.setFlags(parameter.flags() | flags)
        algorithm.addParameter(parameter)


def names_field(algorithm, parameters: dict[str, Any], context: QgsProcessingContext) -> str | None:
    """The class-name field given (NAMES_FIELD, else the old CLASS_NAME_FIELD), None when neither."""
    return (algorithm.parameterAsString(parameters, NAMES_FIELD, context)
            or algorithm.parameterAsString(parameters, OLD_NAMES_FIELD, context) or None)


def point_layer_destination(algorithm, name: str, label: str) -> QgsProcessingParameterVectorDestination:
    """A point layer output that goes to a file (written by OGR, ``qgis_io.write_point_layer``)."""
    output = QgsProcessingParameterVectorDestination(name, algorithm.tr(label), QgsProcessing.TypeVectorPoint)
    output.setSupportsNonFileBasedOutput(False)
    return output


class PixelSelectionParameters:
    """Mixin: which pixels of each training polygon become points or samples (regularpoints,
    extractsamples). Checked by ``checks.pixel_selection_problem``."""

    INSET = "INSET"
    MAX_POINTS_PER_POLYGON = "MAX_POINTS_PER_POLYGON"
    SEED = "SEED"

    def add_pixel_selection_parameters(self, distance_parent: str) -> None:
        """INSET (map units of the layer ``distance_parent``), MAX_POINTS_PER_POLYGON and SEED."""
        self.addParameter(QgsProcessingParameterDistance(
            self.INSET, self.tr("Inset from polygon edges"), defaultValue=0.0,
            parentParameterName=distance_parent))
        self.addParameter(QgsProcessingParameterNumber(
            self.MAX_POINTS_PER_POLYGON, self.tr("Maximum points per polygon (0: all)"),
            QgsProcessingParameterNumber.Integer, defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            self.SEED, self.tr("Random seed"), QgsProcessingParameterNumber.Integer, defaultValue=1))

    def pixel_selection(self, parameters: dict[str, Any], context: QgsProcessingContext,
                        ) -> tuple[float, int, int]:
        """(inset, maximum points per polygon, seed) as given."""
        return (self.parameterAsDouble(parameters, self.INSET, context),
                self.parameterAsInt(parameters, self.MAX_POINTS_PER_POLYGON, context),
                self.parameterAsInt(parameters, self.SEED, context))
