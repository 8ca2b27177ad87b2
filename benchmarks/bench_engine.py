"""Classification engines against the machine's limit (issue 16), with the peers side by side.

For each model family and engine (TensorFlow, ONNX Runtime): FLOPs per pixel of the prediction
graph (from its layers), the machine's sgemm GFLOP/s measured in the same run, the worker's
classify job (exactly what ``landcovercnn:classifyimage`` runs: GDAL read, prediction, GeoTIFF
write, overlapped) on the sample stack (0.3 Mpx) and on a VRT that tiles it to about 100 Mpx,
that rate as a share of the compute bound, the child's peak memory, and where the time goes
(microseconds per pixel that reading, predicting and writing were busy). Side by side: scikit-learn
RandomForest-200 (in memory, after a GDAL read), OTB's ImageClassifier (a random forest trained by
OTB) where ``otbcli_ImageClassifier`` is installed (``make bench`` installs Debian's otb-bin), and
the study's one-``predict``-per-pixel loop.

    python -m benchmarks engine [--large-mpx 100] [--families study_mlp,patch_cnn]
                                [--engines tensorflow,onnxruntime] [--skip-large] [--skip-peers]
                                [--quick] [--work DIR]

Models are trained for a few epochs only: speed does not depend on accuracy. Everything (models,
the VRT, maps) goes to a temporary folder (or ``--work``), never into the checkout. ``--quick``
(``make bench-quick``): one epoch, a 1.2 Mpx VRT instead of 100, a smoke run of every row. Run it on
an idle machine: the table is only as good as the machine is quiet, and it prints the load average
before and after so that a table measured on a busy machine says so.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

QUICK_LARGE_MPX, QUICK_EPOCHS = 1.2, 1
#: Pixels of the study's one-call-per-pixel loop (a few pixels/s on a busy machine).
LOOP_PIXELS, QUICK_LOOP_PIXELS = 2000, 200
#: The stages of a classification, as its result names them (``stage_seconds``).
STAGES = ("read", "compute", "write", "close")
#: Share of the compute bound each family must reach, GDAL I/O included (issue 16, 2 cores).
TARGETS = {"study_mlp": 0.60, "patch_cnn": 0.40}
COLUMNS = {
    "family / engine": "model family and the engine that ran its prediction graph (ENGINE)",
    "raster": "the sample stack (0.3 Mpx) or the VRT tiling it (no pixel copied)",
    "FLOP/px": "multiply-adds x 2 per output pixel of the prediction graph, from its layers",
    "bound px/s": "the compute bound: sgemm FLOP/s of this machine (all cores) / FLOP per pixel",
    "px/s": "pixels classified per second by the worker's classify job, GDAL read and write included",
    "% bound": "px/s as a share of the bound (the target: study_mlp >= 60 %, patch_cnn >= 40 %)",
    "peak MiB": "peak resident memory of the worker process (model, engine and blocks)",
    "read/predict/write/close": "microseconds per pixel each stage was busy, summed over its threads "
                                "(the profile: predicting on 2 threads at once counts twice); close: "
                                "GDAL encoding what its cache still holds",
}


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


def _high_water_kib(pid: int) -> int:
    """Peak resident memory of a running process since its exec (VmHWM, KiB; 0 once it is gone).

    Not ``wait4``'s ru_maxrss: Linux keeps that across exec, so a child forked from this process
    (which holds TensorFlow) would report this process's size.
    """
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def classify_in_child(raster: str, model: Path, output: Path, engine: str, memory_mb: int = 256
                      ) -> dict[str, Any]:
    """Run the worker's classify job in a child; its result plus the child's peak RSS (MiB)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")  # PYTHONPATH (the assembled plugin) inherited
    command = [sys.executable, "-m", "landcover_cnn_plugin.worker", "classify", "--raster", raster,
               "--model", str(model), "--output", str(output), "--memory-mb", str(memory_mb),
               "--engine", engine, "--progress", "jsonl"]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, text=True, env=env)
        peak_kib = 0
        while proc.poll() is None:
            peak_kib = max(peak_kib, _high_water_kib(proc.pid))
            time.sleep(0.05)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    peak_mib = peak_kib / 1024
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


def study_loop_pixels_per_second(model_path: Path, n_pixels: int = LOOP_PIXELS) -> float:
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


