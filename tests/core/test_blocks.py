"""The block walker on the real sample stack: exact tiling, halo windows, budget, alignment."""

from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal

from landcover_cnn_plugin.core.io.blocks import block_size_for_budget, iter_blocks, read_block
from lcnn_testing import reference_stack


@pytest.fixture(scope="module")
def stack():
    ds = gdal.Open(str(reference_stack()))
    return ds, ds.ReadAsArray().astype(np.float32)


@pytest.mark.parametrize(("bw", "bh", "halo"), [(768, 384, 0), (100, 37, 0), (256, 256, 3),
                                                 (500, 1, 1), (33, 50, 4)])
def test_blocks_tile_the_raster_exactly_once(stack, bw, bh, halo):
    ds, _ = stack
    count = np.zeros((ds.RasterYSize, ds.RasterXSize), dtype=np.int32)
    blocks = list(iter_blocks(ds.RasterXSize, ds.RasterYSize, bw, bh, halo))
    for i, b in enumerate(blocks):
        assert b.index == i and b.count == len(blocks)
        count[b.y_off:b.y_off + b.height, b.x_off:b.x_off + b.width] += 1
        assert b.read_x >= 0 and b.read_x + b.read_width <= ds.RasterXSize
        assert b.read_y >= 0 and b.read_y + b.read_height <= ds.RasterYSize
    assert (count == 1).all()


@pytest.mark.parametrize(("bw", "bh", "halo"), [(256, 128, 3), (100, 37, 1), (768, 384, 5),
                                                 (64, 64, 70)])
def test_halo_windows_equal_edge_padded_full_image(stack, bw, bh, halo):
    ds, full = stack
    padded = np.pad(full, [(0, 0), (halo, halo), (halo, halo)], mode="edge")
    bands = [3, 1, 9]
    for b in iter_blocks(ds.RasterXSize, ds.RasterYSize, bw, bh, halo):
        values = read_block(ds, b, bands=bands)
        assert values.shape == (3, *b.shape_with_halo)
        expected = padded[[band - 1 for band in bands],
                          b.y_off:b.y_off + b.height + 2 * halo, b.x_off:b.x_off + b.width + 2 * halo]
        np.testing.assert_array_equal(values, expected)


def test_block_size_follows_budget_and_alignment(stack):
    ds, _ = stack
    internal = tuple(ds.GetRasterBand(1).GetBlockSize())
    # generous budget: one block holds everything
    assert block_size_for_budget(768, 384, 100, 256, internal) == (768, 384)
    # strips of whole output tile rows when they fit
    bw, bh = block_size_for_budget(768, 384, 100, 768 * 256 * 100 / 2**20, internal)
    assert (bw, bh) == (768, 256)
    # a 100 Mpx raster with 512 x 512 tiles: tiles, aligned, within budget
    bw, bh = block_size_for_budget(10240, 10240, 200, 64, (512, 512), halo=3)
    assert bw % 512 == 0 and bh == 512
    assert (bw + 6) * (bh + 6) * 200 <= 64 * 2**20 or bw == 512
    # memory per block does not depend on the raster size (tiled inputs of any size)
    small = block_size_for_budget(768, 384, 200, 16, (256, 256))
    large = block_size_for_budget(12288, 8192, 200, 16, (256, 256))
    assert small[0] * small[1] * 200 <= 16 * 2**20
    assert large[0] * large[1] * 200 <= 16 * 2**20
    assert large[0] * large[1] >= 16 * 2**20 / 200 / 2


def test_block_sampler_reads_values_at_pixels_through_the_walker(stack):
    """Pixels in any order, grouped by the walker's blocks (a small budget: many blocks)."""
    from landcover_cnn_plugin.core.io.blocks import BlockSampler

    ds, full = stack
    sampler = BlockSampler(ds, memory_mb=0.05)
    assert len(sampler.blocks) > 1 and sampler.bands.dtype == np.uint16
    rng = np.random.default_rng(5)
    rows = np.concatenate([[0, ds.RasterYSize - 1], rng.integers(0, ds.RasterYSize, 3000)])
    cols = np.concatenate([[ds.RasterXSize - 1, 0], rng.integers(0, ds.RasterXSize, 3000)])
    values = sampler.sample(rows, cols)
    assert values.dtype == np.uint16
    np.testing.assert_array_equal(values, full[:, rows, cols])
    near_rows, near_cols = np.array([0, 3, 2]), np.array([767, 763, 765])  # one polygon's pixels
    np.testing.assert_array_equal(sampler.sample_window(near_rows, near_cols), full[:, near_rows, near_cols])
