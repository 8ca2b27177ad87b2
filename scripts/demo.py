"""make demo: the whole workflow headless through qgis_process on sample_data/.

Writes into demo_output/ only (the sample scene is copied there first) and prints a short
results table. Each step is one ``qgis_process.bin run`` of a ``landcovercnn:`` algorithm,
exactly as a user would script it.
"""

from __future__ import annotations

import json
import shutil
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


SAMPLE_DIR = ROOT / "sample_data" / "s2_brandenburg"
#: The study's nine Sentinel-2 bands, stacked at 20 m.
STUDY_BANDS = ["B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12"]


def prepare_data(out: Path = OUT) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The study's data preparation on the sample scene, step by step and in one step.

    Returns
    -------
    paths : dict
        ``polygons`` (the OSM polygons), ``stack`` (GeoTIFF), ``labels`` (class code raster),
        ``points`` (GeoPackage), ``samples`` (samples CSV of the step-by-step chain),
        ``samples_one_step`` (same rows, from extractsamples), plus ``label_field`` and
        ``name_field`` for the next steps.
    rows : list of (str, str)
        Lines for the results table.
    """
    # QGIS writes statistics (.aux.xml) beside the rasters it loads: the demo works on a copy of the
    # sample scene in its output folder, so that sample_data/ stays as committed.
    scene = out / "sample_scene"
    shutil.copytree(SAMPLE_DIR, scene, ignore=shutil.ignore_patterns("*.aux.xml"), dirs_exist_ok=True)
    polygons = str(scene / "osm_landuse_water.gpkg")
    bands = [str(scene / "IMG_DATA" / f"T33UUU_20170216T102101_{band}.jp2") for band in STUDY_BANDS]
    stack = run("landcovercnn:stackrasters", INPUT=bands, PIXEL_SIZE=20, OUTPUT=out / "stack_20m.tif")
    labels = run("landcovercnn:rasterizepolygons", INPUT=polygons, FIELD="code", REFERENCE=stack["OUTPUT"],
                 OUTPUT=out / "labels_20m.tif")
    points = run("landcovercnn:regularpoints", INPUT=polygons, FIELD="code", NAMES_FIELD="fclass",
                 REFERENCE=stack["OUTPUT"], OUTPUT=out / "points.gpkg")
    samples = run("landcovercnn:samplepoints", POINTS=points["OUTPUT"], RASTER=stack["OUTPUT"], LABEL="code",
                  NAMES_FIELD="fclass", OUTPUT=out / "samples.csv")
    one_step = run("landcovercnn:extractsamples", RASTER=stack["OUTPUT"], POLYGONS=polygons, FIELD="code",
                   NAMES_FIELD="fclass", OUTPUT=out / "samples_one_step.csv")
    identical = Path(samples["OUTPUT"]).read_bytes() == Path(one_step["OUTPUT"]).read_bytes()
    paths = {"polygons": polygons, "stack": stack["OUTPUT"], "labels": labels["OUTPUT"],
             "points": points["OUTPUT"], "samples": samples["OUTPUT"], "samples_one_step": one_step["OUTPUT"],
             "label_field": "code", "name_field": "fclass"}
    rows = [("Stack bands", stack["BAND_NAME_LIST"]),
            ("Labelled pixels", f"{labels['LABELLED_PIXELS']:,}"),
            ("Regular points", f"{points['POINTS']:,} in {points['POLYGONS_USED']} polygons"),
            ("Samples (chain)", f"{samples['SAMPLES']:,} ({samples['NODATA']} on nodata, "
                                f"{samples['OUTSIDE']} outside)"),
            ("Samples (one step)", f"{one_step['SAMPLES']:,}, identical rows: {identical}")]
    return paths, rows


def train_classify_assess(paths: dict[str, str], out: Path = OUT
                          ) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Train the default model on the samples, classify the stack, assess the map, draw a quick-look.

    ``DEMO_EPOCHS`` (environment) sets the epochs (default 0: each model's benchmarked number).
    """
    import os

    epochs = int(os.environ.get("DEMO_EPOCHS", "0"))
    # The default model ("Automatic") compares the per-pixel network, the random forest and, the
    # stack being given, the patch CNN on folds of the samples and trains the best (bench_folds).
    trained = run("landcovercnn:trainmodel", INPUT=paths["samples"], LABEL=paths["label_field"],
                  NAMES_FIELD=paths["name_field"], RASTER=paths["stack"], EPOCHS=epochs,
                  OUTPUT_MODEL=out / "model.lcnn", OUTPUT_REPORT=out / "training_report.html")
    classified = run("landcovercnn:classifyimage", INPUT=paths["stack"], MODEL=trained["OUTPUT_MODEL"],
                     OUTPUT=out / "landcover_map.tif", OUTPUT_CONFIDENCE=out / "confidence.tif")
    assessed = run("landcovercnn:assessaccuracy", INPUT=classified["OUTPUT"],
                   REFERENCE=paths["polygons"], FIELD=paths["label_field"],
                   OUTPUT_MATRIX=out / "confusion_matrix.csv", OUTPUT_REPORT=out / "accuracy_report.html")
    # The quick-look is drawn by matplotlib in a child process with the worker's Python (not in QGIS).
    quicklook = out / "landcover_map.png"
    python = ROOT / ".venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "landcover_cnn_plugin.core.quicklook", classified["OUTPUT"],
                    str(quicklook), "--title", "Land cover map, sample scene (Sentinel-2, 20 m)"],
                   check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT / "build" / "plugins"), "PYTHONSAFEPATH": "1"})
    outputs = {"model": trained["OUTPUT_MODEL"], "training_report": trained["OUTPUT_REPORT"],
               "map": classified["OUTPUT"], "confidence": classified["OUTPUT_CONFIDENCE"],
               "style": str(Path(classified["OUTPUT"]).with_suffix(".qml")),
               "confusion_matrix": assessed["OUTPUT_MATRIX"], "accuracy_report": assessed["OUTPUT_REPORT"],
               "quicklook": str(quicklook)}
    rows = [("Accuracy", "overall   kappa  macro F1"),
            ("  test polygons (held out)", f"{trained['OVERALL_ACCURACY']:7.3f} {trained['KAPPA']:7.3f} "
                                           f"{trained['MACRO_F1']:8.3f}"),
            ("  map vs all OSM polygons*", f"{assessed['OVERALL_ACCURACY']:7.3f} {assessed['KAPPA']:7.3f} "
                                           f"{assessed['MACRO_F1']:8.3f}")]
    return outputs, rows


def main() -> int:
    OUT.mkdir(exist_ok=True)
    env = run("landcovercnn:checkenvironment")
    rows = [("TensorFlow", env["TENSORFLOW_VERSION"]), ("Keras", env["KERAS_VERSION"]),
            ("Worker Python", env["PYTHON_EXECUTABLE"]), ("Devices", env["DEVICES"])]
    paths, data_rows = prepare_data(OUT)
    rows += data_rows
    outputs, accuracy_rows = train_classify_assess(paths, OUT)
    rows += accuracy_rows
    width = max(len(k) for k, _ in rows)
    print("\nlandcover-cnn demo results")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    print("  * includes the training polygons: optimistic; the held-out test figures are the honest ones")
    print(f"\nOutputs in {OUT} (samples CSV: {paths['samples']})")
    for key, value in outputs.items():
        print(f"  {key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
