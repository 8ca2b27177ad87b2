"""Helpers for the tests (importable as ``lcnn_testing``; no qgis, no TensorFlow)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = ROOT / "sample_data" / "s2_brandenburg"
IMG_DIR = SAMPLE_DIR / "IMG_DATA"
STUDY_BANDS = ["B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12"]


class RecordingReporter:
    """A ``core.progress.Reporter`` that keeps what it is told: progress values and log lines."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.logs: list[str] = []

    def progress(self, percent: float) -> None:
        self.values.append(percent)

    def log(self, message: str) -> None:
        self.logs.append(message)


def shared_data_dir() -> Path:
    """The shared real data: ``LANDCOVER_SHARED_DATA`` if set, else ``../shared/data`` beside the
    clone (CI puts it there); in a git worktree, beside the clone the worktree belongs to."""
    if os.environ.get("LANDCOVER_SHARED_DATA"):
        return Path(os.environ["LANDCOVER_SHARED_DATA"])
    candidates = [ROOT.parent / "shared" / "data"]
    git = ROOT / ".git"
    if git.is_file():  # a worktree: ".git" says "gitdir: <clone>/.git/worktrees/<name>"
        gitdir = Path(git.read_text(encoding="utf-8").split("gitdir:", 1)[1].strip())
        candidates.append(gitdir.parents[2].parent / "shared" / "data")
    found = next((path for path in candidates if path.is_dir()), None)
    if found is None:
        raise FileNotFoundError(f"the shared real data is missing: looked in {[str(c) for c in candidates]}; "
                                "put the shared data folder beside the clone (../shared/data).")
    return found


def berlin_dir() -> Path:
    """The Berlin-Urban-Gradient subset (HyMap 3.6 m, 6 urban classes; see its README)."""
    return shared_data_dir() / "berlin_urban_gradient"


#: The Berlin class-wise layer: one MultiPolygon feature per class, Level_2_ID codes 1..6.
BERLIN_CLASSES = {1: "Roof", 2: "Pavement", 3: "Low vegetation", 4: "Tree", 5: "Soil", 6: "Other"}


def band_path(band: str) -> Path:
    return IMG_DIR / f"T33UUU_20170216T102101_{band}.jp2"


@dataclass
class ProcessResult:
    returncode: int
    stdout: str
    stderr: str
    json: dict[str, Any] | None

    @property
    def results(self) -> dict[str, Any]:
        assert self.json is not None, f"no JSON from qgis_process:\n{self.stdout}\n{self.stderr}"
        return self.json["results"]

    @property
    def text(self) -> str:
        return self.stdout + "\n" + self.stderr


class QgisProcessRunner:
    """Runs the real ``qgis_process.bin`` through ``scripts/qgis_process.sh`` (or ``script``), in
    this process's environment or in ``environment`` (a user's, without the test settings)."""

    def __init__(self, script: Path | str, environment: dict[str, str] | None = None) -> None:
        self.script = script
        self.environment = environment

    def __call__(self, *args: str, timeout: float = 600, env: dict[str, str] | None = None,
                 ) -> subprocess.CompletedProcess:
        full_env = dict(os.environ if self.environment is None else self.environment)
        full_env.update(env or {})
        return subprocess.run([str(self.script), *args], capture_output=True, text=True,
                              timeout=timeout, env=full_env)

    @staticmethod
    def parameters(params: dict[str, Any]) -> list[str]:
        """``{"INPUT": ["a", "b"], "X": 1}`` -> ``["--INPUT=a", "--INPUT=b", "--X=1"]``."""
        args = []
        for name, value in params.items():
            values = value if isinstance(value, list | tuple) else [value]
            args += [f"--{name}={v}" for v in values]
        return args

    def run(self, algorithm: str, params: dict[str, Any], timeout: float = 600,
            env: dict[str, str] | None = None) -> ProcessResult:
        proc = self("--json", "run", algorithm, *self.parameters(params), timeout=timeout, env=env)
        data = None
        start = proc.stdout.find("{")
        if start >= 0:
            try:
                data = json.loads(proc.stdout[start:])
            except json.JSONDecodeError:
                data = None
        return ProcessResult(proc.returncode, proc.stdout, proc.stderr, data)


