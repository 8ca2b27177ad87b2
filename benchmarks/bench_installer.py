"""Benchmark: *Install TensorFlow environment*, and a new user's way to the first classified map.

Three figures a QGIS user meets once, each measured as the user meets it:

- **install** (``core/installer.EnvironmentInstaller``, what the algorithm runs): the environment
  built from QGIS's Python, from the wheel folder ``make setup`` fills (``build/wheelhouse``, no
  index) and, with ``--index``, from pip's package index with pip's cache warm (the cache
  ``make setup`` left); its size on disk; a second run on the complete environment.
- **desktop** (``--desktop``): ``scripts/desktop_screenshot.py`` from *Install from ZIP* in a
  fresh profile to the class map in the canvas (QGIS start, the notice's button, the installer
  from the wheel folder, check, training, classification), with the time of each step.

Run: ``make bench`` or ``.venv/bin/python -m benchmarks.bench_installer [--index] [--desktop]``.
Prints a table; ``--json PATH`` also writes the rows. Not a test: nothing is asserted. Figures
measured on a machine shared with other work are upper bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from landcover_cnn_plugin.core.environment import find_base_python, requirements_path
from landcover_cnn_plugin.core.installer import EnvironmentInstaller, folder_size

ROOT = Path(__file__).resolve().parents[1]
WHEELHOUSE = ROOT / "build" / "wheelhouse"


def install(env_dir: Path, wheels: str) -> dict:
    """Build (or keep) the environment; wall seconds and what the installer reports."""
    import osgeo

    started = time.perf_counter()
    result = EnvironmentInstaller(env_dir, requirements_path(), find_base_python(), wheels=wheels,
                                  osgeo_dir=str(Path(osgeo.__file__).resolve().parent)).install()
    return {"seconds": round(time.perf_counter() - started, 1), "changed": result.changed,
            "size_gb": round(folder_size(env_dir) / 1e9, 2), "tensorflow": result.tensorflow_version}


def desktop(workdir: Path) -> dict:
    """A new user in QGIS Desktop, from Install from ZIP to the class map (the desktop test's run)."""
    from reliability import small_samples_csv

    from lcnn_testing import reference_stack

    samples, stack = str(small_samples_csv()), str(reference_stack())
    env = {name: value for name, value in os.environ.items() if not name.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    command = [sys.executable, str(ROOT / "scripts" / "desktop_screenshot.py"), "--workdir", str(workdir),
               "--screenshot", "", "--wheels", str(WHEELHOUSE), "--train-samples", samples,
               "--classify-raster", stack, "--dialog", "landcovercnn:checkenvironment"]
    subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    summary = json.loads((workdir / "run.json").read_text())
    findings = json.loads(Path(summary["findings"]).read_text())
    return {"seconds": summary["seconds"], "install_seconds": findings["install"]["seconds"],
            **{f"{key}_seconds": value for key, value in findings.get("run_seconds", {}).items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", action="store_true", help="also install from pip's index (warm cache)")
    parser.add_argument("--desktop", action="store_true", help="also QGIS Desktop, ZIP to class map")
    parser.add_argument("--json", type=Path, default=None, help="write the rows to this file")
    args = parser.parse_args(argv)
    if not WHEELHOUSE.is_dir():
        print(f"{WHEELHOUSE} is missing: run make setup", file=sys.stderr)
        return 2
    rows = {}
    with tempfile.TemporaryDirectory(prefix="bench_installer_") as folder:
        env_dir = Path(folder) / "profile" / "landcover_cnn" / "venv"
        rows["install from the wheel folder"] = install(env_dir, str(WHEELHOUSE))
        rows["second run (complete environment)"] = install(env_dir, str(WHEELHOUSE))
        if args.index:
            shutil.rmtree(env_dir)
            rows["install from pip's index, warm cache"] = install(env_dir, "")
        if args.desktop:
            rows["QGIS Desktop: Install from ZIP to class map"] = desktop(Path(folder) / "desktop")
    print(f"{'step':<48} {'seconds':>8}  details")
    for step, row in rows.items():
        details = ", ".join(f"{key} {value}" for key, value in row.items() if key != "seconds")
        print(f"{step:<48} {row['seconds']:>8.1f}  {details}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
