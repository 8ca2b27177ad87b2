"""The registry of model families: one module of this package per model type.

A module of this package that defines ``FAMILY`` (an instance of a
:class:`~.base.ModelFamily` subclass) registers a model type: adding one touches that module and
its tests only. :data:`FAMILIES` lists them by their ``position``, :data:`MODEL_CHOICES` adds
"auto". Importable without Keras (the QGIS process lists the choices from it); every family
imports Keras inside its methods.
"""

from __future__ import annotations

import pkgutil
import sys

from ..errors import UserInputError
from .base import ModelFamily

#: "auto" (the default of training): the best of :func:`auto_candidates` in a polygon-grouped
#: cross-validation on the user's samples (``core.model_choice``); without time to compare,
#: :func:`auto_model_type`.
AUTO_MODEL = "auto"
#: Position of "auto" among the choices (after the first three families, where saved workflows
#: expect it).
AUTO_POSITION = 3
#: The per-pixel default (see ``pixel_mlp``) and the patch default, what "auto" trains without a
#: comparison (see ``benchmarks/bench_folds.py``).
DEFAULT_MODEL = "pixel_mlp"
DEFAULT_PATCH_MODEL = "patch_cnn"
#: What "auto" trains when the samples hold too few polygons to compare models (``core.model_choice``).
SMALL_DATA_MODEL = "random_forest"


def _discover() -> dict[str, ModelFamily]:
    """The ``FAMILY`` of every module of this package, ordered by position."""
    found: list[ModelFamily] = []
    for module_info in pkgutil.iter_modules(__path__):
        name = f"{__name__}.{module_info.name}"
        # __import__, not importlib.import_module: QGIS records a plugin's modules through its
        # __import__ hook and unloads exactly those when the plugin is reloaded or updated; a
        # module it missed would survive with the old ModelFamily class and fail the check below.
        __import__(name)
        module = sys.modules[name]
        family = getattr(module, "FAMILY", None)
        if isinstance(family, ModelFamily):
            found.append(family)
    found.sort(key=lambda family: family.position)
    positions = [family.position for family in found]
    expected = [p for p in range(len(found) + 1) if p != AUTO_POSITION][:len(found)]
    if positions != expected:
        raise RuntimeError(f"model family positions {positions} must be {expected} "
                           f"({AUTO_POSITION} is 'auto')")
    return {family.name: family for family in found}


#: Every model family by name, in the order of their positions.
FAMILIES: dict[str, ModelFamily] = _discover()
#: The model type choices: the families and "auto", each at its position (Processing enum index).
MODEL_CHOICES: tuple[str, ...] = tuple(sorted([*FAMILIES, AUTO_MODEL], key=lambda name: (
    AUTO_POSITION if name == AUTO_MODEL else FAMILIES[name].position)))


def family(name: str) -> ModelFamily:
    """The family called ``name``.

    Raises
    ------
    UserInputError
        (``MODEL_TYPE``) an unknown name, listing the choices.
    """
    if name not in FAMILIES:
        raise UserInputError(f"unknown model type {name!r}; choose one of {', '.join(FAMILIES)}.",
                             "MODEL_TYPE")
    return FAMILIES[name]


def auto_model_type(raster: str | None) -> str:
    """What "auto" trains without a comparison: the patch model when the stack raster is given, else
    the per-pixel default."""
    return DEFAULT_PATCH_MODEL if raster else DEFAULT_MODEL


def auto_candidates(raster: str | None) -> tuple[str, ...]:
    """The model types the automatic choice compares: every family marked ``auto_candidate``, patch
    families only when the stack raster is given; per-pixel ones first (the cheaper), by position."""
    chosen = [f for f in FAMILIES.values() if f.auto_candidate and (raster or not f.uses_patches)]
    return tuple(f.name for f in sorted(chosen, key=lambda f: (f.uses_patches, f.position)))
