"""Classification on a Dask cluster (``core.cluster``): a LocalCluster of 2 worker processes shared by
the module, reached through its tcp:// address like a cluster started by hand.

The cluster's map must equal this machine's (codes exactly, probabilities within 1e-6) for every
model family, on ONNX Runtime (the families) and TensorFlow (the killed worker); a worker killed
mid-run loses nothing; cancel leaves no file and no task; an input the workers cannot open, and an
unreachable scheduler, get messages naming the parameter.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from reliability import files_under, tiled_stack_vrt, wait_until

from landcover_cnn_plugin.core.classify import classify_raster
from landcover_cnn_plugin.core.cluster.address import Scheduler
from landcover_cnn_plugin.core.cluster.runner import ClusterBlocks
from landcover_cnn_plugin.core.cluster.session import cluster_runner
from landcover_cnn_plugin.core.engines import ONNXRUNTIME, TENSORFLOW
from landcover_cnn_plugin.core.errors import JobCanceled, UserInputError
from landcover_cnn_plugin.core.model_file import load_model_file, read_model_spec
from landcover_cnn_plugin.core.models import FAMILIES
from landcover_cnn_plugin.core.progress import NullReporter
from lcnn_testing import reference_samples_frame, reference_stack, small_model_file

gdal.UseExceptions()
pytestmark = pytest.mark.slow
PATCH_SIZE = 5
MEMORY_MB = 8  # the smallest blocks (256 x 256, one output tile): seams everywhere
WINDOW = (384, 320)  # columns, rows of the stack's corner the families classify: 2 x 2 blocks


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes, one thread each, on 127.0.0.1 (one TensorFlow thread per process)."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, env={"TF_NUM_INTRAOP_THREADS": "1", "OMP_NUM_THREADS": "1"}
                      ) as local, Client(local) as client:
        yield Scheduler(local.scheduler_address), client


@pytest.fixture(scope="module")
def family_models(tmp_path_factory) -> dict[str, Path]:
    """A model file of every registered family, trained one epoch on the sample scene."""
    from landcover_cnn_plugin.core.settings import TrainingSettings
    from landcover_cnn_plugin.core.training import LandcoverTrainer

    folder = tmp_path_factory.mktemp("families")
    frame = reference_samples_frame().iloc[::12].reset_index(drop=True)
    paths = {}
    for name in FAMILIES:
        settings = TrainingSettings(model_type=name, names_field="fclass", raster=str(reference_stack()),
                                    patch_size=PATCH_SIZE, epochs=1, batch_size=256, seed=3)
        paths[name] = folder / f"{name}.lcnn"
        LandcoverTrainer(settings).fit(frame).save(str(paths[name]))
    return paths


@pytest.fixture(scope="module")
def window(tmp_path_factory) -> Path:
    """The stack's top-left WINDOW as a VRT (on disk: the workers open it too)."""
    path = tmp_path_factory.mktemp("window") / "window.vrt"
    gdal.Translate(str(path), str(reference_stack()), format="VRT", srcWin=[0, 0, *WINDOW])
    return path


@pytest.fixture(scope="module")
def mask(tmp_path_factory) -> Path:
    """1 on the stack's grid but for a rectangle across both block seams (0: not classified)."""
    stack = gdal.Open(str(reference_stack()))
    path = tmp_path_factory.mktemp("mask") / "mask.tif"
    target = gdal.GetDriverByName("GTiff").Create(str(path), stack.RasterXSize, stack.RasterYSize, 1,
                                                  gdal.GDT_Byte)
    target.SetGeoTransform(stack.GetGeoTransform())
    target.SetProjection(stack.GetProjection())
    values = np.ones((stack.RasterYSize, stack.RasterXSize), np.uint8)
    values[200:300, 200:330] = 0
    target.GetRasterBand(1).WriteArray(values)
    target = None
    return path


def _outputs(folder: Path) -> dict[str, str]:
    folder.mkdir()
    return {"output": str(folder / "map.tif"), "confidence": str(folder / "confidence.tif"),
            "probabilities": str(folder / "probabilities.tif")}