def sgemm_gflops(seconds: float = 3.0, n: int = 2048) -> float:
    """The machine's float32 matrix-product rate (numpy's BLAS on every core), best of ``seconds``."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    best = 0.0
    with threadpool_limits(limits=os.cpu_count(), user_api="blas"):
        a @ b
        stop = time.perf_counter() + seconds
        while time.perf_counter() < stop:
            started = time.perf_counter()
            a @ b
            best = max(best, 2.0 * n ** 3 / (time.perf_counter() - started) / 1e9)
    return best


def flops_per_pixel(model_path: Path) -> int | None:
    """Multiply-adds x 2 per output pixel of the model's prediction graph, from its layers.

    Dense: 2 in out per position; Conv1D: 2 k c_in c_out per position along the bands; Conv2D
    (fully convolutional: one position per pixel): 2 kh kw c_in c_out; pooling: its window per
    channel. Activations, softmax and batch normalisation (folded) are not counted. None for a
    family whose network is not a Keras model (a forest compares, it does not multiply).
    """
    import keras

    from landcover_cnn_plugin.core.model_file import load_model_file

    loaded = load_model_file(model_path)
    graph = loaded.family.prediction_graph(loaded.network, loaded.patch_size)
    if not isinstance(graph.network, keras.Model):
        return None
    total = 0
    for layer in graph.network.layers:
        # per pixel: the positions along the bands; fully convolutional: one per output pixel
        # (shared layers report the shapes of their first, per-patch call)
        positions = math.prod(d for d in layer.output.shape[1:-1] if d) if graph.per_pixel else 1
        if isinstance(layer, keras.layers.Dense | keras.layers.Conv1D | keras.layers.Conv2D):
            kernel = layer.kernel.shape
            total += 2 * math.prod(kernel) * positions
        elif isinstance(layer, keras.layers.AveragePooling2D | keras.layers.MaxPooling2D):
            total += math.prod(layer.pool_size) * int(layer.output.shape[-1]) * positions
    return int(total)


def otb_pixels_per_second(stack: str, folder: Path) -> float | None:
    """OTB's ImageClassifier (a random forest of 100 trees trained by TrainImagesClassifier on the
    OSM polygons) on the sample stack, wall pixels/s; None where OTB is not installed."""
    if not shutil.which("otbcli_ImageClassifier") or not shutil.which("otbcli_TrainImagesClassifier"):
        return None
    from osgeo import gdal

    from lcnn_testing import SAMPLE_DIR

    model = folder / "otb_rf.model"
    env = dict(os.environ, OTB_MAX_RAM_HINT="256")
    subprocess.run(["otbcli_TrainImagesClassifier", "-io.il", stack, "-io.vd",
                    str(SAMPLE_DIR / "osm_landuse_water.gpkg"), "-sample.vfn", "code", "-classifier", "rf",
                    "-classifier.rf.nbtrees", "100", "-rand", "42", "-io.out", str(model)],
                   check=True, capture_output=True, env=env)
    started = time.perf_counter()
    subprocess.run(["otbcli_ImageClassifier", "-in", stack, "-model", str(model), "-out",
                    str(folder / "otb_map.tif"), "uint16"], check=True, capture_output=True, env=env)
    seconds = time.perf_counter() - started
    dataset = gdal.Open(stack)
    return dataset.RasterXSize * dataset.RasterYSize / seconds


def engine_rows(family: str, model_path: Path, engines: list[str], rasters: list[tuple[str, str]],
                gflops: float, flops: int | None, work: Path) -> list[dict[str, Any]]:
    """One row per engine and raster for a family (bound and share None without FLOPs)."""
    rows = []
    bound = gflops * 1e9 / flops if flops else None
    for engine in engines:
        for label, raster in rasters:
            with tempfile.TemporaryDirectory(dir=work) as folder:
                result = classify_in_child(raster, model_path, Path(folder) / "map.tif", engine)
            pixels = result["width"] * result["height"]
            stages = result["stage_seconds"]
            rows.append({"family": family, "engine": result["engine"], "raster": label,
                         "mpx": pixels / 1e6, "flops": flops, "bound": bound,
                         "rate": result["pixels_per_second"],
                         "share": result["pixels_per_second"] / bound if bound else None,
                         "peak": result["peak_rss_mib"], "threads": result["predictor_threads"],
                         "profile": [1e6 * stages[stage] / pixels for stage in STAGES]})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def _format(rows: list[dict[str, Any]], peers: list[tuple[str, str, float | None]]) -> str:
    header = ("family / engine", "raster", "FLOP/px", "bound px/s", "px/s", "% bound", "target",
              "peak MiB", "read/predict/write/close")
    lines = []
    for row in rows:
        target, share = TARGETS.get(row["family"]), row["share"]
        verdict = "-" if target is None or share is None else ("met" if share >= target else "MISSED")
        lines.append((f"{row['family']} / {row['engine']}", f"{row['raster']} ({row['mpx']:.1f} Mpx)",
                      "-" if row["flops"] is None else f"{row['flops']:,}",
                      "-" if row["bound"] is None else f"{row['bound']:,.0f}", f"{row['rate']:,.0f}",
                      "-" if share is None else f"{100 * share:.0f} %", verdict, f"{row['peak']:,.0f}",
                      " / ".join(f"{v:.2f}" for v in row["profile"]) + " us"))
    for name, raster, rate in peers:
        lines.append((name, raster, "-", "-", "not installed" if rate is None else f"{rate:,.0f}",
                      "-", "-", "-", "-"))
    widths = [max(len(str(r[i])) for r in [header, *lines]) for i in range(len(header))]
    return "\n".join("  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True))
                     for r in [header, *lines])


def memory_notes(rows: list[dict[str, Any]]) -> list[str]:
    """Peak memory on the large raster against the sample stack, per family and engine."""
    notes = []
    for key in sorted({(r["family"], r["engine"]) for r in rows}):
        peaks = sorted((r["mpx"], r["peak"]) for r in rows if (r["family"], r["engine"]) == key)
        if len(peaks) > 1:
            (small_mpx, small), (large_mpx, large) = peaks[0], peaks[-1]
            notes.append(f"{key[0]} / {key[1]}: peak {small:,.0f} MiB at {small_mpx:.1f} Mpx, "
                         f"{large:,.0f} MiB at {large_mpx:.1f} Mpx "
                         f"({'flat' if large <= 1.25 * small else 'GROWS'})")
    return notes


def load_note(when: str) -> str:
    """The load average and how busy that makes the machine (figures from a busy one are low)."""
    one, five, fifteen = os.getloadavg()
    verdict = "idle enough" if five < 0.5 else "LOADED MACHINE: speed figures are low and noisy"
    return f"load average {when}: {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min) - {verdict}"


def run(args: argparse.Namespace, work: Path) -> None:
    """Train, measure and print the table (models, VRT and maps under ``work``)."""
    from landcover_cnn_plugin.core.models import FAMILIES
    from lcnn_testing import reference_stack

    print(load_note("at start"), flush=True)
    stack = str(reference_stack())
    rasters = [("sample stack", stack)]
    if not args.skip_large:
        large = QUICK_LARGE_MPX if args.quick else args.large_mpx
        tiled_vrt(stack, work / "tiled_stack.vrt", large)
        rasters.append(("tiled VRT", str(work / "tiled_stack.vrt")))
    gflops = sgemm_gflops()
    print(f"sgemm: {gflops:.1f} GFLOP/s (float32, {os.cpu_count()} cores)", flush=True)
    families = [f.strip() for f in args.families.split(",") if f.strip()] if args.families else list(FAMILIES)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    rows = []
    for family in families:
        model_path = train(family, work / f"{family}.lcnn", QUICK_EPOCHS if args.quick else args.epochs)
        rows += engine_rows(family, model_path, engines, rasters, gflops, flops_per_pixel(model_path), work)
    peers: list[tuple[str, str, float | None]] = []
    if not args.skip_peers:
        rf, fit_s = random_forest_pixels_per_second()
        peers.append((f"RandomForest-200 (scikit-learn, fit {fit_s:.0f} s)", "sample stack, in memory", rf))
        print(json.dumps({"peer": peers[-1][0], "rate": rf}), flush=True)
        with tempfile.TemporaryDirectory(dir=work) as folder:
            peers.append(("OTB ImageClassifier (random forest)", "sample stack, GDAL I/O incl.",
                          otb_pixels_per_second(stack, Path(folder))))
        print(json.dumps({"peer": peers[-1][0], "rate": peers[-1][2]}), flush=True)
        study = work / "study_mlp.lcnn"
        n_loop = QUICK_LOOP_PIXELS if args.quick else LOOP_PIXELS
        loop = study_loop_pixels_per_second(study, n_loop) if study.exists() else None
        peers.append(("study loop: predict per pixel (study_mlp)", f"{n_loop} px", loop))
    print()
    print(_format(rows, peers))
    print(f"\nsgemm {gflops:.1f} GFLOP/s measured in this run; {os.cpu_count()} cores.")
    print(load_note("at end"))
    for note in memory_notes(rows):
        print(note)
    print("\nColumns:")
    for name, text in COLUMNS.items():
        print(f"  {name}: {text}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks engine", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large-mpx", type=float, default=100.0, help="size of the tiled VRT (Mpx)")
    parser.add_argument("--families", default="", help="comma-separated (default: every family)")
    parser.add_argument("--engines", default="tensorflow,onnxruntime", help="comma-separated")
    parser.add_argument("--skip-large", action="store_true", help="only the 0.3 Mpx stack")
    parser.add_argument("--skip-peers", action="store_true", help="no RandomForest / OTB / per-pixel loop")
    parser.add_argument("--epochs", type=int, default=3, help="training epochs of the benchmark models")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_EPOCHS} epoch, a {QUICK_LARGE_MPX:g} Mpx VRT: a smoke run")
    parser.add_argument("--work", type=Path, default=None,
                        help="keep models, VRT and maps in this folder (default: a temporary one)")
    args = parser.parse_args(argv)
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        run(args, args.work)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-engine-") as folder:
            run(args, Path(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
