"""Outputs appear complete under their final name or not at all."""

from __future__ import annotations

import os

import pytest

from landcover_cnn_plugin.core.atomic import (
    atomic_files,
    atomic_output,
    check_output_folder,
    partial_files,
    partial_path,
)
from landcover_cnn_plugin.core.errors import UserInputError


def test_success_renames_partial_onto_final(tmp_path):
    final = tmp_path / "map.tif"
    with atomic_output(final) as tmp:
        assert os.path.dirname(tmp) == str(tmp_path) and tmp.endswith(".tif")
        with open(tmp, "wb") as handle:
            handle.write(b"complete")
        assert not final.exists()
    assert final.read_bytes() == b"complete"
    assert partial_files(final) == []


def test_failure_keeps_previous_file_and_removes_partial(tmp_path):
    final = tmp_path / "map.tif"
    final.write_bytes(b"previous")
    with pytest.raises(RuntimeError), atomic_output(final) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(b"half")
        raise RuntimeError("disk full")
    assert final.read_bytes() == b"previous"
    assert partial_files(final) == []


def _write_shapefile(path: str, points: list[tuple[float, float]]) -> None:
    """A point Shapefile written by OGR: .shp, .shx, .dbf and .prj beside each other."""
    from osgeo import ogr, osr

    ogr.UseExceptions()
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    dataset = ogr.GetDriverByName("ESRI Shapefile").CreateDataSource(path)
    layer = dataset.CreateLayer("points", srs, ogr.wkbPoint)
    layer.CreateField(ogr.FieldDefn("code", ogr.OFTInteger))
    for code, (x, y) in enumerate(points, start=1):
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("code", code)
        feature.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT ({x} {y})"))
        layer.CreateFeature(feature)
    dataset = None


def _read_codes(path) -> list[int]:
    from osgeo import ogr

    dataset = ogr.Open(str(path))
    return [feature.GetField("code") for feature in dataset.GetLayer()]


def test_atomic_files_moves_every_side_car(tmp_path):
    final = tmp_path / "points.shp"
    with atomic_files(final) as tmp:
        _write_shapefile(tmp, [(389000.0, 5800000.0), (389020.0, 5800000.0)])
        assert not final.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "points.dbf", "points.prj", "points.shp", "points.shx"]
    assert _read_codes(final) == [1, 2]


def test_atomic_files_failure_keeps_previous_layer(tmp_path):
    final = tmp_path / "points.shp"
    _write_shapefile(str(final), [(389000.0, 5800000.0)])
    with pytest.raises(RuntimeError), atomic_files(final) as tmp:
        _write_shapefile(tmp, [(389000.0, 5800000.0), (389020.0, 5800000.0)])
        raise RuntimeError("canceled")
    assert partial_files(final) == []
    assert len(list(tmp_path.iterdir())) == 4
    assert _read_codes(final) == [1]


def test_partial_names_differ_between_writers(tmp_path):
    final = tmp_path / "samples.csv"
    assert partial_path(final, "1") != partial_path(final, "2")
    assert partial_path(final, "1").endswith(".csv")


@pytest.mark.parametrize("bad_folder", ["missing", "a_file"])
def test_check_output_folder_names_parameter_and_folder(tmp_path, bad_folder):
    folder = tmp_path / bad_folder
    if bad_folder == "a_file":
        folder.write_text("not a folder")
    with pytest.raises(UserInputError) as info:
        check_output_folder(folder / "map.tif", "OUTPUT")
    assert info.value.parameter == "OUTPUT"
    assert str(folder) in info.value.message
    assert "does not exist" in info.value.message
