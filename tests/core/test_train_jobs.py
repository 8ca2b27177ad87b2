"""The worker's train, evaluate and compare jobs, run in-process through worker.main."""

from __future__ import annotations

import csv
import json

import pytest

from landcover_cnn_plugin import worker
from landcover_cnn_plugin.core.atomic import partial_files
from landcover_cnn_plugin.core.model_file import read_model_metadata
from lcnn_testing import STUDY_BANDS, reference_samples_frame, reference_samples_subset_csv

QUICK = ["--epochs", "3", "--batch-size", "256", "--patience", "2"]


def run_job(capsys, *args):
    code = worker.main([*args, "--progress", "jsonl"])
    messages = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return code, messages


def result_of(messages):
    return next(m["data"] for m in messages if m["type"] == "result")


@pytest.fixture(scope="module")
def samples():
    return str(reference_samples_subset_csv(12))


def test_train_writes_model_and_metrics_then_evaluate_agrees(capsys, tmp_path, samples):
    model, metrics = tmp_path / "m.lcnn", tmp_path / "metrics.json"
    code, messages = run_job(capsys, "train", "--samples", samples, "--model", str(model), "--metrics",
                             str(metrics), "--label", "code", "--names-field", "fclass", "--group",
                             "polygon_id", "--model-type", "study_mlp", *QUICK)
    assert code == 0, messages[-1]
    result = result_of(messages)
    for key in ("overall_accuracy", "kappa", "macro_f1", "n_train", "n_validation", "n_test", "epochs_run"):
        assert key in result
    assert result["split_protocol"] == "group" and result["model"] == str(model)
    assert set(result["intervals"]) == {"overall_accuracy", "kappa", "macro_f1"}
    assert any("epoch 1/3" in m.get("message", "") for m in messages)
    progress = [m["value"] for m in messages if m["type"] == "progress"]
    assert progress == sorted(progress) and progress[-1] == 100.0
    written = json.loads(metrics.read_text())
    assert written["overall_accuracy"] == result["overall_accuracy"]
    assert written["confusion_matrix"]["names"][-1] == "wetland"
    assert partial_files(model) == []

    # Evaluating on the same model's test rows reproduces the training job's test figures.
    frame = reference_samples_frame().iloc[::12]
    meta = read_model_metadata(model)
    test_ids = set(frame["polygon_id"]) - _polygons_of(meta, frame)
    test_csv = tmp_path / "test.csv"
    frame[frame["polygon_id"].isin(test_ids)].to_csv(test_csv, index=False)
    code, messages = run_job(capsys, "evaluate", "--model", str(model), "--samples", str(test_csv))
    assert code == 0, messages[-1]
    evaluated = result_of(messages)
    assert evaluated["n_samples"] == result["n_test"]
    assert evaluated["overall_accuracy"] == pytest.approx(result["overall_accuracy"], abs=1e-6)


def _polygons_of(meta, frame):
    """Polygons of the training and validation parts, recomputed with the model's split settings."""
    from landcover_cnn_plugin.core.legend import ClassLegend
    from landcover_cnn_plugin.core.splits import split_samples

    legend = ClassLegend.from_dict(meta["legend"])
    split = split_samples(legend.ids_from_codes(frame["code"].to_numpy()), frame["polygon_id"].to_numpy(),
                          "group", meta["split"]["test_fraction"], meta["split"]["validation_fraction"],
                          meta["training"]["seed"])
    polygons = frame["polygon_id"].to_numpy()
    return set(polygons[split.train].tolist()) | set(polygons[split.validation].tolist())


def test_evaluate_refuses_samples_without_the_model_features(capsys, tmp_path, samples):
    model = tmp_path / "m.lcnn"
    code, messages = run_job(capsys, "train", "--samples", samples, "--model", str(model),
                             "--features", "B03,B04,B08", "--model-type", "spectral_cnn",
                             "--split", "random", "--group", "", *QUICK)
    assert code == 0, messages[-1]
    assert result_of(messages)["split_protocol"] == "random"
    assert any("optimistic" in m.get("message", "") for m in messages)
    other = tmp_path / "other.csv"
    reference_samples_frame().iloc[::50].rename(columns={"B08": "NIR"}).to_csv(other, index=False)
    code, messages = run_job(capsys, "evaluate", "--model", str(model), "--samples", str(other))
    assert code == 2
    error = messages[-1]
    assert error["type"] == "error" and error["parameter"] == "SAMPLES"
    assert "['B03', 'B04', 'B08']" in error["message"] and "NIR" in error["message"]


def test_train_refuses_bad_input_without_writing(capsys, tmp_path, samples):
    model = tmp_path / "m.lcnn"
    code, messages = run_job(capsys, "train", "--samples", samples, "--model", str(model),
                             "--label", "landuse", *QUICK)
    assert code == 2 and messages[-1]["parameter"] == "LABEL" and "landuse" in messages[-1]["message"]
    code, messages = run_job(capsys, "train", "--samples", samples, "--model",
                             str(tmp_path / "missing" / "m.lcnn"), *QUICK)
    assert code == 2 and messages[-1]["parameter"] == "MODEL"
    assert not model.exists()


def test_compare_feature_sets_writes_one_row_per_set(capsys, tmp_path, samples):
    table = tmp_path / "table.csv"
    sets = ",".join(STUDY_BANDS) + ";B03,B04,B08"
    code, messages = run_job(capsys, "compare", "--samples", samples, "--feature-sets", sets,
                             "--set-names", "nine bands;three bands", "--output-table", str(table),
                             "--model-type", "study_mlp", *QUICK)
    assert code == 0, messages[-1]
    rows = list(csv.DictReader(table.open()))
    assert [r["set_name"] for r in rows] == ["nine bands", "three bands"]
    assert [int(r["n_features"]) for r in rows] == [9, 3]
    assert rows[0]["n_test"] == rows[1]["n_test"] and rows[0]["n_train"] == rows[1]["n_train"]
    assert result_of(messages)["rows"][1]["features"] == "B03,B04,B08"
