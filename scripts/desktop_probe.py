"""Probe run inside QGIS Desktop by ``qgis --code`` (see scripts/desktop_screenshot.py).

QGIS executes this file in its own Python once the main window is up. It reads a JSON
configuration from the file named by ``LCNN_PROBE_CONFIG``::

    {"output_dir": "...",                          # findings.json and the PNGs go here
     "provider": "landcovercnn",
     "dialog_algorithm": "landcovercnn:checkenvironment",
     "install": {"parameters": {"WHEELS": "..."}},  # optional: the message bar's button opens
                                                    # the installer, its dialog runs it
     "run_algorithms": [{"key": "check", "id": "landcovercnn:checkenvironment",
                         "parameters": {}}],        # optional, run in turn with processing.run
     "load_algorithm": {"id": ..., "parameters": {...}, "output": "OUTPUT"},  # optional,
                                                    # run with processing.runAndLoadResults
     "timeout_s": 240}

and writes ``findings.json`` (what it saw: plugins, provider, algorithms, the plugin's message
bar notice, the installer's run, dialog, the loaded layer's renderer, messages logged) plus
``map_window.png``, ``main_window.png``, ``dialog.png``, ``installer.png``, ``canvas.png`` and
``screen.png``, then
quits QGIS through File > Exit. A timer ends QGIS with exit code 3 if something hangs. Every step
is wrapped: a failure is written into the findings rather than a dialog; a step may return a
condition the chain waits for (the installer runs in a background task, the GUI stays live).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import qgis.utils
from qgis.core import Qgis, QgsApplication, QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QModelIndex, QProcess, QTimer
from qgis.PyQt.QtWidgets import QApplication, QProgressBar, QPushButton, QTextEdit

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
    """Run one step, recording success or the traceback (never a dialog); pass on the condition
    it returns (the chain waits for it)."""
    def wrapped():
        waits_for = None
        try:
            waits_for = function()
            PROBE_FINDINGS["steps_done"].append(function.__name__)
        except Exception:
            PROBE_FINDINGS["errors"].append({"step": function.__name__,
                                             "traceback": traceback.format_exc()})
        probe_write_findings()
        return waits_for
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


def probe_notices() -> list:
    """The plugin's items in the message bar."""
    return [item for item in qgis.utils.iface.messageBar().items() if item.title() == "Land cover CNN"]


def probe_notice_answered() -> bool:
    """Whether the plugin's question to its interpreter (does it have TensorFlow?) is answered."""
    notice = qgis.utils.plugins["landcover_cnn_plugin"].notice
    return notice.process is None or notice.process.state() == QProcess.NotRunning


@probe_step
def probe_wait_for_notice():
    """The plugin asks its interpreter in a child process: wait for the answer (20 s at most)."""
    deadline = time.monotonic() + 20
    return lambda: probe_notice_answered() or time.monotonic() > deadline


@probe_step
def probe_notice() -> None:
    PROBE_FINDINGS["notices"] = [{"text": item.text(), "level": int(item.level()),
                                  "buttons": [b.text() for b in item.findChildren(QPushButton)]}
                                 for item in probe_notices()]


@probe_step
def probe_install_from_notice():
    """Click the notice's button, run the installer from its dialog (a background task)."""
    spec = PROBE_CONFIG.get("install")
    if not spec:
        return None
    button = probe_notices()[0].findChildren(QPushButton)[0]
    button.click()
    QApplication.processEvents()
    dialogs = [w for w in QApplication.topLevelWidgets()
               if w.isVisible() and w.windowTitle() == "Install TensorFlow environment"]
    PROBE_FINDINGS["installer_dialogs"] = len(dialogs)
    dialog = dialogs[0]
    dialog.resize(820, 600)
    dialog.setParameters(spec["parameters"])
    started = time.monotonic()

    def finished(ok: bool, results: dict) -> None:  # before the dialog closes itself
        try:
            from processing.core.ProcessingConfig import ProcessingConfig

            PROBE_FINDINGS["install"] = {
                "ok": ok, "results": results, "seconds": round(time.monotonic() - started, 1),
                "progress": dialog.findChild(QProgressBar, "progressBar").value(),
                "log": probe_dialog_log(dialog),
                "setting_after": ProcessingConfig.getSetting("LANDCOVER_CNN_PYTHON"),
                "notices_after": len(probe_notices())}
            PROBE_FINDINGS["installer_png"] = probe_save(dialog.grab(), "installer.png")
        except Exception:
            PROBE_FINDINGS["errors"].append({"step": "install finished", "traceback": traceback.format_exc()})
            PROBE_FINDINGS.setdefault("install", {"ok": False})

    def done() -> bool:
        PROBE_FINDINGS["install_waiting"] = {
            "seconds": round(time.monotonic() - started, 1),
            "progress": dialog.findChild(QProgressBar, "progressBar").value(),
            "log_tail": probe_dialog_log(dialog)[-300:]}
        probe_write_findings()
        return "install" in PROBE_FINDINGS

    dialog.algorithmFinished.connect(finished)
    dialog.runAlgorithm()
    PROBE_STATE["installer"] = dialog
    return done


