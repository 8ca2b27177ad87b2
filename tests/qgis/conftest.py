"""Fixtures of the in-process QGIS tests (pytest-qgis; TensorFlow never loads here)."""

from __future__ import annotations

import pytest
from qgis.core import QgsApplication

from lcnn_testing import ROOT

#: The pytest rootdir of this run (``make test`` passes ``--rootdir``): pytest-qgis keeps its QGIS
#: profile in <rootdir>/.qgis-settings, and pytest its cache in <rootdir>/.pytest_cache.
QGIS_TEST_ROOTDIR = ROOT / "build" / "pytest-qgis"


def pytest_configure(config):
    """Refuse a run whose QGIS profile would land in the checkout (an auth and a style database
    were once committed that way)."""
    profile = config.rootpath / ".qgis-settings"
    if profile.resolve().is_relative_to(ROOT) and not profile.resolve().is_relative_to(ROOT / "build"):
        raise pytest.UsageError(
            f"pytest-qgis writes its QGIS profile to {profile}, inside the checkout. Run the QGIS tests "
            f"with --rootdir {QGIS_TEST_ROOTDIR.relative_to(ROOT)} (make test does; create the folder "
            f"first) and delete {profile}.")


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
