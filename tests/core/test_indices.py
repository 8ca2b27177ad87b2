"""Derived input channels (normalized differences of band pairs) on real Sentinel-2 values."""

from __future__ import annotations

import numpy as np
import pytest

from landcover_cnn_plugin.core.indices import (
    NO_DERIVED,
    NORMALIZED_DIFFERENCES,
    add_derived,
    band_pairs,
    input_names,
    n_inputs,
)
from lcnn_testing import STUDY_BANDS, reference_samples_frame


@pytest.fixture(scope="module")
def pixels() -> np.ndarray:
    """Band values of 2,000 labelled pixels of the sample scene, (n, 9) float32."""
    return reference_samples_frame()[STUDY_BANDS].to_numpy(np.float32)[::45][:2000]


def test_ndvi_and_every_pair_follow_the_formula(pixels):
    derived = add_derived(pixels, NORMALIZED_DIFFERENCES)
    names = input_names(STUDY_BANDS, NORMALIZED_DIFFERENCES)
    assert derived.shape == (len(pixels), n_inputs(9, NORMALIZED_DIFFERENCES)) == (len(pixels), 45)
    assert len(names) == 45 and names[:9] == STUDY_BANDS
    np.testing.assert_array_equal(derived[:, :9], pixels)
    nir, red = pixels[:, STUDY_BANDS.index("B08")], pixels[:, STUDY_BANDS.index("B04")]
    ndvi = derived[:, names.index("ND(B04,B08)")]
    np.testing.assert_allclose(ndvi, (red - nir) / (red + nir), rtol=1e-5, atol=1e-6)
    assert (ndvi < 0).mean() > 0.5  # red minus NIR: vegetation and fields dominate the labels
    for index, (i, j) in enumerate(band_pairs(9), start=9):
        assert names[index] == f"ND({STUDY_BANDS[i]},{STUDY_BANDS[j]})"
    assert np.all(np.abs(derived[:, 9:]) <= 1.0)


def test_band_axis_first_or_last_gives_the_same_channels(pixels):
    patches = pixels[:1800].reshape(200, 3, 3, 9)           # (n, k, k, bands)
    blocks = np.moveaxis(patches, -1, 0)                    # (bands, n, k, k)
    last = add_derived(patches, NORMALIZED_DIFFERENCES, axis=-1)
    first = add_derived(blocks, NORMALIZED_DIFFERENCES, axis=0)
    np.testing.assert_array_equal(np.moveaxis(first, 0, -1), last)


def test_zero_sums_nodata_and_negative_bands_stay_bounded():
    values = np.array([[0.0, 0.0, 5.0],         # 0 / 0 -> 0
                       [np.nan, 1.0, 2.0],      # nodata stays NaN where it enters
                       [-170.0, 169.0, 1.0]],   # a phase-like band: the ratio would be 339
                      dtype=np.float32)
    derived = add_derived(values, NORMALIZED_DIFFERENCES)
    assert derived.shape == (3, 6)
    assert derived[0, 3] == 0.0
    assert np.isnan(derived[1, 3]) and np.isnan(derived[1, 4]) and derived[1, 5] == pytest.approx(-1 / 3)
    assert derived[2, 3] == 1.0  # clipped


def test_none_leaves_the_bands_alone(pixels):
    np.testing.assert_array_equal(add_derived(pixels, NO_DERIVED), pixels)
    assert input_names(STUDY_BANDS, NO_DERIVED) == STUDY_BANDS
    with pytest.raises(ValueError, match="derived features"):
        add_derived(pixels, "pca")