# --- Independent reference data, built with plain GDAL (no plugin code) -------------------------
# The study grid: the Sentinel-2 20 m bands' grid of the sample tile.
STUDY_GRID = {"xmin": 330000.0, "ymin": 5814360.0, "xmax": 345360.0, "ymax": 5822040.0,
              "pixel_size": 20.0, "width": 768, "height": 384, "epsg": 32633}
OSM_CODES = [7201, 7203, 7205, 7208, 7217, 7218, 8200, 8221]
#: Patch size of the patch families in the core tests' shared trainings (tests/core/conftest.py):
#: small, for speed, with a halo of 2.
FAMILY_PATCH_SIZE = 5
CACHE_DIR = ROOT / "build" / "test-cache"
#: The second real data set's image and polygons, in berlin_dir().
BERLIN_IMAGE_NAME = "hymap_berlin_3.6m_4band.tif"
BERLIN_POLYGONS_NAME = "landcover_berlin_polygons.gpkg"
BERLIN_CODES = [1, 2, 3, 4, 5, 6]


def _rasterize_sql(path: Path, **options) -> None:
    """gdal.Rasterize with an SQLite-dialect statement, never in a process that loaded TensorFlow.

    TensorFlow ships its own SQLite symbols; GDAL's SQLite dialect in the same process then
    crashes (segmentation fault). Such a caller gets the rasterization done in a child process.
    """
    import sys

    if "tensorflow" not in sys.modules:
        from osgeo import gdal

        gdal.Rasterize(str(path), **options)
        return
    code = ("import json, sys; from osgeo import gdal; gdal.UseExceptions(); "
            "gdal.Rasterize(sys.argv[1], **json.loads(sys.argv[2]))")
    subprocess.run(["/usr/bin/python3", "-c", code, str(path), json.dumps(options)], check=True)


def _rasterize_osm(path: Path, attribute: str, output_type: int, columns: str) -> None:
    """An attribute of the OSM polygons burnt on the study grid, pixel-centre rule: the polygons
    are ordered largest first (equal areas: higher fid first), so the smallest is burnt last."""
    g = STUDY_GRID
    _rasterize_sql(
        path, srcDS=str(SAMPLE_DIR / "osm_landuse_water.gpkg"), format="GTiff", outputType=output_type,
        outputBounds=(g["xmin"], g["ymin"], g["xmax"], g["ymax"]), xRes=g["pixel_size"],
        yRes=g["pixel_size"], initValues=0, attribute=attribute,
        SQLStatement=f"SELECT {columns} FROM osm_landuse_water ORDER BY ST_Area(geom) DESC, fid DESC",
        SQLDialect="SQLITE")


def _cached(name: str, build) -> Path:
    """Build a file once into build/test-cache (atomic rename: parallel sessions may race)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    target = CACHE_DIR / name
    if not target.exists():
        tmp = CACHE_DIR / f".{target.stem}.{os.getpid()}{target.suffix}"
        build(tmp)
        os.replace(tmp, target)
    return target


def reference_stack() -> Path:
    """The study's nine bands at 20 m as one GeoTIFF, by gdal.Warp (average) band by band."""
    from osgeo import gdal

    def build(path: Path) -> None:
        g = STUDY_GRID
        arrays = []
        for band in STUDY_BANDS:
            ds = gdal.Warp("", str(band_path(band)), format="MEM",
                           outputBounds=(g["xmin"], g["ymin"], g["xmax"], g["ymax"]),
                           xRes=g["pixel_size"], yRes=g["pixel_size"], resampleAlg="average")
            arrays.append(ds.ReadAsArray())
            geotransform, projection = ds.GetGeoTransform(), ds.GetProjection()
        out = gdal.GetDriverByName("GTiff").Create(str(path), g["width"], g["height"], len(arrays),
                                                   gdal.GDT_UInt16)
        out.SetGeoTransform(geotransform)
        out.SetProjection(projection)
        for index, (band, array) in enumerate(zip(STUDY_BANDS, arrays, strict=True), start=1):
            out.GetRasterBand(index).WriteArray(array)
            out.GetRasterBand(index).SetDescription(band)
        out = None

    return _cached("reference_stack_20m.tif", build)


