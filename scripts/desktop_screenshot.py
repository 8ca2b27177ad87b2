"""Install dist/landcover_cnn_plugin.zip into a fresh QGIS profile and probe QGIS Desktop under Xvfb.

Usage::

    python scripts/desktop_screenshot.py                      # screenshot -> docs/images/
    python scripts/desktop_screenshot.py --workdir /tmp/d --screenshot ''   # what the test does

Steps, as a user does them:

1. "Install from ZIP": the plugin folder is the one holding the zip's shortest ``metadata.txt``
   path (the rule of QGIS's plugin installer); every member is extracted into
   ``<profiles>/default/python/plugins``.
2. The plugin is enabled in that profile's ``QGIS/QGIS3.ini`` (``[PythonPlugins]``) and the
   worker interpreter is set as the provider setting 'Python interpreter with TensorFlow'.
3. ``qgis --nologo --noversioncheck --profiles-path ... --code desktop_probe.py`` under
   ``xvfb-run``; the probe (scripts/desktop_probe.py, copied into the work folder) checks the
   plugin, the provider and its algorithms, opens a dialog, takes screenshots and quits.

Writes ``<workdir>/run.json`` (exit code, seconds, paths) and prints it; QGIS's own output goes to
``<workdir>/qgis_output.txt`` and the probe's findings to ``<workdir>/out/findings.json``.
Exit code: QGIS's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_ZIP = ROOT / "dist" / "landcover_cnn_plugin.zip"
DEFAULT_SCREENSHOT = ROOT / "docs" / "images" / "desktop_toolbox.png"
PROBE_SOURCE = Path(__file__).resolve().with_name("desktop_probe.py")
SCREEN_SIZE = "1440x900x24"
STARTUP_TIMEOUT_S = 120.0


def plugin_folder_name(zip_path: Path) -> str:
    """The plugin's folder in the zip, found as QGIS's installer finds it (shortest metadata.txt)."""
    with zipfile.ZipFile(zip_path) as archive:
        metadata_files = sorted(name for name in archive.namelist() if name.endswith("metadata.txt"))
    if not metadata_files:
        raise SystemExit(f"{zip_path} holds no metadata.txt: not a QGIS plugin")
    return os.path.split(metadata_files[0])[0]


def install_from_zip(zip_path: Path, profiles_root: Path, profile: str = "default") -> Path:
    """Unpack the zip into the profile's plugin folder as 'Install from ZIP' does; return the folder."""
    plugins_dir = profiles_root / "profiles" / profile / "python" / "plugins"
    plugins_dir.mkdir(parents=True, exist_ok=True)
    name = plugin_folder_name(zip_path)
    target = plugins_dir / name
    shutil.rmtree(target, ignore_errors=True)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(plugins_dir)
    return target


def write_profile_settings(profiles_root: Path, plugin_name: str, worker_python: str,
                           profile: str = "default") -> Path:
    """Enable the plugin (and Processing) and set the worker interpreter in the profile's QGIS3.ini."""
    ini = profiles_root / "profiles" / profile / "QGIS" / "QGIS3.ini"
    ini.parent.mkdir(parents=True, exist_ok=True)
    ini.write_text(
        "[PythonPlugins]\n"
        f"{plugin_name}=true\n"
        "processing=true\n"
        "\n[Processing]\n"
        f"Configuration\\LANDCOVER_CNN_PYTHON={worker_python}\n"
        "\n[qgis]\n"
        "checkVersion=false\n"
        "showTips=false\n",
        encoding="utf-8")
    return ini


def wait_for_qgis(qgis: subprocess.Popen, findings: Path, started: float, timeout_s: float,
                  startup_timeout_s: float = STARTUP_TIMEOUT_S) -> int | None:
    """Wait for QGIS to exit; kill its process group (Xvfb included) on a hang.

    The probe writes findings.json within seconds of starting, so a QGIS stuck before that
    (a modal error dialog at start-up) is stopped after ``startup_timeout_s``.
    """
    while qgis.poll() is None:
        elapsed = time.monotonic() - started
        if elapsed > timeout_s or (elapsed > startup_timeout_s and not findings.exists()):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(qgis.pid, signal.SIGKILL)
            qgis.wait()
            return None
        time.sleep(0.5)
    return qgis.returncode


def classify_spec(raster: Path, model: Path, output: Path) -> dict:
    """The probe's ``load_algorithm`` entry for classifyimage."""
    return {"id": "landcovercnn:classifyimage", "output": "OUTPUT",
            "parameters": {"INPUT": str(raster), "MODEL": str(model), "OUTPUT": str(output)}}


