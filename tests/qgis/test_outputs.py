"""Outputs as QGIS passes them, alone and inside a model (issue 18): a path, TEMPORARY_OUTPUT, or
nothing. Nothing skips an optional output and sends the product of an algorithm to a temporary file;
a model's final output left empty once reached stackrasters as '' and failed with a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from osgeo import gdal
from qgis.core import (
    QgsApplication,
    QgsProcessingContext,
    QgsProcessingOutputLayerDefinition,
    QgsProcessingParameterDefinition,
    QgsProcessingUtils,
)

from lcnn_testing import band_path

PRODUCTS = {"stackrasters": "OUTPUT", "rasterizepolygons": "OUTPUT", "regularpoints": "OUTPUT",
            "samplepoints": "OUTPUT", "extractsamples": "OUTPUT", "trainmodel": "OUTPUT_MODEL",
            "classifyimage": "OUTPUT", "assessaccuracy": "OUTPUT_MATRIX",
            "comparefeaturesets": "OUTPUT_TABLE"}
NOTHING = (None, "", QgsProcessingOutputLayerDefinition(""))


@pytest.fixture(scope="module")
def algorithms(landcover_provider):
    registry = QgsApplication.processingRegistry()
    return lambda name: registry.createAlgorithmById(f"landcovercnn:{name}")


def in_temporary_folder(path: str) -> bool:
    return Path(path).resolve().is_relative_to(Path(QgsProcessingUtils.tempFolder()).resolve())


@pytest.mark.parametrize("name", sorted(PRODUCTS))
def test_a_product_is_never_skipped(algorithms, tmp_path, name):
    algorithm, output = algorithms(name), PRODUCTS[name]
    definition = algorithm.parameterDefinition(output)
    assert definition.flags() & QgsProcessingParameterDefinition.FlagOptional  # models run without it
    context = QgsProcessingContext()
    suffix = Path(algorithm.output_paths({output: "TEMPORARY_OUTPUT"}, context, [output])[output]).suffix
    given = str(tmp_path / f"given{suffix}")
    assert algorithm.output_paths({output: given}, context, [output]) == {output: given}
    for value in ("TEMPORARY_OUTPUT", *NOTHING):
        path = algorithm.output_paths({output: value}, context, [output])[output]
        assert in_temporary_folder(path) and path.endswith(suffix), (value, path)
    absent = algorithm.output_paths({}, context, [output])[output]
    assert in_temporary_folder(absent)


def test_optional_extras_are_skipped_when_not_given(algorithms):
    algorithm = algorithms("trainmodel")
    context = QgsProcessingContext()
    names = ["OUTPUT_MODEL", "OUTPUT_REPORT", "OUTPUT_METRICS"]
    paths = algorithm.output_paths({"OUTPUT_REPORT": None, "OUTPUT_METRICS": ""}, context, names)
    assert paths["OUTPUT_REPORT"] == paths["OUTPUT_METRICS"] == ""
    assert paths["OUTPUT_MODEL"].endswith(".lcnn")
    asked = algorithm.output_paths({"OUTPUT_REPORT": "TEMPORARY_OUTPUT"}, context, names)
    assert asked["OUTPUT_REPORT"].endswith(".html") and in_temporary_folder(asked["OUTPUT_REPORT"])


def test_stackrasters_given_an_empty_output_writes_a_temporary_stack(landcover_provider, sample_copy):
    """What a model passes for a final output left empty: '' (it used to reach core/atomic.py)."""
    import processing

    band = str(sample_copy / "IMG_DATA" / band_path("B05").name)
    result = processing.run("landcovercnn:stackrasters", {"INPUT": [band], "PIXEL_SIZE": 20, "OUTPUT": ""})
    assert in_temporary_folder(result["OUTPUT"])
    stack = gdal.Open(result["OUTPUT"])
    assert (stack.RasterXSize, stack.RasterYSize, stack.RasterCount) == (768, 384, 1)
