"""exportmodel's files (core.onnx_export) for every family: the metadata round trip, the graph, and
the Deepness format read the way Deepness reads it (src/deepness/processing/models/model_base.py:
``json.loads`` of every value, ``model_type`` capitalised, class names with keys 0..n-1, the tile size
from the input shape, raw values divided by 255 then standardised, NCHW)."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
from osgeo import gdal

from landcover_cnn_plugin.core.engines import ENGINE_TOLERANCE, ONNXRUNTIME, TENSORFLOW, onnx_session
from landcover_cnn_plugin.core.errors import UserInputError
from landcover_cnn_plugin.core.indices import add_derived
from landcover_cnn_plugin.core.model_file import load_model_file, read_model_metadata
from landcover_cnn_plugin.core.models import FAMILIES
from landcover_cnn_plugin.core.onnx_export import (
    DEEPNESS,
    PLAIN,
    deepness_overlap_percent,
    export_model,
    model_properties,
)
from lcnn_testing import reference_stack

gdal.UseExceptions()
TILE = 64
#: Where the Deepness tile is cut from the sample stack (row, col): inside the image.
TILE_AT = (150, 400)


def _session(path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _properties(session: ort.InferenceSession) -> dict:
    return {key: json.loads(value) for key, value in session.get_modelmeta().custom_metadata_map.items()}


@pytest.fixture(scope="module", params=[*FAMILIES, "study_mlp+normalized_differences"])
def model(request, trained_family):
    """A family's model file (and a per-pixel one with derived channels) on ONNX Runtime."""
    name, _, derived = request.param.partition("+")
    _, path = trained_family(name, derived or "none")
    return path, load_model_file(path, ONNXRUNTIME)


def test_plain_export_round_trips_its_metadata_and_runs_like_the_engine(model, tmp_path):
    path, loaded = model
    out = tmp_path / "model.onnx"
    result = export_model(str(path), str(out), PLAIN)
    session = _session(out)
    written = _properties(session)
    metadata = read_model_metadata(path)
    expected = json.loads(json.dumps(model_properties(metadata, metadata["onnx"], "NHWC")))
    assert written.pop("exported") and expected.pop("exported")
    assert written == expected
    assert written["band_names"] == metadata["feature_names"] and written["layout"] == "NHWC"
    assert written["class_codes"] == metadata["legend"]["codes"]
    assert list(written["class_names"].values()) == metadata["legend"]["names"]
    assert written["scaler_mean"] == metadata["scaler"]["mean"] and written["halo"] == loaded.halo
    assert written["metrics"]["overall_accuracy"] == metadata["metrics"]["overall_accuracy"]
    assert len(written["input_names"]) == loaded.n_inputs == session.get_inputs()[0].shape[-1]
    assert result["output_shape"][-1] == loaded.n_classes
    # dynamic sizes: a patch model takes any block, a per-pixel model any number of rows
    h = loaded.halo
    shape = (1, 23 + 2 * h, 31 + 2 * h, loaded.n_inputs) if h else (713, loaded.n_inputs)
    inputs = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    # the exported graph in a session like the engine's (its thread count fixes a forest's summation order)
    exported = onnx_session(out.read_bytes())
    np.testing.assert_array_equal(exported.run(None, {exported.get_inputs()[0].name: inputs})[0],
                                  loaded.run_graph(inputs))


def test_plain_export_applied_from_its_metadata_alone_gives_the_plugins_probabilities(model, tmp_path):
    """A user without the plugin: the raw block of the sample stack, the rules written in the file
    (bands in ``band_names`` order, derived channels, ``scaler_mean``/``scaler_std``, 0 for a nodata
    pixel, the halo), ONNX Runtime -> the TensorFlow engine's probabilities within 1e-5."""
    path, _ = model
    out = tmp_path / "model.onnx"
    export_model(str(path), str(out), PLAIN)
    session = _session(out)
    written = _properties(session)
    h, rows, cols = written["halo"], 40, 56
    row, col = TILE_AT
    raw = gdal.Open(str(reference_stack())).ReadAsArray(col - h, row - h, cols + 2 * h, rows + 2 * h)
    raw = raw.astype(np.float32)
    valid = np.ones(raw.shape[1:], dtype=bool)
    valid[h + 5, h + 7] = valid[h + 20, h + 30] = valid[0, 0] = False  # nodata pixels, a halo one
    x = np.moveaxis(raw, 0, -1)  # channels last, bands in band_names order (the stack's own)
    if written["derived_features"] != "none":
        x = add_derived(x, written["derived_features"])
    x = (x - np.float32(written["scaler_mean"])) / np.float32(written["scaler_std"])
    x[~valid] = 0.0
    name = session.get_inputs()[0].name
    if written["per_pixel"]:
        got = session.run(None, {name: x.reshape(-1, x.shape[-1])})[0].reshape(rows, cols, -1)
    else:
        got = session.run(None, {name: x[None]})[0][0]
    expected = load_model_file(path, TENSORFLOW).predict_block(raw, valid)
    inside = valid[h:h + rows, h:h + cols]
    np.testing.assert_allclose(np.moveaxis(got, -1, 0)[:, inside], expected[:, inside],
                               atol=ENGINE_TOLERANCE, rtol=0)
    assert not expected[:, ~inside].any()  # the plugin gives a nodata pixel no class


