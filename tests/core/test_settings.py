"""The "auto" choices of the train job resolve to the benchmarked model and balancing."""

from __future__ import annotations

import pytest

from landcover_cnn_plugin.core.balancing import BALANCE_METHODS, resolve_balance
from landcover_cnn_plugin.core.jobs import train
from landcover_cnn_plugin.core.models import DEFAULT_MODEL, MODEL_TYPES, resolve_model_type


@pytest.mark.parametrize(("raster", "expected"), [(None, DEFAULT_MODEL), ("stack.tif", "patch_cnn")])
def test_auto_model_needs_the_raster_for_patches(raster, expected):
    assert resolve_model_type("auto", raster) == expected
    assert resolve_model_type("study_mlp", raster) == "study_mlp"


def test_auto_balance_is_each_models_default():
    for name, model_type in MODEL_TYPES.items():
        assert resolve_balance("auto", name) == model_type.default_balance
        assert model_type.default_balance in BALANCE_METHODS
        assert resolve_balance("to_n", name) == "to_n"
    assert resolve_balance("auto", "patch_cnn") == "none"


def test_train_job_defaults_resolve_to_concrete_settings(tmp_path):
    import argparse

    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    args = parser.parse_args(["--samples", "s.csv", "--model", str(tmp_path / "m.lcnn")])
    settings = train.trainer_settings(args)
    assert settings["model_type"] == DEFAULT_MODEL
    assert settings["balance"] == MODEL_TYPES[DEFAULT_MODEL].default_balance
    args = parser.parse_args(["--samples", "s.csv", "--model", "m.lcnn", "--raster", "stack.tif"])
    assert train.trainer_settings(args)["model_type"] == "patch_cnn"
    assert train.trainer_settings(args)["balance"] == "none"
