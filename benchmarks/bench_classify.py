"""Classification speed and memory, GDAL read and write included (issue 5).

For ``study_mlp`` and the default model (``patch_cnn`` 7 x 7 when the stack is given): the
worker's ``classify`` job (exactly what ``landcovercnn:classifyimage`` runs) on the sample stack
(0.3 Mpx) and on a VRT that tiles it to about 100 Mpx; pixels/s of the block loop (read,
predict, write) and the child's peak resident memory. Side by side: scikit-learn
RandomForest-200 prediction (in memory, after a GDAL read of the stack) and the study's
one-``predict``-per-pixel loop on a few thousand pixels.

    python -m benchmarks classify [--large-mpx 100] [--models study_mlp,patch_cnn] [--skip-large]

Models are trained for a few epochs only: speed does not depend on accuracy.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench_output" / "classify"


def _paths() -> None:
    for entry in (str(ROOT / "build" / "plugins"), str(ROOT / "tests")):
        if entry not in sys.path:  # the assembled plugin and the shared test data helpers
            sys.path.insert(0, entry)


def tiled_vrt(source: str, target: Path, megapixels: float) -> tuple[int, int]:
    """A VRT repeating ``source`` in a grid of tiles to about ``megapixels`` (no pixel copied)."""
    from osgeo import gdal

    ds = gdal.Open(source)
    w, h, bands = ds.RasterXSize, ds.RasterYSize, ds.RasterCount
    n = max(1, round(math.sqrt(megapixels * 1e6 / (w * h))))
    nx, ny = n, max(1, round(megapixels * 1e6 / (w * h) / n))
    gt = list(ds.GetGeoTransform())
    data_type = gdal.GetDataTypeName(ds.GetRasterBand(1).DataType)
    lines = [f'<VRTDataset rasterXSize="{w * nx}" rasterYSize="{h * ny}">',
             f"  <SRS>{ds.GetProjection()}</SRS>",
             f"  <GeoTransform>{', '.join(map(str, gt))}</GeoTransform>"]
    for b in range(1, bands + 1):
        lines.append(f'  <VRTRasterBand dataType="{data_type}" band="{b}">')
        lines.append(f"    <Description>{ds.GetRasterBand(b).GetDescription()}</Description>")
        for j in range(ny):
            for i in range(nx):
                lines.append(
                    f'    <SimpleSource><SourceFilename relativeToVRT="0">{source}</SourceFilename>'
                    f"<SourceBand>{b}</SourceBand>"
                    f'<SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>'
                    f'<DstRect xOff="{i * w}" yOff="{j * h}" xSize="{w}" ySize="{h}"/></SimpleSource>')
        lines.append("  </VRTRasterBand>")
    lines.append("</VRTDataset>")
    target.write_text("\n".join(lines), encoding="utf-8")
    return w * nx, h * ny


def train(model_type: str, path: Path, epochs: int) -> Path:
    from landcover_cnn_plugin.core.models import family
    from landcover_cnn_plugin.core.settings import TrainingSettings
    from landcover_cnn_plugin.core.training import LandcoverTrainer
    from lcnn_testing import reference_samples_csv, reference_stack

    if not path.exists():
        uses_patches = family(model_type).uses_patches
        trainer = LandcoverTrainer(TrainingSettings(
            model_type=model_type, epochs=epochs, patience=epochs, batch_size=256, names_field="fclass",
            balance="class_weights", raster=str(reference_stack()) if uses_patches else None))
        trainer.fit(str(reference_samples_csv()))
        trainer.save(str(path))
    return path


def classify_in_child(raster: str, model: Path, output: Path, memory_mb: int = 256) -> dict[str, Any]:
    """Run the worker's classify job in a child; its result plus the child's peak RSS (MiB)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "build" / "plugins"), TF_CPP_MIN_LOG_LEVEL="2")
    command = [sys.executable, "-m", "landcover_cnn_plugin.worker", "classify", "--raster", raster,
               "--model", str(model), "--output", str(output), "--memory-mb", str(memory_mb),
               "--progress", "jsonl"]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, text=True, env=env)
        _, _, usage = os.wait4(proc.pid, 0)  # this child's own rusage: its peak RSS
        proc.returncode = 0
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    peak_mib = usage.ru_maxrss / 1024
    result = None
    for line in stdout.splitlines():
        if line.startswith("{"):
            message = json.loads(line)
            if message.get("type") == "result":
                result = message["data"]
            elif message.get("type") == "error":
                raise RuntimeError(message.get("message"))
    if result is None:
        raise RuntimeError(f"classify failed: {stderr[-2000:]}")
    result["peak_rss_mib"] = peak_mib
    result["wall_seconds"] = wall
    return result


