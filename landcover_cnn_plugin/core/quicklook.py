"""PNG quick-look of a class map with its legend (matplotlib, Agg), for the demo and the README.

    python -m landcover_cnn_plugin.core.quicklook MAP.tif OUT.png [--max-pixels 2000000]

Reads the map decimated (nearest) to at most ``max_pixels`` so that a large map never
comes into memory whole; colours and names come from the legend the map carries
(``LANDCOVER_LEGEND``, written by classify). Runs outside QGIS (matplotlib).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from .atomic import atomic_output


def write_quicklook_png(map_path: str, png_path: str, title: str | None = None,
                        max_pixels: int = 2_000_000) -> str:
    """Draw the class map with a legend (code, name, colour) into ``png_path``; return it."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    from .io.outputs import read_map_legend
    from .io.rasters import open_raster, read_decimated

    codes_img = read_decimated(open_raster(map_path), max_pixels)
    out_h, out_w = codes_img.shape
    legend = read_map_legend(map_path) or {}
    codes = list(legend.get("codes") or sorted(int(c) for c in np.unique(codes_img) if c))
    names = list(legend.get("names") or [f"class {c}" for c in codes])
    colors = list(legend.get("colors") or [plt.cm.tab20(i % 20) for i in range(len(codes))])
    index = np.zeros(codes_img.shape, dtype=np.int32)  # 0 = nodata, i + 1 = class i
    for i, code in enumerate(codes):
        index[codes_img == code] = i + 1
    cmap = ListedColormap(["#ffffff", *colors])
    aspect = out_w / out_h
    fig_w = 10.0
    fig, ax = plt.subplots(figsize=(fig_w, max(3.0, fig_w / aspect * 0.8) + 0.8))
    ax.imshow(index, cmap=cmap, vmin=0, vmax=len(codes), interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title or "Land cover map")
    handles = [Patch(facecolor=c, edgecolor="#444", label=f"{n} ({code})")
               for code, n, c in zip(codes, names, colors, strict=True)]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.02),
              ncol=min(4, max(1, len(handles))), frameon=False, fontsize=9)
    with atomic_output(png_path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return png_path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m landcover_cnn_plugin.core.quicklook",
                                     description="PNG quick-look of a class map with its legend.")
    parser.add_argument("map")
    parser.add_argument("png")
    parser.add_argument("--title", default=None)
    parser.add_argument("--max-pixels", type=int, default=2_000_000)
    args = parser.parse_args(argv)
    print(write_quicklook_png(args.map, args.png, args.title, args.max_pixels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
