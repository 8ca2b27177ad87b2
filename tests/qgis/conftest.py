"""Fixtures of the in-process QGIS tests (pytest-qgis; TensorFlow never loads here)."""

from __future__ import annotations

import pytest
from qgis.core import QgsApplication


@pytest.fixture(scope="module")
def landcover_provider(qgis_iface, qgis_processing):
    """The plugin loaded as QGIS loads it, for one test module, and unloaded after it.

    One registration at a time: QGIS refuses (and deletes) a second provider with the same id.
    """
    import landcover_cnn_plugin

    plugin = landcover_cnn_plugin.classFactory(qgis_iface)
    plugin.initProcessing()
    provider = QgsApplication.processingRegistry().providerById("landcovercnn")
    assert provider is not None
    yield provider
    plugin.unload()
