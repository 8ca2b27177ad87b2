"""patch_cnn through the real qgis_process.bin: what "Automatic" trains with the stack and no time to compare.

trainmodel with RASTER, the "Automatic" model and CHOICE_MINUTES 0 trains patch_cnn (patches cut
from the stack at the samples' X, Y); classifyimage runs it fully convolutionally block by block
with the halo from the model file.
"""

from __future__ import annotations

import numpy as np
from osgeo import gdal

from landcover_cnn_plugin.core.model_file import read_model_metadata
from lcnn_testing import reference_samples_subset_csv, reference_stack

gdal.UseExceptions()


def test_default_model_with_raster_is_patch_cnn_and_classifies(qgis_process, tmp_path):
    model, report = tmp_path / "patch.lcnn", tmp_path / "patch.html"
    trained = qgis_process.run("landcovercnn:trainmodel", {
        "INPUT": reference_samples_subset_csv(6), "RASTER": reference_stack(), "PATCH_SIZE": 5,
        "EPOCHS": 2, "CHOICE_MINUTES": 0, "OUTPUT_MODEL": model, "OUTPUT_REPORT": report})
    assert trained.returncode == 0, trained.text
    metadata = read_model_metadata(model)
    assert metadata["model_type"] == "patch_cnn" and metadata["patch_size"] == 5
    assert metadata["training"]["balance"] == "none"
    assert "Training patches" in report.read_text(encoding="utf-8")

    out = tmp_path / "map.tif"
    # the smallest memory budget the algorithm accepts (block seams are tested in tests/core)
    classified = qgis_process.run("landcovercnn:classifyimage", {
        "INPUT": reference_stack(), "MODEL": model, "OUTPUT": out, "MEMORY_MB": 16})
    assert classified.returncode == 0, classified.text
    mapped = gdal.Open(str(out)).ReadAsArray()
    stack = gdal.Open(str(reference_stack()))
    assert mapped.shape == (stack.RasterYSize, stack.RasterXSize)
    assert set(np.unique(mapped).tolist()) <= set(metadata["legend"]["codes"])
    assert len(np.unique(mapped)) >= 3  # a map, not one class everywhere
