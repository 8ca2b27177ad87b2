"""The plugin loads and unloads cleanly inside QGIS (pytest-qgis; TensorFlow never loaded here)."""

from __future__ import annotations

import sys

from qgis.core import QgsApplication, QgsProcessingModelAlgorithm, QgsSettings


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
    assert groups == {"Data preparation", "Training", "Classification", "Accuracy", "Workflow"}
    for alg in provider.algorithms():
        if isinstance(alg, QgsProcessingModelAlgorithm):  # its help is the model's description
            assert alg.helpContent()["ALG_DESC"].startswith("This algorithm"), alg.id()
        else:
            assert alg.shortHelpString().startswith("This algorithm"), alg.id()
    # the shipped Modeler workflow is in the Toolbox too, wired to this provider's algorithms
    workflow = registry.algorithmById("landcovercnn:Land cover workflow")
    assert isinstance(workflow, QgsProcessingModelAlgorithm)
    steps = {child.algorithmId() for child in workflow.childAlgorithms().values()}
    assert steps == {"landcovercnn:stackrasters", "landcovercnn:rasterizepolygons",
                     "landcovercnn:regularpoints", "landcovercnn:samplepoints",
                     "landcovercnn:trainmodel", "landcovercnn:classifyimage"}
    assert all(child.algorithm() is not None for child in workflow.childAlgorithms().values())
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


def test_interpreter_setting_keeps_the_value_stored_under_the_old_key(qgis_iface, qgis_processing):
    """Version 0.1 stored 'Python interpreter with TensorFlow' as LANDCOVERCNN_PYTHON; the provider
    moves it to LANDCOVER_CNN_PYTHON (the environment variable's spelling) when it loads."""
    import landcover_cnn_plugin
    from landcover_cnn_plugin.processing.provider_settings import PYTHON_SETTING_KEY, python_setting

    old = "Processing/Configuration/LANDCOVERCNN_PYTHON"
    new = f"Processing/Configuration/{PYTHON_SETTING_KEY}"
    settings = QgsSettings()
    settings.remove(new)
    settings.setValue(old, "/opt/landcover/bin/python3")
    plugin = landcover_cnn_plugin.classFactory(qgis_iface)
    plugin.initProcessing()
    try:
        assert python_setting() == "/opt/landcover/bin/python3"
        assert settings.value(new) == "/opt/landcover/bin/python3"
        assert not settings.contains(old)
    finally:
        plugin.unload()
        settings.remove(new)
