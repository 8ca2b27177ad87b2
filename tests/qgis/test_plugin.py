"""The plugin loads and unloads cleanly inside QGIS (pytest-qgis; TensorFlow never loaded here)."""

from __future__ import annotations

import sys

from qgis.core import QgsApplication


def test_plugin_load_and_unload(qgis_iface, qgis_processing):
    import landcover_cnn_plugin

    plugin = landcover_cnn_plugin.classFactory(qgis_iface)
    plugin.initProcessing()
    registry = QgsApplication.processingRegistry()
    provider = registry.providerById("landcovercnn")
    assert provider is not None
    assert provider.name() == "Land cover CNN"
    ids = {alg.id() for alg in provider.algorithms()}
    assert "landcovercnn:checkenvironment" in ids
    groups = {alg.group() for alg in provider.algorithms()}
    assert groups <= {"Data preparation", "Training", "Classification", "Accuracy"}
    for alg in provider.algorithms():
        assert alg.shortHelpString().startswith("This algorithm"), alg.id()
    plugin.unload()
    assert registry.providerById("landcovercnn") is None


def test_plugin_load_imports_no_heavy_library(qgis_iface, qgis_processing):
    import landcover_cnn_plugin

    plugin = landcover_cnn_plugin.classFactory(qgis_iface)
    plugin.initProcessing()
    try:
        for heavy in ("tensorflow", "keras", "sklearn", "pandas"):
            assert heavy not in sys.modules, f"{heavy} was imported into the QGIS process"
    finally:
        plugin.unload()
