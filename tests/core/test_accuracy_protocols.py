"""Honest figures on both real data sets: intervals, warnings, cross-validation, the automatic choice.

The Berlin HyMap samples (6 classes, 1,920 polygons, two classes of 6 and 10 polygons) and the
Sentinel-2 scene's samples, trained for real (short trainings: the random forest, or networks of
a few epochs).
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from landcover_cnn_plugin.core.metrics import (
    compute_metrics,
    figures_from_confusion,
    polygon_bootstrap_intervals,
)
from landcover_cnn_plugin.core.model_choice import MIN_CHOICE_POLYGONS, choose_model
from landcover_cnn_plugin.core.model_file import read_model_metadata
from landcover_cnn_plugin.core.models import random_forest as forest_family
from landcover_cnn_plugin.core.models.base import FitProgress
from landcover_cnn_plugin.core.samples import read_samples
from landcover_cnn_plugin.core.settings import TrainingSettings
from landcover_cnn_plugin.core.training import LandcoverTrainer, build_legend
from landcover_cnn_plugin.core.training_report import write_training_report
from lcnn_testing import ROOT, RecordingReporter, berlin_samples_csv, reference_samples_subset_csv

BERLIN = {"label": "class_id", "names_field": "class_name"}


@pytest.fixture(scope="module")
def berlin_forest(tmp_path_factory):
    """The random forest on every 8th Berlin pixel, one grouped split, saved."""
    trainer = LandcoverTrainer(TrainingSettings(model_type="random_forest", **BERLIN)).fit(
        str(berlin_samples_csv(8)))
    path = tmp_path_factory.mktemp("forest") / "forest.lcnn"
    trainer.save(str(path))
    return trainer, path


def test_intervals_redraw_polygons_and_are_wider_than_pixel_intervals(berlin_forest):
    trainer, _ = berlin_forest
    metrics, test = trainer.metrics_, trainer.split_.test
    n = trainer.legend_.n_classes
    matrix = np.asarray(metrics["confusion_matrix"]["matrix"])[:n, :n]
    figures = [metrics["overall_accuracy"], metrics["kappa"], metrics["macro_f1"]]
    np.testing.assert_allclose(figures_from_confusion(matrix), figures, atol=1e-12)
    intervals = metrics["intervals"]
    groups = trainer.table_.groups[test]
    assert intervals["n_groups"] == len(np.unique(groups)) and intervals["replicates"] == 1000
    reference = trainer.class_ids_[test]
    predicted, seed = trainer.test_predictions_, trainer.settings_.seed
    pixels = polygon_bootstrap_intervals(reference, predicted, None, n, seed=seed)
    for key in ("overall_accuracy", "kappa", "macro_f1"):
        low, high = intervals[key]
        assert low < metrics[key] < high
        # pixels of one polygon are near-copies: counting them as independent gives a far narrower interval
        assert high - low > 2 * (pixels[key][1] - pixels[key][0])
    again = polygon_bootstrap_intervals(reference, predicted, groups, n, seed=seed)
    assert again["overall_accuracy"] == intervals["overall_accuracy"]  # seeded


def test_few_polygons_absent_classes_and_wide_intervals_are_reported(berlin_forest, tmp_path):
    trainer, path = berlin_forest
    frame = pd.read_csv(berlin_samples_csv(8))
    polygons = trainer.polygon_counts_
    for part in ("train", "test"):
        rows = getattr(trainer.split_, part)
        expected = frame.iloc[rows].groupby("class_id")["polygon_id"].nunique()
        assert polygons[part] == {str(code): int(n) for code, n in expected.items()}
    assert polygons["validation"] == {}  # the forest needs no validation part
    # "Other" holds 6 polygons in all: fewer than 3 of them in the test part, named by code and name
    assert int(polygons["test"].get("6", 0)) < 3
    warned = [w for w in trainer.warnings_ if w.startswith("few polygons in the test part")]
    assert len(warned) == 1 and "6 (Other)" in warned[0] and "CV_FOLDS" in warned[0]
    assert any("too few to pin down" in w and "CV_FOLDS = 5" in w for w in trainer.warnings_)

    # A class without test samples is listed and left out of macro F1 (not counted as 0).
    test = trainer.split_.test
    keep = trainer.table_.codes[test] != 1
    codes = trainer.legend_.codes_from_ids(trainer.test_predictions_)
    metrics = compute_metrics(trainer.table_.codes[test][keep], codes[keep], trainer.legend_)
    assert metrics["absent_codes"] == [1]
    tested = [row["f1"] for row in metrics["per_class"] if row["support"] > 0]
    assert len(tested) == 5 and metrics["macro_f1"] == pytest.approx(np.mean(tested))

    report = Path(write_training_report(tmp_path / "r.html", read_model_metadata(path))).read_text("utf-8")
    assert "Read before trusting the figures below" in report and "6 (Other)" in report
    assert "95 % interval" in report and "fewer than 5 tested polygons" in report


def test_forest_model_file_is_onnx_and_predicts_without_tensorflow(berlin_forest, tmp_path):
    trainer, path = berlin_forest
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["forest.onnx", "metadata.json"]  # data only, no pickle
        graph = archive.read("forest.onnx")
    import onnx

    model = onnx.load_model_from_string(graph)
    onnx.checker.check_model(model)
    assert [o.name for o in model.graph.output] == ["probabilities"]
    # Bounded whatever the number of samples: N_TREES trees of at most MAX_LEAVES leaves each.
    ensemble = next(node for node in model.graph.node if node.op_type == "TreeEnsembleClassifier")
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in ensemble.attribute}
    tree_of_leaf = np.asarray(attributes["nodes_treeids"])[np.asarray(attributes["nodes_modes"]) == b"LEAF"]
    leaves_per_tree = np.bincount(tree_of_leaf)
    assert len(leaves_per_tree) == forest_family.N_TREES and leaves_per_tree.max() <= forest_family.MAX_LEAVES
    rows = trainer.split_.test
    features = tmp_path / "features.npy"
    np.save(features, trainer.table_.features[rows])
    code = ("import json, sys, numpy as np\n"
            "from landcover_cnn_plugin.core.model_file import load_model_file\n"
            f"m = load_model_file({str(path)!r}); p = m.predict_proba(np.load({str(features)!r}))\n"
            f"np.save({str(tmp_path / 'p.npy')!r}, p)\nprint(json.dumps([n for n in "
            "('tensorflow', 'keras', 'sklearn', 'skl2onnx') if n in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT / "build" / "plugins"), "PYTHONSAFEPATH": "1"})
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
    probabilities = np.load(tmp_path / "p.npy")
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(probabilities.argmax(axis=1), trainer.test_predictions_)


def test_cross_validation_tests_every_polygon_once_then_trains_on_all(tmp_path):
    logs = RecordingReporter()
    settings = TrainingSettings(model_type="random_forest", cv_folds=3, **BERLIN)
    trainer = LandcoverTrainer(settings, logs).fit(str(berlin_samples_csv(8)))
    table, split = trainer.table_, trainer.split_
    every = np.arange(len(table))
    assert split.cv_folds == 3 and np.array_equal(split.test, every) and np.array_equal(split.train, every)
    assert sum(trainer.run_.train_counts_balanced.values()) == len(table)  # the delivered model: every sample
    assert trainer.metrics_["n_samples"] == len(table)
    assert np.asarray(trainer.metrics_["confusion_matrix"]["matrix"]).sum() == len(table)
    folds = trainer.cv_results_["folds"]
    assert len(folds) == 3 and sum(f["n_test"] for f in folds) == len(table)
    oa = [f["overall_accuracy"] for f in folds]
    summary = trainer.cv_results_["summary"]["overall_accuracy"]
    assert summary == pytest.approx({"mean": np.mean(oa), "std": np.std(oa)})
    assert trainer.metrics_["intervals"]["n_groups"] == len(np.unique(table.groups))
    result = trainer.result()
    assert result["cv_folds"] == 3
    assert set(result["cross_validation"]) == {"overall_accuracy", "kappa", "macro_f1"}
    path = tmp_path / "cv.lcnn"
    trainer.save(str(path))
    report = Path(write_training_report(tmp_path / "cv.html", read_model_metadata(path))).read_text("utf-8")
    assert "Cross-validation (3 folds)" in report and f"trained on all {len(table)} samples" in report
    assert "Mean &plusmn; spread over the folds" in report and "All samples (each tested once)" in report


def test_early_stopping_folds_choose_the_final_models_epochs():
    settings = TrainingSettings(model_type="pixel_mlp", schedule="early_stopping", epochs=4, patience=1,
                                cv_folds=3, names_field="fclass", seed=5)
    logs = RecordingReporter()
    trainer = LandcoverTrainer(settings, logs).fit(str(reference_samples_subset_csv(12)))
    best = [f["best_epoch"] for f in trainer.cv_results_["folds"]]
    assert trainer.settings_.epochs == int(np.median(best)) == trainer.epochs_run_
    assert not trainer.history_.get("val_loss")  # the final fit has no validation part
    if trainer.settings_.epochs != 4:
        assert any("the folds' median best epoch" in line for line in logs.logs)


def test_automatic_choice_compares_the_candidates_and_trains_the_best(tmp_path):
    logs = RecordingReporter()
    trainer = LandcoverTrainer(TrainingSettings(names_field="fclass", epochs=2), logs).fit(
        str(reference_samples_subset_csv(12)))
    choice = trainer.choice_
    assert choice.rounds == 3 and [r["model_type"] for r in choice.rows] == ["pixel_mlp", "random_forest"]
    scores = {r["model_type"]: r["score"] for r in choice.rows}
    assert choice.chosen == max(scores, key=scores.get) == trainer.family_.name
    for row in choice.rows:  # the score: mean of the pooled out-of-fold figures
        figures = [row["overall_accuracy"], row["kappa"], row["macro_f1"]]
        assert row["score"] == pytest.approx(np.mean(figures), abs=1e-6)
    # compared on folds of the training part only: the test part stays unseen
    groups = trainer.table_.groups
    compared = np.concatenate([test for _, test in choice.validations[choice.chosen].folds])
    assert not set(groups[compared].tolist()) & set(groups[trainer.split_.test].tolist())
    path = tmp_path / "auto.lcnn"
    trainer.save(str(path))
    report = Path(write_training_report(tmp_path / "auto.html", read_model_metadata(path))).read_text("utf-8")
    assert "Automatic model choice" in report and "random_forest" in report and "pixel_mlp" in report


def test_choice_stops_at_its_time_budget_and_never_compares_a_handful_of_polygons():
    table = read_samples(str(reference_samples_subset_csv(12)), "code", group="polygon_id",
                         names_field="fclass")
    legend = build_legend(table)
    ids = legend.ids_from_codes(table.codes)
    settings = TrainingSettings(epochs=1, choice_minutes=0.4).check()  # 24 s
    ticks = iter(range(0, 10_000, 10))  # every look at the clock: 10 s later
    logs = RecordingReporter()
    choice = choose_model(settings, table, ids, legend, np.arange(len(table)), None,
                          FitProgress(logs, 0, 100), clock=lambda: float(next(ticks)))
    # the first candidate always runs its first fold; the second would start after the budget
    assert choice.chosen == "pixel_mlp" and choice.rounds == 1
    assert choice.rows[1]["status"] == "not compared: no time left in the budget"

    few = table.groups < np.sort(np.unique(table.groups))[MIN_CHOICE_POLYGONS - 1]
    small = choose_model(settings, table, ids, legend, np.flatnonzero(few), None,
                         FitProgress(logs, 0, 100))
    assert small.chosen == "random_forest" and small.rounds == 0 and "fewer than 30" in small.notes[0]