def reference_labels() -> Path:
    """OSM ``code`` rasterized on the study grid, pixel-centre rule, the smallest polygon winning.

    Independent of the plugin: OGR's SQLite dialect orders the polygons by area, largest
    first (equal areas: higher fid first), so that gdal.Rasterize burns the winner last.
    """
    from osgeo import gdal

    def build(path: Path) -> None:
        _rasterize_osm(path, "code", gdal.GDT_UInt16, "*")

    return _cached("reference_labels_20m_v2.tif", build)


# --- Samples table of every labelled pixel (for the core ML tests and benchmarks) ----------------
def reference_polygon_ids() -> Path:
    """The OSM polygons' fid rasterized on the study grid with the same rule as reference_labels()."""
    from osgeo import gdal

    def build(path: Path) -> None:
        _rasterize_osm(path, "polygon_id", gdal.GDT_Int32, "CAST(fid AS INTEGER) + 0 AS polygon_id, geom")

    return _cached("reference_polygon_ids_20m_v2.tif", build)


def reference_samples_csv() -> Path:
    """A samples CSV (DESIGN.md layout) of every labelled pixel of the study grid.

    Columns ``X,Y,B03,...,B12,code,fclass,polygon_id,Latitude,Longitude``; rows ordered by
    polygon_id, row, col. Built from reference_stack(), reference_labels() and
    reference_polygon_ids() with GDAL/OGR and numpy only; cached in build/test-cache.
    """
    import csv

    import numpy as np
    from osgeo import gdal, ogr, osr

    def build(path: Path) -> None:
        stack = gdal.Open(str(reference_stack()))
        values = stack.ReadAsArray()  # (bands, rows, cols) uint16
        codes = gdal.Open(str(reference_labels())).ReadAsArray()
        fids = gdal.Open(str(reference_polygon_ids())).ReadAsArray()
        source = ogr.Open(str(SAMPLE_DIR / "osm_landuse_water.gpkg"))
        layer = source.GetLayer("osm_landuse_water")
        attributes = {f.GetFID(): (int(f.GetField("code")), f.GetField("fclass")) for f in layer}
        rows, cols = np.nonzero(codes > 0)
        order = np.lexsort((cols, rows, fids[rows, cols]))
        rows, cols = rows[order], cols[order]
        x0, dx, _, y0, _, dy = stack.GetGeoTransform()
        xs, ys = x0 + (cols + 0.5) * dx, y0 + (rows + 0.5) * dy
        utm = osr.SpatialReference()
        utm.ImportFromEPSG(STUDY_GRID["epsg"])
        wgs84 = osr.SpatialReference()
        wgs84.ImportFromEPSG(4326)
        wgs84.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        utm.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        lonlat = osr.CoordinateTransformation(utm, wgs84).TransformPoints(
            np.column_stack([xs, ys]).tolist())
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["X", "Y", *STUDY_BANDS, "code", "fclass", "polygon_id", "Latitude",
                             "Longitude"])
            for i, (r, c) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
                fid = int(fids[r, c])
                code, fclass = attributes[fid]
                assert code == int(codes[r, c]), "labels and polygon ids disagree"
                writer.writerow([f"{xs[i]:.1f}", f"{ys[i]:.1f}", *values[:, r, c].tolist(), code, fclass,
                                 fid, f"{lonlat[i][1]:.7f}", f"{lonlat[i][0]:.7f}"])

    return _cached("reference_samples_20m_v2.csv", build)


_SAMPLES_FRAME = None


def reference_samples_frame():
    """reference_samples_csv() as a pandas DataFrame (read once per process; copy before editing)."""
    global _SAMPLES_FRAME
    if _SAMPLES_FRAME is None:
        import pandas as pd

        _SAMPLES_FRAME = pd.read_csv(reference_samples_csv())
    return _SAMPLES_FRAME