class Progress(NullReporter):
    """Records the progress values a run reports."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def progress(self, percent: float) -> None:
        self.values.append(percent)


def _read(path: str) -> np.ndarray:
    return gdal.Open(path).ReadAsArray()


def _on_cluster(scheduler: Scheduler, raster: str, model: Path, outputs: dict[str, str], reporter=None,
                engine: str = TENSORFLOW, **options) -> dict:
    reporter = reporter or NullReporter()
    with cluster_runner(scheduler, raster, str(model), engine, reporter) as runner:
        return classify_raster(raster, read_model_spec(model), reporter=reporter, runner=runner,
                               memory_mb=MEMORY_MB, **outputs, **options)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_cluster_map_equals_this_machines_for_every_family(family, family_models, cluster, window, mask,
                                                           tmp_path):
    scheduler, _ = cluster
    raster = str(window)
    here, there = _outputs(tmp_path / "here"), _outputs(tmp_path / "cluster")
    local = classify_raster(raster, load_model_file(family_models[family], ONNXRUNTIME), mask=str(mask),
                            memory_mb=MEMORY_MB, **here)
    progress = Progress()
    remote = _on_cluster(scheduler, raster, family_models[family], there, reporter=progress, mask=str(mask),
                         engine=ONNXRUNTIME)
    assert remote["n_blocks"] == local["n_blocks"] == 4
    assert remote["class_pixels"] == local["class_pixels"]
    # progress advances once per written block
    assert progress.values == [100.0 * done / remote["n_blocks"] for done in range(1, remote["n_blocks"] + 1)]
    codes = _read(there["output"])
    assert codes.tobytes() == _read(here["output"]).tobytes()
    assert (codes[200:300, 200:330] == 0).all() and (codes[:200] > 0).all()
    for name in ("confidence", "probabilities"):
        assert np.abs(_read(there[name]) - _read(here[name])).max() <= 1e-6
    # styled as on this machine: the same colour table, legend and .qml
    ours, theirs = gdal.Open(there["output"]), gdal.Open(here["output"])  # the bands need their datasets
    for band in (ours.GetRasterBand(1), theirs.GetRasterBand(1)):
        assert band.GetColorTable().GetCount() > 0
    assert ours.GetRasterBand(1).GetCategoryNames() == theirs.GetRasterBand(1).GetCategoryNames()
    assert ours.GetMetadata() == theirs.GetMetadata()
    assert Path(there["output"]).with_suffix(".qml").read_text() == \
        Path(here["output"]).with_suffix(".qml").read_text()


def test_cancel_cancels_the_tasks_and_leaves_no_output(cluster, tmp_path):
    scheduler, client = cluster
    stack = tiled_stack_vrt(tmp_path / "stack2x2.vrt", reference_stack(), 2, 2)
    out = tmp_path / "out"
    progress = Progress()
    with pytest.raises(JobCanceled):
        _on_cluster(scheduler, str(stack), small_model_file(), _outputs(out), reporter=progress,
                    is_canceled=lambda: bool(progress.values))
    assert progress.values and progress.values[-1] < 100
    assert files_under(out) == []
    assert wait_until(lambda: not any("landcover-cnn" in str(key) for keys in client.processing().values()
                                      for key in keys), timeout=30)
    plugins = client.run(lambda dask_worker: list(dask_worker.plugins))
    assert not any(name.startswith("landcover-cnn-model") for names in plugins.values() for name in names)


class CountingBlocks(ClusterBlocks):
    """Records, at each submission, the block and the tasks then in flight."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.submitted: list[int] = []
        self.in_flight_seen: list[int] = []

    def read(self, dataset, bands, block, inside, with_probabilities):
        future = super().read(dataset, bands, block, inside, with_probabilities)
        self.submitted.append(block.index)
        self.in_flight_seen.append(self.in_flight())
        return future


