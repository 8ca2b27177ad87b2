"""Helpers for the reliability tests (bad inputs, faults, desktop); no qgis, no TensorFlow here.

Importable as ``reliability`` (tests/ is on pytest's pythonpath), next to ``lcnn_testing``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lcnn_testing import CACHE_DIR, ROOT, reference_samples_csv

VENV_PYTHON = str(ROOT / ".venv" / "bin" / "python")
PLUGIN_PARENT = ROOT / "build" / "plugins"
SAMPLE_STRIDE = 6  # every 6th labelled pixel: all classes and polygons, a sixth of the rows


def worker_environment() -> dict[str, str]:
    # PYTHONSAFEPATH: the packaged plugin, not the source tree in the current folder (the checkout)
    env = dict(os.environ, PYTHONPATH=str(PLUGIN_PARENT), PYTHONSAFEPATH="1", TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("PYTHONHOME", None)
    return env


def run_worker_cli(job: str, *args: str, timeout: float = 600) -> dict[str, Any]:
    """``python -m landcover_cnn_plugin.worker JOB ...`` as a person runs it; returns the result JSON."""
    proc = subprocess.run([VENV_PYTHON, "-m", "landcover_cnn_plugin.worker", job, *args],
                          capture_output=True, text=True, timeout=timeout, env=worker_environment())
    assert proc.returncode == 0, f"worker {job} failed:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout)


def _source_digest(*relative_paths: str) -> str:
    """Digest of plugin source files; a folder stands for its Python files."""
    digest = hashlib.sha1()
    for relative in relative_paths:
        path = PLUGIN_PARENT / "landcover_cnn_plugin" / relative
        for source in sorted(path.glob("*.py")) if path.is_dir() else [path]:
            digest.update(source.read_bytes())
    return digest.hexdigest()[:10]


def small_samples_csv() -> Path:
    """Every SAMPLE_STRIDE-th row of reference_samples_csv() (same columns, same order)."""
    target = CACHE_DIR / f"reliability_samples_every{SAMPLE_STRIDE}.csv"
    if not target.exists():
        source = reference_samples_csv()
        tmp = target.with_name(f".{target.stem}.{os.getpid()}.csv")
        with open(source, newline="", encoding="utf-8") as src, \
                open(tmp, "w", newline="", encoding="utf-8") as dst:
            reader, writer = csv.reader(src), csv.writer(dst)
            writer.writerow(next(reader))
            for index, row in enumerate(reader):
                if index % SAMPLE_STRIDE == 0:
                    writer.writerow(row)
        os.replace(tmp, target)
    return target


def small_model() -> Path:
    """A study_mlp trained for 3 epochs by the worker CLI on small_samples_csv(), cached.

    The cache name carries a digest of the model-file and network code, so a format change
    trains a new one.
    """
    digest = _source_digest("core/model_file.py", "core/models")
    target = CACHE_DIR / f"reliability_model_{digest}.lcnn"
    if not target.exists():
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"reliability_model_{digest}_{os.getpid()}.lcnn")
        run_worker_cli("train", "--samples", str(small_samples_csv()), "--model", str(tmp),
                       "--epochs", "3", "--patience", "2", "--batch-size", "256",
                       "--names-field", "fclass", "--model-type", "study_mlp")
        os.replace(tmp, target)
    return target


@dataclass(frozen=True)
class FileState:
    sha1: str
    size: int
    mtime_ns: int


def file_state(path: Path) -> FileState:
    stat = path.stat()
    return FileState(hashlib.sha1(path.read_bytes()).hexdigest(), stat.st_size, stat.st_mtime_ns)


def snapshot(paths: list[Path]) -> dict[str, Any]:
    """Bytes and mtimes of input files, and the listing of their folders (side-cars show up)."""
    files = {str(p): file_state(p) for p in paths if p.is_file()}
    folders = {str(p.parent): sorted(os.listdir(p.parent)) for p in paths}
    return {"files": files, "folders": folders}


def files_under(folder: Path) -> list[str]:
    """Every file below ``folder`` (hidden partial files included), relative, sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead but not yet reaped
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def worker_pids() -> set[int]:
    """Pids of running ``landcover_cnn_plugin.worker`` processes (from /proc)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"landcover_cnn_plugin.worker" in command and process_alive(int(entry.name)):
            pids.add(int(entry.name))
    return pids


def wait_until(condition, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def tiled_stack_vrt(path: Path, source: Path, tiles_x: int, tiles_y: int) -> Path:
    """A VRT repeating ``source`` tiles_x by tiles_y times (a large stack from the small real one).

    Band descriptions, data types and nodata are kept, so models match its bands by name.
    """
    from osgeo import gdal

    dataset = gdal.Open(str(source))
    width, height = dataset.RasterXSize, dataset.RasterYSize
    x0, dx, _, y0, _, dy = dataset.GetGeoTransform()
    lines = [f'<VRTDataset rasterXSize="{width * tiles_x}" rasterYSize="{height * tiles_y}">',
             f"  <SRS>{dataset.GetProjection().replace('&', '&amp;').replace('<', '&lt;')}</SRS>",
             f"  <GeoTransform>{x0}, {dx}, 0, {y0}, 0, {dy}</GeoTransform>"]
    for index in range(1, dataset.RasterCount + 1):
        band = dataset.GetRasterBand(index)
        data_type = gdal.GetDataTypeName(band.DataType)
        lines.append(f'  <VRTRasterBand dataType="{data_type}" band="{index}">')
        lines.append(f"    <Description>{band.GetDescription()}</Description>")
        if band.GetNoDataValue() is not None:
            lines.append(f"    <NoDataValue>{band.GetNoDataValue()}</NoDataValue>")
        for ty in range(tiles_y):
            for tx in range(tiles_x):
                lines += ["    <SimpleSource>",
                          f'      <SourceFilename relativeToVRT="0">{source}</SourceFilename>',
                          f"      <SourceBand>{index}</SourceBand>",
                          f'      <SrcRect xOff="0" yOff="0" xSize="{width}" ySize="{height}"/>',
                          f'      <DstRect xOff="{tx * width}" yOff="{ty * height}" xSize="{width}" '
                          f'ySize="{height}"/>',
                          "    </SimpleSource>"]
        lines.append("  </VRTRasterBand>")
    lines.append("</VRTDataset>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
