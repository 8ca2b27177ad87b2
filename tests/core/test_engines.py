"""The ONNX graph of the model file and the two engines on the sample stack, for every family.

ONNX Runtime must give TensorFlow's probabilities within 1e-5 on blocks of the stack (patch models
across block seams and at the image edge), and so must the classify job run with either engine;
a model file without a graph is refused for ONNX Runtime with a message naming ENGINE.
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from landcover_cnn_plugin.core.engines import (
    AUTO_ENGINE,
    ENGINE_TOLERANCE,
    ONNXRUNTIME,
    TENSORFLOW,
    choose_engine,
)
from landcover_cnn_plugin.core.errors import UserInputError
from landcover_cnn_plugin.core.io.blocks import iter_blocks
from landcover_cnn_plugin.core.model_file import (
    export_prediction_graph,
    load_model_file,
    onnx_graph_problem,
    read_model_metadata,
)
from landcover_cnn_plugin.core.models import FAMILIES
from landcover_cnn_plugin.core.progress import NullReporter
from lcnn_testing import reference_stack, rewrite_model_file

gdal.UseExceptions()


#: The part of the sample stack the engines are compared on (x, y, width, height): its top and left
#: edges are the image's.
WINDOW = (0, 0, 320, 176)


@pytest.fixture(scope="module")
def stack() -> tuple[np.ndarray, np.ndarray]:
    """A window of the sample stack (float32) and a validity mask with scattered nodata and a hole."""
    values = gdal.Open(str(reference_stack())).ReadAsArray(*WINDOW).astype(np.float32)
    valid = np.random.default_rng(5).random(values.shape[1:]) > 0.02
    valid[100:130, 200:260] = False
    return values, valid


def _on_both_engines(name: str, trained_family):
    _, path = trained_family(name)
    return path, load_model_file(path, TENSORFLOW), load_model_file(path, ONNXRUNTIME)


@pytest.fixture(scope="module", params=list(FAMILIES))
def engines(request, trained_family):
    """A family's model file and the model loaded on each engine."""
    return _on_both_engines(request.param, trained_family)


@pytest.fixture(scope="module",
                params=[name for name, family in FAMILIES.items() if not family.network_is_onnx])
def keras_engines(request, trained_family):
    """The same for the families whose network is not itself ONNX (a forest is born as ONNX: no
    model file of it was ever written without a graph)."""
    return _on_both_engines(request.param, trained_family)


def test_the_model_file_holds_its_checked_onnx_graph(engines):
    path, on_tensorflow, on_onnxruntime = engines
    metadata = read_model_metadata(path)
    entry = metadata["onnx"]
    assert metadata["format_version"] == 3 and onnx_graph_problem(metadata) is None
    assert on_tensorflow.family.graph_member in zipfile.ZipFile(path).namelist()
    assert 0 <= entry["max_abs_difference"] <= ENGINE_TOLERANCE and entry["checked_inputs"] >= 256
    assert entry["per_pixel"] == (not on_tensorflow.family.uses_patches)
    assert entry["halo"] == on_tensorflow.halo
    assert on_tensorflow.engine == TENSORFLOW and on_onnxruntime.engine == ONNXRUNTIME
    assert on_onnxruntime.network is None  # nothing but the graph was loaded


def test_onnxruntime_reproduces_tensorflow_on_blocks_across_seams(engines, stack):
    _, on_tensorflow, on_onnxruntime = engines
    values, valid = stack
    h = on_tensorflow.halo
    rows, cols = valid.shape
    stitched = np.zeros((on_tensorflow.n_classes, rows, cols), dtype=np.float32)
    for block in iter_blocks(cols, rows, 110, 70, h):  # odd sizes: seams inside the image
        x, y, width, height = block.read_window
        block_values = block.pad_array(values[:, y:y + height, x:x + width])
        block_valid = block.pad_array(valid[y:y + height, x:x + width])
        expected = on_tensorflow.predict_block(block_values, block_valid)
        got = on_onnxruntime.predict_block(block_values, block_valid)
        np.testing.assert_allclose(got, expected, atol=ENGINE_TOLERANCE, rtol=0)
        stitched[:, block.y_off:block.y_off + block.height, block.x_off:block.x_off + block.width] = got
    whole = on_tensorflow.predict_block(np.pad(values, ((0, 0), (h, h), (h, h)), mode="edge"),
                                        np.pad(valid, h, mode="edge"))  # one block: no seam at all
    np.testing.assert_allclose(stitched, whole, atol=ENGINE_TOLERANCE, rtol=0)
    assert not stitched[:, ~valid].any() and len(np.unique(whole.argmax(axis=0)[valid])) >= 2


