"""Install dist/landcover_cnn_plugin.zip into a fresh QGIS profile and probe QGIS Desktop under Xvfb.

Usage::

    python scripts/desktop_screenshot.py --classify-raster STACK --train-samples CSV
        # a new user: installer from PyPI, check, train, classify; screenshot -> docs/images/
    python scripts/desktop_screenshot.py --workdir /tmp/d --screenshot '' --wheels build/wheelhouse ...
        # what the test does (no index)

Steps, as a user does them:

1. "Install from ZIP": the plugin folder is the one holding the zip's shortest ``metadata.txt``
   path (the rule of QGIS's plugin installer); every member is extracted into
   ``<profiles>/default/python/plugins``. The profiles folder's name has spaces and non-ASCII
   letters, as many users' home folders do.
2. The plugin is enabled in that profile's ``QGIS/QGIS3.ini`` (``[PythonPlugins]``); with
   ``--python`` the worker interpreter is set as the provider setting 'Python interpreter with
   TensorFlow', else the profile has none (a new user).
3. ``qgis --nologo --noversioncheck --profiles-path ... --code desktop_probe.py`` under
   ``xvfb-run``; the probe (scripts/desktop_probe.py, copied into the work folder) checks the
   plugin, the provider and its algorithms; without ``--python`` it clicks the button of the
   plugin's message bar notice and runs *Install TensorFlow environment* in the dialog that opens
   (from ``--wheels`` or ``--index-url``, else pip's index); then *Check TensorFlow environment*,
   *Train land cover model* (``--train-samples``) and *Classify image* (``--classify-raster``,
   the map loaded into the canvas); it opens a dialog, takes screenshots and quits.

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
DEFAULT_SCREENSHOT = ROOT / "docs" / "images" / "desktop_first_map.png"
#: The profiles folder's name: spaces and letters outside ASCII, as in many users' home folders.
PROFILES_FOLDER = "QGIS profiles Zoë Łódź"
#: Train land cover model on a samples CSV in seconds: a few epochs (--train-epochs) of the per-pixel
#: default model.
# MODEL_TYPE 4 = pixel_mlp: a network, so that the run proves the installed TensorFlow trains (on
# these few polygons "Automatic" would take the random forest, which needs no TensorFlow).
FAST_TRAINING = {"LABEL": "code", "NAMES_FIELD": "fclass", "PATIENCE": 2, "BATCH_SIZE": 256,
                 "MODEL_TYPE": 4}
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


def write_profile_settings(profiles_root: Path, plugin_name: str, worker_python: str | None,
                           profile: str = "default") -> Path:
    """Enable the plugin (and Processing) in the profile's QGIS3.ini; set the worker interpreter
    when one is given."""
    ini = profiles_root / "profiles" / profile / "QGIS" / "QGIS3.ini"
    ini.parent.mkdir(parents=True, exist_ok=True)
    setting = (f"\n[Processing]\nConfiguration\\LANDCOVER_CNN_PYTHON={worker_python}\n"
               if worker_python else "")
    ini.write_text(
        "[PythonPlugins]\n"
        f"{plugin_name}=true\n"
        "processing=true\n"
        f"{setting}"
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


def probe_plan(workdir: Path, worker_python: str | None, install_parameters: dict[str, str],
               train_samples: str | None, classify_raster: str | None, classify_model: str | None,
               dialog_algorithm: str, train_epochs: int = 3) -> dict:
    """What the probe does after start-up: install (without ``worker_python``), check, train,
    classify with the map loaded; outputs under ``<workdir>/out``."""
    out = workdir / "out"
    runs = [{"key": "check", "id": "landcovercnn:checkenvironment", "parameters": {}}]
    if train_samples:
        classify_model = str(out / "model.lcnn")
        runs.append({"key": "train", "id": "landcovercnn:trainmodel", "parameters": {
            "INPUT": train_samples, **FAST_TRAINING, "EPOCHS": train_epochs, "OUTPUT_MODEL": classify_model,
            "OUTPUT_REPORT": str(out / "training_report.html")}})
    load = None
    if classify_raster and classify_model:
        load = {"id": "landcovercnn:classifyimage", "output": "OUTPUT", "parameters": {
            "INPUT": classify_raster, "MODEL": classify_model, "OUTPUT": str(out / "land_cover.tif")}}
    return {"install": None if worker_python else {"parameters": install_parameters},
            "run_algorithms": runs, "load_algorithm": load, "dialog_algorithm": dialog_algorithm}


def run_desktop(workdir: Path, plan: dict, zip_path: Path = PLUGIN_ZIP, worker_python: str | None = None,
                timeout_s: float = 300) -> dict:
    """Install, start QGIS Desktop with the probe doing ``plan``, wait for it; return the run summary."""
    workdir.mkdir(parents=True, exist_ok=True)
    profiles_root = workdir / PROFILES_FOLDER
    plugin_dir = install_from_zip(zip_path, profiles_root)
    ini = write_profile_settings(profiles_root, plugin_dir.name, worker_python)
    probe = workdir / "probe.py"
    shutil.copy2(PROBE_SOURCE, probe)
    output_dir = workdir / "out"
    config = {"output_dir": str(output_dir), "provider": "landcovercnn", **plan,
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
               "command": command, "profiles_root": str(profiles_root), "plugin_dir": str(plugin_dir),
               "ini": str(ini), "findings": str(findings), "output": str(log_path),
               **{f"{name}_png": str(output_dir / f"{name}.png")
                  for name in ("screen", "main_window", "map_window", "dialog", "installer", "canvas")}}
    (workdir / "run.json").write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zip", type=Path, default=PLUGIN_ZIP, help="plugin zip (make package)")
    parser.add_argument("--workdir", type=Path, default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--screenshot", default=str(DEFAULT_SCREENSHOT),
                        help="copy the screen shot here ('' for none)")
    parser.add_argument("--python", default=None,
                        help="worker interpreter set as the provider setting (default: none; the probe "
                             "installs the environment from the plugin's notice)")
    parser.add_argument("--wheels", default="", help="the installer's folder of wheels (WHEELS)")
    parser.add_argument("--index-url", default="", help="the installer's package index (INDEX_URL)")
    parser.add_argument("--train-samples", default=None,
                        help="samples CSV: Train land cover model in Desktop (a few epochs)")
    parser.add_argument("--train-epochs", type=int, default=3, help="maximum epochs of that training")
    parser.add_argument("--classify-raster", default=None,
                        help="band stack: Classify image in Desktop, the map loaded into the canvas")
    parser.add_argument("--classify-model", default=None,
                        help="model file (.lcnn) for --classify-raster (default: the one trained)")
    parser.add_argument("--dialog", default="landcovercnn:classifyimage",
                        help="algorithm whose dialog is opened for the screen shot")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds before QGIS is killed")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="lcnn-desktop-"))
    install = {name: value for name, value in (("WHEELS", args.wheels), ("INDEX_URL", args.index_url))
               if value}
    plan = probe_plan(workdir, args.python, install, args.train_samples, args.classify_raster,
                      args.classify_model, args.dialog, args.train_epochs)
    summary = run_desktop(workdir, plan, args.zip, args.python, args.timeout)
    screen = Path(summary["map_window_png"])  # the classified map in the canvas, no dialog
    if args.screenshot and screen.exists():
        target = Path(args.screenshot)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(screen, target)
        summary["screenshot"] = str(target)
    print(json.dumps(summary, indent=2))
    return summary["returncode"] if summary["returncode"] is not None else 124


if __name__ == "__main__":
    sys.exit(main())
