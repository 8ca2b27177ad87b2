"""The worker's private Python environment: where it lives, what it must hold, and whether it does.

*Install TensorFlow environment* builds a virtual environment in the user's QGIS profile folder
(``<profile>/landcover_cnn/venv``) from QGIS's own Python, installs ``requirements-worker.txt``
into it and links QGIS's GDAL bindings in (``core/installer.py`` does the building). This module
owns the layout of that folder, the pinned requirements, how QGIS's Python interpreter is found on
each operating system, and the questions asked of an interpreter (does it have TensorFlow, does it
match the pins). Pure Python: the QGIS side passes the profile folder.

QGIS's Python interpreter
-------------------------
Inside QGIS ``sys.executable`` is usually not a Python: the interpreter is embedded in the QGIS
program. :func:`base_python_candidates` lists where the interpreter sits, per platform:

- Linux (distribution packages, conda, Flatpak): QGIS embeds the system's libpython; the
  interpreter is ``<sys.base_exec_prefix>/bin/python3.X`` (``/usr/bin/python3.11`` on Debian 12).
  ``sys.executable`` is the ``python3`` found on PATH when QGIS started, or the QGIS binary.
- Windows (OSGeo4W and the standalone installer, which is OSGeo4W packed): ``sys.executable`` is
  ``...\\bin\\qgis-bin.exe``; Python is ``<sys.base_exec_prefix>\\python.exe``
  (``C:\\OSGeo4W\\apps\\Python312\\python.exe``; QGIS sets PYTHONHOME to that folder).
- macOS (the qgis.org application bundle): ``sys.executable`` is ``QGIS.app/Contents/MacOS/QGIS``;
  the bundled interpreter is ``Contents/MacOS/bin/python3`` or, in the framework layout,
  ``<sys.base_exec_prefix>/bin/python3.X``.

On Linux the Python library QGIS loaded (``/proc/self/maps``) names the installation first: a
``python3`` of another installation (pyenv, a virtual environment) first on PATH when QGIS
started also becomes QGIS's ``sys.executable`` and ``sys.base_exec_prefix``. Each candidate is run
once (:func:`find_base_python`): the first that reports exactly QGIS's version is taken, else the
first of its ``major.minor`` (QGIS's GDAL bindings are compiled for that).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import UserInputError

#: The environment's folder inside the QGIS profile folder.
ENVIRONMENT_SUBFOLDER = ("landcover_cnn", "venv")
#: The worker's pinned requirements, shipped in the plugin folder (beside the package in a checkout).
REQUIREMENTS_FILE = "requirements-worker.txt"
#: Written last by the installer: the environment is complete (and for which requirements).
MARKER_FILE = "landcover_cnn_environment.json"
#: Seconds an interpreter gets to answer a question (start-up on a slow network drive included).
PROBE_TIMEOUT_S = 60.0
#: Does the interpreter have TensorFlow? Asked without importing it (milliseconds, not seconds).
TENSORFLOW_PROBE = ("-c", "import importlib.util, sys; "
                    "sys.exit(0 if importlib.util.find_spec('tensorflow') else 1)")
_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def environment_dir(profile_dir: str | os.PathLike) -> Path:
    """The private environment of the QGIS profile in ``profile_dir``."""
    return Path(profile_dir).joinpath(*ENVIRONMENT_SUBFOLDER)


def environment_python(env_dir: str | os.PathLike) -> Path:
    """The interpreter of a virtual environment (``Scripts\\python.exe`` on Windows)."""
    if os.name == "nt":
        return Path(env_dir) / "Scripts" / "python.exe"
    return Path(env_dir) / "bin" / "python"


def ready_python(env_dir: str | os.PathLike | None) -> str | None:
    """The environment's interpreter once the installer has finished it, else None."""
    if not env_dir:
        return None
    python = environment_python(env_dir)
    return str(python) if (Path(env_dir) / MARKER_FILE).is_file() and python.exists() else None


