"""landcover-cnn: land-cover classification with Keras/TensorFlow for QGIS Processing.

QGIS calls :func:`classFactory`. Nothing here imports ``qgis`` at module level, so
``landcover_cnn_plugin.core`` and the worker can be used without QGIS.
"""


def classFactory(iface):  # noqa: N802 (name required by QGIS)
    from .plugin import LandcoverCnnPlugin

    return LandcoverCnnPlugin(iface)
