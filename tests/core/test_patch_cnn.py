"""patch_cnn on the real sample scene: patch cutting, augmentation, no label leakage, and the
fully convolutional block-wise prediction equal to per-patch prediction (seams, edges, nodata)."""

from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal

from lcnn_testing import (
    STUDY_BANDS,
    reference_polygon_ids,
    reference_samples_frame,
    reference_stack,
)

K = 7
H = K // 2


@pytest.fixture(scope="module")
def stack_array() -> np.ndarray:
    return gdal.Open(str(reference_stack())).ReadAsArray().astype(np.float32)  # (9, 384, 768)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A patch_cnn trained briefly by the real trainer on every 4th sample row, saved and loaded.

    With the derived inputs (normalized differences of band pairs), so that the equivalence test
    below covers their block-wise and per-patch computation too.
    """
    from landcover_cnn_plugin.core.model_file import load_model_file
    from landcover_cnn_plugin.core.settings import TrainingSettings
    from landcover_cnn_plugin.core.training import LandcoverTrainer

    frame = reference_samples_frame().iloc[::4].reset_index(drop=True)
    trainer = LandcoverTrainer(TrainingSettings(
        label="code", names_field="fclass", model_type="patch_cnn", raster=str(reference_stack()),
        patch_size=K, epochs=2, batch_size=256, patience=2, balance="class_weights", seed=7,
        derived_features="normalized_differences"))
    trainer.fit(frame)
    path = tmp_path_factory.mktemp("patch_model") / "patch.lcnn"
    trainer.save(str(path))
    trainer.model_path = str(path)
    trainer.frame = frame
    return trainer, load_model_file(path)


def test_cut_patches_equal_edge_padded_image(stack_array):
    from landcover_cnn_plugin.core.patches import cut_patches

    height, width = stack_array.shape[1:]
    rng = np.random.default_rng(0)
    rows = np.concatenate([[0, 0, height - 1, height - 1, 1, 200], rng.integers(0, height, 300)])
    cols = np.concatenate([[0, width - 1, 0, width - 1, width - 2, 1], rng.integers(0, width, 300)])
    patches = cut_patches(reference_stack(), rows, cols, K, STUDY_BANDS, strip_rows=37)
    padded = np.pad(stack_array, ((0, 0), (H, H), (H, H)), mode="edge")
    expected = np.stack([np.moveaxis(padded[:, r:r + K, c:c + K], 0, -1)
                         for r, c in zip(rows, cols, strict=True)])
    assert patches.values.shape == (len(rows), K, K, 9)
    np.testing.assert_array_equal(patches.values, expected)
    assert patches.valid.all()  # the reference stack has no nodata
    # the corner patch replicates the corner pixel over its top-left 4 x 4
    assert (patches.values[0, :H + 1, :H + 1] == stack_array[:, 0, 0]).all()


def test_band_order_follows_names():
    from landcover_cnn_plugin.core.errors import UserInputError
    from landcover_cnn_plugin.core.patches import cut_patches

    forward = cut_patches(reference_stack(), [10], [10], 3, ["B12", "B03"])
    full = cut_patches(reference_stack(), [10], [10], 3, STUDY_BANDS)
    np.testing.assert_array_equal(forward.values[..., 0], full.values[..., 8])
    np.testing.assert_array_equal(forward.values[..., 1], full.values[..., 0])
    with pytest.raises(UserInputError, match="B99"):
        cut_patches(reference_stack(), [10], [10], 3, ["B03", "B99"])


def test_dihedral_group_and_keras_layer(stack_array):
    import keras

    from landcover_cnn_plugin.core.models.patch_cnn import dihedral_layer_class
    from landcover_cnn_plugin.core.patches import all_dihedral, dihedral

    patch = np.moveaxis(stack_array[:, 100:105, 300:305], 0, -1)[None]  # a real, asymmetric patch
    variants = all_dihedral(patch)
    assert variants.shape == (8, 5, 5, 9)
    flat = {v.tobytes() for v in variants}
    assert len(flat) == 8
    # closed under composition: applying any symmetry to any variant gives a variant again
    for i in range(8):
        assert {dihedral(variants, i)[j].tobytes() for j in range(8)} == flat
    layer = dihedral_layer_class()(seed=3)
    batch = np.repeat(patch, 64, axis=0)
    augmented = keras.ops.convert_to_numpy(layer(batch, training=True))
    seen = {a.tobytes() for a in augmented}
    assert seen <= flat and len(seen) >= 6  # 64 draws hit (almost) all 8 symmetries
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(batch, training=False)), batch)


def test_training_labels_come_from_training_polygons_only(trained):
    """Every training patch is centred on a training pixel, and no such pixel lies in a test polygon.

    A training patch may still *show* pixels of a test polygon at its border (as at prediction
    time); what must never happen is a training *label* from a test polygon.
    """
    from landcover_cnn_plugin.core.indices import add_derived
    from landcover_cnn_plugin.core.io.grid import Grid
    from landcover_cnn_plugin.core.models.patch import PatchInputs

    trainer, _ = trained
    table, split = trainer.table_, trainer.split_
    provider = PatchInputs(table, str(reference_stack()), K, trainer.derived_features_)
    scaler = provider.fit_scaler(split.train)
    inputs = provider.inputs(split.train, scaler)
    # each training patch's centre is its own row's pixel (the row that gives the label)
    centre_inputs = add_derived(table.features[split.train], provider.derived_features)
    np.testing.assert_allclose(inputs[:, H, H, :], scaler.transform(centre_inputs), rtol=1e-6, atol=1e-6)
    # scaler statistics are those of the training rows only
    np.testing.assert_allclose(scaler.mean_, centre_inputs.astype(np.float64).mean(0), rtol=1e-6)
    # independent check with the GDAL-rasterized polygon ids: centre pixels lie in training polygons
    ids_ds = gdal.Open(str(reference_polygon_ids()))
    ids = ids_ds.ReadAsArray()
    rows, cols, _ = Grid.from_dataset(ids_ds).pixel_of(table.xy[split.train, 0], table.xy[split.train, 1])
    centre_polygons = set(np.unique(ids[rows, cols]).tolist())
    test_polygons = set(np.unique(table.groups[split.test]).tolist())
    assert centre_polygons == set(np.unique(table.groups[split.train]).tolist())
    assert not centre_polygons & test_polygons
    # the model file records k and the band names
    _, loaded = trained
    assert loaded.patch_size == K and loaded.halo == H
    assert loaded.feature_names == STUDY_BANDS
    # ... and the derived inputs: the 9 bands plus the normalized differences of their 36 pairs
    assert loaded.derived_features == "normalized_differences" and loaded.n_inputs == 9 + 36


def _holey_crop(tmp_path, stack_array) -> tuple[str, np.ndarray]:
    """The top-right 120 x 128 corner of the real stack with nodata holes (nodata value 0)."""
    crop = stack_array[:, :120, -128:].copy()
    crop[:, 50:53, 60:63] = 0          # a 3 x 3 hole inside
    crop[:, 0, 127] = 0                # the image corner
    crop[:, 79, 10:40] = 0             # a line, crossing a block seam
    crop[4, 100, 100] = 0              # one band only
    path = str(tmp_path / "crop_with_holes.tif")
    source = gdal.Open(str(reference_stack()))
    x0, dx, _, y0, _, dy = source.GetGeoTransform()
    out = gdal.GetDriverByName("GTiff").Create(path, 128, 120, 9, gdal.GDT_UInt16)
    out.SetGeoTransform((x0 + (768 - 128) * dx, dx, 0, y0, 0, dy))
    out.SetProjection(source.GetProjection())
    for i, band in enumerate(STUDY_BANDS):
        b = out.GetRasterBand(i + 1)
        b.WriteArray(crop[i].astype(np.uint16))
        b.SetDescription(band)
        b.SetNoDataValue(0)
    out = None
    return path, crop


def test_blockwise_fully_convolutional_equals_per_patch(trained, tmp_path, stack_array):
    """Block walker + LoadedModel.predict_block == one k x k patch per pixel through the network.

    Small blocks (40 x 48) put seams inside the window; the window holds the real image's top
    and right edges (edge replication) and nodata holes (filled with the training mean).
    """
    from landcover_cnn_plugin.core.indices import add_derived
    from landcover_cnn_plugin.core.io.blocks import iter_blocks, read_block
    from landcover_cnn_plugin.core.patches import cut_patches

    _, loaded = trained
    path, crop = _holey_crop(tmp_path, stack_array)
    valid_px = (crop != 0).all(axis=0)
    dataset = gdal.Open(path)
    blockwise = np.full((loaded.n_classes, 120, 128), np.nan, dtype=np.float32)
    blocks = list(iter_blocks(128, 120, 48, 40, halo=loaded.halo))
    assert len(blocks) == 9
    for block in blocks:
        values = read_block(dataset, block, dtype=np.float32)
        valid = (values != 0).all(axis=0)
        blockwise[:, block.y_off:block.y_off + block.height, block.x_off:block.x_off + block.width] = \
            loaded.predict_block(values, valid)
    rows, cols = np.nonzero(valid_px)
    patches = cut_patches(path, rows, cols, K, loaded.feature_names)
    assert not patches.valid.all()  # some patches do hold nodata neighbours
    # per patch, the derived channels come from the patch's bands (axis -1); block-wise from the
    # block's bands (axis 0): both paths must agree
    inputs = loaded.scaler.transform(add_derived(patches.values, loaded.derived_features), patches.valid)
    per_patch = loaded.network.predict(inputs, batch_size=4096, verbose=0)
    got = blockwise[:, rows, cols].T
    np.testing.assert_allclose(got, per_patch, atol=2e-5, rtol=0)
    # same classes, except where two classes tie within float tolerance
    top2 = np.sort(per_patch, axis=1)[:, -2:]
    decided = top2[:, 1] - top2[:, 0] > 1e-4
    assert decided.mean() > 0.99
    assert (got.argmax(1)[decided] == per_patch.argmax(1)[decided]).all()
    # seams and edges are inside the compared pixels
    assert valid_px[39:41, :].any() and valid_px[:, 47:49].any() and valid_px[:, 127].any()
    # nodata stays nodata; probabilities of valid pixels sum to 1
    assert (blockwise[:, ~valid_px] == 0).all()
    np.testing.assert_allclose(blockwise[:, valid_px].sum(axis=0), 1.0, atol=1e-5)
    # the network is not constant: it separates classes on this window
    assert len(np.unique(per_patch.argmax(1))) >= 2


def test_example_patches_picture(trained):
    """The report's picture of training patches: a PNG with one row per class."""
    import io

    import matplotlib.image

    from landcover_cnn_plugin.core.models.patch import PatchInputs
    from landcover_cnn_plugin.core.models.patch_examples import example_patches_png

    trainer, loaded = trained
    rows = trainer.split_.train
    provider = PatchInputs(trainer.table_, str(reference_stack()), K, "none")
    png = example_patches_png(provider.patches.values[rows], trainer.table_.codes[rows], loaded.legend,
                              loaded.feature_names, per_class=3, seed=1)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(io.BytesIO(png))
    assert image.shape[0] > 8 * 40 and image.shape[1] > 3 * 40  # 8 classes x 3 patches, readable size
    assert image[..., :3].std() > 0.05  # real pictures, not a blank canvas


