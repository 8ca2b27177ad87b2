"""The plugin loads again after QGIS unloads it (a plugin update from the Plugin Manager, Plugin
Reloader, or the desktop test's restart): QGIS forgets exactly the modules its import hook saw.

Runs in a child process with QGIS's own Python: ``qgis.utils`` loads the plugin, QGIS's unload
step removes its modules, and the plugin is loaded and its class made again.
"""

from __future__ import annotations

import os
import subprocess

from lcnn_testing import ROOT

RELOAD = """
import sys
from qgis.core import QgsApplication
app = QgsApplication([], False)
app.initQgis()
import qgis.utils
qgis.utils.plugin_paths = [sys.argv[1]]
qgis.utils.updateAvailablePlugins()
for attempt in range(2):
    if not qgis.utils.loadPlugin("landcover_cnn_plugin"):
        sys.exit(f"load {attempt} failed")
    sys.modules["landcover_cnn_plugin"].classFactory(None)  # QGIS's next step: the plugin's object
    print("families", attempt, sorted(sys.modules["landcover_cnn_plugin.core.models"].FAMILIES))
    qgis.utils._unloadPluginModules("landcover_cnn_plugin")  # what reloadPlugin and an update do
"""


def test_plugin_loads_again_after_qgis_unloads_its_modules(tmp_path):
    plugins = ROOT / "build" / "plugins"
    env = dict(os.environ, PYTHONPATH=str(plugins), QGIS_CUSTOM_CONFIG_PATH=str(tmp_path))
    proc = subprocess.run(["/usr/bin/python3", "-c", RELOAD, str(plugins)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    families = [line.split(" ", 2)[2] for line in proc.stdout.splitlines() if line.startswith("families")]
    assert len(families) == 2 and families[0] == families[1], proc.stdout
    assert "Traceback" not in proc.stderr