def requirements_path() -> Path:
    """``requirements-worker.txt``: in the plugin folder (the zip), or beside it (a checkout)."""
    for folder in (_PACKAGE_DIR, _PACKAGE_DIR.parent):
        if (folder / REQUIREMENTS_FILE).is_file():
            return folder / REQUIREMENTS_FILE
    return _PACKAGE_DIR / REQUIREMENTS_FILE


def requirements_digest(requirements: str | os.PathLike) -> str:
    return hashlib.sha256(Path(requirements).read_bytes()).hexdigest()


def write_marker(env_dir: str | os.PathLike, requirements: str | os.PathLike, details: dict) -> None:
    """Mark the environment complete, recording which requirements it was built for."""
    record = {"requirements_sha256": requirements_digest(requirements), **details}
    (Path(env_dir) / MARKER_FILE).write_text(json.dumps(record, indent=1), encoding="utf-8")


def built_for(env_dir: str | os.PathLike, requirements: str | os.PathLike) -> bool:
    """Whether the complete environment was built for these requirements (a file read, no process)."""
    try:
        record = json.loads((Path(env_dir) / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return record.get("requirements_sha256") == requirements_digest(requirements)


# --- the pins --------------------------------------------------------------------------------
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;]+)\s*(?:;\s*(?P<marker>.+))?$")
_MARKER = re.compile(r"""^sys_platform\s*(?P<op>==|!=)\s*["'](?P<value>[^"']+)["']$""")


def normalized_name(name: str) -> str:
    """The name as package indexes and wheel files compare it (PEP 503, dashes as underscores)."""
    return re.sub(r"[-_.]+", "_", name).lower()


@dataclass(frozen=True)
class Pin:
    """One ``name==version`` line, with an optional ``sys_platform`` marker."""

    name: str
    version: str
    marker: str = ""

    def applies(self, platform: str = sys.platform) -> bool:
        if not self.marker:
            return True
        match = _MARKER.match(self.marker.strip())
        return (match["value"] == platform) == (match["op"] == "==")

    def __str__(self) -> str:
        return f"{self.name}=={self.version}"


def read_pins(path: str | os.PathLike, platform: str = sys.platform) -> list[Pin]:
    """The pins of a requirements file that apply on ``platform``.

    Only exact pins are allowed (``name==version``), optionally with a ``sys_platform == / !=``
    marker: the installer compares installed versions with them without asking an index.
    """
    pins = []
    for number, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _PIN.match(line)
        if not match or (match["marker"] and not _MARKER.match(match["marker"].strip())):
            raise ValueError(f"{path}, line {number}: {raw!r} is not 'name==version' with an optional "
                             "sys_platform marker")
        pin = Pin(match["name"], match["version"], match["marker"] or "")
        if pin.applies(platform):
            pins.append(pin)
    return pins


def distributions_in_folder(folder: str | os.PathLike) -> dict[str, set[str]]:
    """Normalized name -> versions of the wheels and source archives in a folder."""
    found: dict[str, set[str]] = {}
    for path in Path(folder).iterdir():
        name = path.name
        if name.endswith(".whl"):
            parts = name[:-4].split("-")
        elif name.endswith((".tar.gz", ".zip")):
            parts = name.removesuffix(".tar.gz").removesuffix(".zip").rsplit("-", 1)
        else:
            continue
        if len(parts) >= 2:
            found.setdefault(normalized_name(parts[0]), set()).add(parts[1])
    return found


def missing_from_folder(pins: list[Pin], folder: str | os.PathLike) -> list[Pin]:
    """The pins that have no wheel (or source archive) of their exact version in ``folder``."""
    found = distributions_in_folder(folder)
    return [pin for pin in pins if pin.version not in found.get(normalized_name(pin.name), set())]