def run_desktop(workdir: Path, zip_path: Path = PLUGIN_ZIP, worker_python: str | None = None,
                load_algorithm: dict | None = None, run_algorithm: str | None = None,
                timeout_s: float = 300, dialog_algorithm: str = "landcovercnn:checkenvironment") -> dict:
    """Install, start QGIS Desktop with the probe, wait for it; return the run summary."""
    workdir.mkdir(parents=True, exist_ok=True)
    profiles_root = workdir / "qgis-profiles"
    plugin_dir = install_from_zip(zip_path, profiles_root)
    worker_python = worker_python or str(ROOT / ".venv" / "bin" / "python")
    ini = write_profile_settings(profiles_root, plugin_dir.name, worker_python)
    probe = workdir / "probe.py"
    shutil.copy2(PROBE_SOURCE, probe)
    output_dir = workdir / "out"
    config = {"output_dir": str(output_dir), "provider": "landcovercnn",
              "dialog_algorithm": dialog_algorithm,
              "run_algorithm": run_algorithm, "load_algorithm": load_algorithm,
              "timeout_s": max(30.0, timeout_s - 30)}
    config_path = workdir / "probe_config.json"
    config_path.write_text(json.dumps(config, indent=2))
    env = dict(os.environ, LCNN_PROBE_CONFIG=str(config_path), XDG_RUNTIME_DIR=str(workdir / "xdg"))
    for name in ("QT_QPA_PLATFORM", "QGIS_CUSTOM_CONFIG_PATH", "QGIS_PLUGINPATH", "LANDCOVER_CNN_PYTHON",
                 "PYTHONHOME", "PYTHONPATH"):
        env.pop(name, None)  # the real desktop: X server, the profile's own settings and plugins
    # QGIS's embedded Python finds its standard library from the first python3 on PATH: a
    # pyenv or venv interpreter in front would hand it a foreign one ("Couldn't load SIP module").
    env["PATH"] = os.pathsep.join(["/usr/bin", env.get("PATH", "")])
    (workdir / "xdg").mkdir(mode=0o700, exist_ok=True)
    command = ["xvfb-run", "-a", "-s", f"-screen 0 {SCREEN_SIZE}", "qgis", "--nologo",
               "--noversioncheck", "--profiles-path", str(profiles_root), "--code", str(probe)]
    started = time.monotonic()
    log_path = workdir / "qgis_output.txt"
    findings = output_dir / "findings.json"
    with open(log_path, "w", encoding="utf-8") as log:
        qgis = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        returncode = wait_for_qgis(qgis, findings, started, timeout_s)
    summary = {"returncode": returncode, "seconds": round(time.monotonic() - started, 1),
               "command": command, "plugin_dir": str(plugin_dir), "ini": str(ini),
               "findings": str(output_dir / "findings.json"), "output": str(log_path),
               "screen_png": str(output_dir / "screen.png"),
               "main_window_png": str(output_dir / "main_window.png"),
               "dialog_png": str(output_dir / "dialog.png")}
    (workdir / "run.json").write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zip", type=Path, default=PLUGIN_ZIP, help="plugin zip (make package)")
    parser.add_argument("--workdir", type=Path, default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--screenshot", default=str(DEFAULT_SCREENSHOT),
                        help="copy the screen shot here ('' for none)")
    parser.add_argument("--python", default=None, help="worker interpreter (default: .venv/bin/python)")
    parser.add_argument("--run-algorithm", default=None,
                        help="algorithm id run with processing.run in Desktop (no parameters)")
    parser.add_argument("--load-algorithm", default=None,
                        help="JSON file {id, parameters, output}: run with runAndLoadResults in Desktop")
    parser.add_argument("--classify-raster", default=None,
                        help="band stack: classifyimage in Desktop, map loaded (with --classify-model)")
    parser.add_argument("--classify-model", default=None, help="model file (.lcnn) for --classify-raster")
    parser.add_argument("--dialog", default="landcovercnn:checkenvironment",
                        help="algorithm whose dialog is opened for the screen shot")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before QGIS is killed")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="lcnn-desktop-"))
    load_algorithm = json.loads(Path(args.load_algorithm).read_text()) if args.load_algorithm else None
    if args.classify_raster:
        load_algorithm = classify_spec(Path(args.classify_raster), Path(args.classify_model),
                                       workdir / "out" / "land_cover.tif")
    summary = run_desktop(workdir, args.zip, args.python, load_algorithm, args.run_algorithm, args.timeout,
                          dialog_algorithm=args.dialog)
    screen = Path(summary["screen_png"])
    if args.screenshot and screen.exists():
        target = Path(args.screenshot)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(screen, target)
        summary["screenshot"] = str(target)
    print(json.dumps(summary, indent=2))
    return summary["returncode"] if summary["returncode"] is not None else 124


if __name__ == "__main__":
    sys.exit(main())
