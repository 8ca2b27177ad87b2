"""Fixtures of the core tests (TensorFlow allowed here)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lcnn_testing import FAMILY_PATCH_SIZE, reference_samples_frame, reference_stack


@pytest.fixture(scope="session")
def trained_family(tmp_path_factory) -> Callable[..., tuple[Any, Path]]:
    """``trained_family(name, derived="none")`` -> (fitted LandcoverTrainer, its saved model file).

    Each family is trained once per session by the real trainer, one epoch on every 12th sample of
    the sample scene (every polygon kept), and saved (model file format 3); the tests of the
    families' contract and of the engines and exports share these trainings.
    """
    from landcover_cnn_plugin.core.settings import TrainingSettings
    from landcover_cnn_plugin.core.training import LandcoverTrainer

    trained: dict[tuple[str, str], tuple[Any, Path]] = {}
    folder = tmp_path_factory.mktemp("families")

    def train(name: str, derived: str = "none") -> tuple[Any, Path]:
        if (name, derived) not in trained:
            frame = reference_samples_frame().iloc[::12].reset_index(drop=True)
            settings = TrainingSettings(model_type=name, names_field="fclass", raster=str(reference_stack()),
                                        patch_size=FAMILY_PATCH_SIZE, epochs=1, batch_size=256, seed=3,
                                        derived_features=derived)
            trainer = LandcoverTrainer(settings).fit(frame)
            path = folder / f"{name}_{derived}.lcnn"
            trainer.save(str(path))
            trained[name, derived] = trainer, path
        return trained[name, derived]

    return train
