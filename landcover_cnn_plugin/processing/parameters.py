"""Parameters that several algorithms declare alike (same labels, defaults, types).

The training parameters of 'Train land cover model' and 'Compare feature sets' are in
``training_parameters.py``.
"""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingParameterDistance,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterNumber,
    QgsProcessingParameterVectorDestination,
)


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
