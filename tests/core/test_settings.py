"""Training settings: one frozen type; its command-line options, checks and the one resolution of "auto"."""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys

import pytest

from landcover_cnn_plugin.core.balancing import BALANCE_METHODS
from landcover_cnn_plugin.core.errors import UserInputError
from landcover_cnn_plugin.core.indices import DERIVED_FEATURES
from landcover_cnn_plugin.core.jobs import compare, train
from landcover_cnn_plugin.core.models import DEFAULT_MODEL, FAMILIES, MODEL_CHOICES
from landcover_cnn_plugin.core.models.base import SCHEDULES
from landcover_cnn_plugin.core.settings import TrainingSettings, training_options
from lcnn_testing import ROOT


def parse(add_arguments, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.parametrize(("raster", "expected"), [(None, DEFAULT_MODEL), ("stack.tif", "patch_cnn")])
def test_auto_model_needs_the_raster_for_patches(raster, expected):
    assert TrainingSettings(raster=raster).resolved().model_type == expected
    assert TrainingSettings(model_type="study_mlp", raster=raster).resolved().model_type == "study_mlp"


@pytest.mark.parametrize("name", list(FAMILIES))
def test_auto_settings_are_each_familys_defaults(name):
    defaults = FAMILIES[name].defaults
    assert defaults.balance in BALANCE_METHODS and defaults.derived_features in DERIVED_FEATURES
    assert defaults.schedule in SCHEDULES
    resolved = TrainingSettings(model_type=name).resolved()
    assert (resolved.balance, resolved.derived_features, resolved.schedule, resolved.epochs,
            resolved.min_steps) == (defaults.balance, defaults.derived_features, defaults.schedule,
                                    defaults.epochs, defaults.min_steps)
    chosen = TrainingSettings(model_type=name, balance="to_n", derived_features="normalized_differences",
                              schedule="early_stopping", epochs=7)
    assert chosen.resolved() == chosen  # nothing left to resolve: given epochs get no minimum of steps
    assert TrainingSettings(model_type="patch_cnn").resolved().balance == "none"


def test_auto_compares_the_candidates_and_takes_the_choice():
    assert TrainingSettings().candidates() == ("pixel_mlp", "random_forest")
    with_stack = TrainingSettings(raster="stack.tif")
    assert with_stack.candidates() == ("pixel_mlp", "random_forest", "patch_cnn")  # cheapest first
    assert with_stack.resolved("random_forest").model_type == "random_forest"
    assert TrainingSettings(model_type="study_mlp").candidates() == ("study_mlp",)
    with pytest.raises(ValueError, match="patch_cnn"):
        TrainingSettings().resolved("patch_cnn")  # patches need the stack


def test_train_job_options_are_the_settings_with_their_defaults(tmp_path):
    args = parse(train.add_arguments, "--samples", "s.csv", "--model", str(tmp_path / "m.lcnn"))
    assert TrainingSettings.from_arguments(args) == TrainingSettings()
    settings = TrainingSettings.from_arguments(parse(
        train.add_arguments, "--samples", "s.csv", "--model", "m.lcnn", "--raster", "stack.tif",
        "--group", "", "--features", "B03, B04", "--epochs", "7", "--learning-rate", "0.01"))
    assert settings == TrainingSettings(raster="stack.tif", group=None, features=("B03", "B04"), epochs=7,
                                        learning_rate=0.01)
    assert (settings.resolved().model_type, settings.resolved().balance) == ("patch_cnn", "none")
    # every setting is an option of the train job; compare leaves out the features (its sets name them)
    compare_args = vars(parse(compare.add_arguments, "--samples", "s", "--feature-sets", "B03;B04",
                              "--output-table", "t.csv"))
    train_args = vars(args)
    for spec in training_options():
        assert train_args[spec.name] == spec.default
        assert (spec.name in compare_args) == (spec.name != "features")


@pytest.mark.parametrize(("change", "parameter", "words"), [
    ({"patience": 0}, "PATIENCE", "at least 1"),  # Keras stops alike for patience 0 and 1
    ({"epochs": -1}, "EPOCHS", "at least 0"),  # 0: the model's benchmarked number
    ({"cv_folds": 21}, "CV_FOLDS", "at most 20"),
    ({"choice_minutes": -1.0}, "CHOICE_MINUTES", "at least 0"),
    ({"schedule": "plateau"}, "SCHEDULE", "early_stopping"),
    ({"test_fraction": 0.9}, "TEST_FRACTION", "at most 0.5"),
    ({"learning_rate": 0.0}, "LEARNING_RATE", "above 0"),
    ({"cv_folds": 1}, "CV_FOLDS", "at least 2 folds"),
    ({"balance": "oversample"}, "BALANCE", "to_n"),
    ({"model_type": "svm"}, "MODEL_TYPE", "patch_cnn"),
    ({"seed": -1}, "SEED", "at least 0"),  # NumPy refuses negative seeds
    ({"seed": 2**32}, "SEED", "at most 2147483647"),
])
def test_values_outside_their_range_are_refused_naming_the_parameter(change, parameter, words):
    with pytest.raises(UserInputError) as info:
        TrainingSettings(**change).resolved()
    assert info.value.parameter == parameter and words in info.value.message


def test_choices_keep_the_indices_saved_workflows_store():
    options = {spec.name: spec.option for spec in training_options()}
    assert MODEL_CHOICES[:4] == ("spectral_cnn", "study_mlp", "patch_cnn", "auto")
    assert options["model_type"].choices == MODEL_CHOICES
    assert options["balance"].choices == ("none", "class_weights", "to_n", "smote", "auto")
    assert options["derived_features"].choices == ("auto", "none", "normalized_differences")
    assert options["schedule"].choices == ("auto", "cosine", "early_stopping")
    for spec in training_options():
        assert len(spec.option.choices) == len(spec.option.choice_labels)
        if spec.option.choices:
            assert spec.default in spec.option.choices


def test_settings_are_frozen_and_plain():
    settings = TrainingSettings(features=["B03", "B04"], names_field="")
    assert settings.features == ("B03", "B04") and settings.names_field is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.epochs = 3
    assert settings.to_dict()["features"] == ["B03", "B04"]


def test_settings_and_families_import_without_heavy_libraries():
    """The QGIS process builds its parameters from these modules: no TensorFlow, pandas, scikit-learn."""
    code = ("import sys; import landcover_cnn_plugin.core.settings, landcover_cnn_plugin.core.model_file; "
            "print([n for n in ('tensorflow', 'keras', 'pandas', 'sklearn') if n in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT / "build" / "plugins")}).stdout
    assert out.strip() == "[]"
