"""Legend, splits, balancing, scaling and metrics on the real sample table (no training)."""

from __future__ import annotations

import numpy as np
import pytest

from landcover_cnn_plugin.core.balancing import BALANCE_METHODS, balance_training_rows
from landcover_cnn_plugin.core.errors import UserInputError
from landcover_cnn_plugin.core.legend import ClassLegend
from landcover_cnn_plugin.core.metrics import compute_metrics
from landcover_cnn_plugin.core.scaling import ZScoreScaler
from landcover_cnn_plugin.core.splits import cross_validation_folds, split_samples
from lcnn_testing import OSM_CODES, STUDY_BANDS, reference_samples_frame


@pytest.fixture(scope="module")
def frame():
    return reference_samples_frame()


@pytest.fixture(scope="module")
def legend(frame):
    names = frame.groupby("code")["fclass"].first().to_dict()
    return ClassLegend(sorted(names), names)


def test_legend_orders_codes_and_round_trips(frame, legend):
    assert legend.codes == OSM_CODES
    assert legend.name_of(8200) == "water"
    codes = frame["code"].to_numpy()
    ids = legend.ids_from_codes(codes)
    assert ids.min() == 0 and ids.max() == len(OSM_CODES) - 1
    np.testing.assert_array_equal(legend.codes_from_ids(ids), codes)
    assert ClassLegend.from_dict(legend.to_dict()) == legend
    assert len(set(legend.colors)) == len(OSM_CODES)


def test_legend_csv_and_refusals(tmp_path, legend):
    path = tmp_path / "legend.csv"
    path.write_text("code,name,color\n8200,Water,#0000ff\n7201,Forest,#00aa00\n7205,Farm,\n")
    from_csv = ClassLegend.from_csv(str(path), [7205, 8200, 7201])
    assert from_csv.codes == [7201, 7205, 8200]
    assert from_csv.names == ["Forest", "Farm", "Water"]
    assert from_csv.colors[0] == "#00aa00" and from_csv.colors[2] == "#0000ff"
    with pytest.raises(UserInputError, match=r"no row for the class codes \[7208\]"):
        ClassLegend.from_csv(str(path), [7201, 7208])
    with pytest.raises(UserInputError, match="not in the legend"):
        legend.ids_from_codes([7201, 9999])
    for bad in ([0, 1], [3, 3], [2.5]):
        with pytest.raises(UserInputError):
            ClassLegend(bad)


@pytest.mark.parametrize("seed", [1, 42])
@pytest.mark.parametrize("test_fraction", [0.2, 0.3])
def test_group_split_keeps_every_polygon_in_one_part(frame, legend, seed, test_fraction):
    ids = legend.ids_from_codes(frame["code"].to_numpy())
    groups = frame["polygon_id"].to_numpy()
    split = split_samples(ids, groups, "group", test_fraction, 0.2, seed)
    parts = {name: set(groups[getattr(split, name)].tolist()) for name in ("train", "validation", "test")}
    assert not parts["train"] & parts["test"]
    assert not parts["train"] & parts["validation"]
    assert not parts["validation"] & parts["test"]
    rows = np.concatenate([split.train, split.validation, split.test])
    assert len(rows) == len(frame) == len(np.unique(rows))
    assert abs(len(split.test) / len(frame) - test_fraction) < 0.1
    for part in ("train", "validation", "test"):  # stratified: every class in every part here
        assert set(ids[getattr(split, part)].tolist()) == set(range(len(OSM_CODES)))
    again = split_samples(ids, groups, "group", test_fraction, 0.2, seed)
    np.testing.assert_array_equal(again.test, split.test)


def test_random_split_is_stratified_and_warns(frame, legend):
    ids = legend.ids_from_codes(frame["code"].to_numpy())
    split = split_samples(ids, None, "random", 0.2, 0.2, 7)
    assert split.warnings and "optimistic" in split.warnings[0]
    share_all = np.bincount(ids) / len(ids)
    share_test = np.bincount(ids[split.test], minlength=len(share_all)) / len(split.test)
    np.testing.assert_allclose(share_test, share_all, atol=0.002)


def test_group_split_without_groups_is_refused(frame, legend):
    with pytest.raises(UserInputError, match="group column"):
        split_samples(legend.ids_from_codes(frame["code"].to_numpy()), None, "group")


