"""Real (short) trainings on the sample scene: protocol, accuracy against a baseline, model file."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from landcover_cnn_plugin.core.errors import UserInputError
from landcover_cnn_plugin.core.model_file import (
    FORMAT_VERSION,
    load_model_file,
    read_model_metadata,
)
from landcover_cnn_plugin.core.samples import read_samples
from landcover_cnn_plugin.core.settings import TrainingSettings
from landcover_cnn_plugin.core.training import LandcoverTrainer
from lcnn_testing import (
    ROOT,
    STUDY_BANDS,
    RecordingReporter,
    reference_samples_frame,
    reference_samples_subset_csv,
    reference_stack,
)

QUICK = {"epochs": 6, "batch_size": 256, "patience": 3, "seed": 42}


@pytest.fixture(scope="module")
def small_csv():
    return str(reference_samples_subset_csv(6))


@pytest.fixture(scope="module", params=["spectral_cnn", "study_mlp"])
def trained(request, small_csv):
    reporter = RecordingReporter()
    trainer = LandcoverTrainer(TrainingSettings(names_field="fclass", model_type=request.param, **QUICK),
                               reporter=reporter)
    trainer.fit(small_csv)
    return trainer, reporter


def test_training_beats_majority_baseline_on_grouped_test_part(trained):
    trainer, reporter = trained
    split, table = trainer.split_, trainer.table_
    groups = table.groups
    assert not set(groups[split.train].tolist()) & set(groups[split.test].tolist())
    test_codes = table.codes[split.test]
    majority_share = np.bincount(trainer.legend_.ids_from_codes(test_codes)).max() / len(test_codes)
    # Margin from the data: five binomial standard errors of an accuracy measured on n_test samples.
    margin = 5 * math.sqrt(majority_share * (1 - majority_share) / len(test_codes))
    metrics = trainer.metrics_
    assert metrics["overall_accuracy"] > majority_share + margin
    assert metrics["kappa"] > margin
    assert metrics["n_samples"] == len(split.test)
    # Progress per epoch, rising, and one log line per epoch with its loss; the cosine schedule runs
    # every epoch asked for over every training polygon (no validation part).
    epoch_lines = [line for line in reporter.logs if line.startswith("epoch ")]
    assert len(epoch_lines) == trainer.epochs_run_ and "loss" in epoch_lines[0]
    assert reporter.values == sorted(reporter.values) and reporter.values[-1] == 100.0
    assert trainer.epochs_run_ == len(trainer.history_["loss"]) == QUICK["epochs"]
    assert len(split.validation) == 0 and "val_loss" not in trainer.history_


def test_saved_model_predicts_identically_and_metadata_is_complete(trained, tmp_path):
    trainer, _ = trained
    path = str(tmp_path / "model.lcnn")
    trainer.save(path)
    metadata = read_model_metadata(path)
    assert metadata["feature_names"] == STUDY_BANDS
    assert metadata["legend"]["codes"] == trainer.legend_.codes
    assert metadata["legend"]["names"][trainer.legend_.codes.index(8200)] == "water"
    assert metadata["split"]["protocol"] == "group"
    assert sum(metadata["split"]["counts"]["test"].values()) == len(trainer.split_.test)
    assert metadata["training"]["batch_size"] == 256 and metadata["versions"]["keras"]
    np.testing.assert_allclose(metadata["scaler"]["mean"],
                               trainer.table_.features[trainer.split_.train].astype(np.float64).mean(0),
                               rtol=1e-6)
    loaded = load_model_file(path)
    features = trainer.table_.features[trainer.split_.test[:3000]]
    direct = trainer.model_.predict(trainer.scaler_.transform(features), verbose=0)
    np.testing.assert_allclose(loaded.predict_proba(features), direct, atol=1e-6)
    np.testing.assert_allclose(loaded.predict_proba(features).sum(axis=1), 1.0, atol=1e-5)
    # A block (bands, rows, cols) gives the same probabilities as the rows; invalid pixels give 0.
    block = features[:3000].T.reshape(len(STUDY_BANDS), 50, 60)
    valid = np.ones((50, 60), bool)
    valid[3, 4] = False
    probabilities = loaded.predict_block(block, valid)
    assert probabilities.shape == (trainer.legend_.n_classes, 50, 60) and probabilities.dtype == np.float32
    expected = direct.T.reshape(-1, 50, 60)
    np.testing.assert_allclose(probabilities[:, valid], expected[:, valid], atol=1e-6)
    assert not probabilities[:, 3, 4].any()


def test_same_seed_same_model():
    settings = dict(QUICK, epochs=2, patience=2)
    samples = str(reference_samples_subset_csv(12))
    settings = TrainingSettings(model_type="study_mlp", **settings)
    first = LandcoverTrainer(settings).fit(samples)
    second = LandcoverTrainer(settings).fit(samples)
    np.testing.assert_array_equal(first.test_predictions_, second.test_predictions_)
    for a, b in zip(first.model_.get_weights(), second.model_.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, small_csv):
    settings = TrainingSettings(model_type="study_mlp", **dict(QUICK, epochs=1))
    trainer = LandcoverTrainer(settings).fit(small_csv)
    path = tmp_path_factory.mktemp("model") / "model.lcnn"
    trainer.save(str(path))
    return path


def _rewrite(source, target, metadata_text=None, drop=None):
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            if item.filename == drop:
                continue
            data = old.read(item.filename)
            if item.filename == "metadata.json" and metadata_text is not None:
                data = metadata_text(json.loads(data)).encode()
            new.writestr(item, data)


def _edit(change):
    def edit(metadata):
        change(metadata)
        return json.dumps(metadata)
    return edit


BROKEN_FILES = {
    "random bytes": lambda src, dst: dst.write_bytes(np.random.default_rng(1).bytes(5000)),
    "renamed GeoTIFF": lambda src, dst: shutil.copy(reference_stack(), dst),
    "truncated": lambda src, dst: dst.write_bytes(src.read_bytes()[: src.stat().st_size // 2]),
    "no metadata": lambda src, dst: _rewrite(src, dst, drop="metadata.json"),
    "no network": lambda src, dst: _rewrite(src, dst, drop="model.keras"),
    "malformed JSON": lambda src, dst: _rewrite(src, dst, lambda m: json.dumps(m)[:-10]),
    "newer format": lambda src, dst: _rewrite(src, dst, _edit(
        lambda m: m.update(format_version=FORMAT_VERSION + 1))),
    "unknown derived": lambda src, dst: _rewrite(src, dst, _edit(lambda m: m.update(derived_features="pca"))),
    "derived, scaler length": lambda src, dst: _rewrite(src, dst, _edit(
        lambda m: m.update(derived_features="normalized_differences"))),
    "scaler length": lambda src, dst: _rewrite(src, dst, _edit(lambda m: m["scaler"]["mean"].pop())),
    "extra feature": lambda src, dst: _rewrite(src, dst, _edit(
        lambda m: (m["feature_names"].append("Phi"), m["scaler"]["mean"].append(0.0),
                   m["scaler"]["std"].append(1.0)))),
    "extra class": lambda src, dst: _rewrite(src, dst, _edit(lambda m: m["legend"].update(
        codes=m["legend"]["codes"] + [9999], names=None, colors=None))),
    "unknown model type": lambda src, dst: _rewrite(src, dst, _edit(lambda m: m.update(model_type="svm"))),
    "per-pixel with patches": lambda src, dst: _rewrite(src, dst, _edit(lambda m: m.update(patch_size=3))),
}
PROBLEM = {"random bytes": "zip", "renamed GeoTIFF": "zip", "truncated": "zip",
           "no metadata": "metadata.json",
           "no network": "model.keras", "malformed JSON": "JSON", "newer format": "update",
           "scaler length": "scaler", "extra feature": "takes", "extra class": "takes",
           "unknown model type": "model type", "unknown derived": "derived features",
           "per-pixel with patches": "works per pixel but the patch size is 3",
           "derived, scaler length": "45 network inputs"}


@pytest.mark.parametrize("case", sorted(BROKEN_FILES))
def test_broken_model_files_are_refused_clearly(model_path, tmp_path, case):
    broken = tmp_path / "broken.lcnn"
    BROKEN_FILES[case](model_path, broken)
    with pytest.raises(UserInputError) as info:
        load_model_file(broken)
    assert info.value.parameter == "MODEL"
    assert PROBLEM[case] in info.value.message and str(broken) in info.value.message


def test_reading_metadata_imports_no_heavy_library(model_path):
    code = ("import sys; from landcover_cnn_plugin.core.model_file import read_model_metadata; "
            f"m = read_model_metadata({str(model_path)!r}); "
            "heavy = [n for n in ('tensorflow', 'keras', 'pandas', 'sklearn') if n in sys.modules]; "
            "print(len(m['feature_names']), heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT / "build" / "plugins"), "PYTHONSAFEPATH": "1"}).stdout
    assert out.strip() == "9 []"


def _frame_with(change):
    frame = reference_samples_frame().iloc[::20].copy()
    change(frame)
    return frame


@pytest.mark.parametrize(("change", "parameter", "words"), [
    (lambda f: f.drop(columns="code", inplace=True), "LABEL", "no label column 'code'"),
    (lambda f: f.__setitem__("code", np.where(f["code"].to_numpy() == 8200, 8200, 7201)), None, None),
    (lambda f: f.__setitem__("code", 7201), "LABEL", "at least 2 classes"),
    (lambda f: f.__setitem__("code", np.r_[9001, f["code"].to_numpy()[1:]]), "LABEL",
     "9001 (forest): 1 sample"),  # named by code and name (its fclass, the column after the label)
    (lambda f: f.__setitem__("B04", "x"), "FEATURES", "not numeric"),
])
def test_sample_validation_messages(change, parameter, words):
    frame = _frame_with(change)
    if parameter is None:  # two classes are enough
        assert len(np.unique(read_samples(frame, features=STUDY_BANDS).codes)) == 2
        return
    with pytest.raises(UserInputError) as info:
        read_samples(frame, features=STUDY_BANDS, names_field=None)
    assert info.value.parameter == parameter and words in info.value.message
    if "1 sample" in words:
        assert "merge" in info.value.message and "collect more" in info.value.message


def test_rows_with_missing_values_are_dropped_and_counted():
    frame = _frame_with(lambda f: None)
    frame.iloc[[1, 5, 9], frame.columns.get_loc("B11")] = np.nan
    reporter = RecordingReporter()
    table = read_samples(frame, group="polygon_id", names_field="fclass", reporter=reporter)
    assert table.n_dropped == 3 and len(table) == len(frame) - 3
    assert table.feature_names == STUDY_BANDS  # X, Y, code, fclass, polygon_id, Lat/Lon excluded
    assert any("Dropped 3" in line for line in reporter.logs)
