"""Assemble the installable plugin: build/plugins/landcover_cnn_plugin and dist/landcover_cnn_plugin.zip.

The folder holds the package plus metadata.txt, LICENSE, requirements-worker.txt and resources/;
tests and the demo load the plugin from it, so what is tested is what ships.
"""

from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = "landcover_cnn_plugin"
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


def assemble(build_dir: Path) -> Path:
    target = build_dir / NAME
    staging = build_dir / f".{NAME}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(ROOT / NAME, staging, ignore=IGNORE)
    shutil.copytree(ROOT / "resources", staging / "resources", ignore=IGNORE)
    # requirements-worker.txt: what 'Install TensorFlow environment' installs (core/environment.py)
    for name in ("metadata.txt", "LICENSE", "requirements-worker.txt"):
        shutil.copy2(ROOT / name, staging / name)
    # Swap in the new folder in one step, so a concurrent reader never sees it half copied.
    old = build_dir / f".{NAME}.old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def write_zip(folder: Path, zip_path: Path) -> None:
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_suffix(".zip.part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            archive.write(path, path.relative_to(folder.parent).as_posix())
    tmp.replace(zip_path)


def main() -> int:
    build_dir = ROOT / "build" / "plugins"
    build_dir.mkdir(parents=True, exist_ok=True)
    folder = assemble(build_dir)
    zip_path = ROOT / "dist" / f"{NAME}.zip"
    write_zip(folder, zip_path)
    print(f"package: {folder} and {zip_path} ({zip_path.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
