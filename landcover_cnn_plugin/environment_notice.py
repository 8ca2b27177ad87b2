"""QGIS Desktop: one message in the message bar when no Python with TensorFlow is found.

When the plugin loads, :class:`EnvironmentNotice` asks the worker's interpreter (chosen as every
algorithm chooses it) whether it can find TensorFlow, in a child process the GUI does not wait for
(``importlib.util.find_spec``: TensorFlow is never imported, here or there). Without TensorFlow,
or when the interpreter is missing, or the environment was built for another list of packages,
the message bar says so once, with a button that opens *Install TensorFlow environment*.
"""

from __future__ import annotations

import os
import shutil

from qgis.core import Qgis
from qgis.PyQt.QtCore import QObject, QProcess, QProcessEnvironment, QTimer
from qgis.PyQt.QtWidgets import QPushButton

from .core.environment import TENSORFLOW_PROBE, built_for, python_environment, ready_python, requirements_path
from .core.worker_process import resolve_python
from .processing.provider_settings import private_environment_dir, python_setting

INSTALLER_ID = "landcovercnn:installenvironment"
INSTALLER_NAME = "Install TensorFlow environment"
TITLE = "Land cover CNN"
#: The question is dropped (and nothing shown) when the interpreter has not answered by then.
PROBE_TIMEOUT_MS = 30_000


class EnvironmentNotice(QObject):
    """Checks the worker's interpreter once (:meth:`start`) and shows the message if needed."""

    def __init__(self, iface) -> None:
        super().__init__(iface.mainWindow())
        self.iface = iface
        self.python, self.source = "", ""
        self.process: QProcess | None = None
        self.item = None  # the message bar item, once shown
        self.dialog = None  # the installer's dialog, once opened
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.stop)

    def start(self) -> None:
        environment = private_environment_dir()
        self.python, self.source = resolve_python(python_setting(), environment)
        if not self.python or not (os.path.isfile(self.python) or shutil.which(self.python)):
            self.show(f"the interpreter {self.python or '(none)'} does not exist (from {self.source})")
            return
        if self.python == ready_python(environment) and not built_for(environment, requirements_path()):
            self.show(f"the environment in {environment} was built for another version of the plugin; "
                      "run the installer again to update it")
            return
        self.process = QProcess(self)
        variables = QProcessEnvironment()
        for name, value in python_environment().items():
            variables.insert(name, value)
        self.process.setProcessEnvironment(variables)
        self.process.finished.connect(self._finished)
        self.process.errorOccurred.connect(self._failed)
        self.process.start(self.python, list(TENSORFLOW_PROBE))
        self.timer.start(PROBE_TIMEOUT_MS)

    def stop(self) -> None:
        """Drop an unanswered question (plugin unloaded, or the interpreter hangs)."""
        self.timer.stop()
        if self.process is not None and self.process.state() != QProcess.NotRunning:
            self.process.kill()
            self.process.waitForFinished(1000)

    def _finished(self, exit_code: int, exit_status) -> None:
        self.timer.stop()
        if exit_status == QProcess.NormalExit and exit_code != 0:
            self.show(f"{self.python} (from {self.source}) has no TensorFlow")

    def _failed(self, error) -> None:
        if error == QProcess.FailedToStart:
            self.timer.stop()
            self.show(f"{self.python} (from {self.source}) does not start")

    def show(self, problem: str) -> None:
        if self.item is not None:  # once
            return
        bar = self.iface.messageBar()
        text = f"Training and classification need Python with TensorFlow: {problem}."
        widget = bar.createMessage(TITLE, text)
        button = QPushButton(INSTALLER_NAME, widget)
        button.clicked.connect(self.open_installer)
        widget.layout().addWidget(button)
        self.item = widget
        bar.pushWidget(widget, Qgis.Warning)

    def open_installer(self) -> None:
        import processing

        self.iface.messageBar().popWidget(self.item)
        self.dialog = processing.createAlgorithmDialog(INSTALLER_ID)
        self.dialog.show()
