"""core.samples: the samples CSV written by SamplesCsvWriter reads back through read_samples, exactly."""

from __future__ import annotations

import numpy as np
from osgeo import gdal

from landcover_cnn_plugin.core.io.blocks import BlockSampler
from landcover_cnn_plugin.core.io.grid import Grid, lonlat_transform
from landcover_cnn_plugin.core.samples import (
    GROUP_COLUMN,
    NON_FEATURE_COLUMNS,
    PART_COLUMN,
    read_samples,
    samples_header,
)
from landcover_cnn_plugin.core.samples_writer import SamplesCsvWriter
from lcnn_testing import OSM_CODES, STUDY_BANDS, reference_labels, reference_polygon_ids, reference_stack

gdal.UseExceptions()


def test_header_is_the_design_column_order():
    assert samples_header(["B03", "B04"], "code", "fclass") == \
        ["X", "Y", "B03", "B04", "code", "fclass", "polygon_id", "polygon_part", "Latitude", "Longitude"]
    assert samples_header(["B03"], "ASLC") == \
        ["X", "Y", "B03", "ASLC", "polygon_id", "polygon_part", "Latitude", "Longitude"]
    assert {"X", "Y", GROUP_COLUMN, PART_COLUMN, "Latitude", "Longitude"} <= set(NON_FEATURE_COLUMNS)


def test_written_rows_read_back_exactly(tmp_path):
    """Every 7th labelled pixel of the real stack, in float32 (shortest text) and in uint16, with class
    names that need CSV quoting; the reader gives back the same values, codes, groups, names, X/Y."""
    dataset = gdal.Open(str(reference_stack()))
    grid = Grid.from_dataset(dataset)
    codes_all = gdal.Open(str(reference_labels())).ReadAsArray()
    ids_all = gdal.Open(str(reference_polygon_ids())).ReadAsArray()
    rows, cols = np.nonzero(codes_all)
    rows, cols = rows[::7], cols[::7]
    codes, groups = codes_all[rows, cols], ids_all[rows, cols]
    raw = BlockSampler(dataset, memory_mb=1).sample(rows, cols)
    names = np.array([f'class, "{code}"' for code in codes])
    x, y = grid.pixel_centres(rows, cols)
    for values in (raw, raw.astype(np.float32) / np.float32(7)):
        path = tmp_path / f"samples_{values.dtype}.csv"
        with open(path, "w", newline="", encoding="utf-8") as stream:
            writer = SamplesCsvWriter(stream, lonlat_transform(grid.crs_wkt), STUDY_BANDS, "code", "fclass")
            half = len(x) // 2  # two chunks, as the pipelines write them
            writer.write(x[:half], y[:half], values[:, :half], codes[:half], groups[:half], names[:half])
            writer.write(x[half:], y[half:], values[:, half:], codes[half:], groups[half:], names[half:])
        assert writer.rows_written == len(x)
        table = read_samples(str(path), "code", names_field="fclass")
        assert table.feature_names == STUDY_BANDS and table.n_dropped == 0
        np.testing.assert_array_equal(table.features, values.T.astype(np.float32))
        np.testing.assert_array_equal(table.codes, codes)
        np.testing.assert_array_equal(table.groups, groups)
        np.testing.assert_array_equal(table.xy, np.column_stack([x, y]))
        assert sorted(table.class_names) == OSM_CODES
        assert all(name == f'class, "{code}"' for code, name in table.class_names.items())
