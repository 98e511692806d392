"""Per-image (distance, output) of a version on a dataset, computed once and cached under /tmp.

Images are decoded and resized by `ml.data.load_image_set` (`imaging.decode_image` and
`ml.preprocessing.resize_display`, as serving does), normalised by `LoadedModel.normalise_images`, and
scored by `LoadedModel.predict_scored`: the serving forward pass. The OOD and drift benchmarks build
every figure and every stream from these numbers.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bench.common import DATASETS, ROOT
from imaging_ai.ml.data import load_image_set
from imaging_ai.ml.density_fit import LOAD_CHUNK, fit_base_density, source_split
from imaging_ai.ml.feature_density import FeatureDensity, model_output
from imaging_ai.ml.features import STAGES
from imaging_ai.ml.loading import LoadedModel, load_model
from imaging_ai.ml.manifest import ManifestItem, read_manifest
from imaging_ai.storage.model_store import FEATURE_DENSITY_FILE, StoredVersion, read_version

CACHE = Path(
    os.environ.get("IMAGING_AI_BENCH_CACHE", Path(tempfile.gettempdir()) / "imaging-ai-feature-scores")
)
CHEST = ROOT / "model_store/chest-xray-pneumonia/chest-xray-pneumonia.v1"
BRAIN = ROOT / "model_store/brain-mri-tumor/brain-mri-tumor.v1"

Transform = Callable[[torch.Tensor], torch.Tensor]
TRANSFORMS: dict[str, Transform] = {
    "none": lambda images: images,
    "inverted": lambda images: 1.0 - images,
    "gamma0.5": lambda images: images.clamp(0, 1) ** 0.5,
    "gamma2.0": lambda images: images.clamp(0, 1) ** 2.0,
}
"""Applied to the resized [0, 1] image, before normalisation: a changed intensity mapping at a site."""


@dataclass(frozen=True)
class Scores:
    distances: np.ndarray
    outputs: np.ndarray
    paths: list[str]

    def __len__(self) -> int:
        return len(self.paths)


@dataclass
class Scored:
    """A shipped version with its density, and its scores on named image sets."""

    stored: StoredVersion
    model: LoadedModel
    density_sha256: str

    @classmethod
    def load(cls, path: Path, features: str = STAGES) -> Scored:
        """The version with its shipped density; or, for ``penultimate``, with a density of that kind
        fitted the same way (same split, same quantile) for comparison, cached, never shipped."""
        stored = read_version(path)
        model = load_model(stored)
        if model.density is None:
            raise SystemExit(f"{stored.version} has no feature density: run imaging-ai fit-feature-density")
        if model.density.features != features:
            cached = CACHE / f"{stored.version}-{stored.weights_sha256[:12]}-density-{features}.npz"
            if not cached.is_file():
                _, density = fit_base_density(
                    stored, DATASETS, quantile=model.density.quantile, kind=features
                )
                CACHE.mkdir(parents=True, exist_ok=True)
                cached.write_bytes(density.to_bytes())
            model.density = FeatureDensity.from_bytes(cached.read_bytes())
            return cls(stored, model, hashlib.sha256(cached.read_bytes()).hexdigest())
        return cls(stored, model, stored.card["files"][FEATURE_DENSITY_FILE])

    @property
    def density(self) -> FeatureDensity:
        assert self.model.density is not None
        return self.model.density

    def scores(self, name: str, items: Sequence[ManifestItem], transform: str = "none") -> Scores:
        key = hashlib.sha256(
            "\n".join([self.stored.weights_sha256, self.density_sha256, transform]).encode()
            + "\n".join(str(item.path) for item in items).encode()
        ).hexdigest()[:16]
        cached = CACHE / f"{self.stored.version}-{self.density.features}-{name}-{transform}-{key}.npz"
        if cached.is_file():
            with np.load(cached, allow_pickle=False) as data:
                return Scores(data["distances"], data["outputs"], [str(p) for p in data["paths"]])
        distances, outputs = [], []
        for start in range(0, len(items), LOAD_CHUNK):
            chunk = load_image_set(
                items[start : start + LOAD_CHUNK], sorted({item.label for item in items}), self.size
            ).images
            scored = self.model.predict_scored(self.model.normalise_images(TRANSFORMS[transform](chunk)))
            distances.append(scored[:, -1].numpy().astype(np.float64))
            outputs.append(model_output(self.model.task, scored[:, :-1]).numpy().astype(np.float64))
        result = Scores(
            np.concatenate(distances), np.concatenate(outputs), [str(item.path) for item in items]
        )
        CACHE.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_suffix(".tmp.npz")
        np.savez(
            temporary, distances=result.distances, outputs=result.outputs, paths=np.asarray(result.paths)
        )
        temporary.replace(cached)
        return result

    @property
    def size(self) -> int:
        return self.model.preprocessing.input_size

    def source_parts(self) -> dict[str, list[ManifestItem]]:
        _, split = source_split(self.stored, DATASETS)
        return {"train": split.train, "validation": split.validation, "test": split.test}


def dataset_items(name: str) -> list[ManifestItem]:
    """Every row of a dataset (its labels need not be the task's)."""
    return read_manifest(DATASETS / name / "manifest.csv")
