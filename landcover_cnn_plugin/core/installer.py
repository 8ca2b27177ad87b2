"""Build the worker's private environment: a virtual environment from QGIS's Python, then pip.

:class:`EnvironmentInstaller` checks the environment first (installed versions against the pins,
no index asked) and leaves a healthy one alone; otherwise, or when asked to reinstall, it removes
it and builds it again: ``python -m venv`` from QGIS's Python, ``pip install -r
requirements-worker.txt`` from the index, a mirror (INDEX_URL) or a folder of wheels (WHEELS, no
index at all), then QGIS's GDAL bindings (its ``osgeo`` package, and nothing else of QGIS's site
packages) linked in. An environment that saw all of QGIS's site packages would let them stand in
for, or shadow, the pinned ones (Debian's ``mpl_toolkits`` breaks matplotlib's 3-D axes, and an
``apt upgrade`` could change what the worker runs). pip's lines become log lines and progress; a cancel
stops pip and, like any failure, removes the half-built environment, so that what stays in the
profile is either complete (marker written last) or absent. Pure Python: runs inside QGIS and in
tests alike.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .environment import (
    EnvironmentState,
    environment_python,
    inspect_environment,
    missing_from_folder,
    normalized_name,
    python_environment,
    qgis_python_version,
    read_pins,
    ready_python,
    write_marker,
)
from .errors import JobCanceled, UserInputError
from .progress import NullReporter, Reporter
from .worker_process import WorkerProcess

#: Progress (percent of the installation) at the end of each step.
VENV_DONE, RESOLVED, INSTALLED = 10.0, 40.0, 95.0
#: Until pip has resolved everything the number of distributions is unknown: the resolving step
#: moves ``found / (found + RESOLVE_SMOOTHING)`` of its way.
RESOLVE_SMOOTHING = 10
#: pip options that save time: no byte-compiling (modules compile when first imported), no
#: question, no version check, a wheel rather than a build.
PIP_OPTIONS = ("--disable-pip-version-check", "--no-input", "--no-compile", "--prefer-binary",
               "--no-warn-script-location", "--progress-bar", "off")
_NOT_FOUND = re.compile(r"No matching distribution found for (\S+)")
_NETWORK = ("Could not fetch URL", "Max retries exceeded", "NewConnectionError", "ProxyError",
            "Temporary failure in name resolution", "Network is unreachable", "SSLError",
            "ConnectTimeoutError", "ReadTimeoutError")


@dataclass
class InstallResult:
    python: str
    changed: bool  # False: the environment was healthy and left alone
    tensorflow_version: str  # from the installed package's metadata (TensorFlow is not imported)
    size_bytes: int = 0  # of the environment, measured after a build
    seconds: float = 0.0  # the build's (venv, pip, GDAL check)


class PipProgress:
    """Turns pip's output into a percentage of the pip step and names what was installed.

    Resolving ("Processing <wheel>", "Collecting <name>") counts distributions; installing
    ("Installing collected packages: a, b") is followed by watching ``site_packages`` for each
    package's ``.dist-info`` folder, weighted by its wheel's size where pip said it.
    """

    _SIZE = re.compile(r"\((\d+(?:\.\d+)?) ([kMG]B)\)\s*$")
    _UNITS = {"kB": 1e3, "MB": 1e6, "GB": 1e9}

    def __init__(self, site_packages: Path) -> None:
        self.site_packages = site_packages
        self.found = 0
        self.sizes: dict[str, float] = {}
        self.to_install: list[str] = []
        self.installed: list[str] = []
        self._started = 0.0
        self._current = ""

    def line(self, text: str) -> None:
        if text.startswith(("Collecting ", "Processing ")):
            self.found += 1
            self._current = text.split()[1]
            wheel = Path(self._current)
            if wheel.suffix == ".whl" and wheel.is_file():
                self.sizes[normalized_name(wheel.name.split("-")[0])] = wheel.stat().st_size
        elif text.lstrip().startswith(("Downloading ", "Using cached ")):
            size = self._SIZE.search(text)
            name = text.split()[-3 if size else -1].split("/")[-1]
            if size and name.endswith(".whl"):
                self.sizes[normalized_name(name.split("-")[0])] = float(size[1]) * self._UNITS[size[2]]
        elif text.startswith("Installing collected packages:"):
            self.to_install = [n.strip() for n in text.split(":", 1)[1].split(",") if n.strip()]
            self._started = time.time() - 1.0  # file systems keep whole seconds

    def newly_installed(self) -> list[str]:
        """Packages whose .dist-info folder appeared since the last call (after 'Installing'), in
        pip's order."""
        if not self.to_install:
            return []
        try:
            entries = list(os.scandir(self.site_packages))
        except OSError:
            return []
        written = {normalized_name(entry.name[:-len(".dist-info")].rsplit("-", 1)[0]) for entry in entries
                   if entry.name.endswith(".dist-info") and entry.stat().st_mtime >= self._started}
        new = [name for name in self.to_install
               if name not in self.installed and normalized_name(name) in written]
        self.installed += new
        return new

    def percent(self) -> float:
        """0-100 of the pip step: resolving up to RESOLVED, then installing, by wheel size."""
        resolve_share = (RESOLVED - VENV_DONE) / (INSTALLED - VENV_DONE)
        if not self.to_install:
            return 100 * resolve_share * self.found / (self.found + RESOLVE_SMOOTHING)
        default = 1e6  # a package whose size pip did not say counts as 1 MB
        weight = {name: self.sizes.get(normalized_name(name), default) for name in self.to_install}
        done = sum(weight[name] for name in self.installed) / sum(weight.values())
        return 100 * (resolve_share + (1 - resolve_share) * done)


