"""Benchmark: sampling the stack at training points, the hot path of data preparation.

``landcovercnn:samplepoints`` (points layer -> samples CSV) and ``landcovercnn:extractsamples``
(polygons -> samples CSV in one step) against QGIS's own ``native:rastersampling`` on the same
points and the same stack. To get more than a million labelled pixels from the small sample
scene, the study stack (nine bands, 20 m, ``tests/lcnn_testing.reference_stack``) is tiled
``--tiles`` x ``--tiles`` times with a VRT (no pixel copied) and the OSM polygons are copied
with the same offsets; ``landcovercnn:regularpoints`` puts one point in every labelled pixel.

Every run is a real ``qgis_process.bin`` (``scripts/qgis_process.sh``), as a user scripts it; each
algorithm runs on one tile and on all tiles, and points/s is taken from the difference, so that
the start-up of qgis_process (a few seconds, the same for all) cancels out. Peak memory is the
child's maximum resident set size (``os.wait4``) on one tile and on all tiles: flat memory means
the two are close.

Run: ``make bench`` or ``.venv/bin/python -m benchmarks.bench_sampling [--tiles 4] [--keep]``.
Prints a table; ``--json PATH`` also writes the rows. Not a test: nothing is asserted.
QGIS never runs in this process (the other benchmarks load TensorFlow here).
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
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QGIS_PROCESS = ROOT / "scripts" / "qgis_process.sh"


@dataclass
class Run:
    seconds: float
    peak_mb: float
    results: dict


def qgis_run(algorithm: str, params: dict, folder: Path) -> Run:
    """One ``qgis_process run``: wall seconds, peak RSS (MiB) of the child, its results."""
    args = [f"--{name}={value}" for name, value in params.items()]
    log = folder / "qgis_process.log"
    with open(log, "w") as handle:
        started = time.perf_counter()
        proc = subprocess.Popen([str(QGIS_PROCESS), "--json", "run", algorithm, *args], stdout=handle,
                                stderr=subprocess.STDOUT)
        # wait4 reports this child's own peak memory (getrusage would give the max of all children).
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text()
    if proc.returncode != 0:
        raise SystemExit(f"{algorithm} failed (exit {proc.returncode}):\n{text[-3000:]}")
    results = json.loads(text[text.find("{"):])["results"]
    return Run(seconds, usage.ru_maxrss / 1024, results)


def load_test_helpers():
    """tests/lcnn_testing.py (the independent reference stack), loaded from its file."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("lcnn_testing", ROOT / "tests" / "lcnn_testing.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("lcnn_testing", module)
    spec.loader.exec_module(module)
    return module


def tiled_inputs(folder: Path, tiles: int) -> tuple[Path, Path]:
    """The study stack tiled ``tiles`` x ``tiles`` (VRT) and the OSM polygons copied alike (GPKG)."""
    from osgeo import gdal

    testing = load_test_helpers()
    SAMPLE_DIR, STUDY_BANDS, STUDY_GRID = testing.SAMPLE_DIR, testing.STUDY_BANDS, testing.STUDY_GRID  # noqa: N806
    reference_stack = testing.reference_stack
    gdal.UseExceptions()
    g = STUDY_GRID
    width_m, height_m = g["xmax"] - g["xmin"], g["ymax"] - g["ymin"]
    stack, polygons = folder / f"stack_{tiles}x{tiles}.vrt", folder / f"polygons_{tiles}x{tiles}.gpkg"
    sources = []
    for i in range(tiles):
        for j in range(tiles):
            dx, dy = i * width_m, -j * height_m
            tile = folder / f"tile_{i}_{j}.vrt"
            gdal.Translate(str(tile), str(reference_stack()), format="VRT",
                           outputBounds=[g["xmin"] + dx, g["ymax"] + dy, g["xmax"] + dx, g["ymin"] + dy])
            sources.append(str(tile))
            gdal.VectorTranslate(
                str(polygons), str(SAMPLE_DIR / "osm_landuse_water.gpkg"), layerName="polygons",
                accessMode="append" if polygons.exists() else None, SQLDialect="SQLITE",
                SQLStatement=f"SELECT ST_Translate(geom, {dx}, {dy}, 0) AS geom, code, fclass "
                             "FROM osm_landuse_water")
    mosaic = gdal.BuildVRT(str(stack), sources)
    for index, name in enumerate(STUDY_BANDS, start=1):
        mosaic.GetRasterBand(index).SetDescription(name)
    mosaic = None
    return stack, polygons


