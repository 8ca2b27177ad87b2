"""The shipped Graphical Modeler model runs headless through qgis_process.bin on the sample data,
with its inputs only: every output left to QGIS (temporary files, or skipped where optional)."""

from __future__ import annotations

import shutil

from lcnn_testing import ROOT, SAMPLE_DIR, STUDY_BANDS, band_path

MODEL3 = ROOT / "build/plugins/landcover_cnn_plugin/resources/models/landcover_workflow.model3"
PRODUCTS = {"stack:Stack": ".tif", "rasterize:Labels": ".tif", "sample:Samples": ".csv",
            "train:Model": ".lcnn", "classify:ClassMap": ".tif"}


def test_workflow_model_runs_with_its_inputs_only(qgis_process, tmp_path):
    assert MODEL3.is_file()  # shipped inside the plugin
    # copies: QGIS writes .aux.xml statistics beside the rasters it opens
    bands = [shutil.copy(band_path(b), tmp_path) for b in STUDY_BANDS]
    polygons = shutil.copy(SAMPLE_DIR / "osm_landuse_water.gpkg", tmp_path)
    result = qgis_process.run(str(MODEL3), {
        "BANDS": bands, "PIXEL_SIZE": 20, "POLYGONS": polygons, "FIELD": "code", "NAMES_FIELD": "fclass",
        "MODEL_TYPE": 1, "EPOCHS": 2})
    assert result.returncode == 0, result.text
    assert "Traceback" not in result.text
    for name, suffix in PRODUCTS.items():  # temporary files (QGIS removes them when it exits)
        assert str(result.results[name]).endswith(suffix), (name, result.results[name])
    assert result.results["train:Report"] is None and result.results["classify:Confidence"] is None
    # the samples and the map named the classes by code and name (from the workflow's log)
    assert "7201 (forest):" in result.text and "8221 (wetland):" in result.text
    written = sorted(path.name for path in tmp_path.iterdir() if not path.name.endswith(".aux.xml"))
    assert written == sorted([path.name for path in map(band_path, STUDY_BANDS)] + ["osm_landuse_water.gpkg"])
