"""Loaded model versions for the whole process, swapped atomically when a site's serving version changes.

The database says which version is active (another process, such as the worker or an admin's
promotion, may change it at any time); each request asks it, then takes the loaded model for that
version from here. A request in flight keeps the model object it started with, so a swap never fails
it. A version whose weights fail their SHA-256 check is never served: the task keeps serving the
version it served before, and the refusal is logged.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict

import torch

from imaging_ai.errors import DomainError
from imaging_ai.ml.batching import MicroBatcher
from imaging_ai.ml.device import CPU
from imaging_ai.ml.loading import LoadedModel, load_model
from imaging_ai.storage.model_folders import model_folder
from imaging_ai.storage.model_store import ModelStoreError, read_version

logger = logging.getLogger(__name__)


class ModelUnavailableError(DomainError):
    status_code = 503
    code = "model_unavailable"


class ModelRuntime:
    def __init__(self, capacity: int = 6, *, max_batch: int = 8, device: torch.device = CPU) -> None:
        self._capacity = capacity
        self._device = device
        self._max_batch = max_batch
        self._loaded: OrderedDict[str, LoadedModel] = OrderedDict()
        self._batchers: dict[str, MicroBatcher] = {}
        self._serving: dict[str, str] = {}
        self._refused: set[str] = set()
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()

    def version(self, version: str, store_path: str) -> LoadedModel:
        """A specific version (to explain an old prediction); loads it if needed."""
        with self._lock:
            model = self._loaded.get(version)
            if model is not None:
                self._loaded.move_to_end(version)
                return model
        with self._load_lock:  # one load at a time; a second request for it waits, then finds it
            with self._lock:
                if version in self._loaded:
                    return self._loaded[version]
            try:
                model = load_model(read_version(model_folder(store_path)), device=self._device)
            except ModelStoreError as exc:
                if version not in self._refused:
                    logger.error("model version refused", extra={"version": version, "reason": str(exc)})
                    self._refused.add(version)
                raise ModelUnavailableError(
                    f"Model version {version} cannot be loaded: {exc}", details={"version": version}
                ) from exc
            with self._lock:
                self._loaded[version] = model
                serving = set(self._serving.values())
                while len(self._loaded) > self._capacity:
                    victim = next((v for v in self._loaded if v not in serving and v != version), None)
                    if victim is None:
                        break
                    del self._loaded[victim]
                    batcher = self._batchers.pop(victim, None)
                    if batcher is not None:
                        batcher.close()
            return model

    def serving(self, route: str, active_version: str | None, store_path: str | None) -> LoadedModel:
        """The model to answer with on a route (a task at a site) whose serving version in the database is
        given; if it cannot be loaded, the route keeps the version it served before."""
        if active_version is not None and store_path is not None:
            try:
                model = self.version(active_version, store_path)
            except ModelUnavailableError:
                fallback = self._current(route)
                if fallback is None:
                    raise
                return fallback
            with self._lock:
                if self._serving.get(route) != active_version:
                    logger.info("serving model version", extra={"route": route, "version": active_version})
                self._serving[route] = active_version
            return model
        fallback = self._current(route)
        if fallback is None:
            raise ModelUnavailableError(f"No model version serves {route}.", details={"route": route})
        return fallback

    def predict(
        self, model: LoadedModel, tensor: torch.Tensor
    ) -> tuple[torch.Tensor, float | None, torch.Tensor]:
        """Calibrated probabilities for one (1, S, S) input, the Mahalanobis distance of its features
        from the version's training features (None without a feature density), and its penultimate
        features; batched with concurrent requests."""
        if self._max_batch <= 1:
            scored = model.predict_scored(tensor.unsqueeze(0))[0]
        else:
            with self._lock:
                batcher = self._batchers.get(model.version)
                if batcher is None:
                    batcher = MicroBatcher(
                        model.predict_scored, max_batch=self._max_batch, name=model.version
                    )
                    self._batchers[model.version] = batcher
            scored = batcher.submit(tensor)
        labels = len(model.labels)
        distance = float(scored[labels])
        return scored[:labels], (None if math.isnan(distance) else distance), scored[labels + 1 :]

    def _current(self, route: str) -> LoadedModel | None:
        with self._lock:
            version = self._serving.get(route)
            return self._loaded.get(version) if version else None
