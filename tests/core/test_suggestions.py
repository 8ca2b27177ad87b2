"""Points to label next (core.suggestions): least sure, balanced, spread, independent of blocks."""

from __future__ import annotations

import numpy as np
import pytest

from landcover_cnn_plugin.core.suggestions import MEASURES, SuggestionPool


def probabilities(seed: int = 0, shape=(4, 60, 80)) -> np.ndarray:
    """Softmax of smooth random logits: patches of confident pixels and uncertain borders."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(shape[0], shape[1] // 10 + 1, shape[2] // 10 + 1)) * 4
    logits = np.kron(logits, np.ones((10, 10)))[:, :shape[1], :shape[2]] + rng.normal(size=shape)
    exp = np.exp(logits - logits.max(axis=0))
    return (exp / exp.sum(axis=0)).astype(np.float32)


def pool_from(proba, valid, measure="margin", block=(60, 80), pool_size=500, seed=1) -> SuggestionPool:
    pool = SuggestionPool(proba.shape[0], proba.shape[2], measure, pool_size, seed)
    for r in range(0, proba.shape[1], block[0]):
        for c in range(0, proba.shape[2], block[1]):
            pool.add(proba[:, r:r + block[0], c:c + block[1]], valid[r:r + block[0], c:c + block[1]], r, c)
    return pool


@pytest.mark.parametrize("measure", MEASURES)
def test_suggestions_do_not_depend_on_the_block_size(measure):
    proba = probabilities()
    valid = np.ones(proba.shape[1:], bool)
    whole = pool_from(proba, valid, measure).select(40, 5.0)
    tiled = pool_from(proba, valid, measure, block=(7, 13)).select(40, 5.0)
    np.testing.assert_array_equal(whole.rows, tiled.rows)
    np.testing.assert_array_equal(whole.cols, tiled.cols)


def test_margin_picks_the_least_sure_pixels_of_each_class():
    proba = probabilities(1)
    valid = np.ones(proba.shape[1:], bool)
    chosen = pool_from(proba, valid).select(8)
    top = np.sort(proba, axis=0)
    margin = top[-1] - top[-2]
    predicted = proba.argmax(axis=0)
    for row, col, cls in zip(chosen.rows, chosen.cols, chosen.predicted, strict=True):
        assert predicted[row, col] == cls
        # no pixel of that class is less sure than the first two chosen for it
        assert margin[row, col] <= np.sort(margin[predicted == cls])[1] + 1e-6
    np.testing.assert_allclose(chosen.margin, margin[chosen.rows, chosen.cols], atol=1e-6)
    assert np.all(np.diff(chosen.score) <= 0)  # least sure first


def test_balanced_over_predicted_classes_spread_apart_and_only_valid_pixels():
    proba = probabilities(2)
    valid = np.ones(proba.shape[1:], bool)
    valid[:, :30] = False  # e.g. inside training polygons
    chosen = pool_from(proba, valid).select(40, min_distance=6.0, pixel_width=1.0, pixel_height=1.0)
    assert len(chosen) == 40 and valid[chosen.rows, chosen.cols].all()
    counts = np.bincount(chosen.predicted, minlength=4)
    present = np.unique(proba.argmax(axis=0)[valid])
    assert counts[present].max() - counts[present].min() <= 1
    xy = np.stack([chosen.cols, chosen.rows], axis=1).astype(float)
    distances = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(axis=-1)) + np.eye(len(xy)) * 1e9
    assert distances.min() >= 6.0


def test_seed_changes_random_points_only():
    proba = probabilities(3)
    valid = np.ones(proba.shape[1:], bool)
    first = pool_from(proba, valid, "random", seed=1).select(20)
    second = pool_from(proba, valid, "random", seed=2).select(20)
    assert not np.array_equal(first.rows * 80 + first.cols, second.rows * 80 + second.cols)
    margin_1 = pool_from(proba, valid, "margin", seed=1).select(20)
    margin_2 = pool_from(proba, valid, "margin", seed=2).select(20)
    np.testing.assert_array_equal(margin_1.rows, margin_2.rows)
