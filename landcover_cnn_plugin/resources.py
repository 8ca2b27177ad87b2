"""Paths of files under ``resources/`` (icon, QML styles, Modeler models).

In the packaged plugin ``resources/`` sits inside the package folder; in a source
checkout it sits beside it. Pure Python: the worker uses it too.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def resource_path(*parts: str) -> Path:
    for base in (_PACKAGE_DIR / "resources", _PACKAGE_DIR.parent / "resources"):
        candidate = base.joinpath(*parts)
        if candidate.exists():
            return candidate
    return _PACKAGE_DIR.joinpath("resources", *parts)
