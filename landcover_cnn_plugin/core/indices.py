"""Derived input channels: the normalized difference of every pair of bands (NumPy only).

Spectral indices such as NDVI ``(B08 - B04) / (B08 + B04)`` or NBR ``(B08 - B12) / (B08 + B12)``
are ratios, which networks of ReLU layers fed with z-scored bands approximate poorly. A model can
therefore get, beside the bands, the normalized difference of every band pair (``n (n - 1) / 2``
channels for ``n`` bands: 36 for the study's nine bands), computed from the raw values before
z-scoring, in training and in prediction alike (trainer setting ``derived_features``). On the
sample scene's polygon-grouped fold, with the patch CNN, three paired runs (with and without
them) changed macro F1 by -0.021 to +0.014 and overall accuracy by -0.008 to -0.022 (the F1 of
OSM scrub, which the bands alone hardly tell from forest, rose in one run from 0.02 to 0.19 and
not in the others), while training took about three times as long: an option, not the default.

A pair whose sum is 0 gets 0; values are clipped to [-1, 1], so that bands with negative values
(a SAR phase, for example) cannot produce huge ratios.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NO_DERIVED = "none"
NORMALIZED_DIFFERENCES = "normalized_differences"
DERIVED_FEATURES = (NO_DERIVED, NORMALIZED_DIFFERENCES)
#: The training default: the model family's own choice (``TrainingSettings.resolved``).
AUTO_DERIVED = "auto"


def check_derived(derived: str) -> str:
    """Return ``derived`` if it is one of :data:`DERIVED_FEATURES`, else raise ``ValueError``."""
    if derived not in DERIVED_FEATURES:
        raise ValueError(f"derived features must be one of {DERIVED_FEATURES}, not {derived!r}")
    return derived


def band_pairs(n_bands: int) -> list[tuple[int, int]]:
    """The band pairs ``(i, j)``, ``i < j``, in the order of the derived channels."""
    return [(i, j) for i in range(n_bands) for j in range(i + 1, n_bands)]


def n_inputs(n_bands: int, derived: str) -> int:
    """Input channels of the network: the bands plus the derived channels."""
    return n_bands + (len(band_pairs(n_bands)) if check_derived(derived) == NORMALIZED_DIFFERENCES else 0)


def input_names(feature_names: Sequence[str], derived: str) -> list[str]:
    """Names of the network's input channels, e.g. ``["B04", "B08", "ND(B04,B08)"]``."""
    names = list(feature_names)
    if check_derived(derived) == NO_DERIVED:
        return names
    return names + [f"ND({names[i]},{names[j]})" for i, j in band_pairs(len(names))]


def add_derived(values: np.ndarray, derived: str, axis: int = -1) -> np.ndarray:
    """The bands of ``values`` followed by the derived channels, along ``axis``.

    Parameters
    ----------
    values : ndarray, float, any shape with ``n_bands`` along ``axis``
        Raw band values (reflectance, DN, ...), not z-scored.
    derived : {"none", "normalized_differences"}
    axis : int
        The band axis (-1 for ``(n, k, k, bands)`` patches, 0 for ``(bands, rows, cols)`` blocks).

    Returns
    -------
    ndarray, float32
        ``n_inputs(n_bands, derived)`` channels along ``axis``; NaN stays NaN (nodata is
        masked downstream), a pair summing to 0 gives 0.
    """
    values = np.asarray(values, dtype=np.float32)
    if check_derived(derived) == NO_DERIVED:
        return values
    bands = np.moveaxis(values, axis, 0)
    pairs = band_pairs(bands.shape[0])
    out = np.empty((bands.shape[0] + len(pairs), *bands.shape[1:]), dtype=np.float32)
    out[:bands.shape[0]] = bands
    with np.errstate(divide="ignore", invalid="ignore"):
        for index, (i, j) in enumerate(pairs, start=bands.shape[0]):
            total = bands[i] + bands[j]
            ratio = np.divide(bands[i] - bands[j], total, out=np.zeros_like(total), where=total != 0)
            np.clip(ratio, -1.0, 1.0, out=out[index])  # NaN (nodata) stays NaN through both
    return np.moveaxis(out, 0, axis)
