"""``ClusterBlocks``: the ``core.classify.BlockRunner`` that predicts blocks on a Dask cluster.

``core.classify.classify_raster`` stays the block loop: its reader thread calls :meth:`ClusterBlocks.read`,
which reads the mask here and submits the block as a task (:func:`.remote.classify_block_task`); its
one predictor thread calls :meth:`ClusterBlocks.predict`, which waits for the blocks' results in
block order, so the writer writes the same file as the single-machine path. The pipeline's bounded
queues bound the tasks in flight (``window``: submitted, not yet handed to the writer), so the
client's memory does not grow with the raster. A worker that dies loses only its unfinished tasks:
the scheduler runs them again on another worker.
"""

from __future__ import annotations

import threading

import numpy as np
from distributed import Client, Future
from distributed.client import FutureCancelledError
from distributed.scheduler import KilledWorker

from ..classify import BlockResult
from ..io.blocks import Block
from ..io.rasters import RasterBands
from .remote import classify_block_task

#: Blocks ahead per worker thread: one computing, one queued so that no thread waits for the client.
BLOCKS_PER_THREAD = 2
#: The fewest tasks in flight (the pipeline holds one in its reader and one in its predictor).
MIN_WINDOW = 3


class ClusterBlocks:
    """Predicts the blocks of a classification as Dask tasks (:func:`.remote.classify_block_task`).

    Parameters
    ----------
    client : distributed.Client
    raster : str
        The input as every worker opens it.
    model_key : str
        SHA-256 of the model file uploaded to the workers (:func:`.remote.worker_model`).
    engine : str
        What runs the network on every worker (``core.engines``; chosen by the client).
    run : str
        Token of the run, in the task keys (``landcover-cnn-block-<index>-<run>``).
    window : int, optional
        Tasks in flight at most; default ``BLOCKS_PER_THREAD`` per worker thread (at least
        :data:`MIN_WINDOW`).

    Attributes
    ----------
    threads : int
        1: one predictor thread takes the results in block order.
    depth : int
        The pipeline's queue capacity: ``window - 2``.
    """

    threads = 1

    def __init__(self, client: Client, raster: str, model_key: str, engine: str, run: str,
                 window: int | None = None) -> None:
        self.client = client
        self.raster = raster
        self.model_key = model_key
        self.engine = engine
        self.run = run
        self.window = max(MIN_WINDOW, window or BLOCKS_PER_THREAD * sum(client.nthreads().values()))
        self.depth = self.window - 2
        self._pending: dict[int, Future] = {}
        self._lock = threading.Lock()

    def read(self, dataset, bands: RasterBands, block: Block, inside: np.ndarray | None,
             with_probabilities: bool) -> Future:
        """Submit ``block`` (the workers read it; ``dataset`` and ``bands`` are this process's)."""
        future = self.client.submit(classify_block_task, self.raster, self.model_key, self.engine, block,
                                    inside, with_probabilities,
                                    key=f"landcover-cnn-block-{block.index}-{self.run}")
        with self._lock:
            self._pending[block.index] = future
        return future

    def predict(self, block: Block, data: Future, with_probabilities: bool) -> BlockResult:
        """The block's result from the cluster (waits for it)."""
        try:
            return data.result()
        except KilledWorker as exc:
            raise RuntimeError(
                f"block {block.index} stopped every Dask worker that ran it ({exc}); a worker that runs out "
                "of memory is restarted by its nanny: lower MEMORY_MB or give the workers more memory "
                "(dask worker --memory-limit).") from None
        except FutureCancelledError as exc:
            raise RuntimeError(
                f"the Dask cluster dropped block {block.index} ({exc}): was the scheduler stopped or the "
                "connection to it lost? Nothing was written; run the classification again.") from None
        finally:
            with self._lock:
                self._pending.pop(block.index, None)
            data.release()

    def in_flight(self) -> int:
        """Tasks submitted and not yet handed to the writer."""
        with self._lock:
            return len(self._pending)

    def cancel(self) -> None:
        """Cancel the tasks still in flight (the run was canceled or failed): nothing stays on the cluster."""
        with self._lock:
            pending, self._pending = list(self._pending.values()), {}
        if pending:
            self.client.cancel(pending)
