"""CV_FOLDS and the automatic model choice through the real qgis_process.bin, on both real scenes.

Berlin (HyMap, 6 urban classes): trainmodel with the automatic choice and 3-fold cross-validation,
its outputs (figures, 95 % intervals, spreads over the folds, the model trained) and report.
Sentinel-2 scene: comparefeaturesets with 2-fold cross-validation, mean and spread per set.
"""

from __future__ import annotations

import csv

import pytest

from landcover_cnn_plugin.core.model_file import read_model_metadata
from lcnn_testing import berlin_samples_csv, reference_samples_subset_csv

RANDOM_FOREST = 5  # MODEL_TYPE enum index (the family's position)


def test_trainmodel_chooses_the_model_by_cross_validation_on_berlin(qgis_process, tmp_path):
    model, report = tmp_path / "berlin.lcnn", tmp_path / "berlin.html"
    trained = qgis_process.run("landcovercnn:trainmodel", {
        "INPUT": berlin_samples_csv(8), "LABEL": "class_id", "CV_FOLDS": 3, "CHOICE_MINUTES": 5,
        "EPOCHS": 3, "OUTPUT_MODEL": model, "OUTPUT_REPORT": report})
    assert trained.returncode == 0, trained.text
    results, metadata = trained.results, read_model_metadata(model)
    choice = metadata["model_choice"]
    assert [row["model_type"] for row in choice["candidates"]] == ["pixel_mlp", "random_forest"]
    assert results["MODEL_TYPE_USED"] == choice["chosen"] == metadata["model_type"]
    assert choice["rounds"] == 3  # compared on the user's three folds
    assert len(metadata["cross_validation"]["folds"]) == 3 and metadata["split"]["cv_folds"] == 3
    for name in ("OVERALL_ACCURACY", "KAPPA", "MACRO_F1"):
        key = name.lower()
        assert results[name] == pytest.approx(metadata["metrics"][key])
        assert results[f"{name}_LOW"] < results[name] < results[f"{name}_HIGH"]
        assert results[f"{name}_STD"] == pytest.approx(metadata["cross_validation"]["summary"][key]["std"])
    text = report.read_text(encoding="utf-8")
    assert "Automatic model choice" in text and "Cross-validation (3 folds)" in text
    assert "Roof" in text and "95 % interval" in text  # the class names of the samples' class_name


def test_comparefeaturesets_cross_validates_every_set_on_the_sample_scene(qgis_process, tmp_path):
    table, report = tmp_path / "sets.csv", tmp_path / "sets.html"
    compared = qgis_process.run("landcovercnn:comparefeaturesets", {
        "INPUT": reference_samples_subset_csv(12), "MODEL_TYPE": RANDOM_FOREST, "CV_FOLDS": 2,
        "FEATURE_SETS": "B03,B04,B08;B03,B04,B05,B06,B07,B08,B8A,B11,B12", "SET_NAMES": "three;nine",
        "OUTPUT_TABLE": table, "OUTPUT_REPORT": report})
    assert compared.returncode == 0, compared.text
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert [r["set_name"] for r in rows] == ["three", "nine"]
    for row in rows:
        assert row["model_type"] == "random_forest" and int(row["n_test"]) == int(row["n_train"])
        assert float(row["overall_accuracy_low"]) < float(row["overall_accuracy"]) < float(
            row["overall_accuracy_high"])
        assert float(row["cv_overall_accuracy_std"]) >= 0 and row["cv_macro_f1_mean"]
    assert "over folds" in report.read_text(encoding="utf-8")
