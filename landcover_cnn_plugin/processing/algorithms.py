"""The provider's algorithm list: one class per module, in Toolbox order."""

from __future__ import annotations


def algorithm_classes() -> list[type]:
    from .check_environment import CheckEnvironmentAlgorithm

    classes: list[type] = [
        CheckEnvironmentAlgorithm,
    ]
    return classes
