"""A Gaussian density of a version's training features: the out-of-distribution guard and the scale of
the drift detector's scores.

The mean and the shrunk covariance are fitted on the images the weights were trained on; the
threshold and the reference distributions come from *held-out* images of the same source (the
weights and the density never saw them). Training images lie closer to their own mean than new
images of the same kind, so a threshold taken from them would flag far more than ``1 - quantile`` of
new in-distribution images.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from imaging_ai.ml.features import FEATURE_KINDS, STAGES, features_and_logits
from imaging_ai.ml.tasks import TaskSpec

if TYPE_CHECKING:
    from imaging_ai.ml.loading import LoadedModel

FORMAT = 1
DEFAULT_QUANTILE = 0.99
BATCH_SIZE = 64
"""Images per forward pass when fitting: bounds memory (a 192 px batch of 64 is about 10 MB in)."""


@dataclass(frozen=True, eq=False)
class FeatureDensity:
    mean: np.ndarray
    """(D,) float32."""
    precision: np.ndarray
    """(D, D) float32: the inverse of the shrunk covariance."""
    threshold: float
    """Distances above it are out of distribution: the ``quantile`` of the held-out distances."""
    quantile: float
    reference_distances: np.ndarray
    """Held-out images' distances, sorted (float32)."""
    reference_outputs: np.ndarray
    """Held-out images' outputs (see `model_output`), sorted (float32)."""
    shrinkage: float = 0.0
    fit_count: int = 0
    features: str = STAGES
    """Which of the network's features (`ml.features`): the kind the distances are computed on."""
    _mean64: torch.Tensor = field(init=False, repr=False)
    _precision64: torch.Tensor = field(init=False, repr=False)
    _distance_scores: np.ndarray = field(init=False, repr=False)
    _output_scores: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # float32 is the stored form; rounding here makes a density compute the same distances before
        # and after a round trip through `to_bytes`, so its threshold means the same thing.
        mean = np.ascontiguousarray(self.mean, dtype=np.float32)
        precision = np.ascontiguousarray(self.precision, dtype=np.float32)
        distances = np.sort(np.asarray(self.reference_distances, dtype=np.float32))
        outputs = np.sort(np.asarray(self.reference_outputs, dtype=np.float32))
        if mean.ndim != 1 or precision.shape != (len(mean), len(mean)):
            raise ValueError(f"mean {mean.shape} and precision {precision.shape} do not match")
        if not len(distances) or not len(outputs):
            raise ValueError("a density needs reference distances and outputs")
        if self.features not in FEATURE_KINDS:
            raise ValueError(f"unknown feature kind {self.features!r}")
        for name, value in (
            ("mean", mean),
            ("precision", precision),
            ("reference_distances", distances),
            ("reference_outputs", outputs),
        ):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_mean64", torch.from_numpy(mean.astype(np.float64)))
        object.__setattr__(self, "_precision64", torch.from_numpy(precision.astype(np.float64)))
        object.__setattr__(self, "_distance_scores", _score_table(len(distances)))
        object.__setattr__(self, "_output_scores", _score_table(len(outputs)))

    @property
    def dimension(self) -> int:
        return len(self.mean)

    def distance(self, features: torch.Tensor) -> torch.Tensor:
        """(N,) Mahalanobis distances of features (N, D), in float64."""
        centred = features.detach().to(torch.float64) - self._mean64
        squared = ((centred @ self._precision64) * centred).sum(dim=1)
        return squared.clamp(min=0.0).sqrt()

    def is_out_of_distribution(self, distance: float) -> bool:
        return distance > self.threshold

    def feature_z(self, distance: float) -> float:
        """Normal score of a distance against the held-out distances: about N(0, 1) in distribution."""
        return float(self.feature_z_many(np.asarray([distance]))[0])

    def output_z(self, output: float) -> float:
        """Normal score of a model output (see `model_output`) against the held-out outputs."""
        return float(self.output_z_many(np.asarray([output]))[0])

    def feature_z_many(self, distances: np.ndarray) -> np.ndarray:
        return _normal_scores(self.reference_distances, self._distance_scores, distances)

    def output_z_many(self, outputs: np.ndarray) -> np.ndarray:
        return _normal_scores(self.reference_outputs, self._output_scores, outputs)

    def summary(self) -> dict[str, Any]:
        """What a model card says about the density."""
        return {
            "features": self.features,
            "quantile": self.quantile,
            "threshold": round(self.threshold, 4),
            "shrinkage": round(self.shrinkage, 4),
            "dimension": self.dimension,
            "fit_images": self.fit_count,
            "holdout_images": len(self.reference_distances),
        }

    def to_bytes(self) -> bytes:
        header = {
            "format": FORMAT,
            "threshold": self.threshold,
            "quantile": self.quantile,
            "shrinkage": self.shrinkage,
            "fit_count": self.fit_count,
            "features": self.features,
        }
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
            mean=self.mean,
            precision=self.precision,
            reference_distances=self.reference_distances,
            reference_outputs=self.reference_outputs,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> FeatureDensity:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                header = json.loads(archive["header"].tobytes().decode())
                arrays = {
                    name: archive[name]
                    for name in ("mean", "precision", "reference_distances", "reference_outputs")
                }
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            raise ValueError("not a feature density file") from exc
        if header.get("format") != FORMAT:
            raise ValueError(f"unsupported feature density format {header.get('format')!r}")
        return cls(
            threshold=float(header["threshold"]),
            quantile=float(header["quantile"]),
            shrinkage=float(header["shrinkage"]),
            fit_count=int(header["fit_count"]),
            features=str(header["features"]),
            **arrays,
        )