def measure(folder: Path, tiles: int) -> dict[str, tuple[int, Run]]:
    """Points and run of each algorithm on a ``tiles`` x ``tiles`` mosaic."""
    work = folder / f"t{tiles}"
    work.mkdir()
    stack, polygons = tiled_inputs(work, tiles)
    points = qgis_run("landcovercnn:regularpoints", {
        "INPUT": polygons, "FIELD": "code", "REFERENCE": stack, "OUTPUT": work / "points.gpkg"}, work)
    n_points = int(points.results["POINTS"])
    runs = {
        "landcovercnn:samplepoints": qgis_run("landcovercnn:samplepoints", {
            "POINTS": work / "points.gpkg", "RASTER": stack, "LABEL": "code",
            "OUTPUT": work / "samples.csv"}, work),
        "landcovercnn:extractsamples": qgis_run("landcovercnn:extractsamples", {
            "RASTER": stack, "POLYGONS": polygons, "FIELD": "code", "OUTPUT": work / "extract.csv"}, work),
        "native:rastersampling": qgis_run("native:rastersampling", {
            "INPUT": work / "points.gpkg", "RASTERCOPY": stack, "COLUMN_PREFIX": "b",
            "OUTPUT": work / "native.gpkg"}, work),
    }
    same = (work / "samples.csv").read_bytes() == (work / "extract.csv").read_bytes()
    print(f"  {tiles}x{tiles} tiles: {n_points:,} points; samplepoints and extractsamples CSVs identical: "
          f"{same}", flush=True)
    runs["landcovercnn:regularpoints (makes the points)"] = points
    return {name: (n_points, run) for name, run in runs.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_sampling", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiles", type=int, default=4,
                        help="mosaic of N x N copies of the scene (default 4)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (printed)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="bench_sampling_"))
    try:
        small, large = measure(folder, 1), measure(folder, args.tiles)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    rows = []
    for name in large:
        (n_small, run_small), (n_large, run_large) = small[name], large[name]
        seconds = run_large.seconds - run_small.seconds
        rows.append({"algorithm": name, "points": n_large, "seconds": run_large.seconds,
                     "points_per_s": (n_large - n_small) / seconds if seconds > 0 else float("nan"),
                     "peak_mb_1_tile": run_small.peak_mb, "peak_mb_all": run_large.peak_mb})
    native = next(r["points_per_s"] for r in rows if r["algorithm"] == "native:rastersampling")
    points_rate = next(r["points_per_s"] for r in rows
                       if r["algorithm"].startswith("landcovercnn:regularpoints"))
    # End to end from polygons: extractsamples does what regularpoints + a point sampler do.
    rows.append({"algorithm": "regularpoints + native", "points": rows[0]["points"],
                 "seconds": sum(r["seconds"] for r in rows if r["algorithm"].startswith(
                     ("landcovercnn:regularpoints", "native:"))),
                 "points_per_s": 1 / (1 / points_rate + 1 / native),
                 "peak_mb_1_tile": float("nan"), "peak_mb_all": float("nan")})
    print(f"\nSampling {rows[0]['points']:,} points, 9 bands ({args.tiles}x{args.tiles} tiles of the "
          f"sample scene; points/s from the 1-tile vs {args.tiles}x{args.tiles} difference)")
    header = f"{'algorithm':<46} {'points':>10} {'wall s':>8} {'points/s':>11} {'x native':>9} " \
             f"{'peak MiB 1 tile':>16} {'peak MiB all':>13}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row['algorithm']:<46} {row['points']:>10,} {row['seconds']:>8.1f} "
              f"{row['points_per_s']:>11,.0f} {row['points_per_s'] / native:>9.1f} "
              f"{row['peak_mb_1_tile']:>16.0f} {row['peak_mb_all']:>13.0f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    if args.keep:
        print(f"work folder: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