def test_blocks_in_flight_stay_within_the_window(cluster, tmp_path):
    """The pipeline's queues hold at most ``window`` tasks in flight, submitted in block order."""
    scheduler, _ = cluster
    stack = str(tiled_stack_vrt(tmp_path / "stack2x1.vrt", reference_stack(), 2, 1))
    model = small_model_file()
    progress = Progress()
    with cluster_runner(scheduler, stack, str(model), TENSORFLOW, NullReporter()) as session:
        runner = CountingBlocks(session.client, session.raster, session.model_key, session.engine,
                                session.run, window=3)
        result = classify_raster(stack, read_model_spec(model), reporter=progress, runner=runner,
                                 memory_mb=MEMORY_MB, **_outputs(tmp_path / "out"))
    assert result["n_blocks"] == len(runner.submitted) == 12
    assert runner.submitted == list(range(12))
    assert 1 <= max(runner.in_flight_seen) <= runner.window == 3
    assert runner.in_flight() == 0
    assert progress.values == [100.0 * done / 12 for done in range(1, 13)]


def test_input_the_workers_cannot_open_is_named(cluster, tmp_path):
    """A raster only this process can read (GDAL's in-memory files are per process)."""
    scheduler, _ = cluster
    raster = "/vsimem/only_here/stack.tif"
    gdal.Translate(raster, str(reference_stack()))
    out = tmp_path / "out"
    try:
        with pytest.raises(UserInputError) as caught:
            _on_cluster(scheduler, raster, small_model_file(), _outputs(out))
    finally:
        gdal.Unlink(raster)
    assert caught.value.parameter == "INPUT"
    assert raster in caught.value.message and "Every worker must reach the input" in caught.value.message
    assert files_under(out) == []


class KillWorkerAt:
    """Reporter that SIGKILLs one worker process once the run has written ``percent`` of the blocks."""

    def __init__(self, pid: int, percent: float) -> None:
        self.pid, self.percent = pid, percent
        self.killed_at: float | None = None
        self.values: list[float] = []

    def progress(self, percent: float) -> None:
        self.values.append(percent)
        if self.killed_at is None and percent >= self.percent:
            os.kill(self.pid, signal.SIGKILL)
            self.killed_at = percent

    def log(self, message: str) -> None:
        pass


def test_worker_killed_mid_run_blocks_run_again_and_map_is_identical(cluster, tmp_path):
    scheduler, client = cluster
    stack = tiled_stack_vrt(tmp_path / "stack2x1.vrt", reference_stack(), 2, 1)
    here, there = _outputs(tmp_path / "here"), _outputs(tmp_path / "cluster")
    local = classify_raster(str(stack), load_model_file(small_model_file()), memory_mb=MEMORY_MB, **here)
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    reporter = KillWorkerAt(victim, 25.0)
    remote = _on_cluster(scheduler, str(stack), small_model_file(), there, reporter=reporter)
    assert reporter.killed_at is not None and reporter.killed_at < 50
    assert remote["n_blocks"] == local["n_blocks"] == len(reporter.values) >= 12
    assert reporter.values == sorted(reporter.values) and reporter.values[-1] == 100
    assert _read(there["output"]).tobytes() == _read(here["output"]).tobytes()
    for name in ("confidence", "probabilities"):
        assert np.abs(_read(there[name]) - _read(here[name])).max() <= 1e-6
    # the nanny started a new process in place of the killed one
    assert wait_until(lambda: len(client.run(os.getpid)) == 2, timeout=120)
    assert victim not in client.run(os.getpid).values()


def test_unreachable_scheduler_is_named_within_15_s(tmp_path):
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "out"
    started = time.monotonic()
    with pytest.raises(UserInputError) as caught:
        _on_cluster(Scheduler(f"tcp://127.0.0.1:{port}"), str(reference_stack()), small_model_file(),
                    _outputs(out))
    assert time.monotonic() - started < 15
    assert caught.value.parameter == "DASK_SCHEDULER" and f"tcp://127.0.0.1:{port}" in caught.value.message
    assert files_under(out) == []
