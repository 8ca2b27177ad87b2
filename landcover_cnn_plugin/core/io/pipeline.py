"""Overlapped block processing: read the next blocks while the current ones are computed, write in
the background.

:func:`run_block_pipeline` runs a walk of :mod:`.blocks` in three stages, each in its own
thread(s), joined by bounded queues:

* one reader thread: ``read(block)`` (it alone uses the input datasets);
* ``workers`` compute threads: ``compute(block, data)`` (NumPy, ONNX Runtime and TensorFlow release
  the GIL while they work, so several run at once);
* one writer thread: ``write(block, result)`` (it alone uses the output datasets).

GDAL's Python bindings release the GIL in every wrapped call (SWIG ``-threads``), so reading,
computing and writing overlap. A GDAL dataset is never used by two threads. At most
``2 * depth + workers + 2`` blocks are alive at once, whatever the raster size: memory stays flat.
The calling thread polls for cancel, reports each written block and re-raises the first error of
any stage; every thread is stopped and joined before :func:`run_block_pipeline` returns (the
seconds each stage was busy) or raises.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import raise_if_canceled
from .blocks import Block

#: Seconds between checks for cancel and for a stopped pipeline.
POLL_SECONDS = 0.05
_END = object()


class _Stages:
    """The queues, the stop flag and the first error shared by the stages of one run."""

    def __init__(self, depth: int) -> None:
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.to_compute: queue.Queue = queue.Queue(maxsize=depth)
        self.to_write: queue.Queue = queue.Queue(maxsize=depth)
        self.written: queue.Queue = queue.Queue()
        self.busy_seconds = {"read": 0.0, "compute": 0.0, "write": 0.0}
        self.lock = threading.Lock()

    def timed(self, stage: str, work: Callable[..., Any], *args: Any) -> Any:
        """``work(*args)``, the time it took added to the stage's busy seconds.

        Wall time, not this thread's CPU time: an engine may work in threads of its own."""
        started = time.perf_counter()
        try:
            return work(*args)
        finally:
            with self.lock:
                self.busy_seconds[stage] += time.perf_counter() - started

    def put(self, target: queue.Queue, item: Any) -> bool:
        """Put ``item`` unless the run stops first (False)."""
        while not self.stop.is_set():
            try:
                target.put(item, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def get(self, source: queue.Queue) -> Any:
        """The next item, or the end marker once the run stops."""
        while not self.stop.is_set():
            try:
                return source.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
        return _END

    def guarded(self, work: Callable[[], None]) -> Callable[[], None]:
        """``work`` whose exception stops the run and is kept for the caller."""
        def body() -> None:
            try:
                work()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                self.errors.append(exc)
                self.stop.set()
        return body


def run_block_pipeline(blocks: Iterable[Block], read: Callable[[Block], Any],
                       compute: Callable[[Block, Any], Any], write: Callable[[Block, Any], None],
                       workers: int = 1, depth: int = 2, is_canceled: Callable[[], bool] | None = None,
                       on_written: Callable[[Block], None] | None = None) -> dict[str, float]:
    """``write(block, compute(block, read(block)))`` for every block, the three stages overlapped.

    Parameters
    ----------
    blocks : iterable of Block
        The walk (``iter_blocks``); blocks may be written in another order than read when
        ``workers`` > 1.
    read, compute, write : callable
        The stages; ``compute`` must be safe to run in ``workers`` threads at once.
    workers : int
        Compute threads.
    depth : int
        Capacity of each of the two queues (blocks read ahead, results waiting to be written).
    is_canceled : callable, optional
        Polled every 50 ms; True stops every stage and raises ``JobCanceled``.
    on_written : callable, optional
        Called in the caller's thread with each block once written (progress).

    Returns
    -------
    dict
        Seconds each stage was busy, "read", "compute" and "write" (summed over its threads, so
        "compute" may exceed the run's duration): where the time goes.

    Raises
    ------
    BaseException
        The first exception of any stage, or ``JobCanceled``; the other stages are stopped and
        joined first.
    """
    workers, depth = max(1, int(workers)), max(1, int(depth))
    stages = _Stages(depth)

    def reader() -> None:
        for block in blocks:
            if not stages.put(stages.to_compute, (block, stages.timed("read", read, block))):
                return
        for _ in range(workers):
            stages.put(stages.to_compute, _END)

    def computer() -> None:
        while (item := stages.get(stages.to_compute)) is not _END:
            block, data = item
            if not stages.put(stages.to_write, (block, stages.timed("compute", compute, block, data))):
                return
        stages.put(stages.to_write, _END)

    def writer() -> None:
        ended = 0
        while ended < workers:
            item = stages.get(stages.to_write)
            if item is _END:
                if stages.stop.is_set():
                    return
                ended += 1
                continue
            block, result = item
            stages.timed("write", write, block, result)
            stages.written.put(block)

    threads = [threading.Thread(target=stages.guarded(reader), name="lcnn-read", daemon=True)]
    threads += [threading.Thread(target=stages.guarded(computer), name=f"lcnn-compute-{i}", daemon=True)
                for i in range(workers)]
    threads.append(threading.Thread(target=stages.guarded(writer), name="lcnn-write", daemon=True))

    def report() -> None:
        while on_written is not None and not stages.written.empty():
            on_written(stages.written.get())

    for thread in threads:
        thread.start()
    try:
        while threads[-1].is_alive():
            raise_if_canceled(is_canceled)
            threads[-1].join(POLL_SECONDS)
            report()
        if stages.errors:
            raise stages.errors[0]
        report()
        return dict(stages.busy_seconds)
    finally:
        stages.stop.set()
        for thread in threads:
            thread.join()