def test_training_report_shows_patch_size_and_examples(trained, tmp_path):
    from landcover_cnn_plugin.core.training_report import write_training_report

    trainer, loaded = trained
    png = trainer.example_figure()
    assert png is not None and png[:4] == b"\x89PNG"
    html = (tmp_path / "report.html")
    write_training_report(html, loaded.metadata, example_patches_png=png)
    text = html.read_text(encoding="utf-8")
    assert "Training patches" in text and f"{K} x {K} pixels" in text
    assert text.count("data:image/png;base64,") >= 3  # confusion, curves, patches


def test_evaluate_job_cuts_patches_and_reproduces_the_test_figures(trained, tmp_path, capsys):
    """``worker evaluate --raster`` on the test rows gives the trainer's own test-part figures."""
    import json

    from landcover_cnn_plugin.worker import main

    trainer, _ = trained
    assert trainer.table_.n_dropped == 0  # table rows are frame rows
    csv = tmp_path / "test_rows.csv"
    trainer.frame.iloc[trainer.split_.test].to_csv(csv, index=False)
    metrics_path = tmp_path / "metrics.json"
    code = main(["evaluate", "--model", trainer.model_path, "--samples", str(csv), "--raster",
                 str(reference_stack()), "--metrics", str(metrics_path)])
    assert code == 0, capsys.readouterr()
    metrics = json.loads(metrics_path.read_text())
    assert metrics["n_samples"] == len(trainer.split_.test)
    for key in ("overall_accuracy", "kappa", "macro_f1"):
        assert metrics[key] == pytest.approx(trainer.metrics_[key], abs=1e-9)
    assert main(["evaluate", "--model", trainer.model_path, "--samples", str(csv)]) == 2  # no raster
    assert "needs the stack raster" in capsys.readouterr().err


