"""The bad-input catalogue (issue 6) through the real qgis_process.bin.

One table of cases, one test: every case must end with a message that names the parameter
and says what to do, no traceback, no output file (not even an empty or partial one), and
inputs with their bytes, modification times and folders unchanged.

Inputs are copies of the real sample data (and files made from them with GDAL/OGR) in a
folder of their own, so that a side-car written next to an input (.aux.xml, -wal) shows up.
All cases run once, three qgis_process at a time, in a module fixture; the test then checks
each case's outcome.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from reliability import FileState, file_state, files_under, small_model, small_samples_csv

from lcnn_testing import SAMPLE_DIR, ProcessResult, reference_stack, rewrite_model_file

gdal.UseExceptions()
TRAIN_FAST = {"EPOCHS": 2, "PATIENCE": 1, "BATCH_SIZE": 256, "MODEL_TYPE": 1}


@dataclass(frozen=True)
class BadInput:
    """One bad input: the algorithm, its parameters (``{in}``/``{out}`` are replaced by the
    inputs and the case's output folder), the parameter the message must name and words
    saying what to do (all must appear, case-insensitive)."""

    case_id: str
    issue_item: int
    algorithm: str
    parameters: dict[str, str | int | float]
    parameter: str
    hints: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    output_folder: str = ""  # "missing": outputs go to a folder that does not exist; "readonly"


CASES = [
    # 1. class field missing
    BadInput("field-missing-extract", 1, "landcovercnn:extractsamples",
             {"RASTER": "{in}/stack.tif", "POLYGONS": "{in}/polygons.gpkg", "FIELD": "klasse",
              "OUTPUT": "{out}/samples.csv"}, "FIELD", ("no field 'klasse'", "choose")),
    BadInput("field-missing-rasterize", 1, "landcovercnn:rasterizepolygons",
             {"INPUT": "{in}/polygons.gpkg", "FIELD": "klasse", "REFERENCE": "{in}/stack.tif",
              "OUTPUT": "{out}/labels.tif"}, "FIELD", ("no field 'klasse'", "choose")),
    # 2. class field is text or float
    BadInput("field-text-extract", 2, "landcovercnn:extractsamples",
             {"RASTER": "{in}/stack.tif", "POLYGONS": "{in}/polygons.gpkg", "FIELD": "fclass",
              "OUTPUT": "{out}/samples.csv"}, "FIELD", ("not integer", "refactor fields")),
    BadInput("field-float-rasterize", 2, "landcovercnn:rasterizepolygons",
             {"INPUT": "{in}/polygons_float.gpkg", "FIELD": "code", "REFERENCE": "{in}/stack.tif",
              "OUTPUT": "{out}/labels.tif"}, "FIELD", ("not integer", "refactor fields")),
    BadInput("field-text-regularpoints", 2, "landcovercnn:regularpoints",
             {"INPUT": "{in}/polygons.gpkg", "FIELD": "fclass", "REFERENCE": "{in}/stack.tif",
              "OUTPUT": "{out}/points.gpkg"}, "FIELD", ("not integer", "refactor fields")),
    # 3. polygon layer empty
    BadInput("polygons-empty-extract", 3, "landcovercnn:extractsamples",
             {"RASTER": "{in}/stack.tif", "POLYGONS": "{in}/polygons_empty.gpkg", "FIELD": "code",
              "OUTPUT": "{out}/samples.csv"}, "POLYGONS", ("no features", "choose")),
    BadInput("polygons-empty-regularpoints", 3, "landcovercnn:regularpoints",
             {"INPUT": "{in}/polygons_empty.gpkg", "FIELD": "code", "REFERENCE": "{in}/stack.tif",
              "OUTPUT": "{out}/points.gpkg"}, "INPUT", ("no features", "choose")),
    # 4. polygons entirely outside the raster
    BadInput("polygons-outside-extract", 4, "landcovercnn:extractsamples",
             {"RASTER": "{in}/stack.tif", "POLYGONS": "{in}/polygons_far.gpkg", "FIELD": "code",
              "OUTPUT": "{out}/samples.csv"}, "POLYGONS", ("overlaps", "same area")),
    BadInput("polygons-outside-rasterize", 4, "landcovercnn:rasterizepolygons",
             {"INPUT": "{in}/polygons_far.gpkg", "FIELD": "code", "REFERENCE": "{in}/stack.tif",
              "OUTPUT": "{out}/labels.tif"}, "INPUT", ("overlaps", "same area")),
    # 5. raster without CRS
    BadInput("raster-no-crs-extract", 5, "landcovercnn:extractsamples",
             {"RASTER": "{in}/stack_nocrs.tif", "POLYGONS": "{in}/polygons.gpkg", "FIELD": "code",
              "OUTPUT": "{out}/samples.csv"}, "RASTER", ("no coordinate reference system", "assign")),
    BadInput("raster-no-crs-rasterize", 5, "landcovercnn:rasterizepolygons",
             {"INPUT": "{in}/polygons.gpkg", "FIELD": "code", "REFERENCE": "{in}/stack_nocrs.tif",
              "OUTPUT": "{out}/labels.tif"}, "REFERENCE", ("no coordinate reference system", "assign")),
    BadInput("raster-no-crs-stack", 5, "landcovercnn:stackrasters",
             {"INPUT": "{in}/stack_nocrs.tif", "PIXEL_SIZE": 20, "OUTPUT": "{out}/stacked.tif"},
             "INPUT", ("coordinate reference system", "assign")),
    # 6. samples without the label column, or with a non-numeric band column
    BadInput("csv-no-label", 6, "landcovercnn:trainmodel",
             {"INPUT": "{in}/samples_nolabel.csv", **TRAIN_FAST, "OUTPUT_MODEL": "{out}/model.lcnn",
              "OUTPUT_REPORT": "{out}/report.html"}, "LABEL", ("no column 'code'", "class codes")),
    BadInput("csv-text-band", 6, "landcovercnn:trainmodel",
             {"INPUT": "{in}/samples_textband.csv", **TRAIN_FAST, "OUTPUT_MODEL": "{out}/model.lcnn",
              "OUTPUT_REPORT": "{out}/report.html"}, "FEATURES", ("'B04'", "non-numeric", "fix or remove")),
    # 7. a class with fewer than 2 samples
    BadInput("csv-rare-class", 7, "landcovercnn:trainmodel",
             {"INPUT": "{in}/samples_rare.csv", **TRAIN_FAST, "OUTPUT_MODEL": "{out}/model.lcnn",
              "OUTPUT_REPORT": "{out}/report.html"}, "LABEL", ("8221", "fewer than 2", "merge")),
    # 8. only one class
    BadInput("csv-one-class", 8, "landcovercnn:trainmodel",
             {"INPUT": "{in}/samples_oneclass.csv", **TRAIN_FAST, "OUTPUT_MODEL": "{out}/model.lcnn",
              "OUTPUT_REPORT": "{out}/report.html"}, "LABEL", ("at least 2 classes",)),
    # 9. NaN values: dropped and counted, never trained on (here the drop leaves water with 1 sample)
    BadInput("csv-nan-rows", 9, "landcovercnn:trainmodel",
             {"INPUT": "{in}/samples_nan.csv", **TRAIN_FAST, "OUTPUT_MODEL": "{out}/model.lcnn",
              "OUTPUT_REPORT": "{out}/report.html"}, "LABEL", ("8200", "fewer than 2", "after dropping")),
    # 10. model file that is not a model, truncated, or of a newer format version
    BadInput("model-random-bytes", 10, "landcovercnn:classifyimage",
             {"INPUT": "{in}/stack.tif", "MODEL": "{in}/model_random.lcnn", "OUTPUT": "{out}/map.tif"},
             "MODEL", ("not a usable", "train land cover model")),
    BadInput("model-renamed-geotiff", 10, "landcovercnn:classifyimage",
             {"INPUT": "{in}/stack.tif", "MODEL": "{in}/model_geotiff.lcnn", "OUTPUT": "{out}/map.tif"},
             "MODEL", ("not a usable", "train land cover model")),
    BadInput("model-truncated", 10, "landcovercnn:classifyimage",
             {"INPUT": "{in}/stack.tif", "MODEL": "{in}/model_truncated.lcnn", "OUTPUT": "{out}/map.tif"},
             "MODEL", ("not a usable", "train land cover model")),
    BadInput("model-newer-format", 10, "landcovercnn:classifyimage",
             {"INPUT": "{in}/stack.tif", "MODEL": "{in}/model_newer.lcnn", "OUTPUT": "{out}/map.tif"},
             "MODEL", ("newer", "update")),
    BadInput("model-without-onnx-graph", 10, "landcovercnn:classifyimage",
             {"INPUT": "{in}/stack.tif", "MODEL": "{in}/model_format2.lcnn", "OUTPUT": "{out}/map.tif",
              "ENGINE": 2}, "ENGINE", ("format version 2", "engine TensorFlow", "train the model again")),
    BadInput("export-not-onnx", 10, "landcovercnn:exportmodel",
             {"MODEL": "{in}/model.lcnn", "OUTPUT": "{out}/model.tif"}, "OUTPUT", (".onnx",)),
    BadInput("export-tile-too-small", 14, "landcovercnn:exportmodel",
             {"MODEL": "{in}/model.lcnn", "FORMAT": 1, "TILE_SIZE": 8, "OUTPUT": "{out}/model.onnx"},
             "TILE_SIZE", ("8", "minimum 16")),
    # 11. raster whose band names or band count do not match the model
    BadInput("raster-three-bands", 11, "landcovercnn:classifyimage",
             {"INPUT": "{in}/stack_3bands.tif", "MODEL": "{in}/model.lcnn", "OUTPUT": "{out}/map.tif"},
             "INPUT", ("B08", "stack")),
    BadInput("raster-unnamed-bands", 11, "landcovercnn:classifyimage",
             {"INPUT": "{in}/stack_unnamed.tif", "MODEL": "{in}/model.lcnn", "OUTPUT": "{out}/map.tif"},
             "INPUT", ("B03", "stack")),
    # 12. output in a folder that does not exist or is not writable
    BadInput("output-folder-missing-classify", 12, "landcovercnn:classifyimage",
             {"INPUT": "{in}/stack.tif", "MODEL": "{in}/model.lcnn", "OUTPUT": "{out}/map.tif"},
             "OUTPUT", ("does not exist", "create it"), output_folder="missing"),
    BadInput("output-folder-missing-extract", 12, "landcovercnn:extractsamples",
             {"RASTER": "{in}/stack.tif", "POLYGONS": "{in}/polygons.gpkg", "FIELD": "code",
              "OUTPUT": "{out}/samples.csv"}, "OUTPUT", ("does not exist", "create it"),
             output_folder="missing"),
    BadInput("output-folder-readonly-train", 12, "landcovercnn:trainmodel",
             {"INPUT": "{in}/samples.csv", **TRAIN_FAST, "OUTPUT_MODEL": "{out}/model.lcnn"},
             "OUTPUT_MODEL", ("not writable", "choose"), output_folder="readonly"),
    BadInput("output-folder-readonly-stack", 12, "landcovercnn:stackrasters",
             {"INPUT": "{in}/stack.tif", "PIXEL_SIZE": 20, "OUTPUT": "{out}/stacked.tif"},
             "OUTPUT", ("not writable", "choose"), output_folder="readonly"),
    # 13. worker interpreter missing, or without TensorFlow
    BadInput("python-missing-classify", 13, "landcovercnn:classifyimage",
             {"INPUT": "{in}/stack.tif", "MODEL": "{in}/model.lcnn", "OUTPUT": "{out}/map.tif"},
             "PYTHON", ("does not exist", "Install TensorFlow environment", "LANDCOVER_CNN_PYTHON"),
             env={"LANDCOVER_CNN_PYTHON": "/opt/no-such-python/bin/python3"}),
    BadInput("python-without-tensorflow-train", 13, "landcovercnn:trainmodel",
             {"INPUT": "{in}/samples.csv", **TRAIN_FAST, "OUTPUT_MODEL": "{out}/model.lcnn",
              "OUTPUT_REPORT": "{out}/report.html"},
             "PYTHON", ("/usr/bin/python3", "tensorflow", "Install TensorFlow environment",
                        "LANDCOVER_CNN_PYTHON"),
             env={"LANDCOVER_CNN_PYTHON": "/usr/bin/python3"}),
    # 14. negative EPOCHS (0 = the model's benchmarked number), negative sizes, TEST_FRACTION outside (0, 1)
    BadInput("epochs-negative", 14, "landcovercnn:trainmodel",
             {"INPUT": "{in}/samples.csv", **TRAIN_FAST, "EPOCHS": -1, "OUTPUT_MODEL": "{out}/model.lcnn"},
             "EPOCHS", ("below the minimum 0", "at least 0")),
    BadInput("batch-size-negative", 14, "landcovercnn:trainmodel",
             {"INPUT": "{in}/samples.csv", **TRAIN_FAST, "BATCH_SIZE": -5,
              "OUTPUT_MODEL": "{out}/model.lcnn"}, "BATCH_SIZE", ("-5", "at least 1")),
    BadInput("test-fraction-above-one", 14, "landcovercnn:trainmodel",
             {"INPUT": "{in}/samples.csv", **TRAIN_FAST, "TEST_FRACTION": 1.5,
              "OUTPUT_MODEL": "{out}/model.lcnn"}, "TEST_FRACTION", ("1.5", "from 0.05 to 0.5")),
    BadInput("test-fraction-zero", 14, "landcovercnn:trainmodel",
             {"INPUT": "{in}/samples.csv", **TRAIN_FAST, "TEST_FRACTION": 0,
              "OUTPUT_MODEL": "{out}/model.lcnn"}, "TEST_FRACTION", ("below the minimum", "0.05")),
    BadInput("pixel-size-negative", 14, "landcovercnn:stackrasters",
             {"INPUT": "{in}/stack.tif", "PIXEL_SIZE": -20, "OUTPUT": "{out}/stacked.tif"},
             "PIXEL_SIZE", ("-20", "positive")),
    # 15. a raster that is nodata everywhere
    BadInput("raster-all-nodata-classify", 15, "landcovercnn:classifyimage",
             {"INPUT": "{in}/stack_nodata.tif", "MODEL": "{in}/model.lcnn", "OUTPUT": "{out}/map.tif"},
             "INPUT", ("nodata", "choose")),
    BadInput("raster-all-nodata-extract", 15, "landcovercnn:extractsamples",
             {"RASTER": "{in}/stack_nodata.tif", "POLYGONS": "{in}/polygons.gpkg", "FIELD": "code",
              "OUTPUT": "{out}/samples.csv"}, "RASTER", ("nodata", "choose")),
]


# --- the bad inputs, made from the sample data -------------------------------------------------
def _rewrite_csv(source: Path, target: Path, change: Callable[[list[str], list[dict]], tuple[list, list]]
                 ) -> None:
    with open(source, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header, rows = list(reader.fieldnames or []), list(reader)
    header, rows = change(header, rows)
    with open(target, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _without_label(header: list[str], rows: list[dict]) -> tuple[list, list]:
    return [name for name in header if name != "code"], rows


def _text_band(header: list[str], rows: list[dict]) -> tuple[list, list]:
    for index, row in enumerate(rows):
        if index % 10 == 0:
            row["B04"] = "cloud"
    return header, rows


def _rare_class(header: list[str], rows: list[dict]) -> tuple[list, list]:
    first_wetland = next(i for i, row in enumerate(rows) if row["code"] == "8221")
    return header, [row for i, row in enumerate(rows) if row["code"] != "8221" or i == first_wetland]


def _one_class(header: list[str], rows: list[dict]) -> tuple[list, list]:
    return header, [row for row in rows if row["code"] == "7201"]


def _nan_water(header: list[str], rows: list[dict]) -> tuple[list, list]:
    water = [row for row in rows if row["code"] == "8200"]
    for row in water[1:]:
        row["B05"] = "nan" if len(row["B05"]) % 2 else ""
    return header, rows


def _copy_raster(source: Path, target: Path, **options) -> None:
    gdal.Translate(str(target), str(source), format="GTiff", **options)


def _strip_crs(path: Path) -> None:
    dataset = gdal.Open(str(path), gdal.GA_Update)
    dataset.SetSpatialRef(None)
    dataset = None


def _nodata_everywhere(source: Path, target: Path) -> None:
    _copy_raster(source, target, srcWin=[100, 100, 128, 128], noData=0)
    dataset = gdal.Open(str(target), gdal.GA_Update)
    for index in range(1, dataset.RasterCount + 1):
        band = dataset.GetRasterBand(index)
        band.WriteArray(np.zeros((128, 128), dtype=np.uint16))
    dataset = None


def _unnamed_bands(source: Path, target: Path) -> None:
    _copy_raster(source, target)
    dataset = gdal.Open(str(target), gdal.GA_Update)
    for index in range(1, dataset.RasterCount + 1):
        dataset.GetRasterBand(index).SetDescription(f"band {index}")
    dataset = None


def make_inputs(folder: Path) -> None:
    """Every input of the catalogue, from sample_data (copies: the originals are not used)."""
    folder.mkdir()
    shutil.copy2(SAMPLE_DIR / "osm_landuse_water.gpkg", folder / "polygons.gpkg")
    gdal.VectorTranslate(str(folder / "polygons_float.gpkg"), str(folder / "polygons.gpkg"),
                         SQLStatement="SELECT CAST(code AS REAL) AS code, fclass, geom "
                                      "FROM osm_landuse_water",
                         SQLDialect="SQLITE", layerName="osm_landuse_water")
    gdal.VectorTranslate(str(folder / "polygons_empty.gpkg"), str(folder / "polygons.gpkg"), where="1 = 0")
    # The same coordinates declared in UTM zone 32: some 400 km west of the raster.
    gdal.VectorTranslate(str(folder / "polygons_far.gpkg"), str(folder / "polygons.gpkg"),
                         options="-a_srs EPSG:32632")
    stack = reference_stack()
    _copy_raster(stack, folder / "stack.tif")
    _copy_raster(stack, folder / "stack_nocrs.tif")
    _strip_crs(folder / "stack_nocrs.tif")
    _copy_raster(stack, folder / "stack_3bands.tif", bandList=[1, 2, 3])
    _unnamed_bands(stack, folder / "stack_unnamed.tif")
    _nodata_everywhere(stack, folder / "stack_nodata.tif")
    samples = small_samples_csv()
    shutil.copy2(samples, folder / "samples.csv")
    for name, change in (("nolabel", _without_label), ("textband", _text_band), ("rare", _rare_class),
                         ("oneclass", _one_class), ("nan", _nan_water)):
        _rewrite_csv(samples, folder / f"samples_{name}.csv", change)
    model = small_model()
    shutil.copy2(model, folder / "model.lcnn")
    (folder / "model_random.lcnn").write_bytes(np.random.default_rng(6).bytes(50_000))
    shutil.copy2(folder / "stack_3bands.tif", folder / "model_geotiff.lcnn")
    data = model.read_bytes()
    (folder / "model_truncated.lcnn").write_bytes(data[: len(data) // 2])
    rewrite_model_file(model, folder / "model_newer.lcnn", format_version=99)
    rewrite_model_file(model, folder / "model_format2.lcnn", without_graph=True)


# --- running the cases ---------------------------------------------------------------------------
@dataclass
class Outcome:
    case: BadInput
    result: ProcessResult
    out_dir: Path
    parameters: dict[str, str]


@contextmanager
def read_only_folder(path: Path) -> Iterator[Path]:
    """A folder nobody can write to: a read-only tmpfs as root (root ignores permissions), else 0o555."""
    path.mkdir(parents=True)
    mount = ["mount", "-t", "tmpfs", "-o", "ro,size=16k", "tmpfs", str(path)]
    mounted = os.geteuid() == 0 and subprocess.run(mount, capture_output=True).returncode == 0
    if not mounted:
        path.chmod(0o555)
    try:
        yield path
    finally:
        if mounted:
            subprocess.run(["umount", str(path)], check=True)
        else:
            path.chmod(0o755)


def input_states(folder: Path) -> dict[str, FileState]:
    return {name: file_state(folder / name) for name in sorted(os.listdir(folder))}


def names_parameter(message: str, parameter: str) -> bool:
    """A line of the message starts with the parameter name (``FIELD: ...``, ``EPOCHS (...): ...``)."""
    return re.search(rf"^\s*{re.escape(parameter)}\b", message, re.MULTILINE) is not None


def unexpected_new_files(before: list[str], after: list[str]) -> set[str]:
    """New files among the inputs other than GDAL .aux.xml statistics of a raster input.

    QGIS's raster provider computes band statistics when it opens a raster and GDAL stores them
    in ``<raster>.aux.xml`` (QGIS's own gdal:cliprasterbyextent does the same); that side-car is
    QGIS's doing, not the plugin's. Anything else that appears is.
    """
    rasters = {name for name in before if name.endswith(".tif")}
    return {name for name in set(after) - set(before)
            if not (name.endswith(".aux.xml") and name.removesuffix(".aux.xml") in rasters)}


def _fill(value: str | int | float, inputs: Path, out: Path) -> str | int | float:
    if not isinstance(value, str):
        return value
    return value.replace("{in}", str(inputs)).replace("{out}", str(out))


@pytest.fixture(scope="module")
def catalogue(qgis_process, tmp_path_factory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("bad_inputs")
    inputs = root / "inputs"
    make_inputs(inputs)
    before = input_states(inputs)
    targets: dict[str, Path] = {}
    with ExitStack() as stack:
        for case in CASES:
            case_dir = root / "out" / case.case_id
            case_dir.mkdir(parents=True)
            targets[case.case_id] = {"": case_dir, "missing": case_dir / "missing"}.get(
                case.output_folder) or stack.enter_context(read_only_folder(case_dir / "readonly"))

        def run(case: BadInput) -> Outcome:
            parameters = {name: _fill(value, inputs, targets[case.case_id])
                          for name, value in case.parameters.items()}
            result = qgis_process.run(case.algorithm, parameters, timeout=300, env=case.env)
            return Outcome(case, result, root / "out" / case.case_id, parameters)

        with ThreadPoolExecutor(max_workers=3) as pool:
            outcomes = {outcome.case.case_id: outcome for outcome in pool.map(run, CASES)}
        leftovers = {case_id: files_under(outcome.out_dir) for case_id, outcome in outcomes.items()}
    yield {"outcomes": outcomes, "before": before, "after": input_states(inputs), "inputs": inputs,
           "leftovers": leftovers}


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.issue_item:02d}-{case.case_id}")
def test_bad_input_gets_clear_message_and_nothing_is_written(catalogue, case: BadInput):
    outcome: Outcome = catalogue["outcomes"][case.case_id]
    text = outcome.result.text
    context = f"{case.algorithm} {outcome.parameters}\n{text}"
    assert outcome.result.returncode != 0, context
    assert "Traceback" not in text, context
    message = outcome.result.stderr  # with --json, qgis_process reports errors on stderr only
    assert names_parameter(message, case.parameter), context
    for hint in case.hints:
        assert hint.lower() in message.lower(), f"hint {hint!r} missing\n{context}"
    assert catalogue["leftovers"][case.case_id] == [], context
    assert not (outcome.out_dir / "missing").exists()
    used = [Path(value).name for value in outcome.parameters.values()
            if isinstance(value, str) and value.startswith(str(catalogue["inputs"]))]
    assert used, "every case reads at least one input"
    for name in used:
        assert catalogue["after"][name] == catalogue["before"][name], f"{name} changed by {case.case_id}"
    assert set(catalogue["before"]) <= set(catalogue["after"]), "inputs disappeared"
    assert unexpected_new_files(list(catalogue["before"]), list(catalogue["after"])) == set()
