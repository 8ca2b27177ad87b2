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
    """Runs the real ``qgis_process.bin`` through ``scripts/qgis_process.sh``."""

    def __init__(self, script: Path) -> None:
        self.script = script

    def __call__(self, *args: str, timeout: float = 600, env: dict[str, str] | None = None,
                 ) -> subprocess.CompletedProcess:
        full_env = dict(os.environ)
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
CACHE_DIR = ROOT / "build" / "test-cache"


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
    first, so that gdal.Rasterize burns the smallest last.
    """
    from osgeo import gdal

    def build(path: Path) -> None:
        g = STUDY_GRID
        gdal.Rasterize(
            str(path), str(SAMPLE_DIR / "osm_landuse_water.gpkg"), format="GTiff",
            outputType=gdal.GDT_UInt16, outputBounds=(g["xmin"], g["ymin"], g["xmax"], g["ymax"]),
            xRes=g["pixel_size"], yRes=g["pixel_size"], initValues=0, attribute="code",
            SQLStatement="SELECT * FROM osm_landuse_water ORDER BY ST_Area(geom) DESC, fid ASC",
            SQLDialect="SQLITE")

    return _cached("reference_labels_20m.tif", build)
