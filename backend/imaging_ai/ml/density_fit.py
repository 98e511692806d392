"""Fitting a version's feature density on the right images: a stored base version's from its card's
data split (`imaging-ai fit-feature-density`), and a site candidate's from its training job's images."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from imaging_ai.ml.base_training import DataSplit, split_manifest
from imaging_ai.ml.data import load_image_set
from imaging_ai.ml.feature_density import (
    DEFAULT_QUANTILE,
    FeatureDensity,
    features_and_outputs,
    fit_feature_density,
    fit_from_features,
)
from imaging_ai.ml.features import STAGES
from imaging_ai.ml.loading import LoadedModel, load_model
from imaging_ai.ml.manifest import ManifestItem, read_manifest
from imaging_ai.ml.tasks import TASKS
from imaging_ai.settings import PROJECT_ROOT
from imaging_ai.storage.model_store import (
    FEATURE_DENSITY_FILE,
    StoredVersion,
    attach_derived_file,
    read_version,
)

LOAD_CHUNK = 512
"""Images decoded at a time: the features are kept, the pixels are not (4,686 chest images at 192 px
would be 700 MB)."""
MIN_CANDIDATE_HOLDOUT = 20
CANDIDATE_HOLDOUT_FRACTION = 0.2
CANDIDATE_HOLDOUT_SEED = 0
MIN_CANDIDATE_FIT = 10


class DensityFitError(Exception):
    """The version's training data cannot be found or re-split exactly as at training."""


def source_split(stored: StoredVersion, datasets_dir: Path) -> tuple[str, DataSplit]:
    """(dataset, split) of a base version's training data, re-split by the same code and seed as at
    training, and refused unless the rule and every count match what its card recorded."""
    card = stored.card
    training_data, training = card.get("training_data"), card.get("training")
    if not isinstance(training_data, dict) or not isinstance(training, dict):
        raise DensityFitError(f"{stored.version}: the card records no training data split")
    if "split_rule" not in training_data or "counts_per_label" not in training_data:
        raise DensityFitError(
            f"{stored.version} is not a base version (its card has no split rule); a site candidate's "
            "density is fitted when its training job writes it"
        )
    dataset = training_data["datasets"][0]
    manifest = datasets_dir / dataset / training_data.get("manifest", "manifest.csv")
    if not manifest.is_file():
        raise DensityFitError(f"{manifest} not found")
    task = TASKS[stored.task]
    items = read_manifest(manifest, labels=task.labels)
    # Without patient ids a seeded split is keyed on the image path *as spelled* (manifest.group_key),
    # and docs/models.md trains from the project root with a relative manifest path: the brain MRI
    # card's split only reproduces with that spelling. The counts decide which spelling was used.
    relative = Path(os.path.relpath(manifest.parent, PROJECT_ROOT))
    spellings = [manifest.parent, relative] if relative != manifest.parent else [manifest.parent]
    mismatch = ""
    for spelling in spellings:
        split = split_manifest(
            [replace(item, path=spelling / item.path.relative_to(manifest.parent)) for item in items],
            # The same defaults and lookups as services/source_data, which re-splits for replay.
            validation_fraction=float(training_data.get("validation_fraction", 0.1)),
            test_fraction=float(training_data.get("test_fraction", 0.15)),
            seed=int(training.get("params", {}).get("seed", 0)),
        )
        mismatch = _mismatch(split, training_data)
        if not mismatch:
            return dataset, DataSplit(
                train=_readable(split.train, spelling, manifest.parent),
                validation=_readable(split.validation, spelling, manifest.parent),
                test=_readable(split.test, spelling, manifest.parent),
                rule=split.rule,
            )
    raise DensityFitError(f"{stored.version}: {mismatch}")


def _mismatch(split: DataSplit, training_data: dict[str, Any]) -> str:
    if split.rule != training_data["split_rule"]:
        return f"split rule {split.rule!r} differs from the card's"
    for part, items in (("train", split.train), ("validation", split.validation), ("test", split.test)):
        if dict(Counter(item.label for item in items)) != training_data["counts_per_label"][part]:
            return f"the {part} part does not have the card's counts: the data or the split changed"
    return ""


def _readable(items: list[ManifestItem], spelling: Path, folder: Path) -> list[ManifestItem]:
    return [replace(item, path=folder / item.path.relative_to(spelling)) for item in items]


def features_of_items(
    model: LoadedModel, items: Sequence[ManifestItem], *, kind: str = STAGES, workers: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """(features, outputs) of manifest items, decoded and preprocessed as in training and serving."""
    features, outputs = [], []
    for start in range(0, len(items), LOAD_CHUNK):
        part = items[start : start + LOAD_CHUNK]
        # The labels play no part here; foreign images (benchmarks) have labels of other tasks.
        labels = sorted({item.label for item in part})
        chunk = load_image_set(
            part,
            labels,
            model.preprocessing.input_size,
            workers=workers,
            window=model.preprocessing.modality_window,
        )
        chunk_features, chunk_outputs = features_and_outputs(model, chunk.images, kind=kind)
        features.append(chunk_features)
        outputs.append(chunk_outputs)
    return np.concatenate(features), np.concatenate(outputs)


def fit_base_density(
    stored: StoredVersion, datasets_dir: Path, *, quantile: float = DEFAULT_QUANTILE, kind: str = STAGES
) -> tuple[str, FeatureDensity]:
    """(dataset, density) of a base version: mean and covariance on its training part, threshold and
    references on its validation part; never its test split."""
    model = load_model(stored, with_density=False)
    dataset, split = source_split(stored, datasets_dir)
    fit_features, _ = features_of_items(model, split.train, kind=kind)
    holdout_features, holdout_outputs = features_of_items(model, split.validation, kind=kind)
    density = fit_from_features(
        fit_features, holdout_features, holdout_outputs, quantile=quantile, features=kind
    )
    return dataset, density


def fit_version_density(
    version_dir: Path, datasets_dir: Path, *, quantile: float = DEFAULT_QUANTILE
) -> tuple[StoredVersion, FeatureDensity]:
    """Fits a base version's density (`fit_base_density`) and attaches it to the version."""
    dataset, density = fit_base_density(read_version(version_dir), datasets_dir, quantile=quantile)
    summary: dict[str, Any] = {
        **density.summary(),
        "fit": f"{dataset}: train part of the card's split",
        "holdout": f"{dataset}: validation part of the card's split",
        "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    updated = attach_derived_file(
        version_dir, FEATURE_DENSITY_FILE, density.to_bytes(), card_fields={"feature_density": summary}
    )
    return updated, density


def candidate_density(
    model: LoadedModel, training_images: torch.Tensor, validation_images: torch.Tensor
) -> FeatureDensity | None:
    """A site candidate's density, or None when it has too few images for one.

    Held out: the images the job validated on (early stopping and calibration only; the weights never
    trained on them), as for base versions. Training images are closer to their own mean than new
    ones, so holding out part of them instead would put the threshold too low; that fallback (a fixed
    20%, left out of the fit) is only for a validation set too small for a quantile.
    """
    fit, holdout = training_images, validation_images
    if len(validation_images) < MIN_CANDIDATE_HOLDOUT:
        order = torch.randperm(
            len(training_images), generator=torch.Generator().manual_seed(CANDIDATE_HOLDOUT_SEED)
        )
        cut = round(len(training_images) * CANDIDATE_HOLDOUT_FRACTION)
        fit, holdout = training_images[order[cut:]], training_images[order[:cut]]
    if len(fit) < MIN_CANDIDATE_FIT or len(holdout) < 2:
        return None
    return fit_feature_density(model, fit, holdout)