def probe_dialog_log(dialog) -> str:
    """The text of an algorithm dialog's Log tab."""
    logs = [w for w in dialog.findChildren(QTextEdit) if w.objectName() in ("txtLog", "mTxtLog")]
    return logs[0].toPlainText() if logs else ""


@probe_step
def probe_run_algorithms() -> None:
    import processing

    installer = PROBE_STATE.pop("installer", None)
    if installer is not None:  # the user closes the installer's dialog
        installer.close()

    for run in PROBE_CONFIG.get("run_algorithms") or []:
        started = time.monotonic()
        PROBE_FINDINGS.setdefault("runs", {})[run["key"]] = processing.run(run["id"], run["parameters"])
        PROBE_FINDINGS.setdefault("run_seconds", {})[run["key"]] = round(time.monotonic() - started, 1)
        probe_write_findings()


@probe_step
def probe_restart_plugin():
    """Reload the plugin as at the next start of QGIS: with TensorFlow found, no notice."""
    if not PROBE_CONFIG.get("install"):
        return None
    qgis.utils.reloadPlugin("landcover_cnn_plugin")
    PROBE_FINDINGS["reloaded"] = "landcover_cnn_plugin" in qgis.utils.active_plugins

    def answered() -> bool:
        if not probe_notice_answered():
            return False
        PROBE_FINDINGS["notices_after_restart"] = [item.text() for item in probe_notices()]
        return True
    return answered


@probe_step
def probe_run_and_load() -> None:
    spec = PROBE_CONFIG.get("load_algorithm")
    if not spec:
        return
    import processing

    started = time.monotonic()
    results = processing.runAndLoadResults(spec["id"], spec["parameters"])
    PROBE_FINDINGS["load_result"] = results
    PROBE_FINDINGS["load_seconds"] = round(time.monotonic() - started, 1)
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
    PROBE_FINDINGS["canvas_png"] = probe_save(qgis.utils.iface.mapCanvas().grab(), "canvas.png")


@probe_step
def probe_fit_map():
    """Zoom the canvas (resized by the Toolbox) to the classified map; wait until it is drawn."""
    canvas = qgis.utils.iface.mapCanvas()
    layers = canvas.layers()
    if layers:
        canvas.setExtent(layers[0].extent())
        canvas.refresh()
    earliest = time.monotonic() + 1.0
    return lambda: time.monotonic() > earliest and not canvas.isDrawing()


@probe_step
def probe_map_screenshot() -> None:
    """The main window with the classified map in the canvas, the Toolbox open, no dialog."""
    QApplication.processEvents()
    PROBE_FINDINGS["map_window_png"] = probe_save(qgis.utils.iface.mainWindow().grab(), "map_window.png")


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
    """Run the steps one after the other, letting the event loop paint in between; a step that
    returns a condition is waited for (polled) before the next one starts."""
    if not steps:
        return
    waits_for = steps[0]()
    probe_wait(waits_for or (lambda: True), lambda: probe_chain(steps[1:], delay_ms), delay_ms)


def probe_wait(condition, then, delay_ms: int) -> None:
    if condition():
        QTimer.singleShot(delay_ms, then)
    else:
        QTimer.singleShot(500, lambda: probe_wait(condition, then, delay_ms))


PROBE_OUTPUT.mkdir(parents=True, exist_ok=True)
QgsApplication.messageLog().messageReceived.connect(probe_on_log)
QTimer.singleShot(int(PROBE_CONFIG.get("timeout_s", 240) * 1000), probe_timeout)
# Wait for the event loop (QGIS finishes restoring its window) before the first step.
QTimer.singleShot(1500, lambda: probe_chain([
    probe_startup, probe_registry, probe_wait_for_notice, probe_notice, probe_install_from_notice,
    probe_run_algorithms, probe_run_and_load, probe_show_toolbox, probe_fit_map, probe_map_screenshot,
    probe_restart_plugin, probe_open_dialog, probe_screenshots, probe_close_dialog, probe_unload,
    probe_quit]))