def berlin_samples_csv(step: int = 1) -> Path:
    """A samples CSV of the Berlin HyMap scene: every ``step``-th pixel whose centre lies in a polygon.

    Columns ``X,Y,<the 4 band descriptions>,class_id,class_name,polygon_id`` (the polygons' fid, the
    smallest polygon winning as in reference_labels()); pixels with a nodata band (-99) left out.
    Built with GDAL/OGR and numpy only; cached in build/test-cache.
    """
    import csv

    import numpy as np
    from osgeo import gdal, ogr

    berlin_image, berlin_polygons = berlin_dir() / BERLIN_IMAGE_NAME, berlin_dir() / BERLIN_POLYGONS_NAME

    def build(path: Path) -> None:
        image = gdal.Open(str(berlin_image))
        x0, dx, _, y0, _, dy = image.GetGeoTransform()
        fids_path = path.with_suffix(".fids.tif")
        _rasterize_sql(fids_path, srcDS=str(berlin_polygons), format="GTiff", outputType=gdal.GDT_Int32,
                       outputBounds=(x0, y0 + dy * image.RasterYSize, x0 + dx * image.RasterXSize, y0),
                       width=image.RasterXSize, height=image.RasterYSize, initValues=-1, attribute="burn",
                       SQLStatement="SELECT CAST(fid AS INTEGER) + 0 AS burn, geom FROM landcover "
                                    "ORDER BY ST_Area(geom) DESC, fid DESC", SQLDialect="SQLITE")
        fids = gdal.Open(str(fids_path)).ReadAsArray()
        os.remove(fids_path)
        values = image.ReadAsArray()
        names = [image.GetRasterBand(i + 1).GetDescription() for i in range(image.RasterCount)]
        source = ogr.Open(str(berlin_polygons))
        classes = {f.GetFID(): (int(f.GetField("class_id")), f.GetField("class_name"))
                   for f in source.GetLayer("landcover")}
        rows, cols = np.nonzero((fids >= 0) & (values != -99).all(axis=0))
        order = np.lexsort((cols, rows, fids[rows, cols]))[::step]
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["X", "Y", *names, "class_id", "class_name", "polygon_id"])
            for r, c in zip(rows[order].tolist(), cols[order].tolist(), strict=True):
                fid = int(fids[r, c])
                writer.writerow([f"{x0 + (c + 0.5) * dx:.2f}", f"{y0 + (r + 0.5) * dy:.2f}",
                                 *values[:, r, c].tolist(), *classes[fid], fid])

    return _cached(f"berlin_samples_v1_every{step}.csv", build)


# --- A small, really trained model file (for classification tests; imports TensorFlow) ----------
def train_small_model(path: Path, epochs: int = 3, n_samples: int = 6000, seed: int = 7) -> Path:
    """Train a study_mlp for a few epochs on real labelled pixels and save it as a .lcnn file.

    Uses the core's network builder, scaler, metrics and model file only (no training
    protocol): classification and report tests need a real model, not a good one. The
    metadata holds the history and metrics on 2000 other (randomly chosen) pixels.
    Needs TensorFlow (tests/core).
    """
    # The GDAL references first: their SQLite-dialect rasterizing must not follow a TensorFlow import.
    frame = reference_samples_frame().sample(n=n_samples + 2000, random_state=seed)
    import keras
    import numpy as np

    from landcover_cnn_plugin.core.legend import ClassLegend
    from landcover_cnn_plugin.core.metrics import compute_metrics
    from landcover_cnn_plugin.core.model_file import save_model_file
    from landcover_cnn_plugin.core.models import FAMILIES
    from landcover_cnn_plugin.core.scaling import ZScoreScaler

    keras.utils.set_random_seed(seed)
    train, test = frame.iloc[:n_samples], frame.iloc[n_samples:]
    features = train[STUDY_BANDS].to_numpy(np.float32)
    names = dict(zip(frame["code"], frame["fclass"], strict=False))
    legend = ClassLegend(sorted(names), names)
    scaler = ZScoreScaler().fit(features)
    ids = legend.ids_from_codes(train["code"].to_numpy())
    network = FAMILIES["study_mlp"].compiled_network(len(STUDY_BANDS), legend.n_classes)
    fitted = network.fit(scaler.transform(features), keras.utils.to_categorical(ids, legend.n_classes),
                         epochs=epochs, batch_size=256, verbose=0, validation_split=0.2)
    probabilities = network.predict(scaler.transform(test[STUDY_BANDS].to_numpy(np.float32)), verbose=0)
    predicted = legend.codes_from_ids(probabilities.argmax(axis=1))
    metrics = compute_metrics(test["code"].to_numpy(), predicted, legend)

    def counts(part) -> dict[str, int]:
        return {str(k): int(v) for k, v in part["code"].value_counts().sort_index().items()}

    n_fit = int(round(n_samples * 0.8))
    metadata = {"model_type": "study_mlp", "feature_names": list(STUDY_BANDS), "patch_size": 1,
                "scaler": scaler.to_dict(), "legend": legend.to_dict(),
                "training": {"epochs": epochs, "batch_size": 256, "seed": seed, "balance": "none",
                             "samples": "reference_samples_20m.csv", "label": "code"},
                "split": {"protocol": "random", "group_column": None, "test_fraction": 0.25,
                          "counts": {"train": counts(train.iloc[:n_fit]),
                                     "validation": counts(train.iloc[n_fit:]), "test": counts(test)}},
                "metrics": metrics,
                "history": {k: [float(x) for x in v] for k, v in fitted.history.items()}}
    save_model_file(path, network, metadata)
    return Path(path)


