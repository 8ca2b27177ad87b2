"""The training parameters of trainmodel and comparefeaturesets are the settings' (core.settings).

In-process QGIS (no TensorFlow): each parameter matches its setting's label, default, range and
choices, and the worker options the algorithm passes read back, with the train job's own parser,
as the settings the user chose.
"""

from __future__ import annotations

import argparse
import sys

import pytest
from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingParameterDefinition

from landcover_cnn_plugin.core.jobs import train
from landcover_cnn_plugin.core.settings import TrainingSettings, training_options
from lcnn_testing import reference_samples_csv, reference_stack


@pytest.fixture(scope="module")
def algorithms(landcover_provider):
    registry = QgsApplication.processingRegistry()
    return lambda name: registry.createAlgorithmById(f"landcovercnn:{name}")


@pytest.mark.parametrize("name", ["trainmodel", "comparefeaturesets"])
def test_each_setting_is_a_parameter_with_its_label_default_range_and_choices(algorithms, name):
    algorithm = algorithms(name)
    for spec in training_options():
        option = spec.option
        definition = algorithm.parameterDefinition(option.parameter)
        if not option.in_processing or (name == "comparefeaturesets" and spec.name == "features"):
            assert definition is None, option.parameter
            continue
        assert definition.description() == option.label
        assert bool(definition.flags() & QgsProcessingParameterDefinition.FlagAdvanced) == option.advanced
        if option.kind == "choice":
            assert definition.options() == list(option.choice_labels)
            assert definition.defaultValue() == option.choices.index(spec.default)
        elif spec.value_type in (int, float):
            assert definition.defaultValue() == spec.default
            if option.minimum is not None:
                assert definition.minimum() == option.minimum
            if option.maximum is not None:
                assert definition.maximum() == option.maximum


def _worker_settings(algorithm, parameters) -> TrainingSettings:
    """The settings the train job reads from the options the algorithm passes."""
    samples = str(reference_samples_csv())
    options = algorithm.training_arguments(parameters, QgsProcessingContext(), samples)
    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    return TrainingSettings.from_arguments(parser.parse_args([*options, "--model", "m.lcnn"]))


def test_worker_options_read_back_as_the_chosen_settings(algorithms):
    algorithm = algorithms("trainmodel")
    chosen = {"MODEL_TYPE": 1, "SPLIT": 1, "TEST_FRACTION": 0.3, "BALANCE": 2, "SAMPLES_PER_CLASS": 300,
              "EPOCHS": 5, "BATCH_SIZE": 32, "PATIENCE": 3, "SEED": 7, "DERIVED_FEATURES": 2,
              "NO_GROUPS": True, "RASTER": str(reference_stack())}
    assert _worker_settings(algorithm, chosen) == TrainingSettings(  # the names column: found by core
        group=None, model_type="study_mlp", split="random", test_fraction=0.3,
        balance="to_n", samples_per_class=300, epochs=5, batch_size=32, patience=3, seed=7,
        derived_features="normalized_differences")  # a per-pixel model gets no raster
    automatic = _worker_settings(algorithm, {"RASTER": str(reference_stack()), "PATCH_SIZE": 5})
    assert automatic == TrainingSettings(raster=str(reference_stack()), patch_size=5)
    assert automatic.resolved().model_type == "patch_cnn"
    for heavy in ("tensorflow", "keras", "sklearn", "pandas"):
        assert heavy not in sys.modules
