"""Shared fixtures: paths to the real sample data and a qgis_process runner.

Nothing here imports qgis or TensorFlow: this file is loaded by both pytest runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lcnn_testing import ROOT, SAMPLE_DIR, QgisProcessRunner


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE_DIR


@pytest.fixture(scope="session")
def osm_polygons() -> Path:
    return SAMPLE_DIR / "osm_landuse_water.gpkg"


@pytest.fixture(scope="session")
def reference_polygons() -> Path:
    return SAMPLE_DIR / "reference_polygons.gpkg"


@pytest.fixture(scope="session")
def qgis_process() -> QgisProcessRunner:
    return QgisProcessRunner(ROOT / "scripts" / "qgis_process.sh")
