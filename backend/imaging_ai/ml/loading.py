"""A stored model version, loaded and ready to predict: network, preprocessing, temperature."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field

import torch
from torch import nn

from imaging_ai.ml.architectures import build_network
from imaging_ai.ml.preprocessing import PreprocessingSpec
from imaging_ai.ml.tasks import TASKS, TaskSpec
from imaging_ai.storage.model_store import StoredVersion


@dataclass
class LoadedModel:
    version: str
    task: TaskSpec
    architecture: str
    network: nn.Module
    preprocessing: PreprocessingSpec
    temperature: float
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    """Held by code that attaches hooks to the network (heatmaps), which must not interleave."""

    @property
    def labels(self) -> tuple[str, ...]:
        return self.task.labels

    def calibrated(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.softmax(logits / self.temperature, dim=1)

    def predict(self, batch: torch.Tensor) -> torch.Tensor:
        """Calibrated probabilities (N, K) for normalised inputs (N, 1, S, S)."""
        with torch.inference_mode():
            return self.calibrated(self.network(batch))

    def predict_images(self, images: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
        """Calibrated probabilities for resized [0, 1] images (N, S, S)."""
        outputs = []
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size].unsqueeze(1)
            outputs.append(self.predict((batch - self.preprocessing.mean) / self.preprocessing.std))
        return torch.cat(outputs) if outputs else torch.empty(0, len(self.labels))


def load_model(stored: StoredVersion) -> LoadedModel:
    """Loads a version, refusing weights whose SHA-256 does not match the card."""
    return model_from_weights(
        stored.read_verified_weights(),
        version=stored.version,
        task=TASKS[stored.task],
        architecture=stored.card["architecture"],
        preprocessing=PreprocessingSpec.from_dict(stored.preprocessing),
        temperature=float(stored.card["calibration"]["temperature"]),
    )


def model_from_weights(
    weights: bytes,
    *,
    version: str,
    task: TaskSpec,
    architecture: str,
    preprocessing: PreprocessingSpec,
    temperature: float,
) -> LoadedModel:
    """A model from serialised weights: the same bytes a version stores, so the same answers."""
    network = build_network(architecture, len(task.labels))
    state = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
    network.load_state_dict(state)
    network.eval()
    return LoadedModel(
        version=version,
        task=task,
        architecture=architecture,
        network=network,
        preprocessing=preprocessing,
        temperature=temperature,
    )


def serialise_weights(network: nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.save(network.state_dict(), buffer)
    return buffer.getvalue()
