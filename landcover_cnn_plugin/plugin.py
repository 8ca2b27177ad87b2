"""The QGIS plugin object: adds the Processing provider and removes it again; in QGIS Desktop it
also says when no Python with TensorFlow is found (environment_notice.py)."""

from __future__ import annotations

from qgis.core import QgsApplication

from .environment_notice import EnvironmentNotice
from .processing.provider import LandcoverCnnProvider


class LandcoverCnnPlugin:
    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider: LandcoverCnnProvider | None = None
        self.notice: EnvironmentNotice | None = None

    def initProcessing(self) -> None:  # noqa: N802
        self.provider = LandcoverCnnProvider()
        QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802
        self.initProcessing()
        self.notice = EnvironmentNotice(self.iface)
        self.notice.start()

    def unload(self) -> None:
        if self.notice is not None:
            self.notice.stop()
            self.notice = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
