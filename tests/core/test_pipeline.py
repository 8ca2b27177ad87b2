"""The overlapped block pipeline (core.io.pipeline): every block once, bounded memory, errors and
cancel stop every stage."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from landcover_cnn_plugin.core.errors import JobCanceled
from landcover_cnn_plugin.core.io.blocks import iter_blocks
from landcover_cnn_plugin.core.io.pipeline import run_block_pipeline

IMAGE = np.arange(300 * 200, dtype=np.float64).reshape(200, 300)


def _blocks():
    return list(iter_blocks(300, 200, 64, 48, halo=2))


def _pipeline_threads() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name.startswith("lcnn-")]


class Stages:
    """Read a window of IMAGE, sum it, write the sum; counts the blocks alive between read and write."""

    def __init__(self, write_seconds: float = 0.0) -> None:
        self.lock = threading.Lock()
        self.alive = self.most_alive = 0
        self.reads: list[int] = []
        self.written: dict[int, float] = {}
        self.write_seconds = write_seconds

    def read(self, block):
        with self.lock:
            self.reads.append(block.index)
            self.alive += 1
            self.most_alive = max(self.most_alive, self.alive)
        return block.pad_array(IMAGE[block.read_y:block.read_y + block.read_height,
                                     block.read_x:block.read_x + block.read_width])

    def compute(self, block, data):
        h = block.halo
        return float(data[h:h + block.height, h:h + block.width].sum())

    def write(self, block, result):
        time.sleep(self.write_seconds)
        with self.lock:
            self.written[block.index] = result
            self.alive -= 1


def test_every_block_is_computed_and_written_once_with_several_workers():
    blocks, stages, reported = _blocks(), Stages(), []
    seconds = run_block_pipeline(blocks, stages.read, stages.compute, stages.write, workers=3, depth=2,
                                 on_written=reported.append)
    expected = {b.index: float(IMAGE[b.y_off:b.y_off + b.height, b.x_off:b.x_off + b.width].sum())
                for b in blocks}
    assert stages.written == expected and sorted(stages.reads) == list(range(len(blocks)))
    assert sorted(block.index for block in reported) == list(range(len(blocks)))
    assert _pipeline_threads() == []
    assert set(seconds) == {"read", "compute", "write"} and all(value >= 0 for value in seconds.values())


def test_blocks_alive_stay_bounded_while_the_writer_is_slow():
    stages, workers, depth = Stages(write_seconds=0.01), 2, 2
    run_block_pipeline(_blocks(), stages.read, stages.compute, stages.write, workers=workers, depth=depth)
    assert len(stages.written) == len(_blocks())
    # queued to compute + computing + queued to write + writing + the one being read
    assert stages.most_alive <= 2 * depth + workers + 2


def test_an_error_in_a_stage_stops_every_stage_and_reaches_the_caller():
    stages = Stages(write_seconds=0.005)

    def compute(block, data):
        if block.index == 3:
            raise ValueError("block 3 is broken")
        return stages.compute(block, data)

    with pytest.raises(ValueError, match="block 3 is broken"):
        run_block_pipeline(_blocks(), stages.read, compute, stages.write, workers=2, depth=1)
    assert 3 not in stages.written and len(stages.reads) < len(_blocks())
    assert _pipeline_threads() == []


def test_cancel_stops_reading_and_raises_job_canceled():
    stages, reported = Stages(write_seconds=0.02), []
    with pytest.raises(JobCanceled):
        run_block_pipeline(_blocks(), stages.read, stages.compute, stages.write, workers=1, depth=1,
                           is_canceled=lambda: len(reported) >= 2, on_written=reported.append)
    assert 2 <= len(stages.written) < len(_blocks()) and len(stages.reads) < len(_blocks())
    assert _pipeline_threads() == []