def _classify_job(path: Path, raster: str, folder: Path, engine: str) -> tuple[dict, dict[str, np.ndarray]]:
    from landcover_cnn_plugin.core.jobs import classify

    folder.mkdir()
    outputs = {name: str(folder / f"{name}.tif") for name in ("map", "confidence", "probabilities")}
    parser = argparse.ArgumentParser()
    classify.add_arguments(parser)  # the job's own options and defaults
    args = parser.parse_args(["--raster", raster, "--model", str(path), "--output", outputs["map"],
                              "--confidence", outputs["confidence"], "--probabilities",
                              outputs["probabilities"], "--memory-mb", "4", "--engine", engine])
    result = classify.run(args, NullReporter())
    return result, {name: gdal.Open(file).ReadAsArray() for name, file in outputs.items()}


def test_the_classify_job_gives_the_same_map_with_either_engine(engines, tmp_path):
    path, on_tensorflow, _ = engines
    nodata_raster = str(tmp_path / "stack_nodata.vrt")  # a band with a nodata value that occurs
    gdal.Translate(nodata_raster, str(reference_stack()), format="VRT", srcWin=[0, 0, 600, 300])
    dataset = gdal.Open(nodata_raster, gdal.GA_Update)
    band = dataset.GetRasterBand(3)
    band.SetNoDataValue(float(band.ReadAsArray(100, 100, 1, 1)[0, 0]))
    dataset = None
    tf_result, tf_maps = _classify_job(path, nodata_raster, tmp_path / "tensorflow", TENSORFLOW)
    ort_result, ort_maps = _classify_job(path, nodata_raster, tmp_path / "onnxruntime", AUTO_ENGINE)
    assert (tf_result["engine"], ort_result["engine"]) == (TENSORFLOW, ONNXRUNTIME)
    assert ort_result["n_blocks"] > 1 and tf_result["valid_pixels"] == ort_result["valid_pixels"]
    nodata = tf_maps["map"] == 0
    assert nodata.any() and (ort_maps["map"][nodata] == 0).all()
    for name in ("probabilities", "confidence"):
        np.testing.assert_allclose(ort_maps[name], tf_maps[name], atol=ENGINE_TOLERANCE, rtol=0)
    top2 = np.sort(tf_maps["probabilities"], axis=0)[-2:]
    decided = (top2[1] - top2[0] > 2 * ENGINE_TOLERANCE) & ~nodata  # ties within float32 noise aside
    assert decided[~nodata].mean() > 0.99
    np.testing.assert_array_equal(ort_maps["map"][decided], tf_maps["map"][decided])
    styles = [(tmp_path / name / "map.qml").read_text() for name in ("tensorflow", "onnxruntime")]
    assert styles[0] == styles[1] and "paletteEntry" in styles[0]
    assert gdal.Open(str(tmp_path / "onnxruntime" / "map.tif")).GetRasterBand(1).GetColorTable() is not None


