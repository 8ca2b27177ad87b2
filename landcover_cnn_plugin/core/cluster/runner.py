"""``ClusterBlocks``: the ``core.classify.BlockRunner`` that predicts blocks on a Dask cluster.

Blocks are submitted as tasks a bounded number ahead (``window``: submitted plus finished but not
yet written), so the client's memory does not grow with the raster; results are handed back in
block order, so the client writes the same file as the single-machine path. A worker that dies
loses only its unfinished tasks: the scheduler runs them again on another worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from distributed import Client, Future, wait
from distributed.client import FutureCancelledError
from distributed.scheduler import KilledWorker

from ..classify import BlockJob, BlockOutputs, BlockResult
from ..errors import raise_if_canceled
from ..io.rasters import RasterBands
from .remote import classify_block_task

#: Seconds between two looks at ``is_canceled`` while waiting for the cluster.
POLL_S = 0.2
#: Blocks ahead per worker thread: one computing, one queued so that no thread waits for the client.
BLOCKS_PER_THREAD = 2


class ClusterBlocks:
    """Predicts the blocks of a classification as Dask tasks (:func:`.remote.classify_block_task`).

    Parameters
    ----------
    client : distributed.Client
    raster : str
        The input as every worker opens it.
    model_key : str
        SHA-256 of the model file uploaded to the workers (:func:`.remote.worker_model`).
    run : str
        Token of the run, in the task keys (``landcover-cnn-block-<index>-<run>``).
    window : int, optional
        Blocks in flight at most; default ``BLOCKS_PER_THREAD`` per worker thread (at least 2).
    """

    def __init__(self, client: Client, raster: str, model_key: str, run: str,
                 window: int | None = None) -> None:
        self.client = client
        self.raster = raster
        self.model_key = model_key
        self.run = run
        self.window = window or max(2, BLOCKS_PER_THREAD * sum(client.nthreads().values()))

    def results(self, dataset, bands: RasterBands, jobs: Iterable[BlockJob], outputs: BlockOutputs,
                is_canceled: Callable[[], bool] | None) -> Iterator[BlockResult]:
        """Each job's :class:`BlockResult`, in job order (see ``core.classify.BlockRunner``)."""
        pending: dict[int, Future] = {}
        finished: dict[int, BlockResult] = {}
        jobs = iter(jobs)
        next_index, exhausted = None, False
        try:
            while True:
                while not exhausted and len(pending) + len(finished) < self.window:
                    job = next(jobs, None)
                    if job is None:
                        exhausted = True
                        break
                    index = job.block.index
                    next_index = index if next_index is None else next_index
                    pending[index] = self.client.submit(
                        classify_block_task, self.raster, self.model_key, job, outputs,
                        key=f"landcover-cnn-block-{index}-{self.run}")
                if next_index in finished:
                    yield finished.pop(next_index)
                    next_index += 1
                    continue
                if not pending:
                    return
                raise_if_canceled(is_canceled)
                for index in self._finished(pending):
                    finished[index] = self._result(pending.pop(index), index)
        finally:  # canceled, failed or done: nothing of this run stays on the cluster
            if pending:
                self.client.cancel(list(pending.values()))
            pending.clear()
            finished.clear()

    @staticmethod
    def _finished(pending: dict[int, Future]) -> list[int]:
        """Indices of the futures that finished (or failed) within :data:`POLL_S` seconds."""
        try:
            wait(list(pending.values()), timeout=POLL_S, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return []
        return [index for index, future in pending.items() if future.done()]

    def _result(self, future: Future, index: int) -> BlockResult:
        try:
            return future.result()
        except KilledWorker as exc:
            raise RuntimeError(
                f"block {index} stopped every Dask worker that ran it ({exc}); a worker that runs out of "
                "memory is restarted by its nanny: lower MEMORY_MB or give the workers more memory "
                "(dask worker --memory-limit).") from None
        except FutureCancelledError as exc:
            raise RuntimeError(
                f"the Dask cluster dropped block {index} ({exc}): was the scheduler stopped or the "
                "connection to it lost? Nothing was written; run the classification again.") from None
        finally:
            future.release()
