"""Probe run inside QGIS Desktop by ``qgis --code`` (see scripts/desktop_screenshot.py).

QGIS executes this file in its own Python once the main window is up. It reads a JSON
configuration from the file named by ``LCNN_PROBE_CONFIG``::

    {"output_dir": "...",                          # findings.json and the PNGs go here
     "provider": "landcovercnn",
     "dialog_algorithm": "landcovercnn:checkenvironment",
     "run_algorithm": "landcovercnn:checkenvironment",   # optional, run with processing.run
     "load_algorithm": {"id": ..., "parameters": {...}, "output": "OUTPUT"},  # optional,
                                                    # run with processing.runAndLoadResults
     "timeout_s": 240}

and writes ``findings.json`` (what it saw: plugins, provider, algorithms, dialog, the loaded
layer's renderer, messages logged) plus ``main_window.png``, ``dialog.png`` and ``screen.png``,
then quits QGIS through File > Exit. A timer ends QGIS with exit code 3 if something hangs.
Every step is wrapped: a failure is written into the findings rather than a dialog.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import qgis.utils
from qgis.core import Qgis, QgsApplication, QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QModelIndex, QTimer
from qgis.PyQt.QtWidgets import QApplication

PROBE_CONFIG: dict[str, Any] = json.loads(Path(os.environ["LCNN_PROBE_CONFIG"]).read_text())
PROBE_OUTPUT = Path(PROBE_CONFIG["output_dir"])
PROBE_FINDINGS: dict[str, Any] = {"steps_done": [], "errors": [], "log_messages": []}
PROBE_STATE: dict[str, Any] = {}


def probe_write_findings() -> None:
    tmp = PROBE_OUTPUT / "findings.json.part"
    tmp.write_text(json.dumps(PROBE_FINDINGS, indent=2, default=str))
    tmp.replace(PROBE_OUTPUT / "findings.json")


def probe_on_log(message: str, tag: str, level: int) -> None:
    if level >= Qgis.Warning or tag == "Python error":
        PROBE_FINDINGS["log_messages"].append({"tag": tag, "level": int(level), "message": message})


def probe_step(function):
    """Run one step, recording success or the traceback (never a dialog)."""
    def wrapped() -> None:
        try:
            function()
            PROBE_FINDINGS["steps_done"].append(function.__name__)
        except Exception:
            PROBE_FINDINGS["errors"].append({"step": function.__name__,
                                             "traceback": traceback.format_exc()})
        probe_write_findings()
    wrapped.__name__ = function.__name__
    return wrapped


def probe_message_bar_texts() -> list[str]:
    """Texts of the message bar items (plugin load errors land there)."""
    texts = []
    for item in qgis.utils.iface.messageBar().items():
        texts.append(f"{item.title()}: {item.text()}")
    return texts


@probe_step
def probe_startup() -> None:
    window = qgis.utils.iface.mainWindow()
    window.setGeometry(0, 0, 1440, 900)
    PROBE_FINDINGS["qgis_version"] = Qgis.QGIS_VERSION
    PROBE_FINDINGS["plugins_loaded"] = sorted(qgis.utils.plugins)
    PROBE_FINDINGS["plugins_active"] = sorted(qgis.utils.active_plugins)
    PROBE_FINDINGS["message_bar_at_start"] = probe_message_bar_texts()
    plugin_module = sys.modules.get("landcover_cnn_plugin")
    PROBE_FINDINGS["plugin_file"] = getattr(plugin_module, "__file__", None)


@probe_step
def probe_registry() -> None:
    registry = QgsApplication.processingRegistry()
    provider = registry.providerById(PROBE_CONFIG["provider"])
    PROBE_FINDINGS["provider_found"] = provider is not None
    if provider is not None:
        PROBE_FINDINGS["provider_name"] = provider.name()
        PROBE_FINDINGS["algorithms"] = sorted(a.id() for a in provider.algorithms())
        PROBE_FINDINGS["registry_algorithms"] = sorted(
            a.id() for a in registry.algorithms() if a.provider() and a.provider().id() == provider.id())


@probe_step
def probe_run_algorithm() -> None:
    algorithm = PROBE_CONFIG.get("run_algorithm")
    if not algorithm:
        return
    import processing

    PROBE_FINDINGS["run_result"] = processing.run(algorithm, {})


@probe_step
def probe_run_and_load() -> None:
    spec = PROBE_CONFIG.get("load_algorithm")
    if not spec:
        return
    import processing

    results = processing.runAndLoadResults(spec["id"], spec["parameters"])
    PROBE_FINDINGS["load_result"] = results
    output_path = os.path.realpath(results[spec["output"]]) if results else None
    for layer in QgsProject.instance().mapLayers().values():
        if os.path.realpath(layer.source().split("|")[0]) != output_path:
            continue
        renderer = layer.renderer()
        found: dict[str, Any] = {"name": layer.name(), "valid": layer.isValid(),
                                 "renderer_type": renderer.type() if renderer else None}
        if isinstance(layer, QgsRasterLayer) and renderer is not None and renderer.type() == "paletted":
            found["classes"] = [{"value": int(c.value), "label": c.label, "color": c.color.name()}
                                for c in renderer.classes()]
        PROBE_FINDINGS["loaded_layer"] = found
        canvas = qgis.utils.iface.mapCanvas()
        canvas.setExtent(layer.extent())
        canvas.refresh()


@probe_step
def probe_show_toolbox() -> None:
    toolbox = qgis.utils.plugins["processing"].toolbox
    toolbox.show()
    toolbox.raise_()
    tree = toolbox.algorithmTree
    tree.collapseAll()
    model = tree.model()
    provider_name = QgsApplication.processingRegistry().providerById(PROBE_CONFIG["provider"]).name()
    index = QModelIndex()
    for row in range(model.rowCount()):
        candidate = model.index(row, 0)
        if model.data(candidate) == provider_name:
            index = candidate
    PROBE_FINDINGS["toolbox_provider_index_valid"] = index.isValid()
    if index.isValid():
        tree.expandRecursively(index)
        tree.scrollTo(index, tree.PositionAtTop)
        PROBE_FINDINGS["toolbox_rows"] = probe_tree_texts(model, index)
        first_algorithm = model.index(0, 0, model.index(0, 0, index))
        if first_algorithm.isValid():
            tree.setCurrentIndex(first_algorithm)


def probe_tree_texts(model, parent: QModelIndex, depth: int = 0) -> list[str]:
    texts = [("  " * depth) + str(model.data(parent))]
    for row in range(model.rowCount(parent)):
        texts += probe_tree_texts(model, model.index(row, 0, parent), depth + 1)
    return texts


@probe_step
def probe_open_dialog() -> None:
    import processing

    dialog = processing.createAlgorithmDialog(PROBE_CONFIG["dialog_algorithm"])
    PROBE_FINDINGS["dialog_created"] = dialog is not None
    if dialog is None:
        return
    dialog.resize(620, 460)
    dialog.move(330, 330)
    dialog.show()
    PROBE_STATE["dialog"] = dialog
    PROBE_FINDINGS["dialog_title"] = dialog.windowTitle()
    PROBE_FINDINGS["dialog_visible"] = dialog.isVisible()


@probe_step
def probe_screenshots() -> None:
    QApplication.processEvents()
    window = qgis.utils.iface.mainWindow()
    PROBE_FINDINGS["main_window_png"] = probe_save(window.grab(), "main_window.png")
    dialog = PROBE_STATE.get("dialog")
    if dialog is not None:
        PROBE_FINDINGS["dialog_png"] = probe_save(dialog.grab(), "dialog.png")
    screen = QApplication.primaryScreen()
    PROBE_FINDINGS["screen_png"] = probe_save(
        screen.grabWindow(0, 0, 0, window.width(), window.height()), "screen.png")


def probe_save(pixmap, name: str) -> dict[str, Any]:
    path = PROBE_OUTPUT / name
    saved = pixmap.save(str(path), "PNG")
    return {"path": str(path), "saved": bool(saved), "width": pixmap.width(), "height": pixmap.height()}


@probe_step
def probe_close_dialog() -> None:
    dialog = PROBE_STATE.pop("dialog", None)
    if dialog is not None:
        dialog.close()
        dialog.deleteLater()


@probe_step
def probe_unload() -> None:
    """Unload the plugin as the Plugin Manager does: the provider must leave the registry."""
    PROBE_FINDINGS["message_bar_at_end"] = probe_message_bar_texts()
    PROBE_FINDINGS["unloaded"] = qgis.utils.unloadPlugin("landcover_cnn_plugin")
    PROBE_FINDINGS["provider_after_unload"] = (
        QgsApplication.processingRegistry().providerById(PROBE_CONFIG["provider"]) is not None)


def probe_quit() -> None:
    PROBE_FINDINGS["finished"] = True
    probe_write_findings()
    # Layers under /tmp count as "temporary layers" and File > Exit would ask before discarding them.
    QgsProject.instance().removeAllMapLayers()
    QgsProject.instance().setDirty(False)
    QTimer.singleShot(5000, probe_exit_blocked)
    qgis.utils.iface.actionExit().trigger()


def probe_exit_blocked() -> None:
    """File > Exit did not end QGIS within seconds: record what stands in the way, then exit."""
    modal = QApplication.activeModalWidget()
    PROBE_FINDINGS["exit_blocked_by"] = {
        "modal_class": type(modal).__name__ if modal else None,
        "modal_title": modal.windowTitle() if modal else None,
        "modal_text": modal.text() if modal is not None and hasattr(modal, "text") else None,
        "project_dirty": QgsProject.instance().isDirty(),
        "top_level": [f"{type(w).__name__}:{w.windowTitle()}" for w in QApplication.topLevelWidgets()
                      if w.isVisible()]}
    probe_write_findings()
    if modal is not None:
        modal.reject()
    QgsApplication.exit(4)


def probe_timeout() -> None:
    PROBE_FINDINGS["timed_out"] = True
    probe_write_findings()
    os._exit(3)


def probe_chain(steps: list, delay_ms: int = 300) -> None:
    """Run the steps one after the other, letting the event loop paint in between."""
    if not steps:
        return
    steps[0]()
    QTimer.singleShot(delay_ms, lambda: probe_chain(steps[1:], delay_ms))


PROBE_OUTPUT.mkdir(parents=True, exist_ok=True)
QgsApplication.messageLog().messageReceived.connect(probe_on_log)
QTimer.singleShot(int(PROBE_CONFIG.get("timeout_s", 240) * 1000), probe_timeout)
# Wait for the event loop (QGIS finishes restoring its window) before the first step.
QTimer.singleShot(1500, lambda: probe_chain([
    probe_startup, probe_registry, probe_run_algorithm, probe_run_and_load, probe_show_toolbox,
    probe_open_dialog, probe_screenshots, probe_close_dialog, probe_unload, probe_quit]))
