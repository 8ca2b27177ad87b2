"""Install TensorFlow environment: the worker's Python, built in the QGIS profile from QGIS's Python."""

from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsProcessingMultiStepFeedback,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterFile,
    QgsProcessingParameterString,
)

from ..core.environment import find_base_python, requirements_path
from ..core.errors import JobCanceled
from ..core.installer import EnvironmentInstaller
from .base import FeedbackReporter, LandcoverAlgorithm
from .provider_settings import PYTHON_SETTING_LABEL, private_environment_dir, set_python_setting


class InstallEnvironmentAlgorithm(LandcoverAlgorithm):
    NAME = "installenvironment"
    DISPLAY_NAME = "Install TensorFlow environment"
    GROUP_ID = "training"
    HELP = (
        "This algorithm installs what training and classification need (TensorFlow, Keras, "
        "scikit-learn, imbalanced-learn, pandas, matplotlib, at the versions the plugin was tested "
        "with) into a Python environment of its own, inside your QGIS profile folder "
        "(landcover_cnn/venv), built from QGIS's own Python so that it reads rasters with QGIS's "
        "GDAL. TensorFlow never loads into QGIS itself: the plugin starts this environment's Python "
        "for every training or classification. Run it once after installing the plugin; it takes a "
        "few minutes, downloads about 400 MB and uses about 1.7 GB of disk. When it is done it runs "
        "'Check TensorFlow environment' and stores the interpreter under Processing > Options > "
        "Providers > Land cover CNN > 'Python interpreter with TensorFlow'.\n\n"
        "Running it again on a complete environment changes nothing and takes seconds (the installed "
        "versions are compared with the plugin's list, no download); after a plugin update it "
        "rebuilds the environment when the list changed. Cancel stops the download or installation "
        "and removes the unfinished environment.\n\n"
        "<b>Folder of wheels</b> (for computers without internet access): install from this folder "
        "only, no package index is contacted. Prepare it on a computer with internet access and the "
        "same operating system and Python version as this QGIS (shown by 'Check TensorFlow "
        "environment' or in the Python console: import sys; sys.version) with "
        "<tt>pip download -r requirements-worker.txt --only-binary=:all: -d wheels</tt> "
        "(requirements-worker.txt is in the plugin folder), then copy the folder. From another "
        "platform add <tt>--python-version 3.12 --platform win_amd64</tt> (Windows), or "
        "<tt>--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform "
        "manylinux_2_17_x86_64 --platform manylinux2014_x86_64</tt> (Linux).\n"
        "<b>Package index URL</b>: your organisation's mirror of PyPI instead of pip's configured "
        "index (with a folder of wheels: the folder first, then the mirror). pip's own configuration "
        "and the HTTPS_PROXY variable are honoured.\n"
        "<b>Reinstall</b>: remove the environment and build it again.\n"
        "<b>QGIS's Python interpreter</b> (advanced): found automatically (python3.X beside QGIS's "
        "Python library on Linux, apps\\Python3X\\python.exe on Windows, the bundled python3 on macOS); "
        "give it when that fails.\n\n"
        "Outputs: the environment's Python interpreter and its TensorFlow version. TensorFlow "
        "publishes its packages for Python 3.10 to 3.13 on Linux x86_64, Windows x64 and macOS "
        "on Apple silicon; the plugin's numpy 1.26 needs Python 3.12 or older."
    )
    WHEELS = "WHEELS"
    INDEX_URL = "INDEX_URL"
    REINSTALL = "REINSTALL"
    BASE_PYTHON = "BASE_PYTHON"
    PYTHON = "PYTHON"
    TENSORFLOW_VERSION = "TENSORFLOW_VERSION"

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFile(
            self.WHEELS, self.tr("Folder of wheels (no internet access; empty: download)"),
            behavior=QgsProcessingParameterFile.Folder, optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.INDEX_URL, self.tr("Package index URL (empty: pip's configured index, PyPI by default)"),
            optional=True))
        self.addParameter(QgsProcessingParameterBoolean(
            self.REINSTALL, self.tr("Remove the environment and install it again"), False))
        base_python = QgsProcessingParameterFile(
            self.BASE_PYTHON, self.tr("QGIS's Python interpreter (empty: found automatically)"),
            optional=True)
        base_python.setFlags(base_python.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(base_python)
        self.addOutput(QgsProcessingOutputString(self.PYTHON, self.tr("Python interpreter")))
        self.addOutput(QgsProcessingOutputString(self.TENSORFLOW_VERSION, self.tr("TensorFlow version")))

    def check_parameters(self, parameters, context):
        index_url = self.parameterAsString(parameters, self.INDEX_URL, context).strip()
        if index_url and not index_url.startswith(("https://", "http://", "file:")):
            return (f"{self.INDEX_URL}: {index_url!r} is not a URL; give the address of a package index "
                    "such as https://pypi.org/simple, or leave it empty.")
        return None

    def process(self, parameters, context, feedback):
        steps = QgsProcessingMultiStepFeedback(2, feedback)
        installer = EnvironmentInstaller(
            private_environment_dir(), requirements_path(),
            base_python=find_base_python(self.parameterAsFile(parameters, self.BASE_PYTHON, context)),
            wheels=self.parameterAsFile(parameters, self.WHEELS, context),
            index_url=self.parameterAsString(parameters, self.INDEX_URL, context).strip(),
            reinstall=self.parameterAsBoolean(parameters, self.REINSTALL, context),
            osgeo_dir=_qgis_osgeo_dir(), reporter=FeedbackReporter(steps),
            console=feedback.pushConsoleInfo, is_canceled=feedback.isCanceled)
        try:
            result = installer.install()
        except JobCanceled:
            feedback.reportError(self.tr("Canceled: pip was stopped and the unfinished environment "
                                         f"{installer.env_dir} removed."))
            return {}
        tensorflow_version = result.tensorflow_version
        if result.changed:  # a new environment: TensorFlow is imported once, by the check job
            feedback.pushInfo(f"Installed {result.size_bytes / 1e9:.1f} GB into {installer.env_dir} in "
                              f"{result.seconds:.0f} s")
            steps.setCurrentStep(1)
            check = self.run_worker("check", [], steps,
                                    python=(result.python, "the environment just installed"))
            tensorflow_version = check.get("tensorflow_version", tensorflow_version)
        set_python_setting(result.python)
        feedback.pushInfo(f"'{PYTHON_SETTING_LABEL}' is {result.python}")
        return {self.PYTHON: result.python, self.TENSORFLOW_VERSION: tensorflow_version}


def _qgis_osgeo_dir() -> str:
    """QGIS's ``osgeo`` package folder (linked into the environment: the worker reads with it)."""
    import osgeo

    return str(Path(osgeo.__file__).resolve().parent)