def test_a_model_file_without_graph_runs_on_tensorflow_and_is_refused_by_onnxruntime(keras_engines, tmp_path):
    path, on_tensorflow, on_onnxruntime = keras_engines
    old = tmp_path / "format2.lcnn"
    rewrite_model_file(path, old, without_graph=True)
    metadata = read_model_metadata(old)
    assert "format version 2" in onnx_graph_problem(metadata)
    assert choose_engine(AUTO_ENGINE, onnx_graph_problem(metadata), str(old)) == TENSORFLOW
    with pytest.raises(UserInputError) as info:
        load_model_file(old, ONNXRUNTIME)
    assert info.value.parameter == "ENGINE" and "ENGINE tensorflow" in info.value.message
    assert str(old) in info.value.message
    # Its graph is made again from the Keras network on export, and checked as when saving.
    graph, entry = export_prediction_graph(on_tensorflow.family, load_model_file(old).network, metadata)
    assert graph is not None and entry["max_abs_difference"] <= ENGINE_TOLERANCE


def test_a_failed_export_leaves_the_file_without_graph_saying_why(engines, tmp_path):
    path, on_tensorflow, _ = engines
    metadata = read_model_metadata(path)
    graph, entry = export_prediction_graph(on_tensorflow.family, on_tensorflow.network, metadata,
                                           stored=b"not an ONNX graph")
    assert graph is None and "error" in entry
    written = tmp_path / "no_graph.lcnn"
    rewrite_model_file(path, written, without_graph=True, onnx=entry)
    problem = onnx_graph_problem(read_model_metadata(written))
    assert "export failed" in problem and entry["error"] in problem
    with pytest.raises(UserInputError) as info:
        load_model_file(written, ONNXRUNTIME)
    assert info.value.parameter == "ENGINE" and "export failed" in info.value.message
    assert load_model_file(written).predict_block is not None  # the network itself is there


ONLY_TENSORFLOW = {TENSORFLOW: "2.21.0"}
BOTH = {TENSORFLOW: "2.21.0", ONNXRUNTIME: "1.31.1"}
ONLY_ONNXRUNTIME = {ONNXRUNTIME: "1.31.1"}


@pytest.mark.parametrize("requested, problem, installed, expected", [
    (AUTO_ENGINE, None, BOTH, ONNXRUNTIME),
    (AUTO_ENGINE, "has format version 2", BOTH, TENSORFLOW),
    (AUTO_ENGINE, None, ONLY_TENSORFLOW, TENSORFLOW),
    (AUTO_ENGINE, None, ONLY_ONNXRUNTIME, ONNXRUNTIME),
    (TENSORFLOW, None, BOTH, TENSORFLOW),
    (ONNXRUNTIME, None, ONLY_ONNXRUNTIME, ONNXRUNTIME),
])
def test_engine_choice(requested, problem, installed, expected):
    assert choose_engine(requested, problem, "m.lcnn", installed) == expected


@pytest.mark.parametrize("requested, problem, installed, words", [
    ("gpu", None, BOTH, ("unknown engine 'gpu'", "auto, tensorflow, onnxruntime")),
    (ONNXRUNTIME, None, ONLY_TENSORFLOW, ("pip install onnxruntime", "choose ENGINE tensorflow")),
    (TENSORFLOW, None, ONLY_ONNXRUNTIME, ("pip install tensorflow", "choose ENGINE onnxruntime")),
    (ONNXRUNTIME, "has format version 2", BOTH, ("m.lcnn has format version 2", "ENGINE tensorflow")),
    (AUTO_ENGINE, "has format version 2", ONLY_ONNXRUNTIME, ("format version 2", "train the model again")),
])
def test_engine_refusals_name_engine_and_what_to_do(requested, problem, installed, words):
    with pytest.raises(UserInputError) as info:
        choose_engine(requested, problem, "m.lcnn", installed)
    assert info.value.parameter == "ENGINE"
    for word in words:
        assert word in info.value.message


def test_no_engine_at_all_is_the_interpreters_fault_not_engines():
    """The worker reports it as PYTHON: the plugin adds which interpreter, why, and the installer."""
    from landcover_cnn_plugin.core.errors import MissingDependencyError

    with pytest.raises(MissingDependencyError) as info:
        choose_engine(AUTO_ENGINE, None, "m.lcnn", {})
    assert "has neither tensorflow" in str(info.value) and "nor onnxruntime" in str(info.value)