def study_loop_pixels_per_second(model_path: Path, n_pixels: int = 2000) -> float:
    """The study's way: one ``model.predict`` call per pixel."""
    from osgeo import gdal

    from landcover_cnn_plugin.core.model_file import load_model_file
    from lcnn_testing import reference_stack

    model = load_model_file(model_path)
    values = gdal.Open(str(reference_stack())).ReadAsArray(0, 0, 768, 4).astype(np.float32)
    pixels = model.scaler.transform(values.reshape(values.shape[0], -1).T[:n_pixels])
    network = model.network
    network.predict(pixels[:1], verbose=0)
    started = time.perf_counter()
    for i in range(len(pixels)):
        network.predict(pixels[i:i + 1], verbose=0)
    return len(pixels) / (time.perf_counter() - started)


def random_forest_pixels_per_second() -> tuple[float, float]:
    """RandomForest-200 (all cores) fit on the labelled pixels; predict the whole stack after a GDAL read.

    Returns (pixels/s of read + predict, fit seconds).
    """
    import pandas as pd
    from osgeo import gdal
    from sklearn.ensemble import RandomForestClassifier

    from lcnn_testing import STUDY_BANDS, reference_samples_csv, reference_stack

    table = pd.read_csv(reference_samples_csv())
    forest = RandomForestClassifier(n_estimators=200, n_jobs=-1, random_state=42)
    started = time.perf_counter()
    forest.fit(table[STUDY_BANDS].to_numpy(np.float32), table["code"].to_numpy())
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    values = gdal.Open(str(reference_stack())).ReadAsArray().astype(np.float32)
    features = values.reshape(values.shape[0], -1).T
    forest.predict(features)
    return len(features) / (time.perf_counter() - started), fit_seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks classify", description=__doc__)
    parser.add_argument("--large-mpx", type=float, default=100.0, help="size of the tiled VRT (Mpx)")
    parser.add_argument("--models", default="study_mlp,patch_cnn",
                        help="comma-separated model types (default: study_mlp and patch_cnn, the model "
                             "trainmodel picks when it gets the stack)")
    parser.add_argument("--large-models", default="study_mlp",
                        help="models also run on the large VRT (default study_mlp; 'all' for every one)")
    parser.add_argument("--skip-large", action="store_true", help="only the 0.3 Mpx stack")
    parser.add_argument("--skip-baselines", action="store_true", help="no RandomForest / per-pixel loop")
    parser.add_argument("--epochs", type=int, default=3, help="training epochs of the benchmark models")
    args = parser.parse_args(argv)
    _paths()
    from lcnn_testing import reference_stack

    OUT.mkdir(parents=True, exist_ok=True)
    stack = str(reference_stack())
    large = OUT / "tiled_stack.vrt"
    large_w, large_h = tiled_vrt(stack, large, args.large_mpx)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    large_models = models if args.large_models == "all" else args.large_models.split(",")
    rows = []
    for model_type in models:
        model_path = train(model_type, OUT / f"{model_type}.lcnn", args.epochs)
        sizes = [("sample stack", stack)]
        if not args.skip_large and model_type in large_models:
            sizes.append((f"tiled VRT {large_w}x{large_h}", str(large)))
        for label, raster in sizes:
            with tempfile.TemporaryDirectory(dir=OUT) as folder:
                result = classify_in_child(raster, model_path, Path(folder) / "map.tif")
            mpx = result["width"] * result["height"] / 1e6
            rows.append((f"{model_type} classify (GDAL I/O incl.)", label, f"{mpx:.1f}",
                         f"{result['pixels_per_second']:,.0f}", f"{result['peak_rss_mib']:,.0f}",
                         f"{result['seconds']:.1f}"))
            print(rows[-1], flush=True)
    if not args.skip_baselines:
        rf, fit_s = random_forest_pixels_per_second()
        rows.append(("RandomForest-200 predict (read incl.)", "sample stack", "0.3", f"{rf:,.0f}", "-",
                     f"fit {fit_s:.0f}"))
        loop = study_loop_pixels_per_second(OUT / f"{models[0]}.lcnn")
        rows.append((f"study loop: predict per pixel ({models[0]})", "2000 px", "0.002", f"{loop:,.1f}",
                     "-", "-"))
    header = ("method", "raster", "Mpx", "pixels/s", "peak RSS MiB", "seconds")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print()
    for row in [header, *rows]:
        print("  ".join(str(v).ljust(w) if i < 2 else str(v).rjust(w)
                        for i, (v, w) in enumerate(zip(row, widths, strict=True))))
    print(f"\ncores: {os.cpu_count()}; peak RSS = the classify worker child (model load included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