# --- asking an interpreter --------------------------------------------------------------------
def python_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Environment variables for another interpreter started from QGIS: QGIS's PYTHONHOME and
    PYTHONPATH (set on Windows and macOS for its own Python) would mislead a virtual environment,
    and the user's site packages stay out of it."""
    env = dict(os.environ if environ is None else environ)
    for name in ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONEXECUTABLE", "__PYVENV_LAUNCHER__"):
        env.pop(name, None)
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONUTF8"] = "1"
    return env


# Run by the environment's interpreter: its version, the pins it does not match, QGIS's GDAL.
_INSPECT_SCRIPT = r"""
import json, sys
from importlib import metadata
try:
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.requirements import Requirement
report = {"python_version": "%d.%d" % sys.version_info[:2], "installed": {}, "mismatches": []}
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    requirement = Requirement(line)
    if requirement.marker is not None and not requirement.marker.evaluate():
        continue
    wanted = next(iter(requirement.specifier)).version
    try:
        installed = metadata.version(requirement.name)
    except metadata.PackageNotFoundError:
        installed = None
    report["installed"][requirement.name] = installed
    if installed != wanted:
        report["mismatches"].append([requirement.name, wanted, installed])
try:
    from osgeo import gdal, gdal_array  # noqa: F401  (the worker reads rasters into arrays)
    report["gdal_version"] = gdal.__version__
except Exception as exc:
    report["gdal_error"] = "%s: %s" % (type(exc).__name__, exc)
print(json.dumps(report))
"""


@dataclass
class EnvironmentState:
    """What an environment's interpreter said about itself (:func:`inspect_environment`)."""

    python_version: str = ""
    mismatches: list[tuple[str, str, str | None]] | None = None  # (name, pinned, installed or None)
    installed: dict[str, str | None] | None = None  # pinned name -> installed version or None
    gdal_version: str = ""
    gdal_error: str = ""
    error: str = ""  # the interpreter did not run or answer

    def tensorflow_version(self) -> str:
        """The installed TensorFlow's version (either of its package names), from its metadata."""
        versions = self.installed or {}
        return versions.get("tensorflow-cpu") or versions.get("tensorflow") or ""

    def problems(self, qgis_python_version: str) -> list[str]:
        """Why the environment cannot serve the worker ([] when it can)."""
        if self.error:
            return [self.error]
        problems = []
        if self.python_version != qgis_python_version:
            problems.append(f"it runs Python {self.python_version}, QGIS runs Python {qgis_python_version}")
        for name, wanted, installed in self.mismatches or []:
            have = f"{installed} is installed" if installed else "it is not installed"
            problems.append(f"{name} {wanted} is needed, {have}")
        if self.gdal_error:
            problems.append(f"QGIS's GDAL bindings do not import ({self.gdal_error})")
        return problems


