"""Every registered model family keeps the contract (``core.models.base.ModelFamily``), on real data.

Each family is trained one epoch by the real trainer on the sample scene's samples, saved, loaded,
and must predict a block of the sample stack as it predicts the block's pixels as sample points.
A new family is tested here by being registered.
"""

from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal

from landcover_cnn_plugin.core.models import AUTO_MODEL, FAMILIES, MODEL_CHOICES
from landcover_cnn_plugin.core.models.base import ModelFamily
from lcnn_testing import FAMILY_PATCH_SIZE, reference_stack

PATCH_SIZE = FAMILY_PATCH_SIZE
WINDOW = (120, 40, 200, 48)  # row, rows, col, cols of the block's interior (inside the image)


def test_registry_lists_each_family_once_at_its_position():
    assert MODEL_CHOICES.index(AUTO_MODEL) == 3
    for index, name in enumerate(MODEL_CHOICES):
        if name != AUTO_MODEL:
            family = FAMILIES[name]
            assert isinstance(family, ModelFamily) and family.name == name and family.position == index
            assert family.description and family.network_member


def test_families_refuse_settings_they_cannot_train_with():
    from landcover_cnn_plugin.core.settings import TrainingSettings

    smote = TrainingSettings(balance="smote")
    for family in FAMILIES.values():
        problem = family.settings_problem(smote)
        assert (problem is not None) == family.uses_patches  # SMOTE interpolates pixels, not patches
        if problem is not None:
            assert problem.parameter == "BALANCE" and "per-pixel" in problem.message


@pytest.fixture(scope="module", params=list(FAMILIES))
def fitted(request, trained_family):
    from landcover_cnn_plugin.core.model_file import load_model_file

    trainer, path = trained_family(request.param)  # one epoch on every 12th sample (tests/core/conftest.py)
    return FAMILIES[request.param], trainer, load_model_file(path)


def test_trained_saved_and_loaded_model_predicts_as_in_training(fitted):
    family, trainer, loaded = fitted
    assert loaded.family is family and trainer.family_ is family
    assert trainer.epochs_run_ == len(trainer.history_.get("loss", [])) <= 1  # a forest has no epochs
    assert loaded.halo == (PATCH_SIZE // 2 if family.uses_patches else 0)
    assert loaded.metadata["training"]["label_smoothing"] == family.defaults.label_smoothing
    assert family.defaults.balance == trainer.settings_.balance  # "auto" resolved to the family's
    table, test = trainer.table_, trainer.split_.test
    probabilities = loaded.predict_at(table.features[test], table.xy[test], str(reference_stack()))
    assert probabilities.shape == (len(test), loaded.n_classes)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    # The same classes as the trainer's own test predictions, except where the two best classes tie
    # within float32 noise (the two paths batch differently); most pixels are decided.
    top2 = np.sort(probabilities, axis=1)[:, -2:]
    decided = top2[:, 1] - top2[:, 0] > 1e-5
    assert decided.mean() > 0.9
    np.testing.assert_array_equal(probabilities.argmax(axis=1)[decided], trainer.test_predictions_[decided])


def test_block_prediction_equals_prediction_at_its_pixels(fitted):
    _, _, loaded = fitted
    row, rows, col, cols = WINDOW
    h = loaded.halo
    dataset = gdal.Open(str(reference_stack()))
    values = dataset.ReadAsArray(col - h, row - h, cols + 2 * h, rows + 2 * h).astype(np.float32)
    valid = np.ones(values.shape[1:], dtype=bool)
    valid[h + 7, h + 9] = False  # a nodata pixel: 0 for every class; its neighbours get the training mean
    block = loaded.predict_block(values, valid)
    assert block.shape == (loaded.n_classes, rows, cols) and block.dtype == np.float32
    assert not block[:, 7, 9].any()
    inside = valid[h:h + rows, h:h + cols]
    r, c = np.nonzero(inside)
    x0, dx, _, y0, _, dy = dataset.GetGeoTransform()
    xy = np.column_stack([x0 + (col + c + 0.5) * dx, y0 + (row + r + 0.5) * dy])
    features = values[:, h + r, h + c].T
    at_points = loaded.predict_at(features, xy, str(reference_stack()))
    if loaded.halo:  # the points' patches see the real pixel where the block saw nodata
        near_hole = (np.abs(r - 7) <= h) & (np.abs(c - 9) <= h)
        r, c, at_points = r[~near_hole], c[~near_hole], at_points[~near_hole]
    np.testing.assert_allclose(block[:, r, c].T, at_points, atol=2e-5, rtol=0)
    assert len(np.unique(at_points.argmax(axis=1))) >= 2  # the network is not constant here
