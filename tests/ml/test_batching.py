"""Micro-batching gives every caller its own row, batches concurrent callers, and passes errors on."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from imaging_ai.ml.batching import MicroBatcher


def test_concurrent_requests_get_their_own_rows_in_fewer_passes() -> None:
    calls: list[int] = []
    gate = threading.Event()

    def slow_double(batch: torch.Tensor) -> torch.Tensor:
        calls.append(len(batch))
        gate.wait(timeout=5)  # the first pass holds the model while the others queue up
        time.sleep(0.01)
        return batch * 2

    batcher = MicroBatcher(slow_double, max_batch=8, name="test")
    with ThreadPoolExecutor(max_workers=9) as pool:
        futures = [pool.submit(batcher.submit, torch.full((3,), float(i))) for i in range(9)]
        time.sleep(0.2)
        gate.set()
        results = [f.result(timeout=10) for f in futures]
    for i, row in enumerate(results):
        assert torch.equal(row, torch.full((3,), 2.0 * i))
    assert sum(calls) == 9
    assert len(calls) < 9 and max(calls) <= 8
    batcher.close()


def test_errors_reach_every_caller_of_the_batch() -> None:
    def broken(_batch: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("model exploded")

    batcher = MicroBatcher(broken, max_batch=4, name="broken")
    with pytest.raises(RuntimeError, match="exploded"):
        batcher.submit(torch.zeros(2))
    # The inference thread survives and serves the next request.
    with pytest.raises(RuntimeError):
        batcher.submit(torch.zeros(2))
    batcher.close()