def _deepness_reads(path) -> dict:
    """What Deepness takes from a model (its model_base.py), with its checks."""
    session = _session(path)
    properties = session.get_modelmeta().custom_metadata_map
    value = {key: json.loads(text) for key, text in properties.items()}  # each must be JSON text
    names = sorted(value["class_names"].items(), key=lambda item: int(item[0]))
    assert [int(key) for key, _ in names] == list(range(len(names))), "keys must be 0..n-1"
    shape = session.get_inputs()[0].shape
    assert len(session.get_inputs()) == 1 and len(shape) == 4
    assert all(isinstance(size, int) for size in shape[1:]), "channels and tile must be numbers"
    output = session.get_outputs()[0].shape
    return {"model_type": str(value["model_type"]).capitalize(), "classes": [name for _, name in names],
            "channels": shape[-3], "tile": shape[-1], "tile_rows": shape[-2], "output": output[1:],
            "tile_size": int(value["tile_size"]), "tiles_size": int(value["tiles_size"]),
            "overlap": int(value["tiles_overlap"]), "resolution": float(value["resolution"]),
            "mean": np.asarray(value["standardization_mean"], np.float32),
            "std": np.asarray(value["standardization_std"], np.float32),
            "threshold": float(value["seg_thresh"]), "small_segment": int(value["seg_small_segment"]),
            "session": session}


def test_deepness_export_reads_as_deepness_reads_it_and_predicts_like_the_plugin(model, tmp_path):
    path, loaded = model
    out = tmp_path / "deepness.onnx"
    if loaded.family.network_is_onnx:  # a forest: refused, naming FORMAT, nothing written
        with pytest.raises(UserInputError) as info:
            export_model(str(path), str(out), DEEPNESS, tile=TILE, resolution_m=20.0)
        assert info.value.parameter == "FORMAT" and "FORMAT onnx" in info.value.message
        assert not out.exists()
        return
    export_model(str(path), str(out), DEEPNESS, tile=TILE, resolution_m=20.0)
    read = _deepness_reads(out)
    n_bands = len(loaded.feature_names)
    assert read["model_type"] == "Segmentor" and read["classes"] == list(loaded.legend.names)
    assert read["channels"] == n_bands == len(read["mean"]) == len(read["std"])
    assert read["tile"] == read["tile_rows"] == read["tile_size"] == read["tiles_size"] == TILE
    assert read["output"] == [loaded.n_classes, TILE, TILE] and read["resolution"] == 2000.0
    assert read["threshold"] == 0.0 and read["small_segment"] == 0
    cut = (int(TILE * read["overlap"] / 100 * 2) // 2) // 2  # Deepness drops this much of each inner side
    assert cut >= loaded.halo
    # Deepness: the raw tile (the raster's own type), / 255, standardised, NCHW.
    row, col, h = *TILE_AT, loaded.halo
    raw = gdal.Open(str(reference_stack())).ReadAsArray(col - h, row - h, TILE + 2 * h, TILE + 2 * h)
    x = np.float32(raw[:, h:h + TILE, h:h + TILE] * np.float32(1 / 255))
    x = (x - read["mean"][:, None, None]) / read["std"][:, None, None]
    probabilities = read["session"].run(None, {read["session"].get_inputs()[0].name: x[None]})[0][0]
    expected = loaded.predict_block(raw.astype(np.float32), np.ones(raw.shape[1:], dtype=bool))
    inner = np.s_[:, cut:TILE - cut, cut:TILE - cut]  # what Deepness keeps of a tile inside the image
    np.testing.assert_allclose(probabilities[inner], expected[inner], atol=ENGINE_TOLERANCE, rtol=0)


def test_overlap_percent_hides_the_halo():
    for tile in (64, 128, 256, 512):
        assert deepness_overlap_percent(tile, 0) == 0
        for halo in (1, 2, 3, 5):
            percent = deepness_overlap_percent(tile, halo)
            assert (int(tile * percent / 100 * 2) // 2) // 2 >= halo
            assert (int(tile * (percent - 1) / 100 * 2) // 2) // 2 < halo or percent == 1


def test_bad_export_settings_name_the_parameter_and_write_nothing(trained_family, tmp_path):
    _, path = trained_family("patch_cnn")
    cases = [({"export_format": "tflite"}, "FORMAT", "onnx, deepness"),
             ({"export_format": DEEPNESS, "tile": 4}, "TILE_SIZE", "16 to 4096 pixels, got 4"),
             ({"export_format": DEEPNESS, "tile": 5000}, "TILE_SIZE", "got 5000")]
    for options, parameter, words in cases:
        with pytest.raises(UserInputError) as info:
            export_model(str(path), str(tmp_path / "model.onnx"), **options)
        assert info.value.parameter == parameter and words in info.value.message
    with pytest.raises(UserInputError) as info:
        export_model(str(path), str(tmp_path / "model.tif"))
    assert info.value.parameter == "OUTPUT" and ".onnx" in info.value.message
    assert list(tmp_path.iterdir()) == []


def test_engines_agree_on_derived_channels(trained_family):
    """The derived channels reach both engines alike (computed once, in NumPy)."""
    _, path = trained_family("study_mlp", "normalized_differences")
    on_tensorflow, on_onnxruntime = load_model_file(path, TENSORFLOW), load_model_file(path, ONNXRUNTIME)
    assert on_onnxruntime.n_inputs == 9 + 36
    values = gdal.Open(str(reference_stack())).ReadAsArray(0, 0, 120, 60).astype(np.float32)
    valid = np.ones(values.shape[1:], dtype=bool)
    np.testing.assert_allclose(on_onnxruntime.predict_block(values, valid),
                               on_tensorflow.predict_block(values, valid), atol=ENGINE_TOLERANCE, rtol=0)
