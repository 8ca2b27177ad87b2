"""The provider's setting under Processing > Options > Providers > Land cover CNN.

One setting: the Python interpreter that runs the worker (TensorFlow). Its key is spelled like
the environment variable that plays the same part outside QGIS
(``core.worker_process.PYTHON_ENVIRONMENT_VARIABLE``); the provider setting wins over it.
*Install TensorFlow environment* stores its environment's interpreter here; that environment lives
in the QGIS profile folder (:func:`private_environment_dir`).
"""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsApplication, QgsSettings

from ..core.environment import environment_dir

#: Key of the interpreter setting in Processing's configuration.
PYTHON_SETTING_KEY = "LANDCOVER_CNN_PYTHON"
PYTHON_SETTING_LABEL = "Python interpreter with TensorFlow"
#: The key before version 0.2 (read once and moved to PYTHON_SETTING_KEY).
_OLD_PYTHON_SETTING_KEY = "LANDCOVERCNN_PYTHON"


def add_settings(provider_name: str, icon) -> None:
    """Show the provider's settings in Processing's options (called when the provider loads)."""
    from processing.core.ProcessingConfig import ProcessingConfig, Setting

    _move_old_setting()
    ProcessingConfig.settingIcons[provider_name] = icon
    ProcessingConfig.addSetting(Setting(provider_name, PYTHON_SETTING_KEY, PYTHON_SETTING_LABEL, "",
                                        valuetype=Setting.FILE))
    ProcessingConfig.readSettings()


def remove_settings() -> None:
    from processing.core.ProcessingConfig import ProcessingConfig

    ProcessingConfig.removeSetting(PYTHON_SETTING_KEY)


def python_setting() -> str:
    """The interpreter chosen in Processing > Options > Providers, or ''."""
    try:
        from processing.core.ProcessingConfig import ProcessingConfig

        return ProcessingConfig.getSetting(PYTHON_SETTING_KEY) or ""
    except Exception:  # the Processing plugin is not loaded (bare QgsApplication)
        return ""


def set_python_setting(python: str) -> None:
    """Store the worker's interpreter as the provider setting (kept in the QGIS profile)."""
    from processing.core.ProcessingConfig import ProcessingConfig

    ProcessingConfig.setSettingValue(PYTHON_SETTING_KEY, python)


def private_environment_dir() -> Path:
    """Where *Install TensorFlow environment* builds the worker's environment: the QGIS profile
    folder's ``landcover_cnn/venv``."""
    return environment_dir(QgsApplication.qgisSettingsDirPath())


def _move_old_setting() -> None:
    settings = QgsSettings()
    old, new = (f"Processing/Configuration/{key}" for key in (_OLD_PYTHON_SETTING_KEY, PYTHON_SETTING_KEY))
    if settings.contains(old):
        if not settings.value(new, ""):
            settings.setValue(new, settings.value(old))
        settings.remove(old)