def _score_table(n: int) -> np.ndarray:
    """Normal scores of the 2n+1 possible mid-rank positions among n references.

    A value with ``less`` references below it and ``equal`` equal to it sits at u = (less + equal / 2
    + 1/2) / (n + 1): strictly inside (0, 1), so every score is finite, and a value beyond the largest
    reference gets the largest score. The mid-rank keeps ties (many outputs sit near 0.99) at the
    middle of their run instead of at its top or bottom.
    """
    normal = NormalDist()
    return np.asarray([normal.inv_cdf((m + 1) / (2 * (n + 1))) for m in range(2 * n + 1)])


def _normal_scores(reference: np.ndarray, table: np.ndarray, values: np.ndarray) -> np.ndarray:
    # Compared at the references' own (float32) precision: an output of 0.99 read back from a database
    # as float64 must tie with the references' 0.99, not fall just below all of them.
    values = np.asarray(values, dtype=np.float64).astype(np.float32)
    less = np.searchsorted(reference, values, side="left")
    not_more = np.searchsorted(reference, values, side="right")
    scores: np.ndarray = table[less + not_more]
    scores[~np.isfinite(values)] = math.nan
    return scores


def model_output(task: TaskSpec, probabilities: torch.Tensor) -> torch.Tensor:
    """The one number per image the output drift is measured on: for two-label tasks the calibrated
    probability of the positive label, else the top probability."""
    if task.is_binary and task.positive_label is not None:
        return probabilities[:, task.label_index(task.positive_label)]
    return probabilities.max(dim=1).values


def features_and_outputs(
    model: LoadedModel, images: torch.Tensor, *, kind: str = STAGES, batch_size: int = BATCH_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """(features (N, D) float32, outputs (N,) float32) for resized [0, 1] images (N, S, S)."""
    features, outputs = [], []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch = model.normalise_images(images[start : start + batch_size])
            pooled, logits = features_and_logits(model.network, model.architecture, batch, kind)
            features.append(pooled.numpy().astype(np.float32))
            outputs.append(model_output(model.task, model.calibrated(logits)).numpy().astype(np.float32))
    if not features:
        return np.empty((0, 0), dtype=np.float32), np.empty(0, dtype=np.float32)
    return np.concatenate(features), np.concatenate(outputs)


def shrunk_covariance(features: np.ndarray) -> tuple[np.ndarray, float]:
    """(Ledoit-Wolf covariance, its shrinkage towards a scaled identity) of (N, D) features.

    Pooled features of a small network are strongly correlated and some barely vary: the sample
    covariance is near-singular even with N >> D, and with a site candidate's few hundred images
    it is singular. Ledoit-Wolf picks the shrinkage from the data; a floor of 1e-6 of the mean
    variance keeps the inverse finite when the shrinkage comes out as zero.
    """
    x = np.asarray(features, dtype=np.float64)
    n, d = x.shape
    if n < 2:
        raise ValueError("a covariance needs at least two images")
    x = x - x.mean(axis=0)
    covariance = x.T @ x / n
    mu = float(np.trace(covariance)) / d
    squared = x**2
    beta = float(np.sum(squared.T @ squared)) / n - float(np.sum(covariance**2))
    beta /= d * n
    delta = float(np.sum(covariance**2)) - 2 * mu * float(np.trace(covariance)) + d * mu**2
    delta /= d
    shrinkage = 0.0 if delta <= 0 else min(beta, delta) / delta
    shrunk = (1 - shrinkage) * covariance
    shrunk[np.diag_indices(d)] += shrinkage * mu + max(mu, 1e-12) * 1e-6
    return shrunk, shrinkage


def fit_from_features(
    fit_features: np.ndarray,
    holdout_features: np.ndarray,
    holdout_outputs: np.ndarray,
    *,
    quantile: float = DEFAULT_QUANTILE,
    features: str = STAGES,
) -> FeatureDensity:
    if not 0.5 <= quantile < 1:
        raise ValueError("quantile must lie in [0.5, 1)")
    if len(holdout_features) < 2:
        raise ValueError("a threshold needs held-out images")
    covariance, shrinkage = shrunk_covariance(fit_features)
    values, vectors = np.linalg.eigh(covariance)
    precision = (vectors / values) @ vectors.T
    partial = FeatureDensity(
        mean=np.asarray(fit_features, dtype=np.float64).mean(axis=0),
        precision=(precision + precision.T) / 2,
        threshold=math.inf,
        quantile=quantile,
        reference_distances=np.zeros(1),
        reference_outputs=np.asarray(holdout_outputs),
        shrinkage=shrinkage,
        fit_count=len(fit_features),
        features=features,
    )
    # Distances from the stored (float32) parameters, so the threshold matches what serving computes.
    distances = partial.distance(torch.from_numpy(np.asarray(holdout_features))).numpy()
    return FeatureDensity(
        mean=partial.mean,
        precision=partial.precision,
        threshold=float(np.quantile(distances.astype(np.float32), quantile)),
        quantile=quantile,
        reference_distances=distances,
        reference_outputs=partial.reference_outputs,
        shrinkage=shrinkage,
        fit_count=len(fit_features),
        features=features,
    )


def fit_feature_density(
    model: LoadedModel,
    fit_images: torch.Tensor,
    holdout_images: torch.Tensor,
    *,
    quantile: float = DEFAULT_QUANTILE,
    features: str = STAGES,
) -> FeatureDensity:
    """A density of ``model``'s features on resized [0, 1] images (N, S, S): fitted on ``fit_images``
    (what the weights were trained on), thresholded on ``holdout_images`` (images they were not)."""
    fit_features, _ = features_and_outputs(model, fit_images, kind=features)
    holdout_features, holdout_outputs = features_and_outputs(model, holdout_images, kind=features)
    return fit_from_features(
        fit_features, holdout_features, holdout_outputs, quantile=quantile, features=features
    )
