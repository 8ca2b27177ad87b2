"""The issue 14 algorithms in QGIS: Toolbox and Modeler, and their parameter checks (no TensorFlow)."""

from __future__ import annotations

import sys

import pytest
from osgeo import gdal
from qgis.core import (
    QgsApplication,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingModelAlgorithm,
    QgsProcessingModelChildAlgorithm,
)

from lcnn_testing import SAMPLE_DIR, reference_labels, reference_stack, small_model_file

gdal.UseExceptions()
NEW = {"stratifiedpoints": "Accuracy", "suggestpoints": "Training", "assessaccuracy": "Accuracy"}


@pytest.fixture(scope="module")
def algorithms(landcover_provider):
    registry = QgsApplication.processingRegistry()
    return lambda name: registry.createAlgorithmById(f"landcovercnn:{name}")


def _check(algorithm, parameters) -> tuple[bool, str]:
    return algorithm.checkParameterValues(parameters, QgsProcessingContext())


def test_listed_with_help_and_usable_in_the_modeler(algorithms):
    model = QgsProcessingModelAlgorithm("accuracy", "tests")
    for name, group in NEW.items():
        algorithm = algorithms(name)
        assert algorithm is not None and algorithm.group() == group
        assert algorithm.shortHelpString().startswith("This algorithm")
        assert not algorithm.flags() & QgsProcessingAlgorithm.FlagHideFromModeler
        child = QgsProcessingModelChildAlgorithm(f"landcovercnn:{name}")
        child.generateChildId(model)
        model.addChildAlgorithm(child)
        assert child.algorithm() is not None
    assert len(model.childAlgorithms()) == 3


def test_defaults_follow_the_guidance_and_the_benchmark(algorithms):
    """MIN_PER_CLASS 50 for rare classes (Olofsson et al. 2014, section 5.1.1), the minimum-then-
    proportional allocation by default; suggestpoints' default measure is the benchmark's winner."""
    points = algorithms("stratifiedpoints")
    assert points.parameterDefinition("MIN_PER_CLASS").defaultValue() == 50
    allocation = points.parameterDefinition("ALLOCATION")
    assert allocation.options()[allocation.defaultValue()].startswith("Minimum per class")
    suggest = algorithms("suggestpoints")  # held: its parameters live as long as the algorithm
    measure = suggest.parameterDefinition("MEASURE")
    assert measure.options()[measure.defaultValue()].startswith("Random")
    assessment = algorithms("assessaccuracy")
    assert {"OVERALL_ACCURACY", "OVERALL_ACCURACY_CI95"} <= {o.name() for o in assessment.outputDefinitions()}


def test_stratified_points_checks_the_map(algorithms, tmp_path):
    alg = algorithms("stratifiedpoints")
    ok, message = _check(alg, {"INPUT": str(reference_labels()), "OUTPUT": str(tmp_path / "p.gpkg")})
    assert not ok and message.startswith("INPUT:") and "nodata" in message
    mapped = tmp_path / "map.vrt"
    gdal.Translate(str(mapped), str(reference_labels()), format="VRT", noData=0)
    ok, message = _check(alg, {"INPUT": str(mapped), "OUTPUT": str(tmp_path / "p.gpkg")})
    assert ok, message
    ok, message = _check(alg, {"INPUT": str(mapped), "MIN_PER_CLASS": 1, "OUTPUT": str(tmp_path / "p.gpkg")})
    assert not ok and message.startswith("MIN_PER_CLASS")


def test_assess_design_checks_name_the_parameter(algorithms, tmp_path):
    alg = algorithms("assessaccuracy")
    mapped = tmp_path / "map.vrt"
    gdal.Translate(str(mapped), str(reference_labels()), format="VRT", noData=0)
    polygons = str(SAMPLE_DIR / "osm_landuse_water.gpkg")
    base = {"INPUT": str(mapped), "REFERENCE": polygons, "FIELD": "code",
            "OUTPUT_MATRIX": str(tmp_path / "m.csv")}
    assert _check(alg, base)[0]  # automatic: polygons are assessed without area estimates
    ok, message = _check(alg, {**base, "SAMPLING_DESIGN": 1})
    assert not ok and message.startswith("SAMPLING_DESIGN:") and "Stratified random points" in message
    points = tmp_path / "points.gpkg"
    gdal.VectorTranslate(str(points), polygons, geometryType="POINT", SQLStatement=(
        "SELECT ST_Centroid(geom) AS geom, code FROM osm_landuse_water"), SQLDialect="SQLITE")
    ok, message = _check(alg, {**base, "REFERENCE": str(points), "SAMPLING_DESIGN": 1})
    assert not ok and message.startswith("REFERENCE:") and "stratum_px" in message
    assert _check(alg, {**base, "REFERENCE": str(points), "SAMPLING_DESIGN": 2})[0]
    ok, message = _check(alg, {**base, "INPUT": str(reference_labels()), "REFERENCE": str(points),
                               "SAMPLING_DESIGN": 2})
    assert not ok and message.startswith("INPUT:") and "no nodata value" in message


def test_suggest_points_checks_without_tensorflow(algorithms, tmp_path):
    alg = algorithms("suggestpoints")
    model = str(small_model_file())
    base = {"MODEL": model, "INPUT": str(reference_stack()), "OUTPUT": str(tmp_path / "s.gpkg")}
    assert _check(alg, base)[0]
    ok, message = _check(alg, {**base, "PROBABILITIES": str(reference_stack())})
    assert not ok and message.startswith("INPUT:") and "not both" in message
    ok, message = _check(alg, {**base, "CLASS_FIELD": "class code"})
    assert not ok and message.startswith("CLASS_FIELD:")
    ok, message = _check(alg, {"MODEL": model, "PROBABILITIES": str(reference_stack()),
                               "OUTPUT": str(tmp_path / "s.gpkg")})
    assert not ok and message.startswith("PROBABILITIES:") and "9 bands" in message
    for heavy in ("tensorflow", "keras", "sklearn", "pandas", "matplotlib"):
        assert heavy not in sys.modules
