"""Outputs appear complete under their final name or not at all."""

from __future__ import annotations

import os

import pytest

from landcover_cnn_plugin.core.atomic import (
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
