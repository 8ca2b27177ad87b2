"""The samples CSV writer: streams rows in :func:`.samples.samples_header` order, no Python per row.

Band values, codes, ids and coordinates are formatted column by column (each distinct value once
where values repeat) and joined in C (``zip``/``map``/``join``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TextIO

import numpy as np

from .samples import samples_header


def _format_values(values: np.ndarray) -> list[str]:
    """Text of each value: integers exact, float32 as NumPy's shortest float32 text, float64 as repr."""
    if values.dtype.kind in "iub":
        return list(map(str, values.astype(np.int64).tolist()))
    if values.dtype == np.float32:
        return values.astype(str).tolist()
    return list(map(repr, values.astype(np.float64).tolist()))


def text_column(values: np.ndarray) -> list[str]:
    """A numeric column as CSV text, formatted once per distinct value where values repeat.

    Band values, codes, ids and pixel-centre coordinates repeat a lot, so formatting the
    distinct values and indexing (C speed) is several times faster than formatting each.
    """
    values = np.asarray(values)
    if len(values) > 64:
        distinct, inverse = np.unique(values, return_inverse=True)
        if len(distinct) * 4 <= len(values):
            return np.array(_format_values(distinct), dtype=object)[inverse].tolist()
    return _format_values(values)


def quote_csv(texts: Sequence[str]) -> list[str]:
    """CSV-quote text that holds a comma, quote or line break."""
    return [f'"{t.replace(chr(34), chr(34) * 2)}"' if any(c in t for c in ',"\n\r') else t
            for t in texts]


def text_names(names: np.ndarray) -> list[str]:
    """A text column (class names) CSV-quoted, each distinct name quoted once."""
    names = np.asarray(names, dtype=str)
    if not len(names):
        return []
    distinct, inverse = np.unique(names, return_inverse=True)
    return np.array(quote_csv(distinct.tolist()), dtype=object)[inverse].tolist()


def text_repeated(text: str, n: int) -> list[str]:
    return [quote_csv([text])[0]] * n


def write_rows(stream: TextIO, columns: Sequence[Sequence[str]]) -> None:
    """Write columns of text as CSV lines (zip/map/join iterate in C: no Python code per row)."""
    stream.write("\n".join(map(",".join, zip(*columns, strict=True))))
    stream.write("\n")


class SamplesCsvWriter:
    """Streams sample rows to a CSV in the design's column order.

    Parameters
    ----------
    stream : text file
        Opened with ``newline=""``.
    to_lonlat : callable
        ``(x, y) -> (longitude, latitude)`` from the raster's CRS to WGS84 degrees
        (``core.io.grid.lonlat_transform``).
    band_names, label_name, name_column
        Column names (:func:`samples_header`); ``name_column`` None leaves the class-name column out.
    """

    def __init__(self, stream: TextIO,
                 to_lonlat: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
                 band_names: Sequence[str], label_name: str, name_column: str | None = None) -> None:
        self.stream, self.to_lonlat, self.name_column = stream, to_lonlat, name_column
        self.rows_written = 0
        stream.write(",".join(quote_csv(samples_header(band_names, label_name, name_column))) + "\n")

    def write(self, x: np.ndarray, y: np.ndarray, values: np.ndarray, labels: np.ndarray,
              polygon_ids: np.ndarray, names: np.ndarray | None = None,
              parts: np.ndarray | None = None) -> None:
        """Append rows. ``values``: (bands, n); the others (n,); X, Y in the raster's CRS.

        ``labels``: integer codes, or text (class names, written quoted where needed);
        ``parts``: the part of a multi-part feature each row comes from (None: all 0).
        """
        if not len(x):
            return
        longitude, latitude = self.to_lonlat(x, y)
        columns = [text_column(x), text_column(y)] + [text_column(band) for band in values]
        columns.append(text_names(labels) if np.asarray(labels).dtype.kind in "OUS" else text_column(labels))
        if self.name_column:
            columns.append(text_names(names) if names is not None else [""] * len(x))
        columns += [text_column(polygon_ids),
                    text_column(parts) if parts is not None else ["0"] * len(x),
                    _format_values(np.round(latitude, 8)),
                    _format_values(np.round(longitude, 8))]
        write_rows(self.stream, columns)
        self.rows_written += len(x)