def inspect_environment(python: str | os.PathLike, requirements: str | os.PathLike) -> EnvironmentState:
    """Ask ``python`` for its version, the installed versions of the pins and GDAL (no index, no
    TensorFlow import: well under a second)."""
    try:
        proc = subprocess.run([str(python), "-c", _INSPECT_SCRIPT, str(requirements)], capture_output=True,
                              text=True, env=python_environment(), timeout=PROBE_TIMEOUT_S,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return EnvironmentState(error=f"its interpreter {python} does not run ({exc})")
    try:
        report = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return EnvironmentState(error=f"its interpreter {python} failed ({tail[0]})")
    return EnvironmentState(report["python_version"], [tuple(m) for m in report["mismatches"]],
                            report["installed"], report.get("gdal_version", ""), report.get("gdal_error", ""))


# --- QGIS's own interpreter ------------------------------------------------------------------
def base_python_candidates(executable: str, base_exec_prefix: str, version: tuple[int, int],
                           platform: str, libpython: str = "") -> list[str]:
    """Where the interpreter of a QGIS whose Python has these ``sys`` values may be, best first
    (see the module's docstring). ``libpython``: the Python library QGIS loaded (Linux), whose
    installation holds QGIS's own interpreter even when another python3 came first on PATH when
    QGIS started. Paths are not checked here."""
    exe, prefix = Path(executable) if executable else None, Path(base_exec_prefix)
    versioned = f"python{version[0]}.{version[1]}"
    if platform == "win32":
        names = ["python.exe", "python3.exe"]
        candidates = [prefix / name for name in names]
        if exe is not None:
            candidates += [exe.parent / name for name in names]
    else:
        candidates = []
        if libpython:  # <prefix>/lib[64]/[<multiarch>/]libpython3.X.so -> <prefix>/bin/python3.X
            parts = Path(libpython).parts
            lib = max((i for i, part in enumerate(parts) if part in ("lib", "lib64")), default=0)
            if lib:
                candidates.append(Path(*parts[:lib]) / "bin" / versioned)
        if exe is not None and exe.name.startswith("python"):
            candidates.append(exe)
        candidates += [prefix / "bin" / versioned, prefix / "bin" / "python3"]
        if platform == "darwin" and exe is not None:  # the .app bundle: Contents/MacOS/bin/python3
            candidates += [exe.parent / "bin" / versioned, exe.parent / "bin" / "python3"]
        candidates += [Path(found) for found in (shutil.which(versioned), shutil.which("python3")) if found]
    unique: list[str] = []
    for candidate in map(str, candidates):
        if candidate not in unique:
            unique.append(candidate)
    return unique


def loaded_libpython() -> str:
    """The Python library this process loaded (Linux; '' elsewhere or for a static interpreter)."""
    try:
        maps = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    for line in maps.splitlines():
        path = line.split(maxsplit=5)[-1] if line.count(" ") >= 5 else ""
        if "/libpython3" in path:
            return path.strip()
    return ""


def qgis_python_version() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


_VERSION_PROBE = "import sys, venv; print('%d.%d.%d' % sys.version_info[:3])"


def find_base_python(chosen: str = "") -> str:
    """QGIS's own Python interpreter (the one running this code), as a program to start.

    Every candidate is asked its version: the first of exactly QGIS's version wins, else the first
    of QGIS's major.minor (the GDAL bindings need that). ``chosen``: an interpreter named by the
    user (the installer's BASE_PYTHON). Raises ``UserInputError`` naming BASE_PYTHON when none fits.
    """
    exact, wanted = ".".join(map(str, sys.version_info[:3])), qgis_python_version()
    candidates = [chosen] if chosen else base_python_candidates(
        sys.executable, sys.base_exec_prefix, sys.version_info[:2], sys.platform, loaded_libpython())
    tried, same_minor = [], []
    for candidate in candidates:
        if not Path(candidate).is_file():
            tried.append(f"{candidate} (no such file)")
            continue
        try:
            proc = subprocess.run([candidate, "-c", _VERSION_PROBE], capture_output=True, text=True,
                                  timeout=PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL,
                                  env=dict(os.environ, PYTHONNOUSERSITE="1"))
        except (OSError, subprocess.TimeoutExpired) as exc:
            tried.append(f"{candidate} ({exc})")
            continue
        version = proc.stdout.strip()
        if proc.returncode == 0 and version == exact:
            return candidate
        if proc.returncode == 0 and version.rsplit(".", 1)[0] == wanted:
            same_minor.append(candidate)
        tried.append(f"{candidate} (Python {version})" if proc.returncode == 0
                     else f"{candidate} (has no venv module)")
    if same_minor:
        return same_minor[0]
    raise UserInputError(
        f"QGIS's own Python interpreter (Python {wanted}) was not found; tried: {'; '.join(tried)}. "
        f"Choose the python{'.exe' if sys.platform == 'win32' else '3'} of your QGIS installation "
        f"(Python {wanted}) under 'QGIS's Python interpreter' (advanced parameters).", "BASE_PYTHON")
