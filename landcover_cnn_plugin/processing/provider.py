"""Processing provider ``landcovercnn`` ("Land cover CNN")."""

from __future__ import annotations

from qgis.core import QgsProcessingModelAlgorithm, QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from ..resources import resource_path
from .algorithms import algorithm_classes

PROVIDER_ID = "landcovercnn"
PYTHON_SETTING = "LANDCOVERCNN_PYTHON"
#: Graphical Modeler models shipped in resources/models, listed in the Toolbox with the algorithms.
WORKFLOW_MODELS = ("landcover_workflow.model3",)


class LandcoverCnnProvider(QgsProcessingProvider):
    def load(self) -> bool:
        from processing.core.ProcessingConfig import ProcessingConfig, Setting

        ProcessingConfig.settingIcons[self.name()] = self.icon()
        ProcessingConfig.addSetting(Setting(
            self.name(), PYTHON_SETTING, self.tr("Python interpreter with TensorFlow"), "",
            valuetype=Setting.FILE))
        ProcessingConfig.readSettings()
        self.refreshAlgorithms()
        return True

    def unload(self) -> None:
        from processing.core.ProcessingConfig import ProcessingConfig

        ProcessingConfig.removeSetting(PYTHON_SETTING)

    def loadAlgorithms(self) -> None:  # noqa: N802
        for algorithm_class in algorithm_classes():
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


def python_setting() -> str:
    """The interpreter chosen in Processing > Options > Providers, or ''."""
    try:
        from processing.core.ProcessingConfig import ProcessingConfig

        return ProcessingConfig.getSetting(PYTHON_SETTING) or ""
    except Exception:  # the Processing plugin is not loaded (bare QgsApplication)
        return ""
