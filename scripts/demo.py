"""make demo: the whole workflow headless through qgis_process on sample_data/.

Writes into demo_output/ and prints a short results table. Each step is one
``qgis_process.bin run`` of a ``landcovercnn:`` algorithm, exactly as a user would
script it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QGIS_PROCESS = ROOT / "scripts" / "qgis_process.sh"
OUT = ROOT / "demo_output"


def run(algorithm: str, **params) -> dict:
    args = []
    for name, value in params.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            args.append(f"--{name}={item}")
    started = time.monotonic()
    print(f"\n== {algorithm}", flush=True)
    proc = subprocess.run([str(QGIS_PROCESS), "--json", "run", algorithm, *args],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"demo: {algorithm} failed (exit {proc.returncode})")
    results = json.loads(proc.stdout[proc.stdout.find("{"):])["results"]
    print(f"   done in {time.monotonic() - started:.1f} s", flush=True)
    return results


def main() -> int:
    OUT.mkdir(exist_ok=True)
    env = run("landcovercnn:checkenvironment")
    rows = [("TensorFlow", env["TENSORFLOW_VERSION"]), ("Keras", env["KERAS_VERSION"]),
            ("Worker Python", env["PYTHON_EXECUTABLE"]), ("Devices", env["DEVICES"])]
    width = max(len(k) for k, _ in rows)
    print("\nlandcover-cnn demo results")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    print(f"\nOutputs in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
