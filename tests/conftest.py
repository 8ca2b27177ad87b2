"""Shared fixtures: paths to the real sample data and a qgis_process runner.

Nothing here imports qgis or TensorFlow: this file is loaded by both pytest runs.
"""

from __future__ import annotations

import shutil
import subprocess
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


#: Where a test run may write inside the checkout: the build folder (packaged plugin, test
#: caches, QGIS settings), the virtual environment and Python's and the tools' caches.
EXPECTED_WRITES = ("build/", ".venv/", ".pytest_cache/", ".ruff_cache/")


def _is_expected(path: str) -> bool:
    return path.startswith(EXPECTED_WRITES) or "__pycache__/" in path or path.endswith(".pyc")


def checkout_changes() -> set[str]:
    """Files of the checkout that are untracked, ignored, modified or deleted (``git status``
    code and path), outside the places a run may write to."""
    status = subprocess.run(
        ["git", "status", "--porcelain=v1", "-z", "--ignored", "--untracked-files=all", "--",
         ".", ":(exclude)build", ":(exclude).venv"],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout
    entries = iter(status.split("\0"))
    changes = set()
    for entry in entries:
        if not entry:
            continue
        code, path = entry[:2], entry[3:]
        if code[0] in "RC":  # a rename or copy: the source path follows
            next(entries, None)
        if not _is_expected(path):
            changes.add(f"{code} {path}")
    return changes


@pytest.fixture(scope="session", autouse=True)
def checkout_stays_clean():
    """Nothing a run writes lands in the checkout (profiles, outputs, statistics side-cars):
    the files git reports as untracked, ignored or changed are the same after the run as before
    it, build/, .venv and caches aside. Outside a git checkout there is nothing to compare."""
    if not (ROOT / ".git").exists():
        yield
        return
    before = checkout_changes()
    yield
    appeared = sorted(checkout_changes() - before)
    assert not appeared, ("the test run wrote into the checkout (write to tmp_path or build/ "
                          f"instead): {appeared}")