class EnvironmentInstaller:
    """Build (or keep) the private environment in ``env_dir``.

    Parameters
    ----------
    env_dir : Path
        The environment's folder (``core.environment.environment_dir(profile)``).
    requirements : Path
        The pinned requirements (``requirements-worker.txt``).
    wheels : str
        A folder of wheels: install from it only (``--no-index --find-links``), or from it and
        ``index_url`` when both are given. Checked for every pin before anything is changed.
    index_url : str
        A package index instead of pip's configured one (``--index-url``).
    reinstall : bool
        Remove the environment and build it again even when it is healthy.
    base_python : str
        QGIS's own interpreter (``core.environment.find_base_python``).
    osgeo_dir : str
        QGIS's ``osgeo`` package (its folder), linked into the environment.
    reporter : Reporter
        Progress (percent of the whole installation) and log lines.
    console : callable
        Receives pip's and venv's own output lines.
    is_canceled : callable
        Polled several times a second; True stops pip and removes the environment.
    """

    def __init__(self, env_dir: Path, requirements: Path, base_python: str, wheels: str = "",
                 index_url: str = "", reinstall: bool = False, osgeo_dir: str = "",
                 reporter: Reporter | None = None, console: Callable[[str], None] | None = None,
                 is_canceled: Callable[[], bool] | None = None) -> None:
        self.env_dir, self.requirements, self.base_python = Path(env_dir), Path(requirements), base_python
        self.wheels, self.index_url, self.reinstall, self.osgeo_dir = wheels, index_url, reinstall, osgeo_dir
        self.reporter = reporter or NullReporter()
        self.console = console or (lambda line: None)
        self.is_canceled = is_canceled or (lambda: False)
        self.output: list[str] = []  # every line of the commands run, for error messages

    @property
    def python(self) -> str:
        return str(environment_python(self.env_dir))

    def install(self) -> InstallResult:
        """Keep a healthy environment, else build it. Raises ``UserInputError`` (a parameter
        named) for a problem the user can fix and ``JobCanceled`` on cancel; either way no
        environment is left behind unless it was healthy before."""
        self._check_wheel_folder()
        if ready_python(self.env_dir) and not self.reinstall:
            state = inspect_environment(self.python, self.requirements)
            problems = state.problems(qgis_python_version())
            if not problems:
                self.reporter.log(f"The environment {self.env_dir} is complete and matches "
                                  f"{self.requirements.name}: nothing to install.")
                self.reporter.progress(100)
                return InstallResult(self.python, False, state.tensorflow_version())
            self.reporter.log(f"The environment {self.env_dir} is rebuilt: {'; '.join(problems)}.")
        elif self.env_dir.exists():
            state = "the environment" if self.reinstall else "an incomplete environment"
            self.reporter.log(f"Removing {state} {self.env_dir}")
        started = time.monotonic()
        try:
            self._remove()
            self._create()
            self._pip_install()
            state = self._check_gdal()
            write_marker(self.env_dir, self.requirements, {"python": self.python,
                                                           "python_version": qgis_python_version()})
        except BaseException:
            self._remove()
            raise
        self.reporter.progress(100)
        return InstallResult(self.python, True, state.tensorflow_version(), folder_size(self.env_dir),
                             time.monotonic() - started)

    # --- steps --------------------------------------------------------------------------------
    def _check_wheel_folder(self) -> None:
        if not self.wheels:
            return
        if not Path(self.wheels).is_dir():
            raise UserInputError(f"the wheel folder {self.wheels} does not exist; choose the folder "
                                 "made with 'pip download' (see the help).", "WHEELS")
        missing = missing_from_folder(read_pins(self.requirements), self.wheels)
        if missing and not self.index_url:
            raise UserInputError(
                f"the wheel folder {self.wheels} has no wheel of {', '.join(map(str, missing))}. Prepare "
                f"it on a computer with internet access: pip download -r {self.requirements.name} -d "
                f"<folder> (for Python {qgis_python_version()} on {_platform_text()}; see the help), "
                "then copy the folder here.", "WHEELS")

    def _create(self) -> None:
        self.reporter.log(f"Creating the environment {self.env_dir} from {self.base_python}")
        self.env_dir.parent.mkdir(parents=True, exist_ok=True)
        code = self._run([self.base_python, "-m", "venv", str(self.env_dir)], base=True)
        if code != 0 or not Path(self.python).exists():
            hint = (" On Debian and Ubuntu install the package python3-venv (sudo apt install python3-venv)."
                    if any("ensurepip" in line for line in self.output) else "")
            raise UserInputError(f"Python could not create the environment {self.env_dir}: "
                                 f"{self._tail()}.{hint}", "BASE_PYTHON")
        self.reporter.progress(VENV_DONE)

    def _pip_install(self) -> None:
        command = [self.python, "-m", "pip", "install", *PIP_OPTIONS, "-r", str(self.requirements)]
        if self.wheels:
            command += ["--find-links", self.wheels] + ([] if self.index_url else ["--no-index"])
        if self.index_url:
            command += ["--index-url", self.index_url]
        source = (f"the wheel folder {self.wheels}" if self.wheels and not self.index_url
                  else self.index_url or "pip's package index")
        self.reporter.log(f"Installing the packages of {self.requirements.name} from {source}")
        progress = PipProgress(self._site_packages())

        def on_line(line: str) -> None:
            progress.line(line)
            self._report_install(progress)

        code = self._run(command, on_line=on_line, on_tick=lambda: self._report_install(progress))
        if code != 0:
            raise self._pip_error(code)

    def _report_install(self, progress: PipProgress) -> None:
        new = progress.newly_installed()
        first = len(progress.installed) - len(new) + 1
        for number, name in enumerate(new, first):
            self.reporter.log(f"Installed {name} ({number} of {len(progress.to_install)})")
        self.reporter.progress(VENV_DONE + (INSTALLED - VENV_DONE) * progress.percent() / 100)

    def _check_gdal(self) -> EnvironmentState:
        if self.osgeo_dir:
            self._link_osgeo()
        state = inspect_environment(self.python, self.requirements)
        problems = state.problems(qgis_python_version())
        if problems:
            raise UserInputError(f"the new environment {self.env_dir} cannot run the worker: "
                                 f"{'; '.join(problems)}.", "BASE_PYTHON")
        self.reporter.log(f"The environment imports GDAL {state.gdal_version} from QGIS")
        self.reporter.progress(INSTALLED + (100 - INSTALLED) / 2)
        return state

    def _link_osgeo(self) -> None:
        """Put QGIS's osgeo package, and nothing else of its folder, on the environment's path: a
        folder in the environment holding a link to it, named in a .pth file."""
        folder = self.env_dir / "qgis_osgeo"
        folder.mkdir(exist_ok=True)
        link = folder / "osgeo"
        try:
            link.symlink_to(self.osgeo_dir, target_is_directory=True)
        except OSError:
            if os.name == "nt":  # Windows without the symbolic link privilege: a junction needs none
                subprocess.run(["cmd", "/c", "mklink", "/J", str(link), self.osgeo_dir], capture_output=True)
        if not link.exists():  # neither: QGIS's whole site-packages folder, after the environment's
            folder = Path(self.osgeo_dir).parent
        (self._site_packages() / "landcover_cnn_qgis_osgeo.pth").write_text(f"{folder}\n", encoding="utf-8")

    # --- helpers ------------------------------------------------------------------------------
    def _site_packages(self) -> Path:
        proc = subprocess.run([self.python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                              capture_output=True, text=True, env=python_environment(), check=True,
                              stdin=subprocess.DEVNULL)
        return Path(proc.stdout.strip())

    def _run(self, command: Sequence[str], on_line: Callable[[str], None] | None = None,
             on_tick: Callable[[], None] | None = None, base: bool = False) -> int:
        """Run a command, streaming its output lines to the console; stop it on cancel."""
        self.console(" ".join(f'"{part}"' if " " in part else part for part in command))
        # QGIS's own interpreter keeps QGIS's environment (PYTHONHOME on Windows); the new one does not.
        env = dict(os.environ, PYTHONNOUSERSITE="1") if base else python_environment()
        env["PYTHONUNBUFFERED"] = "1"
        proc = subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, text=True, encoding="utf-8",
                                errors="replace", bufsize=1, start_new_session=os.name != "nt")
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            for line in proc.stdout:
                lines.put(line.rstrip())
            lines.put(None)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            while True:
                if self.is_canceled():
                    raise JobCanceled("installation canceled")
                try:
                    line = lines.get(timeout=0.2)
                except queue.Empty:
                    if on_tick:
                        on_tick()
                    continue
                if line is None:
                    break
                self.output.append(line)
                self.console(line)
                if on_line:
                    on_line(line)
            return proc.wait()
        finally:
            WorkerProcess.stop(proc)
            reader.join(timeout=5)
            proc.stdout.close()

    def _remove(self) -> None:
        for attempt in range(5):  # Windows may hold a file of a killed process for a moment
            if not self.env_dir.exists():
                return
            shutil.rmtree(self.env_dir, ignore_errors=attempt < 4)
            time.sleep(0.2 * attempt)

    def _tail(self, lines: int = 3) -> str:
        useful = [line.strip() for line in self.output if line.strip()]
        return " / ".join(useful[-lines:]) or "no output"

    def _pip_error(self, code: int) -> UserInputError:
        text = "\n".join(self.output)
        missing = _NOT_FOUND.findall(text)
        where = f"Python {qgis_python_version()} on {_platform_text()}"
        if missing and self.wheels and not self.index_url:
            return UserInputError(
                f"the wheel folder {self.wheels} has no wheel of {', '.join(missing)} that installs on "
                f"{where}. Prepare the folder with pip download for this platform (see the help).", "WHEELS")
        if any(marker in text for marker in _NETWORK):
            return UserInputError(
                f"pip could not reach {self.index_url or 'the package index'} ({self._tail(1)}). "
                "Without internet access choose a folder of wheels (WHEELS); behind a proxy set "
                "HTTPS_PROXY, or give your organisation's package mirror (INDEX_URL).", "INDEX_URL")
        if missing:
            return UserInputError(f"pip found no {', '.join(missing)} for {where} at "
                                  f"{self.index_url or 'the package index'}.", "INDEX_URL")
        if "No space left on device" in text:
            return UserInputError(f"the disk of {self.env_dir} is full: the environment needs about "
                                  "2 GB. Free some space and run it again.", None)
        return UserInputError(f"pip failed (exit code {code}): {self._tail()}", None)


def folder_size(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                total += os.path.getsize(path)
    return total


def _platform_text() -> str:
    import platform

    return f"{sys.platform} {platform.machine()}"
