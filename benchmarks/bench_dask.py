"""Classification on a Dask cluster against this machine (issue 13).

The default model (``patch_cnn`` 7 x 7, what trainmodel picks with a stack) classifies a VRT mosaic
of the sample stack (about 100 megapixels) three times through the worker's classify job (exactly
what ``landcovercnn:classifyimage`` runs): on this machine, with ``--scheduler local:1`` and with
``--scheduler local:2``. For each run: pixels/s of the block loop (read, predict, write; the
cluster's start is a column of its own), the peak memory (VmHWM) of the client (the job process)
and of each Dask worker process, the scaling efficiency of local:2 against local:1 and the cluster's
overhead per block against this machine. From the measured per-core throughput: hours for Alberta
at 20 m (about 1.65 gigapixels) on 1, 16 and 64 one-core workers, capped by what the client can
write (its CPU time per pixel in the local:2 run).

    python -m benchmarks dask [--mpx 100] [--model patch_cnn] [--quick]

``--quick`` (a 1-megapixel mosaic, a model of one epoch) checks that the benchmark runs; its figures
say little about scaling. The mosaic is a VRT written in a temporary folder (no pixel copied).

Models are trained for a few epochs only: speed does not depend on accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_engine import tiled_vrt, train

ALBERTA_PIXELS = 1.65e9  # the province at 20 m
ALBERTA_WORKERS = (1, 16, 64)
SAMPLE_S = 0.25
QUICK_MPX = 1.0
ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "build" / "bench-models"  # trained once, reused (build/: not the sources)


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _status(pid: int) -> tuple[float, float, str]:
    """(VmHWM MiB, CPU seconds, command line) of a running process."""
    base = Path(f"/proc/{pid}")
    hwm = next(int(line.split()[1]) for line in (base / "status").read_text().splitlines()
               if line.startswith("VmHWM:")) / 1024
    fields = (base / "stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return hwm, cpu, (base / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


class PeakSampler(threading.Thread):
    """Samples VmHWM and CPU time of a process and its Dask worker processes until it ends."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.client: tuple[float, float] = (0.0, 0.0)
        self.workers: dict[int, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self.client = _status(self.pid)[:2]
            except (OSError, StopIteration):
                return
            for child in _descendants(self.pid):
                try:
                    hwm, _, command = _status(child)
                except (OSError, StopIteration):
                    continue
                if "spawn_main" in command:  # a Dask worker process (not the resource tracker)
                    self.workers[child] = max(hwm, self.workers.get(child, 0.0))
            time.sleep(SAMPLE_S)


def classify(raster: str, model: Path, output: Path, scheduler: str) -> dict[str, Any]:
    """The worker's classify job in a child: its result, wall time and the sampled peaks."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "build" / "plugins"), TF_CPP_MIN_LOG_LEVEL="2")
    command = [sys.executable, "-m", "landcover_cnn_plugin.worker", "classify", "--raster", raster,
               "--model", str(model), "--output", str(output), "--progress", "jsonl"]
    command += ["--scheduler", scheduler] if scheduler else []
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err, text=True, env=env)
        sampler = PeakSampler(proc.pid)
        sampler.start()
        proc.wait()
        sampler.done.set()
        sampler.join()
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        messages = [json.loads(line) for line in out.read().splitlines() if line.startswith("{")]
        stderr = err.read()
    results = [m["data"] for m in messages if m["type"] == "result"]
    if not results:
        errors = [m["message"] for m in messages if m["type"] == "error"]
        raise RuntimeError(f"classify {scheduler or 'here'} failed: {errors or stderr[-2000:]}")
    result = results[0]
    result.update(wall=wall, client_mib=sampler.client[0], client_cpu_s=sampler.client[1],
                  worker_mib=sorted(sampler.workers.values()))
    return result


def alberta_rows(per_core: float, efficiency: float, client_px_s: float) -> list[tuple[str, ...]]:
    """Projected hours for 1.65 gigapixels: workers x per-core rate x efficiency, capped by the client."""
    rows = []
    for workers in ALBERTA_WORKERS:
        rate = min(workers * per_core * (efficiency if workers > 1 else 1.0), client_px_s)
        rows.append((f"Alberta 20 m, {workers} workers (projected)", f"{ALBERTA_PIXELS / 1e6:,.0f}",
                     f"{rate:,.0f}", "-", "-", "-", f"{ALBERTA_PIXELS / rate / 3600:.1f} h"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks dask", description=__doc__)
    parser.add_argument("--mpx", type=float, default=100.0, help="size of the VRT mosaic (megapixels)")
    parser.add_argument("--model", default="patch_cnn", help="model type (default patch_cnn 7 x 7)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1-megapixel mosaic, one-epoch model")
    args = parser.parse_args(argv)
    if args.quick:
        args.mpx, args.epochs = QUICK_MPX, 1
    from lcnn_testing import reference_stack

    MODELS.mkdir(parents=True, exist_ok=True)
    model = train(args.model, MODELS / f"{args.model}_{args.epochs}epochs.lcnn", args.epochs)
    runs = {}
    with tempfile.TemporaryDirectory(prefix="lcnn-bench-dask-") as folder:
        mosaic = Path(folder) / f"mosaic_{args.mpx:g}mpx.vrt"
        width, height = tiled_vrt(str(reference_stack()), mosaic, args.mpx)
        for label, scheduler in (("this machine", ""), ("local:1", "local:1"), ("local:2", "local:2")):
            runs[label] = classify(str(mosaic), model, Path(folder) / f"map_{len(runs)}.tif", scheduler)
            print(label, {k: runs[label][k] for k in ("pixels_per_second", "seconds", "wall", "client_mib",
                                                       "worker_mib")}, flush=True)
    pixels = width * height
    single, one, two = runs["this machine"], runs["local:1"], runs["local:2"]
    efficiency = two["pixels_per_second"] / (2 * one["pixels_per_second"])
    n_blocks = one["n_blocks"]
    overhead_ms = 1000 * (one["seconds"] - single["seconds"]) / n_blocks
    per_core = two["pixels_per_second"] / 2  # local:2 gives each worker one core of two
    client_px_s = pixels / max(two["client_cpu_s"], 1e-9)
    rows = []
    for label, run in runs.items():
        workers = ", ".join(f"{m:,.0f}" for m in run["worker_mib"]) or "-"
        rows.append((f"{args.model} {label}", f"{pixels / 1e6:.1f}", f"{run['pixels_per_second']:,.0f}",
                     f"{run['client_mib']:,.0f}", workers, f"{run['wall'] - run['seconds']:.1f}",
                     f"{run['seconds']:.1f} s"))
    rows += alberta_rows(per_core, efficiency, client_px_s)
    header = ("run", "Mpx", "pixels/s", "client peak MiB", "worker peak MiB", "start s", "time")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print()
    for row in [header, *rows]:
        print("  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w)
                        for i, (v, w) in enumerate(zip(row, widths, strict=True))))
    print(f"\nmosaic {width} x {height} ({mosaic.name}), {n_blocks} blocks of {one['block_size']}; "
          f"cores: {os.cpu_count()}")
    print(f"scaling efficiency local:2 vs 2 x local:1: {efficiency:.2f}; cluster overhead per block "
          f"(local:1 vs this machine, block loop only): {overhead_ms:.0f} ms; client CPU per pixel "
          f"(local:2, its scheduler and start included: an upper bound): {1e6 / client_px_s:.3f} us, so "
          f"one client writes at least {client_px_s:,.0f} px/s")
    print("'start s': wall time outside the block loop (interpreter, model or cluster start, checks, "
          "code and model upload). Projection: per-core rate of local:2 x workers x efficiency, "
          "capped by the client.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
