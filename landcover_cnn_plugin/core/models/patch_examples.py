"""A picture of training patches for the training report (matplotlib, Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def example_patches_png(values: np.ndarray, codes: np.ndarray, legend: Any, band_names: Sequence[str],
                        per_class: int = 4, seed: int = 0, dpi: int = 80) -> bytes:
    """A small picture of a few training patches per class, for the training report.

    Parameters
    ----------
    values : numpy.ndarray
        float ``(n, k, k, bands)`` raw patch values (e.g. ``PatchInputs.patches.values[rows]``
        of training rows).
    codes : numpy.ndarray
        int ``(n,)`` class code of each patch.
    legend : core.legend.ClassLegend
        Class order, names and colours (row labels).
    band_names : sequence of str
        Names of the last axis; false colour NIR-red-green (B08 or B8A, B04, B03) when present,
        else the first three bands; stretched to the 2-98 % range of the patches shown.
    per_class : int
        Patches per class (fewer when a class has fewer), drawn with ``seed``.

    Returns
    -------
    bytes
        PNG image: one row per class, the centre pixel marked.
    """
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    names = list(band_names)

    def pick(*candidates: str) -> int | None:
        return next((names.index(c) for c in candidates if c in names), None)

    rgb = [pick("B08", "B8A"), pick("B04"), pick("B03")]
    if None in rgb:
        rgb = [min(i, len(names) - 1) for i in range(3)]
    rng = np.random.default_rng(seed)
    chosen: list[tuple[int, np.ndarray]] = []
    for code in legend.codes:
        where = np.flatnonzero(np.asarray(codes) == code)
        take = rng.choice(where, size=min(per_class, len(where)), replace=False) if len(where) else where
        chosen.append((code, np.sort(take)))
    shown = np.concatenate([t for _, t in chosen]) if chosen else np.zeros(0, dtype=int)
    k = values.shape[1]
    fig = Figure(figsize=(1.1 * per_class + 1.8, 1.0 * len(chosen) + 0.3), dpi=dpi)
    if len(shown):
        picture = values[shown][..., rgb].astype(np.float64)
        low, high = np.percentile(picture, [2, 98], axis=(0, 1, 2))
    for r, (code, take) in enumerate(chosen):
        for c in range(per_class):
            ax = fig.add_subplot(len(chosen), per_class, r * per_class + c + 1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(take):
                image = (values[take[c]][..., rgb] - low) / np.maximum(high - low, 1e-9)
                ax.imshow(np.clip(image, 0, 1), interpolation="nearest")
                ax.add_patch(matplotlib.patches.Rectangle((k // 2 - 0.5, k // 2 - 0.5), 1, 1, fill=False,
                                                          edgecolor="yellow", linewidth=1))
            else:
                ax.axis("off")
            if c == 0:
                ax.set_ylabel(f"{code} {legend.name_of(code)}", rotation=0, ha="right", va="center",
                              fontsize=8)
    fig.suptitle(f"Training patches, {k} x {k} pixels (false colour {', '.join(names[i] for i in rgb)})",
                 fontsize=9)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()
