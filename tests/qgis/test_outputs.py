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
            "comparefeaturesets": "OUTPUT_TABLE", "stratifiedpoints": "OUTPUT", "suggestpoints": "OUTPUT",
            "exportmodel": "OUTPUT"}
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


#: The optional extras (algorithm, output, suffix): skipped when not given.
EXTRAS = [("trainmodel", "OUTPUT_REPORT", ".html"), ("trainmodel", "OUTPUT_METRICS", ".json"),
          ("classifyimage", "OUTPUT_CONFIDENCE", ".tif"), ("classifyimage", "OUTPUT_PROBABILITIES", ".tif"),
          ("assessaccuracy", "OUTPUT_REPORT", ".html"), ("assessaccuracy", "OUTPUT_ESTIMATES", ".csv"),
          ("comparefeaturesets", "OUTPUT_REPORT", ".html")]


def test_every_extra_output_is_listed(algorithms):
    """EXTRAS are every destination that is not an algorithm's product."""
    declared = set()
    for name in PRODUCTS:
        algorithm = algorithms(name)  # held: its parameter definitions die with it
        declared |= {(name, definition.name()) for definition in algorithm.destinationParameterDefinitions()
                     if definition.name() != PRODUCTS[name]}
    assert declared == {(name, output) for name, output, _ in EXTRAS}


@pytest.mark.parametrize(("name", "output", "suffix"), EXTRAS)
def test_an_optional_extra_is_skipped_when_not_given(algorithms, name, output, suffix):
    algorithm, product = algorithms(name), PRODUCTS[name]
    context = QgsProcessingContext()
    assert algorithm.parameterDefinition(output).flags() & QgsProcessingParameterDefinition.FlagOptional
    for value in NOTHING:
        paths = algorithm.output_paths({output: value}, context, [product, output])
        assert paths[output] == "", (value, paths)
        assert in_temporary_folder(paths[product])  # the product is written all the same
    assert algorithm.output_paths({}, context, [output])[output] == ""
    asked = algorithm.output_paths({output: "TEMPORARY_OUTPUT"}, context, [output])[output]
    assert asked.endswith(suffix) and in_temporary_folder(asked)


def test_stackrasters_given_an_empty_output_writes_a_temporary_stack(landcover_provider, sample_copy):
    """What a model passes for a final output left empty: '' (it used to reach core/atomic.py)."""
    import processing

    band = str(sample_copy / "IMG_DATA" / band_path("B05").name)
    result = processing.run("landcovercnn:stackrasters", {"INPUT": [band], "PIXEL_SIZE": 20, "OUTPUT": ""})
    assert in_temporary_folder(result["OUTPUT"])
    stack = gdal.Open(result["OUTPUT"])
    assert (stack.RasterXSize, stack.RasterYSize, stack.RasterCount) == (768, 384, 1)
