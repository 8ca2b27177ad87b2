"""Processing provider ``landcovercnn`` ("Land cover CNN")."""

from __future__ import annotations

from qgis.core import QgsProcessingModelAlgorithm, QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from ..resources import resource_path
from .algorithms import ALGORITHM_CLASSES
from .provider_settings import add_settings, remove_settings

PROVIDER_ID = "landcovercnn"
#: Graphical Modeler models shipped in resources/models, listed in the Toolbox with the algorithms.
WORKFLOW_MODELS = ("landcover_workflow.model3",)


class LandcoverCnnProvider(QgsProcessingProvider):
    def load(self) -> bool:
        add_settings(self.name(), self.icon())
        self.refreshAlgorithms()
        return True

    def unload(self) -> None:
        remove_settings()

    def loadAlgorithms(self) -> None:  # noqa: N802
        for algorithm_class in ALGORITHM_CLASSES:
            self.addAlgorithm(algorithm_class())
        for file_name in WORKFLOW_MODELS:
            model = QgsProcessingModelAlgorithm()
            if model.fromFile(str(resource_path("models", file_name))):
                self.addAlgorithm(model)

    def id(self) -> str:
        return PROVIDER_ID

    def name(self) -> str:
        return self.tr("Land cover CNN")

    def longName(self) -> str:  # noqa: N802
        return self.tr("Land cover CNN: Keras/TensorFlow land-cover classification")

    def icon(self) -> QIcon:
        return QIcon(str(resource_path("icon.svg")))

    def svgIconPath(self) -> str:  # noqa: N802
        return str(resource_path("icon.svg"))
