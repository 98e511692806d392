"""Micro-batching of concurrent inference requests (one inference thread per model).

Requests queue up while the model is busy; when it is free, the inference thread takes everything
waiting (up to ``max_batch``) and runs one forward pass. An idle server therefore adds no latency
(nothing to wait for), and a busy one amortises the forward pass over the batch. A single inference
thread also keeps concurrent requests from oversubscribing the CPU's cores with parallel passes.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future

import torch

_STOP = object()


class MicroBatcher:
    def __init__(self, predict: Callable[[torch.Tensor], torch.Tensor], *, max_batch: int, name: str) -> None:
        self._predict = predict
        self._max_batch = max_batch
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=f"inference-{name}", daemon=True)
        self._thread.start()
        self.batches_run = 0
        self.items_run = 0

    def submit(self, item: torch.Tensor) -> torch.Tensor:
        """Blocks until the item's output row is computed; raises what the forward pass raised."""
        future: Future[torch.Tensor] = Future()
        self._queue.put((item, future))
        return future.result()

    def close(self) -> None:
        self._queue.put(_STOP)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            pending = [first]
            while len(pending) < self._max_batch:
                try:
                    following = self._queue.get_nowait()
                except queue.Empty:
                    break
                if following is _STOP:
                    self._queue.put(_STOP)
                    break
                pending.append(following)
            items = [entry for entry in pending if isinstance(entry, tuple)]
            try:
                outputs = self._predict(torch.stack([tensor for tensor, _ in items]))
            except Exception as exc:
                for _, future in items:
                    future.set_exception(exc)
                continue
            self.batches_run += 1
            self.items_run += len(items)
            for (_, future), row in zip(items, outputs, strict=True):
                future.set_result(row)