@pytest.mark.parametrize(("patch_size", "final_pool", "centre_skip"),
                         [(5, "none", False), (7, "avg", True), (9, "max", False), (7, "none", True)])
def test_every_variant_has_an_exact_fully_convolutional_twin(stack_array, patch_size, final_pool,
                                                             centre_skip):
    """Each architecture option: the twin over a real 30 x 34 window == one patch per pixel.

    Untrained weights, but batch-normalisation statistics set away from identity so that
    every layer matters.
    """
    from landcover_cnn_plugin.core.models import FAMILIES
    from landcover_cnn_plugin.core.models.patch import predict_in_strips
    from landcover_cnn_plugin.core.models.patch_cnn import build_patch_cnn

    k, h = patch_size, patch_size // 2
    window = stack_array[:, 200:230 + 2 * h, 300:334 + 2 * h]
    mean, std = window.mean(axis=(1, 2)), window.std(axis=(1, 2))
    z = (window - mean[:, None, None]) / std[:, None, None]
    model = build_patch_cnn(9, 8, k, seed=5, final_pool=final_pool, centre_skip=centre_skip, l2=1e-4)
    rng = np.random.default_rng(1)
    for layer in model.layers:
        if layer.name.startswith("bn"):
            gamma, beta, moving_mean, moving_var = layer.get_weights()
            layer.set_weights([gamma * rng.uniform(0.5, 2, gamma.shape),
                               beta + rng.normal(0, 0.3, beta.shape),
                               moving_mean + rng.normal(0, 0.5, moving_mean.shape),
                               moving_var * rng.uniform(0.5, 2, moving_var.shape)])
    family = FAMILIES["patch_cnn"]
    graph = family.prediction_graph(model, k)  # the fully convolutional twin
    out = predict_in_strips(family.graph_runner(graph), z, graph.halo, max_pixels=300)  # several strips
    assert out.shape == (8, 30, 34)
    patches = np.stack([np.moveaxis(z[:, i:i + k, j:j + k], 0, -1) for i in range(30) for j in range(34)])
    per_patch = model.predict(patches, verbose=0)
    np.testing.assert_allclose(out.reshape(8, -1).T, per_patch, atol=2e-5, rtol=0)
