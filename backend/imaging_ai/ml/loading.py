"""A stored model version, loaded and ready to predict: network, preprocessing, temperature, and the
density of its training features when the version has one."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field

import torch
from torch import nn

from imaging_ai.ml.architectures import build_network
from imaging_ai.ml.device import CPU, cpu_state_dict
from imaging_ai.ml.feature_density import FeatureDensity
from imaging_ai.ml.features import STAGES, feature_dimension, stage_features_and_logits
from imaging_ai.ml.preprocessing import PreprocessingSpec
from imaging_ai.ml.tasks import TASKS, TaskSpec
from imaging_ai.storage.model_store import FEATURE_DENSITY_FILE, ModelStoreError, StoredVersion


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
    density: FeatureDensity | None = field(default=None, repr=False)
    """The density of the training images' features (out-of-distribution guard, drift scores)."""
    device: torch.device = CPU
    """Where the network runs; inputs are moved there and every output comes back to the CPU."""

    @property
    def labels(self) -> tuple[str, ...]:
        return self.task.labels

    def calibrated(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.softmax(logits / self.temperature, dim=1)

    def predict(self, batch: torch.Tensor) -> torch.Tensor:
        """Calibrated probabilities (N, K) for normalised inputs (N, 1, S, S)."""
        with torch.inference_mode():
            return self.calibrated(self.network(batch.to(self.device)).float().to(CPU))

    def predict_scored(self, batch: torch.Tensor) -> torch.Tensor:
        """(N, K + 1 + D) for normalised inputs (N, 1, S, S): the calibrated probabilities, exactly as
        `predict` returns them, then the Mahalanobis distance of the image's features (NaN when the
        version has no density), then its D penultimate features (for the learning queue), all from
        the same forward pass."""
        with torch.inference_mode():
            stages, logits = stage_features_and_logits(self.network, self.architecture, batch)
            penultimate = stages[-1]
            features = penultimate
            if self.density is not None and self.density.features == STAGES:
                features = torch.cat(stages, dim=1)
            probabilities = self.calibrated(logits)
            if self.density is None:
                distances = torch.full((len(batch),), float("nan"), dtype=probabilities.dtype)
            else:
                distances = self.density.distance(features).to(probabilities.dtype)
            return torch.cat(
                [probabilities, distances.unsqueeze(1), penultimate.to(probabilities.dtype)], dim=1
            )

    def normalise_images(self, images: torch.Tensor) -> torch.Tensor:
        """Resized [0, 1] images (N, S, S) -> normalised network inputs (N, 1, S, S)."""
        return (images.unsqueeze(1) - self.preprocessing.mean) / self.preprocessing.std

    def predict_images(self, images: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
        """Calibrated probabilities for resized [0, 1] images (N, S, S)."""
        outputs = []
        for start in range(0, len(images), batch_size):
            outputs.append(self.predict(self.normalise_images(images[start : start + batch_size])))
        return torch.cat(outputs) if outputs else torch.empty(0, len(self.labels))


def load_model(
    stored: StoredVersion, *, with_density: bool = True, device: torch.device = CPU
) -> LoadedModel:
    """Loads a version, refusing weights (and a feature density) whose SHA-256 does not match the card."""
    density = None
    if with_density and (data := stored.read_verified_extra(FEATURE_DENSITY_FILE)) is not None:
        try:
            density = FeatureDensity.from_bytes(data)
        except ValueError as exc:
            raise ModelStoreError(f"{FEATURE_DENSITY_FILE} of {stored.version} is unreadable") from exc
        if density.dimension != feature_dimension(stored.card["architecture"], density.features):
            raise ModelStoreError(f"{FEATURE_DENSITY_FILE} of {stored.version} is for other features")
    return model_from_weights(
        stored.read_verified_weights(),
        version=stored.version,
        task=TASKS[stored.task],
        architecture=stored.card["architecture"],
        preprocessing=PreprocessingSpec.from_dict(stored.preprocessing),
        temperature=float(stored.card["calibration"]["temperature"]),
        density=density,
        device=device,
    )


def model_from_weights(
    weights: bytes,
    *,
    version: str,
    task: TaskSpec,
    architecture: str,
    preprocessing: PreprocessingSpec,
    temperature: float,
    density: FeatureDensity | None = None,
    device: torch.device = CPU,
) -> LoadedModel:
    """A model from serialised weights: the same bytes a version stores, so the same answers. The
    weights are read onto the CPU whatever device saved them, then the network is moved to ``device``."""
    network = build_network(architecture, len(task.labels))
    state = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
    network.load_state_dict(state)
    network.to(device)
    network.eval()
    return LoadedModel(
        version=version,
        task=task,
        architecture=architecture,
        network=network,
        preprocessing=preprocessing,
        temperature=temperature,
        density=density,
        device=device,
    )


def serialise_weights(network: nn.Module) -> bytes:
    """The network's weights as stored: always CPU tensors, so a version trained on a GPU loads anywhere."""
    buffer = io.BytesIO()
    torch.save(cpu_state_dict(network), buffer)
    return buffer.getvalue()