def reference_samples_subset_csv(step: int = 6) -> Path:
    """Every ``step``-th row of reference_samples_csv() (all polygons kept): small, quick trainings."""
    def build(path: Path) -> None:
        reference_samples_frame().iloc[::step].to_csv(path, index=False)

    return _cached(f"reference_samples_20m_v2_every{step}.csv", build)


# --- Data preparation references (DESIGN.md overlap rule, ties included) -------------------------
def reference_rasterize(vector: Path, layer: str, burn_sql: str, name: str, geometry: str = "geom") -> Path:
    """``burn_sql`` (an SQL expression of ``layer``) rasterized on the study grid with plain GDAL.

    Pixel-centre rule; the smallest polygon wins and, like reference_labels(), equal areas go
    to the **lower** fid as DESIGN.md says (OGR's SQLite dialect sorts by area, largest first,
    then by fid descending, so the winner is burnt last). Int32, 0 = no polygon.
    """
    from osgeo import gdal

    def build(path: Path) -> None:
        g = STUDY_GRID
        _rasterize_sql(
            path, srcDS=str(vector), format="GTiff", outputType=gdal.GDT_Int32,
            outputBounds=(g["xmin"], g["ymin"], g["xmax"], g["ymax"]), xRes=g["pixel_size"],
            yRes=g["pixel_size"], initValues=0, attribute="burn",
            SQLStatement=f"SELECT CAST({burn_sql} AS INTEGER) + 0 AS burn, {geometry} FROM {layer} "
                         f"ORDER BY ST_Area({geometry}) DESC, fid DESC",
            SQLDialect="SQLITE")

    return _cached(f"reference_{name}_20m.tif", build)


def read_samples_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a samples CSV as text (no pandas: usable in the QGIS test process)."""
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def small_model_file() -> Path:
    """train_small_model(epochs=4) cached in build/test-cache (shared by the core, cli and qgis tests).

    Trains in a child process with the project's .venv Python, so that it can be called from the
    in-process QGIS tests too (TensorFlow never enters the calling process).
    """
    import sys as _sys

    def build(path: Path) -> None:
        code = ("import sys; from lcnn_testing import train_small_model; "
                "train_small_model(sys.argv[1], epochs=4)")
        env = dict(os.environ, PYTHONPATH=f"{ROOT / 'build' / 'plugins'}{os.pathsep}{ROOT / 'tests'}",
                   PYTHONSAFEPATH="1", TF_CPP_MIN_LOG_LEVEL="2")
        env.pop("PYTHONHOME", None)
        proc = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", code, str(path)], env=env,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            _sys.stderr.write(proc.stderr[-3000:])
            raise RuntimeError("training the small test model failed")

    return _cached("small_study_mlp_format1.lcnn", build)


def rewrite_model_file(source: Path, target: Path, without_graph: bool = False, **metadata_changes: Any
                       ) -> Path:
    """A copy of the model file ``source`` with entries of its metadata replaced.

    ``without_graph``: also drop its ONNX graph (``model.onnx``); with no ``metadata_changes`` it
    then becomes a model file of format 2, as they were before the graph (no "onnx" entry).
    """
    import zipfile

    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            if without_graph and item.filename == "model.onnx":
                continue
            data = old.read(item.filename)
            if item.filename == "metadata.json":
                metadata = json.loads(data)
                if without_graph and not metadata_changes:
                    metadata.pop("onnx", None)
                    metadata["format_version"] = 2
                metadata.update(metadata_changes)
                data = json.dumps(metadata).encode()
            new.writestr(item, data)
    return Path(target)
