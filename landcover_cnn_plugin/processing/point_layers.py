"""Point layers written by the plugin's algorithms: a temporary points CSV, converted by OGR in C++."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from qgis.core import QgsProcessingUtils

from ..core.progress import Reporter
from ..core.sampling import csv_points_to_vector
from .data_preparation import atomic_files, vector_driver


@contextmanager
def temporary_points_csv(prefix: str) -> Iterator[str]:
    """A CSV path in the Processing temp folder; the CSV and its ``.csvt`` are removed afterwards."""
    path = os.path.join(QgsProcessingUtils.tempFolder(), f"{prefix}_{uuid.uuid4().hex}.csv")
    try:
        yield path
    finally:
        for name in (path, os.path.splitext(path)[0] + ".csvt"):
            if os.path.exists(name):
                os.remove(name)


def write_point_layer(csv_path: str, output: str, crs_wkt: str, reporter: Reporter,
                      is_canceled: Callable[[], bool]) -> str:
    """The points CSV as the output layer (format from its extension), written atomically."""
    with atomic_files(output) as tmp:
        csv_points_to_vector(csv_path, tmp, crs_wkt, Path(output).stem, vector_driver(output), reporter,
                             is_canceled)
    return output
