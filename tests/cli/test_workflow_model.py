"""The shipped Graphical Modeler model runs headless through qgis_process.bin on the sample data."""

from __future__ import annotations

import shutil

import numpy as np
from osgeo import gdal

from landcover_cnn_plugin.core.model_file import read_model_metadata
from lcnn_testing import OSM_CODES, ROOT, SAMPLE_DIR, STUDY_BANDS, band_path

MODEL3 = ROOT / "build/plugins/landcover_cnn_plugin/resources/models/landcover_workflow.model3"


def test_workflow_model_runs_from_polygons_to_styled_map(qgis_process, tmp_path):
    assert MODEL3.is_file()  # shipped inside the plugin
    outputs = {"stack:Stack": tmp_path / "stack.tif", "rasterize:Labels": tmp_path / "labels.tif",
               "sample:Samples": tmp_path / "samples.csv", "train:Model": tmp_path / "model.lcnn",
               "train:Report": tmp_path / "report.html", "classify:ClassMap": tmp_path / "map.tif",
               "classify:Confidence": tmp_path / "confidence.tif"}
    # copies: QGIS writes .aux.xml statistics beside the rasters it opens
    bands = [shutil.copy(band_path(b), tmp_path) for b in STUDY_BANDS]
    result = qgis_process.run(str(MODEL3), {
        "BANDS": bands, "PIXEL_SIZE": 20,
        "POLYGONS": SAMPLE_DIR / "osm_landuse_water.gpkg", "FIELD": "code", "NAME_FIELD": "fclass",
        "MODEL_TYPE": 1, "EPOCHS": 2, **outputs})
    assert result.returncode == 0, result.text
    for name, path in outputs.items():
        assert result.results[name] == str(path) and path.exists(), name
    metadata = read_model_metadata(outputs["train:Model"])
    assert metadata["feature_names"] == STUDY_BANDS and metadata["model_type"] == "study_mlp"
    assert "forest" in metadata["legend"]["names"]
    mapped = gdal.Open(str(outputs["classify:ClassMap"])).ReadAsArray()
    assert mapped.shape == (384, 768)
    assert set(np.unique(mapped).tolist()) <= set(OSM_CODES) | {0}
    assert (mapped > 0).mean() > 0.99
    assert outputs["classify:ClassMap"].with_suffix(".qml").exists()