def test_cross_validation_folds_are_group_disjoint_and_cover_all(frame, legend):
    ids = legend.ids_from_codes(frame["code"].to_numpy())
    groups = frame["polygon_id"].to_numpy()
    seen = []
    for train, test in cross_validation_folds(ids, groups, "group", 3, seed=5):
        assert not set(groups[train].tolist()) & set(groups[test].tolist())
        seen.append(test)
    np.testing.assert_array_equal(np.sort(np.concatenate(seen)), np.arange(len(frame)))


@pytest.mark.parametrize("method", BALANCE_METHODS)
def test_balancing_uses_training_rows_only(frame, legend, method):
    ids = legend.ids_from_codes(frame["code"].to_numpy())
    split = split_samples(ids, frame["polygon_id"].to_numpy(), "group", 0.2, 0.2, 42)
    features = ZScoreScaler().fit(frame[STUDY_BANDS].to_numpy()[split.train]).transform(
        frame[STUDY_BANDS].to_numpy()[split.train])
    balanced = balance_training_rows(ids[split.train], method, samples_per_class=300, seed=3,
                                     features=features)
    real = balanced.rows[balanced.rows >= 0]
    assert real.max() < len(split.train)
    chosen = split.train[real]
    assert not set(chosen.tolist()) & set(split.test.tolist())
    assert not set(chosen.tolist()) & set(split.validation.tolist())
    np.testing.assert_array_equal(balanced.class_ids[balanced.rows >= 0], ids[chosen])
    counts = np.bincount(balanced.class_ids, minlength=len(OSM_CODES))
    if method == "to_n":
        assert set(counts.tolist()) == {300}
    elif method == "smote":
        assert len(set(counts.tolist())) == 1  # every class raised to the majority's count
        synthetic = balanced.features[balanced.rows < 0]
        assert synthetic.shape[1] == len(STUDY_BANDS) and len(synthetic) > 0
    else:
        np.testing.assert_array_equal(balanced.rows, np.arange(len(split.train)))
    if method == "class_weights":
        weights = balanced.class_weight
        rare, common = int(np.argmin(counts)), int(np.argmax(counts))
        assert weights[rare] > 1 > weights[common]


def test_scaler_statistics_are_those_of_the_training_rows(frame, legend):
    ids = legend.ids_from_codes(frame["code"].to_numpy())
    split = split_samples(ids, frame["polygon_id"].to_numpy(), "group", 0.2, 0.2, 42)
    values = frame[STUDY_BANDS].to_numpy(dtype=np.float64)
    scaler = ZScoreScaler().fit(values[split.train])
    np.testing.assert_allclose(scaler.mean_, values[split.train].mean(axis=0))
    np.testing.assert_allclose(scaler.std_, values[split.train].std(axis=0))
    assert not np.allclose(scaler.mean_, values.mean(axis=0), rtol=1e-4)
    scaled = scaler.transform(values[split.train])
    np.testing.assert_allclose(scaled.mean(axis=0), 0, atol=1e-3)
    valid = np.ones(len(values), bool)
    valid[:5] = False
    assert not scaler.transform(values, valid)[:5].any()
    restored = ZScoreScaler.from_dict(scaler.to_dict())
    np.testing.assert_array_equal(restored.transform(values[:100]), scaler.transform(values[:100]))


def test_metrics_match_their_definitions(frame, legend):
    reference = frame["code"].to_numpy()
    rng = np.random.default_rng(0)
    predicted = np.where(rng.random(len(reference)) < 0.6, reference, rng.choice(OSM_CODES, len(reference)))
    metrics = compute_metrics(reference, predicted, legend)
    assert metrics["overall_accuracy"] == pytest.approx(np.mean(reference == predicted))
    matrix = np.array(metrics["confusion_matrix"]["matrix"])
    assert matrix.sum() == len(reference) and np.trace(matrix) == np.sum(reference == predicted)
    expected_by_chance = (matrix.sum(1) * matrix.sum(0)).sum() / len(reference) ** 2
    observed = np.trace(matrix) / len(reference)
    assert metrics["kappa"] == pytest.approx((observed - expected_by_chance) / (1 - expected_by_chance))
    water = next(row for row in metrics["per_class"] if row["code"] == 8200)
    index = OSM_CODES.index(8200)
    assert water["name"] == "water" and water["support"] == matrix[index].sum()
    assert water["recall"] == pytest.approx(matrix[index, index] / matrix[index].sum())
    assert water["precision"] == pytest.approx(matrix[index, index] / matrix[:, index].sum())
    assert metrics["macro_f1"] == pytest.approx(np.mean([row["f1"] for row in metrics["per_class"]]))
