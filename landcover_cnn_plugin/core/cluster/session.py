"""The client side of a cluster classification: connect, ship code and model, check, clean up.

:func:`cluster_runner` is what ``core.jobs.classify`` calls for ``--scheduler``: it connects to the
scheduler (or starts ``local:N`` worker processes on this machine), refuses a cluster whose
libraries differ from this machine's or whose workers cannot open the input, sends the plugin's
code and the model file, and yields a :class:`~.runner.ClusterBlocks` for
``core.classify.classify_raster``. On the way out it unregisters the model's upload and shuts a
local cluster down.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import SchedulerUploadFile, UploadFile

from ..errors import UserInputError
from ..io.rasters import open_raster
from ..progress import Reporter
from .address import SCHEDULER_PARAMETER, Scheduler
from .remote import environment, input_problem, model_file_name, package_digest, unreachable_input
from .runner import ClusterBlocks

#: Seconds to reach a running scheduler; its workers may take longer to show up.
CONNECT_TIMEOUT_S = 5
WORKERS_TIMEOUT_S = 60
PACKAGE = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def cluster_runner(scheduler: Scheduler, raster: str, model_path: str, engine: str,
                   reporter: Reporter) -> Iterator[ClusterBlocks]:
    """A ready :class:`ClusterBlocks` on ``scheduler`` for classifying ``raster`` with ``model_path``
    on ``engine`` (``core.engines``, chosen by the caller: every worker loads the model on it).

    Raises
    ------
    UserInputError
        ``DASK_SCHEDULER``: the scheduler cannot be reached, has no workers, or its workers run
        other library versions (both listed); ``INPUT``: a worker cannot open ``raster``.
    """
    raster = _shared_path(raster)
    open_raster(raster, "INPUT")  # this machine first: a path nobody can open is no cluster problem
    with _client(scheduler) as client:
        reporter.log(f"Dask cluster {scheduler}: {len(client.nthreads())} workers, "
                     f"{sum(client.nthreads().values())} threads"
                     + (f"; dashboard {client.dashboard_link}" if scheduler.address else ""))
        if scheduler.address:  # local:N workers share this process's sys.path
            _ship_code(client)
        _check_environment(client)
        problems = {address: problem for address, problem in client.run(input_problem, raster).items()
                    if problem}
        if problems:
            raise unreachable_input(raster, ", ".join(sorted(problems)),
                                    "; ".join(sorted(set(problems.values()))))
        run = uuid.uuid4().hex[:12]
        key, plugin = _ship_model(client, model_path, run)
        blocks = ClusterBlocks(client, raster, key, engine, run)
        try:
            yield blocks
        finally:
            with contextlib.suppress(Exception):  # a lost scheduler has nothing left to remove
                blocks.cancel()  # a canceled or failed run leaves no task behind
                client.unregister_worker_plugin(plugin)


def _shared_path(raster: str) -> str:
    """The path the workers open: absolute for a local file (their working folder is another)."""
    return os.path.abspath(raster) if os.path.exists(raster) else raster


@contextlib.contextmanager
def _client(scheduler: Scheduler) -> Iterator[Client]:
    """A client of a running scheduler, or of a cluster of ``local:N`` processes started for the run."""
    if scheduler.local_workers:
        threads = str(max(1, (os.cpu_count() or 1) // scheduler.local_workers))
        # one task thread per process; the network uses the process's share of the cores
        environment_variables = {"TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": "1",
                                 "OMP_NUM_THREADS": threads}
        with LocalCluster(n_workers=scheduler.local_workers, threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR,
                          env=environment_variables) as cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(scheduler.address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        raise UserInputError(
            f"cannot reach the Dask scheduler {scheduler.address} within {CONNECT_TIMEOUT_S} s ({exc}). "
            f"Start it ('dask scheduler') and its workers ('dask worker {scheduler.address}') in the "
            "plugin's Python environment, check the host, the port and the firewall, or leave "
            f"{SCHEDULER_PARAMETER} empty to classify on this machine.", SCHEDULER_PARAMETER) from None
    with client:
        try:
            client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
        except TimeoutError:
            raise UserInputError(
                f"the Dask scheduler {scheduler.address} has no workers (waited {WORKERS_TIMEOUT_S} s); "
                f"start some with 'dask worker {scheduler.address}'.", SCHEDULER_PARAMETER) from None
        yield client


def _ship_code(client: Client) -> None:
    """Upload the plugin's package (a zip named by its digest) to the scheduler and every worker."""
    name = f"landcover_cnn_plugin-{package_digest()[:16]}.zip"
    with tempfile.TemporaryDirectory(prefix="lcnn-cluster-") as folder:
        archive = os.path.join(folder, name)
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
            for path in sorted(PACKAGE.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    out.write(path, (Path(PACKAGE.name) / path.relative_to(PACKAGE)).as_posix())
        # one plugin name per code version: runs of the same code replace, not pile up, the upload
        client.register_plugin(SchedulerUploadFile(archive), name=name)
        client.register_plugin(UploadFile(archive), name=name)


def _ship_model(client: Client, model_path: str, run: str) -> tuple[str, str]:
    """Upload the model file to every worker, present and future; (its SHA-256, the plugin's name).

    The plugin's name holds the run token, so that runs of the same model on one cluster do not
    remove each other's upload; the file's name holds the SHA-256 (:func:`.remote.model_file_name`).
    """
    data = Path(model_path).read_bytes()
    key = hashlib.sha256(data).hexdigest()
    with tempfile.TemporaryDirectory(prefix="lcnn-cluster-") as folder:
        copy = Path(folder) / model_file_name(key)
        copy.write_bytes(data)
        plugin = f"{copy.stem}-{run}"
        client.register_plugin(UploadFile(str(copy), load=False), name=plugin)
    return key, plugin


def _check_environment(client: Client) -> None:
    """Refuse workers whose Python, GDAL, libraries (:data:`.remote.CHECKED_DISTRIBUTIONS`) or code differ."""
    here = environment()
    differences = []
    for address, theirs in sorted(client.run(environment).items()):
        for library, version in here.items():
            if version != "not installed" and theirs.get(library) != version:
                differences.append(f"{library}: this machine {version}, worker {address} "
                                   f"{theirs.get(library, 'not installed')}")
    if differences:
        raise UserInputError(
            "the Dask workers run other library versions than this machine, so the map could differ "
            "from a map made here; nothing was classified. Differences: " + "; ".join(differences)
            + ". Install the plugin's requirements (the same versions) in the workers' environment, "
            "restart the workers after updating the plugin, or leave " + SCHEDULER_PARAMETER
            + " empty to classify on this machine.", SCHEDULER_PARAMETER)
