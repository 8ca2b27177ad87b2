"""checkParameterValues of the classification algorithms, in-process QGIS (no TensorFlow here).

The model file comes from small_model_file() (trained in a child process with the worker's Python).
"""

from __future__ import annotations

import sys

import pytest
from osgeo import gdal
from qgis.core import QgsApplication, QgsProcessingContext

from lcnn_testing import (
    SAMPLE_DIR,
    reference_samples_csv,
    reference_stack,
    rewrite_model_file,
    small_model_file,
)


@pytest.fixture(scope="module")
def algorithms(landcover_provider):
    registry = QgsApplication.processingRegistry()
    return lambda name: registry.createAlgorithmById(f"landcovercnn:{name}")


@pytest.fixture(scope="module")
def model_file():
    path = small_model_file()  # trained in a child process if not cached
    assert "tensorflow" not in sys.modules
    return path


def _check(algorithm, parameters):
    return algorithm.checkParameterValues(parameters, QgsProcessingContext())


def test_classify_checks_band_names_without_tensorflow(algorithms, model_file, tmp_path):
    alg = algorithms("classifyimage")
    ok, message = _check(alg, {"INPUT": str(reference_stack()), "MODEL": str(model_file),
                               "OUTPUT": str(tmp_path / "map.tif")})
    assert ok, message
    renamed = tmp_path / "renamed.vrt"
    gdal.Translate(str(renamed), str(reference_stack()), format="VRT")
    ds = gdal.Open(str(renamed), gdal.GA_Update)
    ds.GetRasterBand(9).SetDescription("SWIR2")
    ds = None
    ok, message = _check(alg, {"INPUT": str(renamed), "MODEL": str(model_file),
                               "OUTPUT": str(tmp_path / "map.tif")})
    assert not ok
    assert message.startswith("INPUT:") and "SWIR2" in message and "'B12'" in message
    not_a_model = tmp_path / "fake.lcnn"
    not_a_model.write_bytes(reference_stack().read_bytes()[:1000])
    ok, message = _check(alg, {"INPUT": str(reference_stack()), "MODEL": str(not_a_model),
                               "OUTPUT": str(tmp_path / "map.tif")})
    assert not ok and message.startswith("MODEL:")
    for heavy in ("tensorflow", "keras", "sklearn", "pandas"):
        assert heavy not in sys.modules


def test_engine_and_export_checks_without_tensorflow(algorithms, model_file, tmp_path):
    old = rewrite_model_file(model_file, tmp_path / "format2.lcnn", without_graph=True)
    classify = algorithms("classifyimage")
    common = {"INPUT": str(reference_stack()), "MODEL": str(old), "OUTPUT": str(tmp_path / "map.tif")}
    ok, message = _check(classify, {**common, "ENGINE": 2})  # ONNX Runtime
    assert not ok and message.startswith("ENGINE:") and "format version 2" in message
    assert "engine TensorFlow" in message
    for engine in (0, 1):  # auto falls back to TensorFlow; TensorFlow runs any file
        ok, message = _check(classify, {**common, "ENGINE": engine})
        assert ok, message
    ok, message = _check(algorithms("exportmodel"), {"MODEL": str(model_file), "FORMAT": 1,
                                                     "OUTPUT": str(tmp_path / "model.onnx")})
    assert ok, message
    for heavy in ("tensorflow", "keras", "onnx", "onnxruntime"):
        assert heavy not in sys.modules
    assert list(tmp_path.iterdir()) == [old]


def test_train_and_assess_checks_name_the_parameter(algorithms, tmp_path):
    ok, message = _check(algorithms("trainmodel"), {
        "INPUT": str(reference_samples_csv()), "LABEL": "landuse", "OUTPUT_MODEL": str(tmp_path / "m.lcnn")})
    assert not ok and message.startswith("LABEL:") and "'code'" in message
    ok, message = _check(algorithms("trainmodel"), {
        "INPUT": str(reference_samples_csv()), "FEATURES": "B03,Phi",
        "OUTPUT_MODEL": str(tmp_path / "m.lcnn")})
    assert not ok and message.startswith("FEATURES:") and "Phi" in message
    ok, message = _check(algorithms("comparefeaturesets"), {
        "INPUT": str(reference_samples_csv()), "FEATURE_SETS": "B03,B04",
        "OUTPUT_TABLE": str(tmp_path / "t.csv")})
    assert not ok and message.startswith("FEATURE_SETS:")
    ok, message = _check(algorithms("assessaccuracy"), {
        "INPUT": str(reference_stack()), "REFERENCE": str(SAMPLE_DIR / "osm_landuse_water.gpkg"),
        "FIELD": "code", "OUTPUT_MATRIX": str(tmp_path / "cm.csv")})
    assert not ok and message.startswith("INPUT:") and "one band" in message
    assert not list(tmp_path.iterdir())


