"""Mixup batches (core.mixup) on real patches and labels of the sample scene."""

from __future__ import annotations

import numpy as np
import pytest

from lcnn_testing import reference_samples_frame, reference_stack

N_CLASSES = 8
K = 5


@pytest.fixture(scope="module")
def patches_and_targets() -> tuple[np.ndarray, np.ndarray]:
    """Every 97th labelled pixel: its 5 x 5 x 9 patch and one-hot class (codes in sorted order)."""
    from landcover_cnn_plugin.core.patches import cut_patches_at

    frame = reference_samples_frame().iloc[::97].reset_index(drop=True)
    patches = cut_patches_at(reference_stack(), frame[["X", "Y"]].to_numpy(float), K).values
    codes = np.sort(frame["code"].unique())
    assert len(codes) == N_CLASSES
    targets = np.eye(N_CLASSES, dtype=np.float32)[np.searchsorted(codes, frame["code"].to_numpy())]
    return patches.astype(np.float32), targets


def test_a_mix_is_the_same_convex_combination_of_inputs_targets_and_weights(patches_and_targets):
    from landcover_cnn_plugin.core.mixup import mix_batch

    patches, targets = patches_and_targets
    class_weight = np.linspace(0.5, 4.0, N_CLASSES).astype(np.float32)
    inputs, mixed, weights = (t.numpy() for t in mix_batch(patches, targets, 0.4, [3, 4], class_weight))
    assert inputs.shape == patches.shape and mixed.shape == targets.shape and weights.shape == (len(patches),)
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0, atol=1e-6)
    checked = 0
    for row in range(len(patches)):
        own_class = targets[row].argmax()
        lam = mixed[row, own_class]
        assert lam >= 0.5 - 1e-6  # each sample leads its own mix
        others = np.flatnonzero(mixed[row] > 1e-6)
        if len(others) != 2 or lam > 0.95:  # partner of the same class, or too little of it to solve
            continue
        partner_class = others[others != own_class][0]
        partner_patch = (inputs[row] - lam * patches[row]) / (1 - lam)
        candidates = np.flatnonzero(targets[:, partner_class] == 1)
        assert any(np.allclose(patches[i], partner_patch, rtol=1e-3, atol=1.0) for i in candidates), \
            f"row {row}: the input is not the targets' mix of its own patch and a class-{partner_class} patch"
        own_weight, partner_weight = class_weight[own_class], class_weight[partner_class]
        assert weights[row] == pytest.approx(lam * own_weight + (1 - lam) * partner_weight, rel=1e-5)
        checked += 1
    assert checked > len(patches) // 3  # most partners come from another of the 8 classes


def test_batches_cover_the_samples_each_pass_and_repeat_with_the_seed(patches_and_targets):
    from landcover_cnn_plugin.core.mixup import mixup_dataset

    patches, targets = patches_and_targets
    batches = mixup_dataset(patches, targets, 100, alpha=0.2, seed=5)
    first_pass = [tuple(t.numpy() for t in batch) for batch in batches]
    second_pass = [tuple(t.numpy() for t in batch) for batch in batches]
    assert len(first_pass) == -(-len(patches) // 100)
    assert sum(len(x) for x, _ in first_pass) == len(patches)
    # the leading sample of each mix (lam >= 0.5) carries the label: every label once per pass
    np.testing.assert_array_equal(np.sum([np.eye(N_CLASSES)[y.argmax(1)].sum(0) for _, y in first_pass], 0),
                                  targets.sum(axis=0))
    assert not np.array_equal(second_pass[0][0], first_pass[0][0])  # reshuffled and redrawn
    again = [tuple(t.numpy() for t in batch) for batch in mixup_dataset(patches, targets, 100, 0.2, 5)]
    for (x, y), (x_again, y_again) in zip(first_pass, again, strict=True):
        np.testing.assert_array_equal(x, x_again)
        np.testing.assert_array_equal(y, y_again)
    x, y, weights = next(iter(mixup_dataset(patches, targets, 100, 0.2, 5, class_weight={0: 2.0})))
    assert len(weights) == len(x) and weights.numpy().min() >= 1.0 and weights.numpy().max() <= 2.0
