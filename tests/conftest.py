"""Shared fixtures: paths to the real sample data and a qgis_process runner.

Nothing here imports qgis or TensorFlow: this file is loaded by both pytest runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lcnn_testing import ROOT, SAMPLE_DIR, QgisProcessRunner


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE_DIR


@pytest.fixture(scope="session")
def sample_copy(tmp_path_factory) -> Path:
    """A copy of the sample data, for tests that hand files to QGIS or GDAL.

    QGIS writes '.aux.xml' statistics next to the rasters it loads and GDAL upgrades old
    GeoPackage triggers when QGIS opens a layer for update; the shared sample_data/ must stay
    as committed (see ``sample_data_stays_untouched``).
    """
    folder = tmp_path_factory.mktemp("sample_data") / "s2_brandenburg"
    shutil.copytree(SAMPLE_DIR, folder, ignore=shutil.ignore_patterns("*.aux.xml"))
    return folder


@pytest.fixture(scope="session")
def osm_polygons(sample_copy) -> Path:
    return sample_copy / "osm_landuse_water.gpkg"


@pytest.fixture(scope="session")
def reference_polygons(sample_copy) -> Path:
    return sample_copy / "reference_polygons.gpkg"


@pytest.fixture(scope="session")
def qgis_process() -> QgisProcessRunner:
    return QgisProcessRunner(ROOT / "scripts" / "qgis_process.sh")


def _snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    import hashlib

    return {str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns,
                                            hashlib.sha256(path.read_bytes()).hexdigest())
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="session", autouse=True)
def sample_data_stays_untouched():
    """Inputs are never modified: after the whole run, sample_data/ has the same files, bytes, mtimes."""
    before = _snapshot(SAMPLE_DIR)
    yield
    after = _snapshot(SAMPLE_DIR)
    changed = sorted(name for name in before.keys() & after.keys() if before[name] != after[name])
    assert not changed, f"tests modified sample data: {changed}"
    assert after.keys() == before.keys(), (
        f"files appeared in or vanished from sample_data: {sorted(after.keys() ^ before.keys())}")
