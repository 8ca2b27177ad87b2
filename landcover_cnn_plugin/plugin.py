"""The QGIS plugin object: adds the Processing provider and removes it again."""

from __future__ import annotations

from qgis.core import QgsApplication

from .processing.provider import LandcoverCnnProvider


class LandcoverCnnPlugin:
    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider: LandcoverCnnProvider | None = None

    def initProcessing(self) -> None:  # noqa: N802
        self.provider = LandcoverCnnProvider()
        QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802
        self.initProcessing()

    def unload(self) -> None:
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
